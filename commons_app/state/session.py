"""The signed-in user of a browser tab, and helpers that run services off the event loop.

The credential lives in an HttpOnly cookie that no script reads; the tab's websocket presents it
once, when it connects (``state.connections``), and from then on every handler that needs a user
asks for the live session of *its own socket* (``as_connection``): Reflex's client token and
state never stand for a user, and page guards only redirect, they protect nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import quote

import reflex as rx
from sqlmodel import Session

from commons_app import i18n, metrics
from commons_app.db import PoolTimeout, async_pool, session_scope
from commons_app.models import User
from commons_app.services import auth
from commons_app.services.errors import NotAuthenticated
from commons_app.state import connections, throttle

T = TypeVar("T")
logger = logging.getLogger("commons.events")
# Page states holding private data; logout resets every one of them.
PRIVATE_STATES: list[type[rx.State]] = []


def private_state(cls: type[rx.State]) -> type[rx.State]:
    """Class decorator: register a page state whose data logout must clear."""
    PRIVATE_STATES.append(cls)
    return cls


def _in_session(fn: Callable[..., T], kwargs: dict[str, Any]) -> T:
    with session_scope() as session:
        return fn(session=session, **kwargs)


async def run_service(fn: Callable[..., T], /, **kwargs: Any) -> T:
    """Call ``fn(session=..., **kwargs)`` in a worker thread with its own database session."""
    return await asyncio.to_thread(_in_session, fn, kwargs)


def _as_session(session_id: str, fn: Callable[..., T], kwargs: dict[str, Any], allow_guest: bool = False) -> T:
    with session_scope() as session:
        identity = auth.identify_browser_session(session=session, session_id=session_id, allow_guest=allow_guest)
        return fn(session=session, user=identity.user, **kwargs)


async def as_connection(sid: str, fn: Callable[..., T], /, *, allow_guest: bool = False, **kwargs: Any) -> T:
    """Call ``fn(session=..., user=<the user of socket sid>, **kwargs)`` in a thread, after
    checking that the session the socket proved when it connected is still live.

    ``allow_guest``: a guest's session (a voter without an account, ``services.guests``)
    counts too; only the ballot page passes it.

    ``allow_guest``: a guest's credential (a voter without an account, ``services.guests``)
    counts too; only the ballot page passes it.

    Raises:
        NotAuthenticated: The socket presented no live credential, or its session has ended
            (log-out, idle or absolute expiry, password change), its user is disabled, or it is
            a guest's and ``allow_guest`` is false.
    """
    started = time.perf_counter()
    outcome = "ok"
    try:
        session_id = _session_of(sid)
        try:
            return await asyncio.to_thread(_as_session, session_id, fn, kwargs, allow_guest)
        except NotAuthenticated as exc:
            _forget_if_ended(sid, exc)
            raise
    except Exception as exc:
        outcome = type(exc).__name__
        raise
    finally:
        _log_event(fn, outcome, started)


def _session_of(sid: str) -> str:
    """The session id of a socket's verified connection.

    Raises:
        NotAuthenticated: The socket presented no live credential.
    """
    connection = connections.identity_of(sid)
    if connection is None:
        raise NotAuthenticated("Please log in.")
    return connection.session_id


def _forget_if_ended(sid: str, exc: NotAuthenticated) -> None:
    # A guest refused off the ballot page is still connected; only an ended session is forgotten.
    if str(exc) != "Please log in.":
        connections.forget(sid)


def _log_event(fn: Callable[..., Any], outcome: str, started: float) -> None:
    """The one metric and log line of an event handler's service call."""
    name = getattr(fn, "__name__", "service")
    elapsed = time.perf_counter() - started
    metrics.EVENT_SECONDS.labels(name).observe(elapsed)
    logger.info("event", extra={"handler": name, "outcome": outcome, "ms": round(elapsed * 1000, 2)})


async def as_connection_on_loop(
    sid: str, fn: Callable[..., Awaitable[T | None]], /, *, allow_guest: bool = False, **kwargs: Any
) -> T | None:
    """:func:`as_connection` for a service that runs on the event loop on PostgreSQL (psycopg's
    async API, ``db.async_pool``): ``await fn(pool=..., session_id=..., allow_guest=..., **kwargs)``,
    where ``fn`` checks the socket's session itself. ``None``: not this path's (no PostgreSQL, no
    connection free, or ``fn`` handed it back); the caller then calls :func:`as_connection`.

    Raises:
        NotAuthenticated: As :func:`as_connection` (an ended session is forgotten the same way).
    """
    pool = async_pool()
    if pool is None:
        return None
    started = time.perf_counter()
    outcome = "ok"
    result: T | None = None
    try:
        session_id = _session_of(sid)
        try:
            result = await fn(pool=pool, session_id=session_id, allow_guest=allow_guest, **kwargs)
        except PoolTimeout:
            return None  # nothing done yet: the service call in a thread takes it
        except NotAuthenticated as exc:
            _forget_if_ended(sid, exc)
            raise
    except Exception as exc:
        outcome = type(exc).__name__
        raise
    finally:
        if outcome != "ok" or result is not None:  # a hand-back: the fallback's call is the event's line
            _log_event(fn, outcome, started)
    return result


def _whoami(*, session: Session, user: User) -> dict[str, Any]:
    return {"id": user.id, "username": user.username, "role": user.role}


def login_redirect(path: str) -> rx.event.EventSpec:
    """Send the browser to the login page, coming back to ``path`` afterwards."""
    return rx.redirect(f"/login?next={quote(path or '/polls', safe='/')}")


class SessionState(rx.State):
    """Who is signed in on this tab. The display fields are hints, filled from the socket's own
    verified session; handlers check that session again. No credential is kept here."""

    username: str = ""
    role: str = ""
    user_id: int = 0
    session_checked: bool = False
    # The language shown (commons_app.i18n); handlers pass it to tr()/trn(). Survives log-out.
    lang: str = "en"
    # The reader's own choice (?lang= or the switcher), remembered for a year; empty: none yet.
    lang_choice: str = rx.Cookie("", name="commons_lang", max_age=365 * 24 * 3600, same_site="lax")

    @rx.var
    def signed_in(self) -> bool:
        """Whether a user is shown as signed in."""
        return self.username != ""

    @rx.var
    def is_admin(self) -> bool:
        """Whether to show admin links (the server checks again on every admin action)."""
        return self.role == "admin"

    def _clear_user(self) -> None:
        self.username = ""
        self.role = ""
        self.user_id = 0

    def _socket(self) -> str:
        """This tab's socket, as the server knows it (not as the client says)."""
        return self.router.session.session_id

    async def _call(self, fn: Callable[..., T], /, **kwargs: Any) -> T:
        """Run a service as the signed-in user; clears the display fields when the session ended."""
        try:
            return await as_connection(self._socket(), fn, **kwargs)
        except NotAuthenticated:
            self._clear_user()
            raise

    def _pick_language(self) -> None:
        """?lang= picks (and remembers) the language; else the remembered choice; else the browser's."""
        asked = i18n.normalize(self.router.url.query_parameters.get("lang"))
        if asked:
            self.lang_choice = asked
        self.lang = i18n.normalize(self.lang_choice) or i18n.from_accept_language(self.router.headers.accept_language)
        throttle.remember_language(self.router.session.session_id, self.lang)

    @rx.event
    def choose_language(self, code: str) -> None:
        """The switcher: show ``code`` from now on (unknown codes are ignored)."""
        chosen = i18n.normalize(code)
        if chosen:
            self.lang = self.lang_choice = chosen
            throttle.remember_language(self.router.session.session_id, chosen)

    @rx.event
    async def check_session(self) -> None:
        """Refresh the display fields from the server (every page runs this on load)."""
        self._pick_language()
        self.session_checked = True
        try:
            me = await self._call(_whoami)
        except NotAuthenticated:
            return
        self.username, self.role, self.user_id = me["username"], me["role"], int(me["id"])

    @rx.event
    async def require_login(self):  # noqa: ANN201 - Reflex event return
        """Page guard: send anyone not signed in to the login page (and back afterwards)."""
        await self.check_session()
        if not self.signed_in:
            return login_redirect(self.router.url.path)
        return None

    @rx.event
    async def logout(self):  # noqa: ANN201 - Reflex event return
        """End the session on the server (every tab and socket of it stops at once, see
        ``state.live``) and forget every private value held for this tab."""
        connection = connections.identity_of(self._socket())
        if connection is not None:
            await run_service(auth.revoke_session, session_id=connection.session_id, reason="logout")
        connections.forget(self._socket())
        self._clear_user()
        await reset_private_states(self)
        return [rx.redirect("/login"), rx.toast.info(i18n.tr(self.lang, "You have been logged out."))]


async def reset_private_states(state: rx.State) -> None:
    """Reset every state that holds a user's private data (the display fields too)."""
    from commons_app.state.live import LiveResults  # live imports this module

    session_state = await state.get_state(SessionState)
    lang, lang_choice = session_state.lang, session_state.lang_choice
    for cls in [SessionState, *PRIVATE_STATES, LiveResults]:
        (await state.get_state(cls)).reset()
    # the language is the reader's choice, not the account's
    session_state.lang, session_state.lang_choice = lang, lang_choice
