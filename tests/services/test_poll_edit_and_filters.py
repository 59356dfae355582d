"""Editing a poll (everything before the first ballot; afterwards title, description and closing
time) and the poll list's filters with its "you voted" mark."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from commons_app.models import Poll, PollOption, utcnow
from commons_app.services import polls
from commons_app.services.errors import Conflict, Forbidden, InvalidInput, NotFound
from tests import factories


def _snapshot(session, poll_id: str) -> tuple:
    session.expire_all()
    poll = session.get(Poll, poll_id)
    options = [o.text for o in session.exec(select(PollOption).where(PollOption.poll_id == poll_id)).all()]
    return (poll.title, poll.method, poll.visibility, poll.results_visibility, poll.opens_at, poll.closes_at,
            poll.access, poll.remind_before_hours, poll.pass_rule, sorted(options), poll.updated_at)


def test_every_field_may_change_before_the_first_ballot(session, user):
    view = factories.make_poll(session, user, options=["A", "B"])
    closes = utcnow() + timedelta(days=3)
    updated = polls.update_poll(session=session, user=user, poll_id=view.poll.id, changes={
        "title": "New", "description": "Why", "options": ["A", "B", "C"], "method": "approval", "max_choices": 2,
        "visibility": "unlisted", "results_visibility": "after_close", "opens_at": utcnow() + timedelta(hours=1),
        "closes_at": closes, "pass_rule": "majority",
    })
    assert (updated.poll.method, updated.poll.max_choices, updated.poll.visibility) == ("approval", 2, "unlisted")
    assert [o.text for o in updated.options] == ["A", "B", "C"] and updated.status == "scheduled"
    assert polls.editable_fields(session=session, poll=updated.poll) == frozenset(polls.UPDATABLE)


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"options": ["A", "B", "C"]}, id="options"),
        pytest.param({"method": "approval"}, id="method"),
        pytest.param({"visibility": "unlisted"}, id="visibility"),
        pytest.param({"results_visibility": "after_close"}, id="results-visibility"),
        pytest.param({"opens_at": utcnow() + timedelta(hours=2)}, id="schedule"),
        pytest.param({"pass_rule": "majority"}, id="results-rule"),
        pytest.param({"access": "link"}, id="access"),
        pytest.param({"remind_before_hours": 2}, id="reminder"),
        pytest.param({"title": "Fine", "visibility": "unlisted"}, id="allowed-with-locked"),
    ],
)
def test_after_a_ballot_the_owner_cannot_change_what_ballots_were_cast_under(session, user, other_user, changes):
    view = factories.make_poll(session, user, options=["A", "B"])
    factories.vote(session, other_user, view, option_id=view.options[0].id)
    before = _snapshot(session, view.poll.id)

    with pytest.raises(Conflict) as caught:
        polls.update_poll(session=session, user=user, poll_id=view.poll.id, changes=changes)
    session.rollback()

    assert caught.value.status_code == 409
    assert "only the title, description and closing time" in caught.value.message
    assert _snapshot(session, view.poll.id) == before


def test_after_a_ballot_title_description_and_closing_time_still_change(session, user, other_user):
    view = factories.make_poll(session, user, options=["A", "B"])
    factories.vote(session, other_user, view, option_id=view.options[0].id)
    closes = utcnow() + timedelta(days=2)

    updated = polls.update_poll(session=session, user=user, poll_id=view.poll.id, changes={
        "title": "Renamed", "description": "More context", "closes_at": closes,
        "visibility": "public",  # unchanged values of locked fields are no change (a form sends them all)
    })

    assert (updated.poll.title, updated.poll.description) == ("Renamed", "More context")
    assert abs((polls.as_utc(updated.poll.closes_at) - closes).total_seconds()) < 1
    assert polls.editable_fields(session=session, poll=updated.poll) == {"title", "description", "closes_at"}
    with pytest.raises(InvalidInput):  # not into the past: closing early is what close is for
        polls.update_poll(session=session, user=user, poll_id=view.poll.id, changes={"closes_at": utcnow() - timedelta(minutes=1)})


def test_a_closed_poll_has_nothing_editable(session, user):
    view = factories.make_closed(session, user)
    assert polls.editable_fields(session=session, poll=view.poll) == frozenset()
    with pytest.raises(Conflict):
        polls.update_poll(session=session, user=user, poll_id=view.poll.id, changes={"title": "Too late"})


def test_others_cannot_edit(session, user, other_user):
    public = factories.make_poll(session, user)
    private = factories.make_poll(session, user, visibility="private")
    with pytest.raises(Forbidden):
        polls.update_poll(session=session, user=other_user, poll_id=public.poll.id, changes={"title": "Mine now"})
    with pytest.raises(NotFound):
        polls.update_poll(session=session, user=other_user, poll_id=private.poll.id, changes={"title": "Mine now"})
    session.rollback()
    session.expire_all()
    assert session.get(Poll, public.poll.id).title == public.poll.title


# --- list filters --------------------------------------------------------------------------------------
def _ids(session, user, show: str) -> list[str]:
    views, total = polls.list_polls(session=session, user=user, show=show, limit=100)
    assert total == len(views)
    return [v.poll.id for v in views]


def test_list_filters_and_the_voted_mark(session, user, other_user):
    mine_open = factories.make_poll(session, user, title="Mine open")
    theirs_voted = factories.make_poll(session, other_user, title="Theirs voted")
    theirs_anon_voted = factories.make_poll(session, other_user, title="Theirs anonymous", anonymous=True)
    theirs_open = factories.make_poll(session, other_user, title="Theirs open")
    theirs_closed = factories.make_closed(session, other_user, title="Theirs closed")
    scheduled = factories.make_scheduled(session, other_user, title="Later")
    factories.vote(session, user, theirs_voted, option_id=theirs_voted.options[0].id)
    factories.vote(session, user, theirs_anon_voted, option_id=theirs_anon_voted.options[1].id)
    factories.vote(session, other_user, theirs_open, option_id=theirs_open.options[0].id)  # someone else's ballot

    every = {mine_open.poll.id, theirs_voted.poll.id, theirs_anon_voted.poll.id, theirs_open.poll.id,
             theirs_closed.poll.id, scheduled.poll.id}
    assert set(_ids(session, user, "all")) == every
    assert set(_ids(session, user, "open")) == {mine_open.poll.id, theirs_voted.poll.id, theirs_anon_voted.poll.id, theirs_open.poll.id}
    assert _ids(session, user, "closed") == [theirs_closed.poll.id]
    assert _ids(session, user, "mine") == [mine_open.poll.id]
    assert set(_ids(session, user, "not_voted")) == {mine_open.poll.id, theirs_open.poll.id}

    views, _ = polls.list_polls(session=session, user=user, limit=100)
    assert {v.poll.id for v in views if v.extra["voted"]} == {theirs_voted.poll.id, theirs_anon_voted.poll.id}
    views, _ = polls.list_polls(session=session, user=other_user, limit=100)
    assert {v.poll.id for v in views if v.extra["voted"]} == {theirs_open.poll.id}


def test_list_filters_page_with_a_total(session, user):
    made = [factories.make_poll(session, user) for _ in range(5)]
    factories.set_poll_times(session, made[0].poll.id, closes_at=utcnow() - timedelta(seconds=1))
    views, total = polls.list_polls(session=session, user=user, show="open", skip=2, limit=2)
    assert total == 4 and len(views) == 2


def test_unknown_filter_is_refused(session, user):
    with pytest.raises(InvalidInput):
        polls.list_polls(session=session, user=user, show="everything")
