"""Browser sessions end when they should (idle period, absolute lifetime), and every change of who
may see a poll's results is announced to the live layer (``services.notify``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import update

from commons_app.config import get_settings
from commons_app.models import AuthSession, as_utc, utcnow
from commons_app.services import auth, notify, polls
from commons_app.services.errors import NotAuthenticated
from commons_app.services.polls import RollEntry
from tests.factories import DEFAULT_PASSWORD


@pytest.fixture
def announced() -> Iterator[list[dict]]:
    changes: list[dict] = []
    notify.add_access_listener(changes.append)
    yield changes
    notify.remove_access_listener(changes.append)


def _age(session, session_id: str, **fields) -> None:
    session.execute(update(AuthSession).where(AuthSession.id == session_id).values(**fields))
    session.commit()
    session.expire_all()


def test_a_browser_session_has_an_absolute_lifetime(session, user):
    settings = dataclasses.replace(get_settings(), browser_max_hours=2.0)
    session_id, credential = auth.start_browser_session(session=session, user=user, settings=settings)
    row = session.get(AuthSession, session_id)
    assert as_utc(row.expires_at) - as_utc(row.created_at) == timedelta(hours=2)
    assert row.browser_key_hash != credential  # only its hash is stored
    _age(session, session_id, expires_at=utcnow() - timedelta(seconds=1))
    with pytest.raises(NotAuthenticated):
        auth.identify_browser(session=session, credential=credential, settings=settings)
    assert auth.ended_browser_sessions(session=session, session_ids=[session_id], settings=settings) == {session_id}


def test_a_browser_session_ends_after_an_idle_period_and_use_keeps_it(session, user, announced):
    settings = dataclasses.replace(get_settings(), browser_idle_minutes=10.0)
    session_id, credential = auth.start_browser_session(session=session, user=user, settings=settings)
    # Used 9 minutes after the last use: still live, and the use counts.
    _age(session, session_id, last_used_at=utcnow() - timedelta(minutes=9))
    assert auth.identify_browser_session(session=session, session_id=session_id, settings=settings).user.id == user.id
    session.expire_all()
    assert utcnow() - as_utc(session.get(AuthSession, session_id).last_used_at) < timedelta(minutes=1)
    # 11 minutes without use: ended, revoked as idle, and announced.
    _age(session, session_id, last_used_at=utcnow() - timedelta(minutes=11))
    assert auth.ended_browser_sessions(session=session, session_ids=[session_id], settings=settings) == {session_id}
    with pytest.raises(NotAuthenticated):
        auth.identify_browser(session=session, credential=credential, settings=settings)
    session.expire_all()
    assert session.get(AuthSession, session_id).revoked_reason == "idle"
    assert {"session_ids": [session_id]} in announced


def test_the_session_sweep_reads_many_sessions_in_a_fixed_number_of_queries(session, make_user, announced):
    """The sweep of every worker re-checks all its sockets' sessions every few seconds: with
    thousands of watching tabs it must not query once per session (or per user)."""
    import gc

    from sqlalchemy import event

    users = [make_user() for _ in range(12)]
    ids = [auth.start_browser_session(session=session, user=u)[0] for u in users]
    admin = make_user(role="admin")
    auth.set_active(session=session, actor=admin, user_id=users[3].id, active=False)
    auth.revoke_session(session=session, session_id=ids[5], reason="logout")
    del users
    session.expire_all()
    gc.collect()  # nothing outside the service holds the users (as in the server's sweep)
    statements: list[str] = []

    def count(*args) -> None:
        statements.append(args[2])

    engine = session.get_bind()
    held = set(session.identity_map.keys())  # the test's own admin
    event.listen(engine, "before_cursor_execute", count)
    try:
        ended = auth.ended_browser_sessions(session=session, session_ids=ids)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert ended == {ids[3], ids[5]}
    assert len(statements) == 1, statements  # the sessions with their users' two columns
    # Rows of columns, no ORM objects: with 2,500 watching tabs per worker, building a session and
    # a user object for each, every 5 s, was a third of a worker's CPU during a 5,000-viewer push.
    assert set(session.identity_map.keys()) <= held, set(session.identity_map.keys()) - held


def test_the_sweep_ends_exactly_the_sessions_the_rules_end(session, make_user, announced):
    """Each reason a session ends, side by side with live ones, through the sweep's own reading of
    the rows (``check_browser_session`` decides, as for every other path)."""
    settings = dataclasses.replace(get_settings(), browser_idle_minutes=10.0)
    live, guest, idle, expired, revoked, disabled = (
        make_user(), make_user(role="guest"), make_user(), make_user(), make_user(), make_user()
    )
    ids = {name: auth.start_browser_session(session=session, user=u, settings=settings)[0]
           for name, u in [("live", live), ("guest", guest), ("idle", idle), ("expired", expired),
                           ("revoked", revoked), ("disabled", disabled)]}
    _age(session, ids["idle"], last_used_at=utcnow() - timedelta(minutes=11))
    _age(session, ids["expired"], expires_at=utcnow() - timedelta(seconds=1))
    auth.revoke_session(session=session, session_id=ids["revoked"], reason="logout")
    auth.set_active(session=session, actor=make_user(role="admin"), user_id=disabled.id, active=False)
    session.expire_all()

    ended = auth.ended_browser_sessions(session=session, session_ids=[*ids.values(), "never-existed"], settings=settings)

    assert ended == {ids["idle"], ids["expired"], ids["revoked"], ids["disabled"], "never-existed"}
    session.expire_all()
    assert session.get(AuthSession, ids["idle"]).revoked_reason == "idle"  # revoked, so every worker hears
    assert {"session_ids": [ids["idle"]]} in announced
    assert session.get(AuthSession, ids["live"]).revoked_at is None


def test_session_ends_are_announced(session, make_user, announced):
    member, admin = make_user(), make_user(role="admin")
    session_id, _credential = auth.start_browser_session(session=session, user=member)
    auth.revoke_session(session=session, session_id=session_id, reason="logout")
    assert announced[-1] == {"session_ids": [session_id]}
    auth.change_password(session=session, user=member, current_password=DEFAULT_PASSWORD,
                         new_password="A-new-and-long-passphrase-77")
    assert announced[-1] == {"user_id": member.id, "ended": True}
    auth.set_role(session=session, actor=admin, user_id=member.id, role="admin")
    assert announced[-1] == {"user_id": member.id, "ended": False}
    auth.set_active(session=session, actor=admin, user_id=member.id, active=False)
    assert announced[-1] == {"user_id": member.id, "ended": True}


def test_poll_audience_changes_are_announced(session, make_user, make_poll, announced):
    owner, voter = make_user(), make_user()
    poll = make_poll(owner)
    poll_id = poll.poll.id
    polls.update_poll(session=session, user=owner, poll_id=poll_id, changes={"title": "Only the title"})
    assert announced == []  # nothing about who sees the results changed
    polls.update_poll(session=session, user=owner, poll_id=poll_id, changes={"results_visibility": "creator"})
    assert announced[-1] == {"poll_id": poll_id}
    announced.clear()
    polls.update_poll(session=session, user=owner, poll_id=poll_id, changes={"visibility": "private"})
    assert announced[-1] == {"poll_id": poll_id}
    announced.clear()
    polls.set_roll(session=session, user=owner, poll_id=poll_id, voters=[RollEntry(voter.username)])
    assert announced[-1] == {"poll_id": poll_id}
    announced.clear()
    polls.delete_poll(session=session, user=owner, poll_id=poll_id)
    assert announced[-1] == {"poll_id": poll_id}
