"""The REST ballot's hot path (``api.fast_votes`` / ``services.fast_ballots``): on PostgreSQL it
answers ``POST /api/votes/`` itself, with the same rules and answers as the route; the attacks
on what it does differently (two statements instead of one transaction that locks the poll first,
its own connections) are here. The route's own tests (``test_votes_api.py``) run through it too."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import jwt
import pytest
from sqlalchemy import text

from commons_app import db as db_module
from commons_app.config import get_settings
from commons_app.models import utcnow
from commons_app.services import auth, fast_ballots
from commons_app.services.errors import Forbidden
from commons_app.services.votes import BallotInput
from tests import aio, factories
from tests.factories import assert_error, row_counts


@pytest.fixture
def spy(monkeypatch):
    """Counts the hot path's answers (what it returned: a ballot, or None for "not mine")."""
    seen: list[object] = []
    real = fast_ballots.cast_ballot

    async def counted(**kwargs):
        result = await real(**kwargs)
        seen.append(result)
        return result

    monkeypatch.setattr(fast_ballots, "cast_ballot", counted)
    return seen


def _cast(client, headers, poll_id, **choice):
    return client.post("/api/votes/", json={"poll_id": poll_id, **choice}, headers=headers)


def test_postgresql_ballots_take_the_hot_path_and_sqlite_ones_the_route(client, engine, session, admin, user, auth_headers, backend, spy):
    view = factories.make_poll(session, admin, options=["Apples", "Pears"])
    response = _cast(client, auth_headers(user), view.poll.id, option_id=view.options[1].id)

    assert response.status_code == 201, response.text
    assert response.json()["option_id"] == view.options[1].id
    assert len(spy) == (1 if backend == "postgresql" else 0)
    assert row_counts(engine)["ballots"] == 1
    # The count moved with the ballot, in the same transaction.
    counted = session.execute(text("SELECT sum(ballots) FROM ballot_counts WHERE option_id = :o"), {"o": view.options[1].id}).scalar()
    assert counted == 1


def test_ended_sessions_disabled_users_and_guests_are_401(client, engine, session, admin, make_user, backend, spy):
    view = factories.make_poll(session, admin)
    choice = {"option_id": view.options[0].id}
    ended = make_user()
    token = factories.issue_tokens(session, ended).access_token
    claims = jwt.decode(token, options={"verify_signature": False})
    auth.revoke_session(session=session, session_id=claims["sid"], reason="test")
    disabled = make_user()
    disabled_headers = factories.token_headers(session, disabled)
    disabled.is_active = False
    session.add(disabled)
    session.commit()
    guest = make_user(role="guest")
    guest_headers = factories.token_headers(session, guest)
    before = row_counts(engine)

    assert_error(_cast(client, factories.bearer(token), view.poll.id, **choice), 401)
    assert_error(_cast(client, disabled_headers, view.poll.id, **choice), 401)
    assert_error(_cast(client, guest_headers, view.poll.id, **choice), 401)
    assert_error(_cast(client, factories.bearer(token[:-2] + "xx"), view.poll.id, **choice), 401)
    assert row_counts(engine) == before


def test_rolls_weights_and_visibility_are_the_routes(client, engine, session, admin, make_user, auth_headers):
    rolled, outsider = make_user(), make_user()
    private = factories.make_poll(session, admin, visibility="private", voters=[(rolled, 2.5)])

    assert_error(_cast(client, auth_headers(outsider), private.poll.id, option_id=private.options[0].id), 404)
    answer = _cast(client, auth_headers(rolled), private.poll.id, option_id=private.options[0].id)
    assert answer.status_code == 201 and answer.json()["weight"] == 2.5
    assert_error(_cast(client, auth_headers(rolled), private.poll.id, option_id=private.options[1].id), 409)
    closed = factories.make_closed(session, admin)
    assert_error(_cast(client, auth_headers(rolled), closed.poll.id, option_id=closed.options[0].id), 403)
    assert_error(_cast(client, auth_headers(rolled), "no-such-poll", option_id=1), 404)
    assert row_counts(engine)["ballots"] == 1


def test_anonymous_polls_are_handed_to_the_route(client, engine, session, admin, user, auth_headers, backend, spy):
    view = factories.make_poll(session, admin, anonymous=True)
    answer = _cast(client, auth_headers(user), view.poll.id, option_id=view.options[0].id)

    assert answer.status_code == 201, answer.text
    assert answer.json()["created_at"] is None  # the route's anonymous ballot: no time
    assert spy == ([None] if backend == "postgresql" else [])
    assert row_counts(engine)["poll_participants"] == 1


# --- attacks on the two-statement path (PostgreSQL) ----------------------------------------------------

async def _ballot_while_locked(engine, session, user, view, *, close_by_hand: bool, closes_in: float | None):
    """Hold the poll's row as sealing does (``counts.lock_poll``), let a hot-path ballot read the
    open poll and reach its write, then close: the ballot must not be stored."""
    token = factories.issue_tokens(session, user).access_token
    async with aio.pool_of(engine) as pool:
        with engine.connect() as sealer:
            sealer.execute(text("SELECT id FROM polls WHERE id = :p FOR UPDATE"), {"p": view.poll.id})
            if close_by_hand:
                sealer.execute(text("UPDATE polls SET closed_at = now() WHERE id = :p"), {"p": view.poll.id})
            task = asyncio.create_task(
                fast_ballots.cast_ballot(
                    pool=pool, token=token, poll_id=view.poll.id, ballot=BallotInput(option_id=view.options[0].id)
                )
            )
            await asyncio.sleep(0.6 if closes_in is None else closes_in + 0.4)
            assert not task.done(), "the write should wait for the sealer's lock"
            sealer.commit()
            return await _outcome(task)


async def _outcome(task):
    try:
        return await asyncio.wait_for(task, 10)
    except Forbidden as exc:
        return exc


@pytest.mark.parametrize("backend", ["postgresql"])
@pytest.mark.parametrize("close_by_hand", [True, False], ids=["closed-by-hand", "closed-on-time"])
def test_a_ballot_racing_the_seal_is_refused_not_stored(engine, session, admin, user, close_by_hand):
    closes_in = None if close_by_hand else 1.0
    view = factories.make_poll(session, admin)
    if closes_in is not None:
        factories.set_poll_times(session, view.poll.id, closes_at=utcnow() + timedelta(seconds=closes_in))

    outcome = aio.run(_ballot_while_locked(engine, session, user, view, close_by_hand=close_by_hand, closes_in=closes_in))

    assert isinstance(outcome, Forbidden) and outcome.message == "This poll is closed."
    assert row_counts(engine)["ballots"] == 0
    assert session.execute(text("SELECT count(*) FROM ballot_counts")).scalar() == 0


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_ballot_waiting_on_a_lock_that_does_not_close_is_stored(engine, session, admin, user):
    view = factories.make_poll(session, admin)

    outcome = aio.run(_ballot_while_locked(engine, session, user, view, close_by_hand=False, closes_in=None))

    assert not isinstance(outcome, Exception) and outcome.ballot.id is not None
    assert row_counts(engine)["ballots"] == 1


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_connection_the_server_ended_is_replaced_not_a_503(client, engine, session, admin, make_user, auth_headers, spy):
    view = factories.make_poll(session, admin)
    assert _cast(client, auth_headers(make_user()), view.poll.id, option_id=view.options[0].id).status_code == 201
    pool = db_module._async_pool
    assert pool is not None and pool._idle, "the hot path keeps its connection for the next ballot"
    backend_pid = pool._idle[-1].info.backend_pid
    with engine.connect() as admin_conn:
        assert admin_conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend_pid}).scalar()
    import time

    time.sleep(0.2)  # the termination message reaches the socket

    answer = _cast(client, auth_headers(make_user()), view.poll.id, option_id=view.options[1].id)
    assert answer.status_code == 201, answer.text
    assert len(spy) == 2 and row_counts(engine)["ballots"] == 2


def test_the_pool_takes_half_the_workers_share_on_postgresql(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://127.0.0.1/x")
    monkeypatch.setenv("DB_CONNECTIONS", "40")
    monkeypatch.setenv("GRANIAN_WORKERS", "2")
    monkeypatch.delenv("DB_POOL_SIZE", raising=False)
    monkeypatch.delenv("DB_ASYNC_POOL_SIZE", raising=False)
    get_settings.cache_clear()
    settings = get_settings()
    assert (settings.db_pool_size, settings.db_async_pool_size) == (10, 10)
    get_settings.cache_clear()


@pytest.mark.parametrize("limit", ["ballot", "api"])
def test_a_ballot_handed_to_the_route_counts_once_against_each_limit(client, engine, session, admin, user, auth_headers, rate_limits, limit):
    """An anonymous poll's ballot goes from the hot path to the route: with a limit of one per
    minute it must still be taken (counted twice, it was refused with 429)."""
    headers = auth_headers(user)
    view = factories.make_poll(session, admin, anonymous=True)
    rate_limits(**{limit: "1/minute"})

    answer = _cast(client, headers, view.poll.id, option_id=view.options[0].id)

    assert answer.status_code == 201, answer.text
    assert row_counts(engine)["ballots"] == 1
    assert_error(_cast(client, headers, view.poll.id, option_id=view.options[1].id), 429)
