"""The signed-in user of a browser tab, and helpers that run services off the event loop.

The credential lives in the browser's local storage and is verified on the server by every
handler that needs a user (``as_user``); page guards only redirect, they protect nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote

import reflex as rx
from sqlmodel import Session

from commons_app import metrics
from commons_app.db import session_scope
from commons_app.models import User
from commons_app.services import auth
from commons_app.services.errors import NotAuthenticated

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


def _as_user(credential: str, fn: Callable[..., T], kwargs: dict[str, Any], allow_guest: bool = False) -> T:
    with session_scope() as session:
        identity = auth.identify_browser(session=session, credential=credential, allow_guest=allow_guest)
        return fn(session=session, user=identity.user, **kwargs)


async def as_user(credential: str, fn: Callable[..., T], /, *, allow_guest: bool = False, **kwargs: Any) -> T:
    """Verify the credential, then call ``fn(session=..., user=<that user>, **kwargs)`` in a thread.

    ``allow_guest``: a guest's credential (a voter without an account, ``services.guests``)
    counts too; only the ballot page passes it.

    Raises:
        NotAuthenticated: The credential is missing, unknown, ended, its user disabled, or a guest's.
    """
    started = time.perf_counter()
    name = getattr(fn, "__name__", "service")
    outcome = "ok"
    try:
        return await asyncio.to_thread(_as_user, credential, fn, kwargs, allow_guest)
    except Exception as exc:
        outcome = type(exc).__name__
        raise
    finally:
        elapsed = time.perf_counter() - started
        metrics.EVENT_SECONDS.labels(name).observe(elapsed)
        logger.info("event", extra={"handler": name, "outcome": outcome, "ms": round(elapsed * 1000, 2)})


def _whoami(*, session: Session, user: User) -> dict[str, Any]:
    return {"id": user.id, "username": user.username, "role": user.role}


def login_redirect(path: str) -> rx.event.EventSpec:
    """Send the browser to the login page, coming back to ``path`` afterwards."""
    return rx.redirect(f"/login?next={quote(path or '/polls', safe='/')}")


class SessionState(rx.State):
    """Who is signed in on this tab. The display fields are hints; handlers check the credential."""

    credential: str = rx.LocalStorage("", name="commons_session", sync=True)
    username: str = ""
    role: str = ""
    user_id: int = 0
    session_checked: bool = False

    @rx.var
    def signed_in(self) -> bool:
        """Whether a user is shown as signed in."""
        return self.username != ""

    @rx.var
    def is_admin(self) -> bool:
        """Whether to show admin links (the server checks again on every admin action)."""
        return self.role == "admin"

    def _clear_user(self) -> None:
        self.credential = ""
        self.username = ""
        self.role = ""
        self.user_id = 0

    async def _call(self, fn: Callable[..., T], /, **kwargs: Any) -> T:
        """Run a service as the signed-in user; clears the display fields when the session ended."""
        try:
            return await as_user(self.credential, fn, **kwargs)
        except NotAuthenticated:
            self._clear_user()
            raise

    @rx.event
    async def check_session(self) -> None:
        """Refresh the display fields from the server (every page runs this on load)."""
        self.session_checked = True
        if not self.credential:
            self._clear_user()
            return
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
        """End the session on the server and forget every private value held for this tab."""
        credential = self.credential
        if credential:
            try:
                identity = await run_service(auth.identify_browser, credential=credential)
                await run_service(auth.revoke_session, session_id=identity.session_id, reason="logout")
            except NotAuthenticated:
                pass
        self._clear_user()
        for cls in PRIVATE_STATES:
            (await self.get_state(cls)).reset()
        return [rx.redirect("/login"), rx.toast.info("You have been logged out.")]
