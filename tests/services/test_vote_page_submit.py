"""The vote page's submit (``pages.vote.submit_ballot``) shows the ballot it has just committed
without reading it back: the page it returns must equal a fresh read of the page, for every
method, named and anonymous, when casting and when changing a ballot. On PostgreSQL a named
ballot is cast on the event loop (``pages.vote.cast_on_loop``): its page must equal a fresh read
too, and everything it refuses must be refused as the service call refuses it, with the database
unchanged."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from commons_app import methods
from commons_app.config import get_settings
from commons_app.models import PollVoter, utcnow
from commons_app.pages.vote import cast_on_loop, submit_ballot, vote_context
from commons_app.services import auth, guests
from commons_app.services.errors import Conflict, Forbidden, NotAuthenticated, ServiceError
from commons_app.services.votes import BallotInput
from commons_app.state.session import _as_session
from tests import aio, factories
from tests.factories import row_counts


def _ballot(field: str, ids: list[int], turn: int) -> BallotInput:
    value: Any = {
        "option_id": ids[turn],
        "option_ids": ids[turn : turn + 2],
        "ranking": [ids[2 + turn], ids[turn]],
        "scores": {str(i): (n + turn) % 5 for n, i in enumerate(ids)},
    }[field]
    return BallotInput(**{field: value})


@pytest.mark.parametrize("anonymous", [False, True])
@pytest.mark.parametrize("method", [m.name for m in methods.all_methods()])
def test_submit_shows_what_a_fresh_read_shows(session, make_user, make_poll, method: str, anonymous: bool) -> None:
    owner, voter = make_user(), make_user()
    view = make_poll(owner, voters=[(voter, 2.0)], method=method, options=4, **({"anonymous": True} if anonymous else {}))
    poll_id = view.poll.id
    ids = [o["id"] for o in vote_context(session=session, user=voter, poll_id=poll_id)["options"]]
    field = methods.get(method).ballot.field

    page, receipt = submit_ballot(session=session, user=voter, poll_id=poll_id, ballot=_ballot(field, ids, 0), changing=False)
    assert page["has_voted"]
    assert page == vote_context(session=session, user=voter, poll_id=poll_id)

    page, _ = submit_ballot(
        session=session, user=voter, poll_id=poll_id, ballot=_ballot(field, ids, 1), changing=True, receipt=receipt
    )
    assert page == vote_context(session=session, user=voter, poll_id=poll_id)
    if not anonymous:
        assert page["summary"] and page["receipt"] != receipt


# --- the named ballot cast on the event loop (PostgreSQL: pages.vote.cast_on_loop) ---------------------

def _on_loop(engine, session_id: str, poll_id: str, ballot: BallotInput, *, allow_guest: bool = True):
    """``cast_on_loop`` on a connection of its own; a refusal comes back as the exception."""

    async def run():
        async with aio.pool_of(engine) as pool:
            try:
                return await cast_on_loop(
                    pool=pool, session_id=session_id, allow_guest=allow_guest, poll_id=poll_id, ballot=ballot
                )
            except ServiceError as exc:
                return exc

    return aio.run(run())


def _in_thread(session_id: str, poll_id: str, ballot: BallotInput, *, allow_guest: bool = True):
    """The service call the page made before (and still makes for everything else)."""
    try:
        return _as_session(
            session_id, submit_ballot, {"poll_id": poll_id, "ballot": ballot, "changing": False}, allow_guest
        )
    except ServiceError as exc:
        return exc


def _invitee(session, poll_id: str):
    """A guest invited to ``poll_id``, on its roll (as ``guests`` makes them)."""
    guest = guests.new_guest(session=session, poll_id=poll_id)
    session.add(PollVoter(poll_id=poll_id, user_id=guest.id, weight=1.0))
    session.commit()
    return guest


def _browser(session, user) -> str:
    return auth.start_browser_session(session=session, user=user)[0]


@pytest.mark.parametrize("backend", ["postgresql"])
@pytest.mark.parametrize("method", [m.name for m in methods.all_methods()])
def test_the_cast_on_the_loop_shows_what_a_fresh_read_shows(engine, session, make_user, make_poll, method: str) -> None:
    owner, voter = make_user(), make_user()
    view = make_poll(owner, voters=[(voter, 2.0)], method=method, options=4, results_visibility="after_vote")
    poll_id = view.poll.id
    ids = [o["id"] for o in vote_context(session=session, user=voter, poll_id=poll_id)["options"]]
    field = methods.get(method).ballot.field

    page, receipt = _on_loop(engine, _browser(session, voter), poll_id, _ballot(field, ids, 0))

    assert page["has_voted"] and page["summary"] and page["results_hidden"] == ""
    assert page == vote_context(session=session, user=voter, poll_id=poll_id)
    assert page["receipt"] == receipt
    counted = session.execute(text("SELECT sum(ballots) FROM ballot_counts WHERE poll_id = :p"), {"p": poll_id}).scalar()
    counts_it = session.execute(text("SELECT option_id FROM ballots WHERE poll_id = :p"), {"p": poll_id}).scalar() is not None
    assert counted == (1 if counts_it else None)  # counted as counts.adjust counts: a ballot with an option_id


@pytest.mark.parametrize("backend", ["postgresql"])
def test_the_owner_and_a_guest_on_its_own_poll_see_a_fresh_read(engine, session, make_user, make_poll) -> None:
    owner = make_user()
    mine = make_poll(owner, options=3)
    page, _ = _on_loop(engine, _browser(session, owner), mine.poll.id, BallotInput(option_id=mine.options[1].id))
    assert page["can_manage"] and page == vote_context(session=session, user=owner, poll_id=mine.poll.id)

    invited = make_poll(owner, visibility="private", options=3)
    guest = _invitee(session, invited.poll.id)
    page, _ = _on_loop(engine, _browser(session, guest), invited.poll.id, BallotInput(option_id=invited.options[0].id))
    assert page["guest"] and page["invited"]
    assert page == vote_context(session=session, user=guest, poll_id=invited.poll.id)


def _refusals(engine, session, session_id: str, poll_id: str, ballot: BallotInput, **kw):
    """The loop's refusal and the thread's, with the database unchanged by the loop's."""
    before = row_counts(engine)
    loop = _on_loop(engine, session_id, poll_id, ballot, **kw)
    assert row_counts(engine) == before
    thread = _in_thread(session_id, poll_id, ballot, **kw)
    assert isinstance(loop, ServiceError), loop
    assert (type(loop), loop.message) == (type(thread), thread.message)
    return loop


@pytest.mark.parametrize("backend", ["postgresql"])
def test_ended_expired_and_unknown_sessions_and_disabled_users_are_refused_alike(engine, session, make_user, make_poll) -> None:
    owner = make_user()
    view = make_poll(owner)
    choice = BallotInput(option_id=view.options[0].id)
    ended = _browser(session, make_user())
    auth.revoke_session(session=session, session_id=ended, reason="logout")
    expired = _browser(session, make_user())
    session.execute(text("UPDATE auth_sessions SET expires_at = :t WHERE id = :s"), {"t": utcnow() - timedelta(seconds=1), "s": expired})
    disabled_user = make_user()
    disabled = _browser(session, disabled_user)
    disabled_user.is_active = False
    session.add(disabled_user)
    session.commit()

    for session_id, message in [
        (ended, "Your session has ended; please log in again."),
        (expired, "Your session has ended; please log in again."),
        ("0" * 32, "Your session has ended; please log in again."),
        ("x" * 65, "Please log in."),
        (disabled, "This account is disabled."),
    ]:
        refused = _refusals(engine, session, session_id, view.poll.id, choice)
        assert isinstance(refused, NotAuthenticated) and refused.message == message
    assert row_counts(engine)["ballots"] == 0


@pytest.mark.parametrize("backend", ["postgresql"])
def test_an_idle_session_is_handed_to_the_service_call_which_revokes_it(engine, session, make_user, make_poll) -> None:
    view = make_poll(make_user())
    idle = _browser(session, make_user())
    stale = utcnow() - timedelta(minutes=get_settings().browser_idle_minutes, seconds=1)
    session.execute(text("UPDATE auth_sessions SET last_used_at = :t WHERE id = :s"), {"t": stale, "s": idle})
    session.commit()
    choice = BallotInput(option_id=view.options[0].id)

    assert _on_loop(engine, idle, view.poll.id, choice) is None
    assert session.execute(text("SELECT revoked_at FROM auth_sessions WHERE id = :s"), {"s": idle}).scalar() is None
    refused = _in_thread(idle, view.poll.id, choice)
    assert refused.message == "Your session ended after a period without use; please log in again."
    assert row_counts(engine)["ballots"] == 0


@pytest.mark.parametrize("backend", ["postgresql"])
def test_use_is_written_as_the_service_call_writes_it(engine, session, make_user, make_poll) -> None:
    view = make_poll(make_user())
    fresh, stale = _browser(session, make_user()), _browser(session, make_user())
    long_ago = utcnow() - timedelta(seconds=61)
    session.execute(text("UPDATE auth_sessions SET last_used_at = :t WHERE id = :s"), {"t": long_ago, "s": stale})
    session.commit()
    used = {s: session.execute(text("SELECT last_used_at FROM auth_sessions WHERE id = :s"), {"s": s}).scalar() for s in (fresh, stale)}

    for session_id in (fresh, stale):
        assert _on_loop(engine, session_id, view.poll.id, BallotInput(option_id=view.options[0].id)) is not None

    after = {s: session.execute(text("SELECT last_used_at FROM auth_sessions WHERE id = :s"), {"s": s}).scalar() for s in (fresh, stale)}
    assert after[fresh] == used[fresh]  # used a moment ago: not written on every event
    assert after[stale] > used[stale]


@pytest.mark.parametrize("backend", ["postgresql"])
def test_guests_private_closed_missing_polls_and_double_votes_are_refused_alike(engine, session, make_user, make_poll) -> None:
    owner = make_user()
    public = make_poll(owner, options=3)
    rolled, outsider = make_user(), make_user()
    private = make_poll(owner, visibility="private", voters=[(rolled, 1.0)])
    closed = factories.make_closed(session, owner)
    scheduled = factories.make_scheduled(session, owner)
    other = make_poll(owner, visibility="private")
    invitee = _invitee(session, other.poll.id)
    link_guest = guests.new_guest(session=session)
    session.commit()

    cases = [
        (_browser(session, invitee), public.poll.id, public.options[0].id, {}, "Poll not found."),
        (_browser(session, invitee), other.poll.id, other.options[0].id, {"allow_guest": False}, "Please log in."),
        (_browser(session, link_guest), public.poll.id, public.options[0].id, {}, "Poll not found."),
        (_browser(session, outsider), private.poll.id, private.options[0].id, {}, "Poll not found."),
        (_browser(session, rolled), closed.poll.id, closed.options[0].id, {}, "This poll is closed."),
        (_browser(session, rolled), scheduled.poll.id, scheduled.options[0].id, {}, "This poll is not open yet."),
        (_browser(session, rolled), "no-such-poll", 1, {}, "Poll not found."),
        (_browser(session, rolled), public.poll.id, 10**9, {}, None),  # not an option of the poll
    ]
    for session_id, poll_id, option_id, kw, message in cases:
        refused = _refusals(engine, session, session_id, poll_id, BallotInput(option_id=option_id), **kw)
        assert message is None or refused.message == message, (poll_id, refused.message)

    voter = _browser(session, rolled)
    assert _on_loop(engine, voter, public.poll.id, BallotInput(option_id=public.options[0].id)) is not None
    refused = _refusals(engine, session, voter, public.poll.id, BallotInput(option_id=public.options[1].id))
    assert isinstance(refused, Conflict) and refused.message == "You have already voted in this poll."
    assert row_counts(engine)["ballots"] == 1


@pytest.mark.parametrize("backend", ["postgresql"])
def test_anonymous_polls_are_handed_to_the_service_call(engine, session, make_user, make_poll) -> None:
    view = make_poll(make_user(), anonymous=True)
    assert _on_loop(engine, _browser(session, make_user()), view.poll.id, BallotInput(option_id=view.options[0].id)) is None
    assert row_counts(engine)["ballots"] == 0


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_ballot_racing_the_seal_is_refused_not_stored(engine, session, make_user, make_poll) -> None:
    view = make_poll(make_user())
    voter = _browser(session, make_user())

    async def race():
        async with aio.pool_of(engine) as pool:
            with engine.connect() as sealer:
                sealer.execute(text("SELECT id FROM polls WHERE id = :p FOR UPDATE"), {"p": view.poll.id})
                sealer.execute(text("UPDATE polls SET closed_at = now() WHERE id = :p"), {"p": view.poll.id})
                task = asyncio.create_task(cast_on_loop(
                    pool=pool, session_id=voter, allow_guest=True, poll_id=view.poll.id,
                    ballot=BallotInput(option_id=view.options[0].id),
                ))
                await asyncio.sleep(0.6)
                assert not task.done(), "the write should wait for the sealer's lock"
                sealer.commit()
                try:
                    return await asyncio.wait_for(task, 10)
                except Forbidden as exc:
                    return exc

    outcome = aio.run(race())
    assert isinstance(outcome, Forbidden) and outcome.message == "This poll is closed."
    assert row_counts(engine)["ballots"] == 0
