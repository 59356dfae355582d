"""Background work: the outbox sender and periodic jobs (filled in by the job-queue commit)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class PeriodicJob:
    """A job run every ``seconds``, once per period across all workers."""

    name: str
    func: Callable[[], None]
    seconds: int


_periodic: dict[str, PeriodicJob] = {}
_kicked = threading.Event()


def register_periodic(name: str, func: Callable[[], None], *, seconds: int) -> None:
    """Run ``func()`` (synchronous; it opens its own database sessions) every ``seconds``."""
    _periodic[name] = PeriodicJob(name=name, func=func, seconds=seconds)


def kick_outbox() -> None:
    """Ask for an outbox sweep soon (non-blocking)."""
    _kicked.set()
