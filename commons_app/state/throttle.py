"""A limit on the events one websocket connection may send (``RATELIMIT_WS_EVENT``).

Every event a browser tab sends costs the server a state load and save, and often a database
query; one scripted socket could send hundreds a second. Past the limit an event is dropped, the
tab is told so once (a toast), and the connection stays open: the next event after the window
frees up is handled as usual.

The count lives in the worker's memory, keyed by the Socket.IO session id: a connection is
served by one worker for its whole life. Like :mod:`commons_app.state.connections`, this wraps
Reflex's own ``EventNamespace`` object in a subclass; nothing of Reflex is copied.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import reflex as rx
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from reflex.state import StateUpdate
from reflex_base.event import Event

from commons_app.i18n import DEFAULT_LANGUAGE, tr
from commons_app.services import ratelimit

logger = logging.getLogger("commons.throttle")
LIMIT = "ws_event"
# At most one "slow down" message per connection in this many seconds.
NOTICE_EVERY = 5.0

_noticed: dict[str, float] = {}
# Each connection's language (SessionState tells it): the notice is sent outside any state, so
# it cannot read the tab's own; a dict lookup keeps the refusal path as cheap as it must be.
_languages: dict[str, str] = {}


def remember_language(sid: str, lang: str) -> None:
    """The language connection ``sid`` reads (its "slow down" notice is worded in it)."""
    if sid:
        _languages[sid] = lang


@functools.cache
def _limiter() -> MovingWindowRateLimiter:
    # Made in the worker, on its first event: the memory storage starts a timer thread, which
    # must not be started in the supervisor that forks the workers.
    return MovingWindowRateLimiter(MemoryStorage())


def allowed(sid: str) -> bool:
    """Count one event of connection ``sid``; whether it may be handled."""
    if not ratelimit.enabled():
        return True
    return _limiter().hit(ratelimit.limit_for(LIMIT), "ws", sid)


class EventThrottle:
    """Mixed in before Reflex's ``EventNamespace``: drops events past the per-connection limit."""

    async def on_event(self, sid: str, data: Any) -> Any:
        """Reflex's event handling, for events within the limit."""
        if allowed(sid):
            return await super().on_event(sid, data)  # type: ignore[misc]
        now = time.monotonic()
        if now - _noticed.get(sid, 0.0) >= NOTICE_EVERY:
            _noticed[sid] = now
            logger.warning("websocket events throttled", extra={"sid": sid})
            notice = StateUpdate(events=Event.from_event_type(rx.toast.error(tr(_languages.get(sid, DEFAULT_LANGUAGE), ratelimit.MESSAGES[LIMIT]))))
            await self.emit("event", notice, to=sid)  # type: ignore[attr-defined]
        return None

    def on_disconnect(self, sid: str, *args: Any) -> Any:
        """Forget the connection's notice time, then the rest of the disconnect."""
        _noticed.pop(sid, None)
        _languages.pop(sid, None)
        return super().on_disconnect(sid, *args)  # type: ignore[misc]


@functools.cache
def _throttled(cls: type) -> type:
    return type(f"Throttled{cls.__name__}", (EventThrottle, cls), {"__module__": __name__})


def throttle_events(app: Any) -> bool:
    """Make the app's event namespace throttle its connections (idempotent).

    Returns:
        Whether the app has an event namespace.
    """
    namespace = getattr(app, "event_namespace", None)
    if namespace is None:
        return False
    if not isinstance(namespace, EventThrottle):
        namespace.__class__ = _throttled(type(namespace))
    return True


def install(app: Any) -> None:
    """Throttle websocket events in every worker. Call once where the app is built."""
    throttle_events(app)

    @contextlib.asynccontextmanager
    async def _worker_lifetime() -> AsyncIterator[None]:
        if not throttle_events(app):
            logger.warning("no websocket event namespace: events are not throttled")
        yield

    app.register_lifespan_task(_worker_lifetime)
