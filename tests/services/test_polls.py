"""Polls: creation, validation, visibility, listing, editing, closing, deletion, rolls, audit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlmodel import select

from commons_app.models import AuditEvent, Ballot, Poll, PollOption, PollVoter, utcnow
from commons_app.services import polls
from commons_app.services.errors import Conflict, Forbidden, InvalidInput, NotFound
from commons_app.services.polls import PollSpec, RollEntry
from tests import factories
from tests.factories import row_counts


def _audit(session, action: str) -> list[AuditEvent]:
    return list(session.exec(select(AuditEvent).where(AuditEvent.action == action)).all())


# --- creation ----------------------------------------------------------------------------------------
def test_create_poll_stores_options_in_order_and_audits(session, user):
    view = polls.create_poll(
        session=session,
        user=user,
        spec=PollSpec(title="  Lunch?  ", options=[" Soup ", "Salad", "Noodles"], description="Friday"),
    )

    assert view.status == "open"
    poll = session.get(Poll, view.poll.id)
    assert (poll.title, poll.description, poll.created_by) == ("Lunch?", "Friday", user.id)
    assert (poll.method, poll.visibility, poll.results_visibility, poll.anonymous) == ("single", "public", "live", False)
    assert [(o.text, o.position) for o in view.options] == [("Soup", 0), ("Salad", 1), ("Noodles", 2)]
    [event] = _audit(session, "poll.create")
    assert (event.actor_id, event.target_type, event.target_id) == (user.id, "poll", str(poll.id))
    assert event.detail["title"] == "Lunch?"


def _spec(**changes) -> PollSpec:
    base = {"title": "A poll", "options": ["One", "Two"]}
    return PollSpec(**(base | changes))


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param(_spec(title="   "), id="blank-title"),
        pytest.param(_spec(title="x" * 201), id="long-title"),
        pytest.param(_spec(title="bell\x07"), id="control-char"),
        pytest.param(_spec(options=["Only one"]), id="one-option"),
        pytest.param(_spec(options=[f"o{i}" for i in range(51)]), id="51-options"),
        pytest.param(_spec(options=["Same", "same "]), id="duplicate-options"),
        pytest.param(_spec(options=["ok", ""]), id="empty-option"),
        pytest.param(_spec(method="plurality"), id="unknown-method"),
        pytest.param(_spec(visibility="secret"), id="unknown-visibility"),
        pytest.param(_spec(results_visibility="never"), id="unknown-results-visibility"),
        pytest.param(_spec(max_choices=1), id="max-choices-not-approval"),
        pytest.param(_spec(method="approval", max_choices=3), id="max-choices-above-options"),
        pytest.param(_spec(method="approval", max_choices=0), id="max-choices-zero"),
        pytest.param(_spec(opens_at=datetime(2030, 1, 1)), id="naive-datetime"),
        pytest.param(_spec(closes_at=utcnow() - timedelta(minutes=1)), id="closes-in-past"),
        pytest.param(
            _spec(opens_at=utcnow() + timedelta(days=2), closes_at=utcnow() + timedelta(days=1)), id="closes-before-opens"
        ),
    ],
)
def test_invalid_polls_are_refused_and_nothing_is_stored(session, engine, user, spec):
    before = row_counts(engine)
    with pytest.raises(InvalidInput) as caught:
        polls.create_poll(session=session, user=user, spec=spec)
    assert caught.value.status_code == 422
    session.rollback()
    assert row_counts(engine) == before


def test_fifty_options_and_offsets_are_accepted(session, user):
    opens = datetime(2031, 5, 1, 18, 0, tzinfo=timezone(timedelta(hours=2)))
    view = factories.make_poll(session, user, options=[f"Option {i}" for i in range(50)], opens_at=opens)
    assert len(view.options) == 50
    assert view.status == "scheduled"
    stored = session.get(Poll, view.poll.id)
    assert polls.as_utc(stored.opens_at) == datetime(2031, 5, 1, 16, 0, tzinfo=UTC)


def test_status_follows_the_times(session, user):
    view = factories.make_poll(session, user)
    poll = session.get(Poll, view.poll.id)
    now = utcnow()
    assert polls.poll_status(poll, now) == "open"
    poll.opens_at = now + timedelta(minutes=5)
    assert polls.poll_status(poll, now) == "scheduled"
    poll.opens_at, poll.closes_at = now - timedelta(minutes=5), now
    assert polls.poll_status(poll, now) == "closed"
    poll.closes_at, poll.closed_at = None, now
    assert polls.poll_status(poll, now) == "closed"
    # SQLite hands back naive datetimes: they are read as UTC.
    poll.closed_at, poll.closes_at = None, (now + timedelta(hours=1)).replace(tzinfo=None)
    assert polls.poll_status(poll, now) == "open"


# --- visibility --------------------------------------------------------------------------------------
def test_private_polls_are_visible_to_roll_managers_and_admins_only(session, user, other_user, admin, make_user):
    voter = make_user()
    view = factories.make_poll(session, user, visibility="private", voters=[(voter, 1.0)])
    poll_id = view.poll.id

    for viewer in (user, voter, admin):
        assert polls.get_visible_poll(session=session, poll_id=poll_id, user=viewer).id == poll_id
    with pytest.raises(NotFound) as caught:
        polls.get_visible_poll(session=session, poll_id=poll_id, user=other_user)
    assert caught.value.message == "Poll not found."
    with pytest.raises(NotFound) as missing:
        polls.get_visible_poll(session=session, poll_id=poll_id + "x", user=other_user)
    assert missing.value.message == caught.value.message  # invisible and missing look the same


def test_list_shows_public_own_and_rolled_private_but_never_others_unlisted(session, user, other_user):
    public = factories.make_poll(session, user, title="public one")
    unlisted = factories.make_poll(session, user, title="unlisted one", visibility="unlisted")
    private_on_roll = factories.make_poll(session, user, title="private with roll", visibility="private", voters=[(other_user, 1.0)])
    factories.make_poll(session, user, title="private without roll", visibility="private")
    own_unlisted = factories.make_poll(session, other_user, title="my own unlisted", visibility="unlisted")
    own_private = factories.make_poll(session, other_user, title="my own private", visibility="private")

    views, total = polls.list_polls(session=session, user=other_user)

    listed = {v.poll.id for v in views}
    assert listed == {public.poll.id, private_on_roll.poll.id, own_unlisted.poll.id, own_private.poll.id}
    assert total == 4
    # Unlisted polls of others are still reachable by id.
    assert polls.get_visible_poll(session=session, poll_id=unlisted.poll.id, user=other_user).id == unlisted.poll.id
    mine, mine_total = polls.list_polls(session=session, user=other_user, mine=True)
    assert {v.poll.id for v in mine} == {own_unlisted.poll.id, own_private.poll.id} and mine_total == 2
    everything, owner_total = polls.list_polls(session=session, user=user)
    assert owner_total == 4 and own_unlisted.poll.id not in {v.poll.id for v in everything}


def test_list_is_newest_first_and_paginates(session, user, other_user):
    ids = [factories.make_poll(session, user).poll.id for _ in range(7)]
    pages = []
    for skip in (0, 3, 6):
        views, total = polls.list_polls(session=session, user=other_user, skip=skip, limit=3)
        assert total == 7
        pages.append([v.poll.id for v in views])
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [poll_id for page in pages for poll_id in page] == list(reversed(ids))
    views, total = polls.list_polls(session=session, user=other_user, skip=50, limit=3)
    assert (views, total) == ([], 7)


def test_list_counts_ballots_per_poll(session, user, other_user):
    view = factories.make_poll(session, user)
    factories.vote(session, user, view, option_id=view.options[0].id)
    factories.vote(session, other_user, view, option_id=view.options[1].id)
    empty = factories.make_poll(session, user)
    counts = {v.poll.id: v.ballot_count for v in polls.list_polls(session=session, user=user)[0]}
    assert counts == {view.poll.id: 2, empty.poll.id: 0}


def test_list_search_is_case_insensitive_and_literal(session, user):
    bikes = factories.make_poll(session, user, title="Bike lanes on Main Street")
    percent = factories.make_poll(session, user, title="Raise dues by 10% or not")
    underscore = factories.make_poll(session, user, title="snake_case or camelCase")
    factories.make_poll(session, user, title="Something else entirely")

    def found(text: str) -> set[int]:
        views, total = polls.list_polls(session=session, user=user, search=text)
        assert total == len(views)
        return {v.poll.id for v in views}

    assert found("BIKE") == {bikes.poll.id}
    assert found("  main street ") == {bikes.poll.id}
    assert found("%") == {percent.poll.id}
    assert found("_") == {underscore.poll.id}
    assert found("nothing like this") == set()


@pytest.mark.parametrize("skip,limit,search", [(-1, 20, ""), (0, 0, ""), (0, 101, ""), (0, 20, "x" * 201)])
def test_list_refuses_bad_paging(session, user, skip, limit, search):
    with pytest.raises(InvalidInput):
        polls.list_polls(session=session, user=user, skip=skip, limit=limit, search=search)


# --- editing -----------------------------------------------------------------------------------------
def test_owner_and_admin_may_edit_others_may_not(session, user, other_user, admin):
    view = factories.make_poll(session, user, title="Original")
    poll_id = view.poll.id

    assert polls.update_poll(session=session, user=user, poll_id=poll_id, changes={"title": "By owner"}).poll.title == "By owner"
    assert polls.update_poll(session=session, user=admin, poll_id=poll_id, changes={"title": "By admin"}).poll.title == "By admin"
    with pytest.raises(Forbidden):
        polls.update_poll(session=session, user=other_user, poll_id=poll_id, changes={"title": "Hijacked"})
    session.expire_all()
    assert session.get(Poll, poll_id).title == "By admin"
    assert [e.actor_id for e in _audit(session, "poll.update")] == [user.id, admin.id]


def test_editing_a_private_poll_one_cannot_see_is_not_found(session, user, other_user):
    view = factories.make_poll(session, user, visibility="private")
    with pytest.raises(NotFound):
        polls.update_poll(session=session, user=other_user, poll_id=view.poll.id, changes={"title": "x"})


def test_options_can_change_before_the_first_ballot_keeping_ids(session, user):
    view = factories.make_poll(session, user, options=["Red", "Green", "Blue"])
    ids = {o.text: o.id for o in view.options}

    updated = polls.update_poll(session=session, user=user, poll_id=view.poll.id, changes={"options": ["Blue", "red", "Yellow"]})

    assert [o.text for o in updated.options] == ["Blue", "red", "Yellow"]
    assert updated.options[0].id == ids["Blue"] and updated.options[1].id == ids["Red"]
    assert ids["Green"] not in {o.id for o in updated.options}
    assert len(session.exec(select(PollOption).where(PollOption.poll_id == view.poll.id)).all()) == 3


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"options": ["A", "B", "C"]}, id="options"),
        pytest.param({"method": "approval"}, id="method"),
        pytest.param({"anonymous": True}, id="anonymous"),
    ],
)
def test_options_and_method_are_frozen_once_a_ballot_exists(session, user, other_user, changes):
    view = factories.make_poll(session, user, options=["A", "B"])
    factories.vote(session, other_user, view, option_id=view.options[0].id)

    with pytest.raises(Conflict) as caught:
        polls.update_poll(session=session, user=user, poll_id=view.poll.id, changes=changes)
    assert caught.value.status_code == 409
    session.rollback()
    assert [o.text for o in polls.options_of(session=session, poll_id=view.poll.id)] == ["A", "B"]
    # Other fields may still change.
    assert polls.update_poll(session=session, user=user, poll_id=view.poll.id, changes={"title": "Renamed"}).poll.title == "Renamed"


def test_update_refuses_unknown_fields_and_bad_values(session, user):
    view = factories.make_poll(session, user)
    for changes in ({"created_by": 1}, {"title": ""}, {"options": ["only"]}, {"closes_at": utcnow() - timedelta(hours=1)}):
        with pytest.raises(InvalidInput):
            polls.update_poll(session=session, user=user, poll_id=view.poll.id, changes=changes)
        session.rollback()
    session.expire_all()
    assert session.get(Poll, view.poll.id).title == view.poll.title


# --- closing and deleting ----------------------------------------------------------------------------
def test_close_by_owner_or_admin_once(session, user, other_user, admin):
    view = factories.make_poll(session, user)
    with pytest.raises(Forbidden):
        polls.close_poll(session=session, user=other_user, poll_id=view.poll.id)
    assert polls.view_poll(session=session, poll=session.get(Poll, view.poll.id)).status == "open"

    closed = polls.close_poll(session=session, user=user, poll_id=view.poll.id)
    assert closed.status == "closed" and closed.poll.closed_at is not None
    again = polls.close_poll(session=session, user=admin, poll_id=view.poll.id)
    assert again.status == "closed"
    [event] = _audit(session, "poll.close")
    assert (event.actor_id, event.target_id) == (user.id, str(view.poll.id))


def test_delete_removes_everything_and_leaves_an_audit_entry(session, user, other_user, admin):
    view = factories.make_poll(session, user, title="Doomed", voters=[(other_user, 2.0)])
    factories.vote(session, other_user, view, option_id=view.options[0].id)
    kept = factories.make_poll(session, user)
    factories.vote(session, other_user, kept, option_id=kept.options[0].id)

    with pytest.raises(Forbidden):
        polls.delete_poll(session=session, user=other_user, poll_id=view.poll.id)
    polls.delete_poll(session=session, user=user, poll_id=view.poll.id)

    session.expire_all()
    assert session.get(Poll, view.poll.id) is None
    assert session.exec(select(PollOption).where(PollOption.poll_id == view.poll.id)).all() == []
    assert session.exec(select(PollVoter).where(PollVoter.poll_id == view.poll.id)).all() == []
    assert [b.poll_id for b in session.exec(select(Ballot)).all()] == [kept.poll.id]
    [event] = _audit(session, "poll.delete")
    assert (event.actor_id, event.target_id, event.detail["title"]) == (user.id, str(view.poll.id), "Doomed")
    polls.delete_poll(session=session, user=admin, poll_id=kept.poll.id)
    with pytest.raises(NotFound):
        polls.delete_poll(session=session, user=admin, poll_id=kept.poll.id)


# --- rolls -------------------------------------------------------------------------------------------
def test_set_roll_validates_entries(session, user, other_user):
    view = factories.make_poll(session, user, visibility="private")
    bad_rolls = [
        [RollEntry("no-such-user-xyz")],
        [RollEntry(other_user.username), RollEntry(other_user.username.upper())],
        [RollEntry(other_user.username, 0)],
        [RollEntry(other_user.username, -1)],
        [RollEntry(other_user.username, float("nan"))],
        [RollEntry(other_user.username, 1e7)],
    ]
    for roll in bad_rolls:
        with pytest.raises(InvalidInput):
            polls.set_roll(session=session, user=user, poll_id=view.poll.id, voters=roll)
        session.rollback()
    assert session.exec(select(PollVoter)).all() == []
    with pytest.raises(Forbidden):
        polls.set_roll(session=session, user=other_user, poll_id=factories.make_poll(session, user).poll.id, voters=[])


def test_roll_changes_protect_voters_who_have_voted(session, user, other_user):
    view = factories.make_poll(session, user, visibility="private", voters=[(other_user, 1.0)])
    factories.vote(session, other_user, view, option_id=view.options[0].id)

    with pytest.raises(Conflict):
        factories.set_roll(session, user, view.poll.id, [(other_user, 4.5)])
    session.rollback()
    session.expire_all()
    assert session.exec(select(Ballot.weight)).all() == [1.0]
    rows = polls.get_roll(session=session, user=user, poll_id=view.poll.id)
    assert [(u.id, v.weight, voted) for u, v, voted in rows] == [(other_user.id, 1.0, True)]

    with pytest.raises(Conflict):
        polls.set_roll(session=session, user=user, poll_id=view.poll.id, voters=[])
    session.rollback()
    assert len(session.exec(select(PollVoter)).all()) == 1


# --- join codes --------------------------------------------------------------------------------------
def test_find_poll_by_join_code_ignores_case_spaces_and_dashes(session, user):
    view = factories.make_poll(session, user, visibility="unlisted")
    code = view.poll.join_code
    typed = [code, code.lower(), f"  {code[:4]} {code[4:]} ", f"{code[:4].lower()}-{code[4:]}", f"\t{code}\n"]
    for attempt in typed:
        found = polls.find_poll_by_join_code(session=session, code=attempt)
        assert found is not None and found.id == view.poll.id, attempt


def test_find_poll_by_join_code_finds_nothing_for_other_codes(session, user):
    code = factories.make_poll(session, user).poll.join_code
    other = next(c for c in "ABCDEFGH" if c != code[0]) + code[1:]
    for attempt in ("", " ", other, code[:-1], code + "A", "O" + code[1:], "x" * 10_000, "%" * 8, code[:7] + "\u0000"):
        assert polls.find_poll_by_join_code(session=session, code=attempt) is None, attempt


def test_lists_are_newest_first_with_the_id_breaking_ties_and_pages_do_not_overlap(session, user):
    made = [factories.make_poll(session, user) for _ in range(7)]
    same = made[0].poll.created_at
    for view in made[2:]:  # five polls made "at the same moment" (a bulk import, a coarse clock)
        view.poll.created_at = same
        session.add(view.poll)
    made[1].poll.created_at = same + timedelta(seconds=1)
    session.add(made[1].poll)
    session.commit()
    tied = {v.poll.id for v in (made[0], *made[2:])}
    whole = [v.poll.id for v in polls.list_polls(session=session, user=user, mine=True, limit=20)[0]]
    assert whole[0] == made[1].poll.id and set(whole[1:]) == tied
    # The id orders the ties (in the database's collation): paging neither repeats nor skips one.
    pages = [polls.list_polls(session=session, user=user, mine=True, skip=skip, limit=2)[0] for skip in range(0, 8, 2)]
    assert [v.poll.id for page in pages for v in page] == whole
