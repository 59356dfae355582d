"""Nobody reads or changes what is not theirs: every API endpoint x every kind of caller.

The world of each cell is made afresh: a **private** poll owned by ``owner`` whose results only
its creator may see (``results_visibility="creator"``), with ``member`` and ``disabled`` on its
roll and ``member``'s ballot in it; an ``admin``; ``off_roll``, a member who is not on the roll;
``disabled``, a user switched off *while its session stays open* (so the user check itself is
tested, not only session revocation); and ``anonymous``, no token at all.

The matrix is checked against the app's own OpenAPI document: an endpoint without a row fails
:func:`test_the_matrix_covers_every_endpoint`. A refused request (4xx) must change nothing in the
database. The second half drives the mutating Reflex event handlers' service paths the way the
pages do (``commons_app.state.session.as_connection``: a socket that presented a browser credential
when it connected), and the admin page's
own ``set_role`` / ``set_active`` handlers with their wrapper.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from commons_app.models import AuditEvent, Poll, User
from commons_app.pages.admin import AdminState
from commons_app.services import auth, polls, votes
from commons_app.services.errors import Forbidden, NotAuthenticated, NotFound
from commons_app.services.polls import RollEntry
from commons_app.services.votes import BallotInput
from commons_app.state import connections
from commons_app.state.session import SessionState, as_connection
from tests import aio, factories
from tests.factories import DEFAULT_PASSWORD, assert_error, bearer
from tests.security.conftest import REPORT

ROLES = ("anonymous", "member", "owner", "admin", "off_roll", "disabled")


@dataclass
class World:
    owner: User
    member: User
    admin: User
    off_roll: User
    disabled: User
    target: User
    poll_id: str
    option_ids: list[int]
    tokens: dict[str, auth.TokenPair] = field(default_factory=dict)

    def user(self, role: str) -> User | None:
        return None if role == "anonymous" else getattr(self, role)


def make_world(session: Session, *, member_voted: bool = True) -> World:
    owner = factories.make_user(session)
    member = factories.make_user(session)
    admin = factories.make_user(session, role="admin")
    off_roll = factories.make_user(session)
    disabled = factories.make_user(session)
    target = factories.make_user(session)
    view = factories.make_poll(
        session, owner, options=3, visibility="private", results_visibility="creator",
        voters=[(member, 2.0), (disabled, 1.0)],
    )
    world = World(owner, member, admin, off_roll, disabled, target, view.poll.id, [o.id for o in view.options])
    if member_voted:
        factories.vote(session, member, view, option_id=world.option_ids[0])
    for role in ROLES[1:]:
        world.tokens[role] = factories.issue_tokens(session, getattr(world, role))
    # Switched off behind the app's back: its session is still open.
    session.execute(update(User).where(User.id == disabled.id).values(is_active=False))
    session.commit()
    return world


def snapshot(engine: Engine) -> dict[str, list[tuple]]:
    """Every row of every table except the audit log (compared before and after a refusal)."""
    tables = [t for t in SQLModel.metadata.sorted_tables if t.name != AuditEvent.__tablename__]
    with engine.connect() as conn:
        return {t.name: sorted(map(tuple, conn.execute(select(t)).all()), key=repr) for t in tables}


# --- the matrix ------------------------------------------------------------------------------------
Builder = Callable[[World, str], dict[str, Any]]


def _none(_w: World, _role: str) -> dict[str, Any]:
    return {}


def _json(body: Callable[[World, str], Any]) -> Builder:
    return lambda w, role: {"json": body(w, role)}


def _new_user(_w: World, _role: str) -> dict[str, Any]:
    name = f"new{secrets.token_hex(5)}"
    return {"json": {"username": name, "email": f"{name}@example.org", "password": "A-fine-long-passphrase-1"}}


def _login(w: World, role: str) -> dict[str, Any]:
    user = w.user(role)
    if user is None:
        return {"data": {"username": f"nobody{secrets.token_hex(4)}", "password": "Wrong-password-123"}}
    return {"data": {"username": user.username, "password": DEFAULT_PASSWORD}}


def _refresh(w: World, role: str) -> dict[str, Any]:
    token = w.tokens[role].refresh_token if role in w.tokens else secrets.token_urlsafe(32)
    return {"json": {"refresh_token": token}}


@dataclass(frozen=True)
class Row:
    """Expected statuses for (anonymous, member, owner, admin, off_roll, disabled)."""

    expected: str
    build: Builder = _none
    member_voted: bool = True

    def status(self, role: str) -> int:
        codes = self.expected.split()
        assert len(codes) == len(ROLES), self.expected
        return int(codes[ROLES.index(role)])


#                                                  anon mem owner admin offroll disabled
MATRIX: dict[str, Row] = {
    "POST /api/users/": Row("201 201 201 201 201 201", _new_user),
    "POST /api/token": Row("401 200 200 200 200 401", _login),
    "POST /api/token/refresh": Row("401 200 200 200 200 401", _refresh),
    "POST /api/logout": Row("401 204 204 204 204 401", _refresh),
    "GET /api/me": Row("401 200 200 200 200 401"),
    "POST /api/me/password": Row("401 204 204 204 204 401", _json(lambda w, r: {
        "current_password": DEFAULT_PASSWORD, "new_password": "An-other-long-passphrase-2"})),
    "GET /api/polls/": Row("401 200 200 200 200 401"),
    "POST /api/polls/": Row("401 201 201 201 201 401", _json(lambda w, r: {"title": "New", "options": ["a", "b"]})),
    "GET /api/polls/{poll_id}": Row("401 200 200 200 404 401"),
    "PATCH /api/polls/{poll_id}": Row("401 403 200 200 404 401", _json(lambda w, r: {"title": "Renamed"})),
    "DELETE /api/polls/{poll_id}": Row("401 403 204 204 404 401"),
    "POST /api/polls/{poll_id}/close": Row("401 403 200 200 404 401"),
    "PUT /api/polls/{poll_id}/voters": Row("401 403 200 200 404 401", _json(lambda w, r: {"voters": [
        {"username": w.member.username, "weight": 2}, {"username": w.disabled.username},
        {"username": w.off_roll.username}]})),
    "GET /api/polls/{poll_id}/voters": Row("401 403 200 200 404 401"),
    "POST /api/polls/{poll_id}/invitations": Row("401 403 202 202 404 401"),
    "GET /api/polls/{poll_id}/invitations": Row("401 403 200 200 404 401"),
    "POST /api/polls/{poll_id}/reminders": Row("401 403 202 202 404 401"),
    # Published once the poll closes (409 until then), to those who may see its results.
    "GET /api/polls/{poll_id}/record.jsonl": Row("401 403 409 409 404 401"),
    "GET /api/polls/{poll_id}/record.blt": Row("401 403 409 409 404 401"),
    "POST /api/votes/": Row("401 201 403 403 404 401", _json(lambda w, r: {
        "poll_id": w.poll_id, "option_id": w.option_ids[1]}), member_voted=False),
    "GET /api/polls/{poll_id}/my-vote": Row("401 200 404 404 404 401"),
    "PUT /api/polls/{poll_id}/my-vote": Row("401 200 403 403 404 401", _json(lambda w, r: {
        "option_id": w.option_ids[2]})),
    "DELETE /api/polls/{poll_id}/my-vote": Row("401 204 404 404 404 401"),
    "GET /api/polls/{poll_id}/results": Row("401 403 200 200 404 401"),
    "GET /api/polls/{poll_id}/results.csv": Row("401 403 200 200 404 401"),
    "GET /api/polls/{poll_id}/ballots": Row("401 403 200 200 404 401"),
    "GET /api/polls/{poll_id}/ballots.csv": Row("401 403 200 200 404 401"),
    "GET /api/admin/users": Row("401 403 403 200 403 401"),
    "PATCH /api/admin/users/{user_id}": Row("401 403 403 200 403 401", _json(lambda w, r: {"role": "admin"})),
    "GET /api/admin/audit": Row("401 403 403 200 403 401"),
    "GET /api/admin/outbox": Row("401 403 403 200 403 401"),
    "GET /api/health": Row("200 200 200 200 200 200"),
    "GET /api/health/live": Row("200 200 200 200 200 200"),
    # Only the operator's METRICS_TOKEN opens it (tests/security/test_metrics_token.py): no user's token does.
    "GET /metrics": Row("401 401 401 401 401 401"),
}


def test_the_matrix_covers_every_endpoint(client):
    """A new endpoint without a row here fails this test (and a row for a removed one, too)."""
    schema = client.get("/api/openapi.json").json()
    operations = {
        f"{method.upper()} {path}"
        for path, item in schema["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete", "head", "options"}
    }
    assert operations == set(MATRIX), {
        "endpoints without a row": sorted(operations - set(MATRIX)),
        "rows without an endpoint": sorted(set(MATRIX) - operations),
    }


@pytest.mark.parametrize("endpoint", list(MATRIX))
def test_authorization_matrix(client, engine, session, endpoint):
    """One endpoint, every role. The world is rebuilt only after a request that changed it (a refusal
    must not, and that is asserted); all wrong cells are reported together."""
    row = MATRIX[endpoint]
    method, template = endpoint.split(" ", 1)
    wrong: list[str] = []
    world = make_world(session, member_voted=row.member_voted)
    for role in ROLES:
        path = template.replace("{poll_id}", str(world.poll_id)).replace("{user_id}", str(world.target.id))
        headers = bearer(world.tokens[role].access_token) if role != "anonymous" else {}
        before = snapshot(engine)
        response = client.request(method, path, headers=headers, **row.build(world, role))
        after = snapshot(engine)
        expected = row.status(role)
        REPORT["authorization matrix cells checked"] += 1
        if response.status_code != expected:
            wrong.append(f"{role}: {response.status_code} (expected {expected}) {response.text[:200]}")
        elif expected >= 400:
            assert_error(response, expected)
            if expected == 401:
                assert response.headers.get("www-authenticate", "").lower().startswith("bearer")
            if after != before:
                wrong.append(f"{role}: refused with {expected} but the database changed")
        if after != before:
            world = make_world(session, member_voted=row.member_voted)
    assert not wrong, f"{endpoint}:\n" + "\n".join(wrong)


def test_private_poll_stays_out_of_listings_and_searches(client, session):
    world = make_world(session)
    title = session.get(Poll, world.poll_id).title
    for role, visible in (("member", True), ("owner", True), ("admin", False), ("off_roll", False)):
        headers = bearer(world.tokens[role].access_token)
        listed = client.get("/api/polls/", params={"limit": 100}, headers=headers).json()
        searched = client.get("/api/polls/", params={"search": title[:20]}, headers=headers).json()
        ids = {p["id"] for p in listed["items"]} | {p["id"] for p in searched["items"]}
        assert (world.poll_id in ids) == visible, role


def test_an_unlisted_poll_is_reachable_by_id_only(client, session):
    owner, other = factories.make_user(session), factories.make_user(session)
    view = factories.make_poll(session, owner, visibility="unlisted")
    headers = factories.token_headers(session, other)
    assert client.get(f"/api/polls/{view.poll.id}", headers=headers).status_code == 200
    listed = client.get("/api/polls/", params={"limit": 100}, headers=headers).json()
    assert view.poll.id not in {p["id"] for p in listed["items"]}


def test_the_ballot_export_never_reveals_an_anonymous_polls_voters(client, session):
    owner, voter, admin = factories.make_user(session), factories.make_user(session), factories.make_user(
        session, role="admin")
    view = factories.make_poll(session, owner, anonymous=True)
    factories.vote(session, voter, view, option_id=view.options[0].id)
    for who in (owner, admin):
        for suffix in ("ballots", "ballots.csv"):
            response = client.get(f"/api/polls/{view.poll.id}/{suffix}", headers=factories.token_headers(session, who))
            assert_error(response, 403)
            assert voter.username not in response.text


# --- Reflex event handlers: the service paths as the pages call them --------------------------------------
HANDLER_ROLES = ("member", "owner", "admin", "off_roll", "disabled", "revoked")


def browser_credentials(session: Session, world: World) -> dict[str, str]:
    """A browser credential per role (``auth.start_browser_session``), as the login page stores it."""
    credentials = {}
    for role in ("member", "owner", "admin", "off_roll", "disabled"):
        user = getattr(world, role)
        session.execute(update(User).where(User.id == user.id).values(is_active=True))
        session.commit()
        _sid, credentials[role] = auth.start_browser_session(session=session, user=user)
    session.execute(update(User).where(User.id == world.disabled.id).values(is_active=False))
    session.commit()
    # A member who logged out: the credential names a revoked session.
    revoked_sid, credentials["revoked"] = auth.start_browser_session(session=session, user=world.member)
    auth.revoke_session(session=session, session_id=revoked_sid, reason="logout")
    return credentials


async def as_socket(credential: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
    """What a page's handler does: a socket whose handshake carried ``credential`` (verified as
    the websocket verifies it), then the service as that socket's user."""
    sid = "sid-" + secrets.token_hex(8)
    await connections.verify_connection(sid, {"HTTP_COOKIE": f"{connections.COOKIE_NAME}={credential}"})
    try:
        return await as_connection(sid, fn, **kwargs)
    finally:
        connections.forget(sid)


def _outcome(call: Callable[[], Any]) -> str:
    try:
        call()
    except (NotAuthenticated, Forbidden, NotFound) as exc:
        return type(exc).__name__
    return "ok"


def as_actor(fn: Callable[..., Any]) -> Callable[..., Any]:
    """What ``AdminState._act`` wraps around ``auth.set_role`` / ``auth.set_active``."""

    def run(*, session: Session, user: User, **kw: Any) -> Any:
        return fn(session=session, actor=user, **kw)

    return run


HANDLERS: dict[str, tuple[Callable[[World], tuple[Callable, dict[str, Any]]], str, bool]] = {
    # name: (service and its arguments, outcomes for HANDLER_ROLES, member has voted)
    "close_poll": (lambda w: (polls.close_poll, {"poll_id": w.poll_id}),
                   "Forbidden ok ok NotFound NotAuthenticated NotAuthenticated", True),
    "delete_poll": (lambda w: (polls.delete_poll, {"poll_id": w.poll_id}),
                    "Forbidden ok ok NotFound NotAuthenticated NotAuthenticated", True),
    "update_poll": (lambda w: (polls.update_poll, {"poll_id": w.poll_id, "changes": {"title": "Taken over"}}),
                    "Forbidden ok ok NotFound NotAuthenticated NotAuthenticated", True),
    "set_roll": (lambda w: (polls.set_roll, {"poll_id": w.poll_id, "voters": [
        RollEntry(w.member.username, 2.0), RollEntry(w.disabled.username), RollEntry(w.off_roll.username)]}),
                 "Forbidden ok ok NotFound NotAuthenticated NotAuthenticated", True),
    "cast_ballot": (lambda w: (votes.cast_ballot, {"poll_id": w.poll_id, "ballot": BallotInput(option_id=w.option_ids[1])}),
                    "ok Forbidden Forbidden NotFound NotAuthenticated NotAuthenticated", False),
    "change_ballot": (lambda w: (votes.change_ballot, {"poll_id": w.poll_id,
                                                        "ballot": BallotInput(option_id=w.option_ids[2])}),
                      "ok Forbidden Forbidden NotFound NotAuthenticated NotAuthenticated", True),
    "retract_ballot": (lambda w: (votes.retract_ballot, {"poll_id": w.poll_id}),
                       "ok NotFound NotFound NotFound NotAuthenticated NotAuthenticated", True),
    "set_role": (lambda w: (as_actor(auth.set_role), {"user_id": w.target.id, "role": "admin"}),
                 "Forbidden Forbidden ok Forbidden NotAuthenticated NotAuthenticated", True),
    "set_active": (lambda w: (as_actor(auth.set_active), {"user_id": w.target.id, "active": False}),
                   "Forbidden Forbidden ok Forbidden NotAuthenticated NotAuthenticated", True),
}


@pytest.mark.parametrize("handler", list(HANDLERS))
def test_reflex_handler_service_paths(engine, session, handler):
    make_call, expected_row, member_voted = HANDLERS[handler]
    wrong: list[str] = []
    world = make_world(session, member_voted=member_voted)
    credentials = browser_credentials(session, world)
    for role in HANDLER_ROLES:
        fn, kwargs = make_call(world)
        before = snapshot(engine)
        credential = credentials[role]
        outcome = _outcome(lambda fn=fn, kwargs=kwargs, credential=credential: aio.run(
            as_socket(credential, fn, **kwargs)))
        expected = expected_row.split()[HANDLER_ROLES.index(role)]
        REPORT["Reflex handler cells checked"] += 1
        if outcome != expected:
            wrong.append(f"{role}: {outcome}, expected {expected}")
        if outcome != "ok" and snapshot(engine) != before:
            wrong.append(f"{role}: refused ({outcome}) but the database changed")
        if outcome == "ok":
            world = make_world(session, member_voted=member_voted)
            credentials = browser_credentials(session, world)
    assert not wrong, f"{handler}:\n" + "\n".join(wrong)


class AdminTab:
    """Stands in for one browser tab's ``AdminState``: the page's own methods on plain attributes,
    so the real ``set_role`` / ``set_active`` handlers run with their ``_act`` wrapper."""

    _call = SessionState._call
    _clear_user = SessionState._clear_user
    _act = AdminState._act
    _load = AdminState._load
    lang = "en"  # SessionState.lang: messages in English

    def __init__(self, sid: str) -> None:
        self.sid = sid
        self.username, self.role, self.user_id = "someone", "", 0
        self.users: list[Any] = []
        self.events: list[Any] = []
        self.total, self.search, self.refused, self.loaded, self.error = 0, "", "", False, ""
        self.events_total, self.users_at, self.events_at = 0, 0, 0


    def _socket(self) -> str:
        return self.sid


def run_admin_handler(credential: str, name: str, *args: Any) -> str:
    sid = "sid-" + secrets.token_hex(8)

    async def run() -> AdminTab:
        await connections.verify_connection(sid, {"HTTP_COOKIE": f"{connections.COOKIE_NAME}={credential}"})
        tab = AdminTab(sid)
        try:
            await getattr(AdminState, name).fn(tab, *args)
        finally:
            connections.forget(sid)
        return tab

    tab = aio.run(run())
    if tab.username == "":
        return "NotAuthenticated"
    if tab.error == "Only administrators may do this.":
        return "Forbidden"
    assert tab.error == "", tab.error
    assert tab.loaded, "the admin page did not reload"
    return "ok"


@pytest.mark.parametrize(
    ("name", "args"),
    [("set_role", lambda w: (w.target.id, "admin")), ("set_active", lambda w: (w.target.id, False)),
     ("set_role", lambda w: (w.admin.id, "member")), ("set_active", lambda w: (w.owner.id, False))],
    ids=["promote", "disable", "demote-admin", "disable-owner"],
)
def test_admin_page_handlers(engine, session, name, args):
    """``AdminState.set_role`` / ``set_active`` themselves, with the page's wrapper, for every role."""
    wrong: list[str] = []
    for role in HANDLER_ROLES:
        world = make_world(session)
        factories.make_user(session, role="admin")  # so that demoting ``admin`` is not "the last admin"
        credentials = browser_credentials(session, world)
        before = snapshot(engine)
        outcome = run_admin_handler(credentials[role], name, *args(world))
        expected = {"admin": "ok", "disabled": "NotAuthenticated", "revoked": "NotAuthenticated"}.get(role, "Forbidden")
        REPORT["Reflex handler cells checked"] += 1
        if outcome != expected:
            wrong.append(f"{role}: {outcome}, expected {expected}")
        if outcome != "ok" and snapshot(engine) != before:
            wrong.append(f"{role}: refused ({outcome}) but the database changed")
    assert not wrong, f"AdminState.{name}:\n" + "\n".join(wrong)
