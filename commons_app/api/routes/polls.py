"""Polls and their voter rolls."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from commons_app.api.deps import CurrentUser, DbSession, PollId
from commons_app.api.schemas import (
    ErrorOut,
    InvitationOut,
    InvitationPage,
    InvitationsIn,
    ListFilter,
    OptionOut,
    PollCreate,
    PollOut,
    PollPage,
    PollUpdate,
    QueuedOut,
    RollEntryOut,
    RollIn,
    RollOut,
)
from commons_app.services import invitations, polls
from commons_app.services.polls import PollSpec, PollView, RollEntry, RollLine

router = APIRouter(prefix="/polls", tags=["polls"])
ERRORS = {code: {"model": ErrorOut} for code in (401, 403, 404, 409, 422, 429)}


def poll_out(view: PollView) -> PollOut:
    """The API form of a poll."""
    p = view.poll
    return PollOut(
        id=p.id,
        join_code=p.join_code,
        title=p.title,
        description=p.description,
        created_by=p.created_by,
        method=p.method,  # type: ignore[arg-type]
        max_choices=p.max_choices,
        visibility=p.visibility,  # type: ignore[arg-type]
        results_visibility=p.results_visibility,  # type: ignore[arg-type]
        opens_at=p.opens_at,
        closes_at=p.closes_at,
        closed_at=p.closed_at,
        anonymous=p.anonymous,
        anonymity_threshold=p.anonymity_threshold if p.anonymous else None,
        seats=p.seats,
        stv_rule=p.stv_rule,  # type: ignore[arg-type]
        quorum_ballots=p.quorum_ballots,
        quorum_share=p.quorum_share,
        pass_rule=p.pass_rule or "none",  # type: ignore[arg-type]
        access=p.access,  # type: ignore[arg-type]
        remind_before_hours=p.remind_before_hours,
        status=view.status,  # type: ignore[arg-type]
        created_at=p.created_at,
        updated_at=p.updated_at,
        options=[OptionOut(id=o.id, text=o.text, position=o.position) for o in view.options],  # type: ignore[arg-type]
        voted=view.extra.get("voted"),
    )


@router.post("/", status_code=status.HTTP_201_CREATED, response_model=PollOut, responses=ERRORS)
def create_poll(body: PollCreate, user: CurrentUser, db: DbSession) -> PollOut:
    """Create a poll; the caller owns it."""
    spec = PollSpec(**body.model_dump(exclude_none=False) | {"description": body.description or ""})
    return poll_out(polls.create_poll(session=db, user=user, spec=spec))


@router.get("/", response_model=PollPage, responses=ERRORS)
def list_polls(
    user: CurrentUser,
    db: DbSession,
    skip: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    search: Annotated[str, Query(max_length=200)] = "",
    mine: bool = False,
    show: ListFilter = "all",
) -> PollPage:
    """Public polls, the caller's own and private polls the caller is on the roll of (newest first).

    ``show`` narrows the list: ``open``, ``closed``, ``mine``, or ``not_voted`` (open polls the
    caller has not voted in). Each item's ``voted`` says whether the caller has voted in it.
    """
    views, total = polls.list_polls(session=db, user=user, skip=skip, limit=limit, search=search, mine=mine, show=show)
    return PollPage(items=[poll_out(v) for v in views], total=total, skip=skip, limit=limit)


@router.get("/{poll_id}", response_model=PollOut, responses=ERRORS)
def get_poll(poll_id: PollId, user: CurrentUser, db: DbSession) -> PollOut:
    """A poll the caller may see (404 otherwise)."""
    poll = polls.get_visible_poll(session=db, poll_id=poll_id, user=user)
    return poll_out(polls.view_poll(session=db, poll=poll))


@router.patch("/{poll_id}", response_model=PollOut, responses=ERRORS)
def update_poll(poll_id: PollId, body: PollUpdate, user: CurrentUser, db: DbSession) -> PollOut:
    """Change a poll (owner or admin). Once a ballot exists only the title, description and closing
    time may change (409 otherwise); a closed poll cannot change."""
    return poll_out(polls.update_poll(session=db, user=user, poll_id=poll_id, changes=body.model_dump(exclude_unset=True)))


@router.post("/{poll_id}/close", response_model=PollOut, responses=ERRORS)
def close_poll(poll_id: PollId, user: CurrentUser, db: DbSession) -> PollOut:
    """Close a poll now (owner or admin)."""
    return poll_out(polls.close_poll(session=db, user=user, poll_id=poll_id))


@router.delete("/{poll_id}", status_code=status.HTTP_204_NO_CONTENT, responses=ERRORS)
def delete_poll(poll_id: PollId, user: CurrentUser, db: DbSession) -> Response:
    """Delete a poll with its ballots (owner or admin)."""
    polls.delete_poll(session=db, user=user, poll_id=poll_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _roll_out(poll_id: str, rows: list[RollLine]) -> RollOut:
    return RollOut(
        poll_id=poll_id,
        voters=[
            RollEntryOut(
                user_id=line.user.id, username=line.username, email=line.entry.email, weight=line.entry.weight,  # type: ignore[arg-type]
                has_voted=line.has_voted, invitation=line.invitation,  # type: ignore[arg-type]
            )
            for line in rows
        ],
    )


@router.put("/{poll_id}/voters", response_model=RollOut, responses=ERRORS)
def set_voters(poll_id: PollId, body: RollIn, user: CurrentUser, db: DbSession) -> RollOut:
    """Replace the roll: who may vote in a private poll, and the weight of each voter's ballot."""
    polls.set_roll(
        session=db, user=user, poll_id=poll_id,
        voters=[RollEntry(username=v.username, weight=v.weight, email=v.email) for v in body.voters],
    )
    return _roll_out(poll_id, polls.get_roll(session=db, user=user, poll_id=poll_id))


ROLL_TOTAL_HEADER = {"X-Total-Count": {"description": "How many voters the whole roll holds.", "schema": {"type": "integer"}}}


@router.get("/{poll_id}/voters", response_model=RollOut, responses={**ERRORS, 200: {"headers": ROLL_TOTAL_HEADER}})
def get_voters(
    poll_id: PollId,
    user: CurrentUser,
    db: DbSession,
    response: Response,
    skip: Annotated[int, Query(ge=0, le=polls.MAX_ROLL)] = 0,
    limit: Annotated[
        int | None, Query(ge=1, le=polls.ROLL_PAGE_MAX, description="One page of the roll; without it, the whole roll.")
    ] = None,
) -> RollOut:
    """The roll by username, with who has voted (never how). Owner or admin.

    ``skip``/``limit`` page through it; the ``X-Total-Count`` header gives the roll's length.
    """
    rows, total = polls.roll_page(session=db, user=user, poll_id=poll_id, skip=skip, limit=limit)
    response.headers["X-Total-Count"] = str(total)
    return _roll_out(poll_id, rows)


@router.post("/{poll_id}/invitations", status_code=status.HTTP_202_ACCEPTED, response_model=QueuedOut, responses=ERRORS)
def send_invitations(poll_id: PollId, user: CurrentUser, db: DbSession, body: InvitationsIn | None = None) -> QueuedOut:
    """Mail a personal voting link to each roll entry with an email address that has not been
    invited yet; ``{"resend": true}`` mails every one of them again, with new links that replace
    the earlier ones. Owner or admin; 409 once the poll is closed."""
    resend = bool(body and body.resend)
    return QueuedOut(queued=invitations.send_invitations(session=db, user=user, poll_id=poll_id, resend=resend))


@router.get("/{poll_id}/invitations", response_model=InvitationPage, responses=ERRORS)
def list_invitations(
    poll_id: PollId,
    user: CurrentUser,
    db: DbSession,
    skip: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=invitations.PAGE_MAX)] = 100,
) -> InvitationPage:
    """The poll's invitation mails, oldest first, with their delivery status from the outbox."""
    items, total = invitations.list_invitations(session=db, user=user, poll_id=poll_id, skip=skip, limit=limit)
    return InvitationPage(
        items=[
            InvitationOut(email=i.email, status=i.status, attempts=i.attempts, last_error=i.last_error, sent_at=i.sent_at)  # type: ignore[arg-type]
            for i in items
        ],
        total=total, skip=skip, limit=limit,
    )


@router.post("/{poll_id}/reminders", status_code=status.HTTP_202_ACCEPTED, response_model=QueuedOut, responses=ERRORS)
def send_reminders(poll_id: PollId, user: CurrentUser, db: DbSession) -> QueuedOut:
    """Mail a reminder, with a new personal link, to each invited voter who has not voted.
    Owner or admin; 409 unless the poll is open."""
    return QueuedOut(queued=invitations.send_reminders(session=db, user=user, poll_id=poll_id))
