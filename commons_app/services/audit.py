"""The audit log: who created, changed, closed or deleted what, and when."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, func, select

from commons_app.models import AuditEvent


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


def list_events(*, session: Session, skip: int = 0, limit: int = 50) -> tuple[list[AuditEvent], int]:
    """The newest audit entries first, with the total count."""
    total = session.exec(select(func.count()).select_from(AuditEvent)).one()
    rows = session.exec(
        select(AuditEvent).order_by(col(AuditEvent.id).desc()).offset(skip).limit(limit)
    ).all()
    return list(rows), int(total)
