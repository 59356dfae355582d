"""The audit log: who created, changed, closed or deleted what, and when."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, func, select

from commons_app.i18n import N_
from commons_app.models import AuditEvent, User
from commons_app.services.errors import InvalidInput

LIST_LIMIT_MAX = 200


def record_event(
    *,
    session: Session,
    actor_id: int | None,
    action: str,
    target_type: str,
    target_id: int | str | None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an audit entry to the session; it is committed with the change it describes."""
    entry = AuditEvent(
        actor_id=actor_id,
        action=action,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        detail=detail or {},
    )
    session.add(entry)
    return entry


def list_events(
    *, session: Session, skip: int = 0, limit: int = 50, before_id: int | None = None
) -> tuple[list[AuditEvent], int]:
    """The newest audit entries first, with how many entries the query matches.

    ``before_id`` (keyset paging) keeps only entries older than that entry, so a client can walk
    the whole log however long it grows: pass the last id of one page to get the next.

    Raises:
        InvalidInput: ``skip`` below 0, or ``limit`` outside 1..``LIST_LIMIT_MAX``.
    """
    if skip < 0 or not (1 <= limit <= LIST_LIMIT_MAX):
        raise InvalidInput(
            N_("skip must be >= 0 and limit between 1 and %(list_limit_max)s."),
            list_limit_max=LIST_LIMIT_MAX,
        )
    query = select(AuditEvent)
    count = select(func.count()).select_from(AuditEvent)
    if before_id is not None:
        query = query.where(col(AuditEvent.id) < before_id)
        count = count.where(col(AuditEvent.id) < before_id)
    total = session.exec(count).one()
    rows = session.exec(query.order_by(col(AuditEvent.id).desc()).offset(skip).limit(limit)).all()
    return list(rows), int(total)


def actor_names(*, session: Session, events: list[AuditEvent]) -> dict[int, str]:
    """The usernames of the actors of ``events`` (one query, whatever page they come from)."""
    ids = {e.actor_id for e in events if e.actor_id is not None}
    if not ids:
        return {}
    return {int(i): name for i, name in session.exec(select(User.id, User.username).where(col(User.id).in_(ids))).all()}
