"""A tiny observer list: services announce that a poll's ballots changed, the live layer listens.

Services never import Reflex; the browser app registers a listener at start-up that schedules a
coalesced push of the new tally to the poll's viewers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

logger = logging.getLogger(__name__)
_listeners: list[Callable[[int], None]] = []


def add_listener(listener: Callable[[int], None]) -> None:
    """Call ``listener(poll_id)`` after every committed change to a poll's ballots or state."""
    if listener not in _listeners:
        _listeners.append(listener)


def remove_listener(listener: Callable[[int], None]) -> None:
    """Stop calling ``listener``."""
    if listener in _listeners:
        _listeners.remove(listener)


def poll_changed(poll_id: str) -> None:
    """Tell every listener that ``poll_id`` changed; a failing listener never fails the vote."""
    for listener in list(_listeners):
        try:
            listener(poll_id)
        except Exception:
            logger.exception("poll change listener failed for poll %s", poll_id)
