"""Count the browser tabs connected to the app's websocket, for ``/metrics``.

Reflex 0.10 serves its Socket.IO namespace with one ``reflex.app.EventNamespace`` object per
worker (``app.event_namespace``); Socket.IO calls its ``on_connect`` and ``on_disconnect``.
:func:`install` gives that object a subclass whose handlers count around Reflex's own, so nothing
of Reflex is copied or replaced: the object, its token manager and its registration stay the same.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import AsyncIterator
from typing import Any

from commons_app import metrics

logger = logging.getLogger("commons.connections")

# Socket.IO session ids this worker has counted (a refused connect is never counted, and so its
# disconnect, if any, is not subtracted).
_connected: set[str] = set()


class ClientCounter:
    """Mixed in before Reflex's ``EventNamespace``: counts successful connects and their disconnects."""

    async def on_connect(self, sid: str, environ: dict, auth: Any = None) -> Any:
        """Reflex's connect, then count the client if it was accepted."""
        accepted = await super().on_connect(sid, environ, auth)  # type: ignore[misc]
        if accepted is not False and sid not in _connected:
            _connected.add(sid)
            metrics.CONNECTED_CLIENTS.inc()
        return accepted

    def on_disconnect(self, sid: str, reason: Any = None) -> Any:
        """Stop counting the client, then Reflex's disconnect (which takes no reason)."""
        if sid in _connected:
            _connected.discard(sid)
            metrics.CONNECTED_CLIENTS.dec()
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
            metrics.worker_stopped()

    app.register_lifespan_task(_worker_lifetime)
