"""Polls that open or close on time: found and sealed by the ``poll_schedules`` periodic job."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, or_, select

from commons_app.models import Poll, as_utc
from commons_app.services.results import seal_closed


def polls_crossing(*, session: Session, since: datetime, until: datetime) -> list[str]:
    """Polls that opened or closed on schedule in ``(since, until]``."""
    query = select(Poll.id).where(
        col(Poll.closed_at).is_(None),
        or_(
            (col(Poll.opens_at) > since) & (col(Poll.opens_at) <= until),
            (col(Poll.closes_at) > since) & (col(Poll.closes_at) <= until),
        ),
    )
    return [str(i) for i in session.exec(query).all()]


def run_due(*, session: Session, since: datetime, until: datetime) -> list[str]:
    """Seal the polls that closed on time in ``(since, until]`` (now rather than at their next
    reading; sealing twice is a no-op) and return every poll that opened or closed then."""
    crossing = polls_crossing(session=session, since=since, until=until)
    if crossing:
        seal_closed(session=session, poll_ids=crossing)
    return crossing


def schedule_of(poll: Poll) -> dict[str, str]:
    """The times the pages show (ISO 8601 in UTC, "" when none): when the poll opens, and when it
    closes or closed (the moment it was closed by hand, if that came before its closing time)."""
    opens_at, closes_at, closed_at = as_utc(poll.opens_at), as_utc(poll.closes_at), as_utc(poll.closed_at)
    if closed_at is not None and (closes_at is None or closed_at < closes_at):
        closes_at = closed_at
    return {
        "opens_at": opens_at.isoformat() if opens_at else "",
        "closes_at": closes_at.isoformat() if closes_at else "",
    }


# When a page asks at the instant its browser's clock says a poll opened or closed, and the
# server's clock is a moment behind, the page's handler waits at most this long for it.
CLOCK_SKEW_SECONDS = 5.0


def seconds_to_crossing(schedule: dict[str, str], now: datetime) -> float | None:
    """Seconds from ``now`` to the next time of ``schedule`` (:func:`schedule_of`) when that is
    at most :data:`CLOCK_SKEW_SECONDS` away, else None."""
    ahead = [(datetime.fromisoformat(iso) - now).total_seconds() for iso in schedule.values() if iso]
    soon = [s for s in ahead if 0 < s <= CLOCK_SKEW_SECONDS]
    return min(soon) if soon else None
