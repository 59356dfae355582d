"""Administration: users, roles, activation, the audit log and the mail outbox (admins only)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from commons_app.api.deps import CurrentUser, DbSession
from commons_app.api.schemas import (
    AdminUser,
    AdminUserUpdate,
    AuditOut,
    AuditPage,
    ErrorOut,
    OutboxMailOut,
    OutboxPage,
    UserPage,
)
from commons_app.services import audit, auth, outbox

router = APIRouter(prefix="/admin", tags=["admin"])
ERRORS = {code: {"model": ErrorOut} for code in (401, 403, 404, 409, 422)}


@router.get("/users", response_model=UserPage, responses=ERRORS)
def list_users(
    user: CurrentUser,
    db: DbSession,
    skip: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    search: Annotated[str, Query(max_length=254)] = "",
) -> UserPage:
    """Every account, with role and activation."""
    rows, total = auth.list_users(session=db, actor=user, skip=skip, limit=limit, search=search)
    return UserPage(
        items=[AdminUser.model_validate(u, from_attributes=True) for u in rows], total=total, skip=skip, limit=limit
    )


@router.patch("/users/{user_id}", response_model=AdminUser, responses=ERRORS)
def update_user(user_id: int, body: AdminUserUpdate, user: CurrentUser, db: DbSession) -> AdminUser:
    """Change a user's role or activation; disabling ends the user's sessions at once."""
    auth.require_admin(user)
    target = auth.get_user(session=db, user_id=user_id)
    if body.role is not None:
        target = auth.set_role(session=db, actor=user, user_id=user_id, role=body.role)
    if body.is_active is not None:
        target = auth.set_active(session=db, actor=user, user_id=user_id, active=body.is_active)
    return AdminUser.model_validate(target, from_attributes=True)


@router.get("/audit", response_model=AuditPage, responses=ERRORS)
def audit_log(
    user: CurrentUser,
    db: DbSession,
    skip: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=audit.LIST_LIMIT_MAX)] = 50,
    before_id: Annotated[
        int | None,
        Query(ge=1, le=2**63 - 1, description="Keyset paging: only entries older than this id (pass the last id of a page)."),
    ] = None,
) -> AuditPage:
    """The audit log, newest first. ``total`` counts the entries the query matches."""
    auth.require_admin(user)
    rows, total = audit.list_events(session=db, skip=skip, limit=limit, before_id=before_id)
    return AuditPage(
        items=[AuditOut.model_validate(r, from_attributes=True) for r in rows], total=total, skip=skip, limit=limit
    )


@router.get("/outbox", response_model=OutboxPage, responses=ERRORS)
def outbox_mails(
    user: CurrentUser,
    db: DbSession,
    skip: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    status: Annotated[Literal["queued", "sent", "failed"] | None, Query()] = None,
) -> OutboxPage:
    """The mail outbox, newest first: each mail's recipient, subject, body, status, attempts and
    last error. Without ``SMTP_URL`` mails stay here (queued) for admins to read."""
    rows, total = outbox.list_mails(session=db, actor=user, skip=skip, limit=limit, status=status)
    return OutboxPage(
        items=[OutboxMailOut.model_validate(r, from_attributes=True) for r in rows], total=total, skip=skip, limit=limit
    )
