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


# Who may see what changed: the live layer re-checks the sockets concerned (see state.live). A
# change is a dict: {"poll_id": id} (a poll's audience or results rule, its roll, its deletion),
# {"session_ids": [...]} (sessions that ended), or {"user_id": id, "ended": bool} (every session
# of a user ended, or the user's role changed).
_access_listeners: list[Callable[[dict], None]] = []


def add_access_listener(listener: Callable[[dict], None]) -> None:
    """Call ``listener(change)`` after every committed change to who may see a poll's results."""
    if listener not in _access_listeners:
        _access_listeners.append(listener)


def remove_access_listener(listener: Callable[[dict], None]) -> None:
    """Stop calling ``listener``."""
    if listener in _access_listeners:
        _access_listeners.remove(listener)


def _access_changed(change: dict) -> None:
    for listener in list(_access_listeners):
        try:
            listener(change)
        except Exception:
            logger.exception("access change listener failed for %s", change)


def poll_access_changed(poll_id: str) -> None:
    """A poll's visibility, results rule or roll changed, or it was deleted."""
    _access_changed({"poll_id": poll_id})


def sessions_ended(session_ids: list[str]) -> None:
    """These sessions ended (log-out, idle or absolute expiry, a leaked refresh token)."""
    if session_ids:
        _access_changed({"session_ids": list(session_ids)})


def user_access_changed(user_id: int, *, ended: bool) -> None:
    """Every session of the user ended (``ended``: disabling, password change), or what the user
    may see changed (a new role)."""
    _access_changed({"user_id": user_id, "ended": ended})
