"""The browser tabs connected to the app's websocket: who each one is, and how many there are.

Reflex 0.10 serves its Socket.IO namespace with one ``reflex.app.EventNamespace`` object per
worker (``app.event_namespace``); Socket.IO calls its ``on_connect`` and ``on_disconnect``.
:func:`install` gives that object a subclass whose handlers run around Reflex's own, so nothing
of Reflex is copied or replaced: the object, its token manager and its registration stay the same.

Identity belongs to the connection, not to Reflex's client token: a socket's handshake carries the
browser's HttpOnly session cookie, which is verified once, before Reflex runs the connection's
first event, and the socket is then known by its session id (in this worker's memory only). A
socket that presented no live credential acts as nobody, whatever client token it claims —
so a closed tab's token, replayed, reaches no one's data. Reflex's state never holds the
credential.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from typing import Any

from commons_app import metrics
from commons_app.db import session_scope
from commons_app.services import auth
from commons_app.services.errors import NotAuthenticated

logger = logging.getLogger("commons.connections")

# Socket.IO session ids this worker has counted (a refused connect is never counted, and so its
# disconnect, if any, is not subtracted).
_connected: set[str] = set()
COOKIE_NAME = auth.BROWSER_COOKIE


@dataclass(frozen=True)
class Connection:
    """The browser session a socket proved it belongs to."""

    session_id: str
    user_id: int


# Socket.IO session id -> the session its handshake's credential named (this worker's sockets).
_identities: dict[str, Connection] = {}
# Called with the sid of every socket that goes away (the live layer forgets its watchers).
_disconnect_hooks: list[Callable[[str], None]] = []


def identity_of(sid: str) -> Connection | None:
    """The session a connected socket proved, or None: it acts as nobody."""
    return _identities.get(sid)


def forget(sid: str) -> None:
    """The socket's session ended: from now on it acts as nobody."""
    _identities.pop(sid, None)


def sockets_of(*, session_ids: Iterable[str] = (), user_id: int | None = None) -> list[str]:
    """This worker's sockets of the given sessions, or of any session of ``user_id``."""
    wanted = set(session_ids)
    return [sid for sid, c in list(_identities.items()) if c.session_id in wanted or c.user_id == user_id]


def bound_session_ids() -> list[str]:
    """The sessions this worker's sockets belong to."""
    return sorted({c.session_id for c in list(_identities.values())})


def on_disconnect(hook: Callable[[str], None]) -> None:
    """Call ``hook(sid)`` whenever a socket of this worker goes away."""
    if hook not in _disconnect_hooks:
        _disconnect_hooks.append(hook)


def credential_from_environ(environ: dict) -> str:
    """The session cookie of a websocket handshake (empty when there is none)."""
    raw = environ.get("HTTP_COOKIE") or ""
    if not raw:
        for name, value in (environ.get("asgi.scope") or {}).get("headers") or []:
            if name.lower() == b"cookie":
                raw = value.decode("latin-1")
                break
    if not raw or len(raw) > 8192:
        return ""
    try:
        morsel = SimpleCookie(raw).get(COOKIE_NAME)
    except CookieError:
        return ""
    return morsel.value if morsel is not None else ""


def _verify(credential: str) -> Connection | None:
    with session_scope() as session:
        try:
            # A guest's session binds the socket too; where it counts (the ballot page only) is
            # decided per call (``as_connection(allow_guest=...)``).
            identity = auth.identify_browser(session=session, credential=credential, allow_guest=True)
        except NotAuthenticated:
            return None
        return Connection(identity.session_id, int(identity.user.id))  # type: ignore[arg-type]


def scrub_cookies(environ: dict) -> None:
    """Drop the handshake's cookies: Reflex copies the handshake's headers into every tab's state
    (``router.headers``), which is stored (files or Redis); the credential must not go with them."""
    environ.pop("HTTP_COOKIE", None)
    scope = environ.get("asgi.scope")
    if isinstance(scope, dict) and scope.get("headers"):
        scope["headers"] = [(k, v) for k, v in scope["headers"] if k.lower() != b"cookie"]


async def verify_connection(sid: str, environ: dict) -> Connection | None:
    """Check the credential a socket presented (once per connection), remember its session, and
    scrub the credential from the handshake before Reflex reads it."""
    credential = credential_from_environ(environ)
    scrub_cookies(environ)
    connection = await asyncio.to_thread(_verify, credential) if credential else None
    if connection is None:
        _identities.pop(sid, None)
    else:
        _identities[sid] = connection
    return connection


def _dropped(sid: str) -> None:
    _identities.pop(sid, None)
    for hook in list(_disconnect_hooks):
        try:
            hook(sid)
        except Exception:
            logger.exception("disconnect hook failed for %s", sid)


class ClientCounter:
    """Mixed in before Reflex's ``EventNamespace``: verifies each connection's credential before
    Reflex runs its first event, and counts successful connects and their disconnects."""

    async def on_connect(self, sid: str, environ: dict, auth: Any = None) -> Any:
        """Verify the credential, then Reflex's connect, then count the client if it was accepted."""
        try:
            await verify_connection(sid, environ)
        except Exception:
            # The database is down: the socket connects as nobody rather than not at all.
            logger.warning("could not verify a connection's credential", exc_info=True)
            _identities.pop(sid, None)
            scrub_cookies(environ)
        try:
            accepted = await super().on_connect(sid, environ, auth)  # type: ignore[misc]
        except BaseException:
            _dropped(sid)
            raise
        if accepted is False:
            _dropped(sid)
        if accepted is not False and sid not in _connected:
            _connected.add(sid)
            metrics.CONNECTED_CLIENTS.inc()
        return accepted

    def on_disconnect(self, sid: str, reason: Any = None) -> Any:
        """Stop counting the client, then Reflex's disconnect (which takes no reason)."""
        if sid in _connected:
            _connected.discard(sid)
            metrics.CONNECTED_CLIENTS.dec()
        _dropped(sid)
        return super().on_disconnect(sid)  # type: ignore[misc]


@functools.cache
def _counting(cls: type) -> type:
    return type(f"Counting{cls.__name__}", (ClientCounter, cls), {"__module__": __name__})


def count_clients(app: Any) -> bool:
    """Make the app's event namespace count its clients (idempotent).

    Returns:
        Whether the app has an event namespace (no state, no websocket).
    """
    namespace = getattr(app, "event_namespace", None)
    if namespace is None:
        return False
    if not isinstance(namespace, ClientCounter):
        namespace.__class__ = _counting(type(namespace))
    return True


def install(app: Any) -> None:
    """Count connected clients in every worker, and stop counting a worker's when it shuts down.
    Call once where the app is built."""
    count_clients(app)

    @contextlib.asynccontextmanager
    async def _worker_lifetime() -> AsyncIterator[None]:
        # Again in the worker: harmless when the namespace (made at import) already counts.
        if not count_clients(app):
            logger.warning("no websocket event namespace: connected clients are not counted")
        try:
            yield
        finally:
            _connected.clear()
            _identities.clear()
            metrics.worker_stopped()

    app.register_lifespan_task(_worker_lifetime)
