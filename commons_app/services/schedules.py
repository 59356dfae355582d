"""Polls that open or close on time: found and sealed by the ``poll_schedules`` periodic job."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, or_, select

from commons_app.models import Poll
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
