"""Invitations and reminders: personal voting links mailed to the roll, through the outbox.

Every mail carries a fresh personal link (``services.guests``): the token exists only in that
mail, so a mail can never be sent twice with the same link. An invitation goes once to each roll
entry with an email address; ``resend`` mails them all again and ends their earlier links (a
resend is what one does when a link went astray). A reminder goes to each invited voter who has
not voted and adds a link beside the earlier ones. The mail rows are written in the same
transaction as the links (``outbox.queue_mail``); the outbox's sender delivers them.

Automatic reminders: a poll's ``remind_before_hours`` asks for one reminder that many hours
before it closes; :func:`send_due_reminders` (a periodic job) sends it once, whichever worker runs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, func, select

from commons_app.i18n import N_
from commons_app.models import InvitationToken, OutboxMail, Poll, PollVoter, User, as_utc, utcnow
from commons_app.services import guests, outbox
from commons_app.services.audit import record_event
from commons_app.services.errors import Conflict, InvalidInput
from commons_app.services.polls import get_managed_poll, poll_status, voters_who_voted

INVITATION, REMINDER = "invitation", "reminder"
PAGE_MAX = 1000


def _closing_line(poll: Poll) -> str:
    closes_at = as_utc(poll.closes_at)
    if closes_at is None:
        return "The poll has no closing time yet; the link works until it closes."
    return f"The poll closes at {closes_at:%Y-%m-%d %H:%M} UTC; the link works until then."


def mail_text(*, poll: Poll, organiser: str, link: str, kind: str) -> tuple[str, str]:
    """The subject and ``text/plain`` body of an invitation or reminder. The link stands on a
    line of its own (the contract: mail clients and tests find it there)."""
    title = " ".join(poll.title.split())
    if kind == REMINDER:
        subject = f"Reminder: you have not voted yet in \u201c{title}\u201d"
        opening = f"You are invited to vote in \u201c{title}\u201d and have not voted yet."
    else:
        subject = f"You are invited to vote: \u201c{title}\u201d"
        opening = f"{organiser} invites you to vote in \u201c{title}\u201d on The Commons."
    body = "\n".join([
        "Hello,",
        "",
        opening,
        "",
        "Your personal voting link (it is yours alone: anyone holding it votes in your place):",
        "",
        link,
        "",
        "No account is needed. Opening the link again lets you change your vote while the poll is open.",
        _closing_line(poll),
        "",
        "-- The Commons",
        "",
    ])
    return subject, body


def _organiser(session: Session, poll: Poll) -> str:
    owner = session.get(User, poll.created_by)
    return owner.username if owner is not None else "The organiser"


def _queue_one(*, session: Session, poll: Poll, voter_id: int, email: str, kind: str, organiser: str, dedupe_key: str | None = None) -> bool:
    """Issue a link for one voter and queue the mail carrying it; False when ``dedupe_key`` says
    the mail was queued before (the new link is then dropped)."""
    token, row = guests.issue_token(session=session, poll_id=poll.id, user_id=voter_id, kind=kind)  # type: ignore[arg-type]
    session.flush()
    subject, text = mail_text(poll=poll, organiser=organiser, link=guests.voting_link(token), kind=kind)
    mail = outbox.queue_mail(
        session=session, to=email, subject=subject, text=text, kind=kind, poll_id=str(poll.id), dedupe_key=dedupe_key
    )
    if token not in mail.body:  # an earlier call queued this mail: its own link stands
        session.delete(row)
        return False
    row.mail_id = mail.id
    session.add(row)
    return True


def _open_poll(*, session: Session, user: User, poll_id: str) -> Poll:
    poll = get_managed_poll(session=session, poll_id=poll_id, user=user)
    if poll_status(poll) == "closed":
        raise Conflict(N_("This poll is closed: its links no longer work, so nothing is sent."))
    return poll


def _addressed(session: Session, poll_id: str) -> list[tuple[int, str]]:
    """The roll entries with an address: (voter id, address)."""
    rows = session.exec(
        select(PollVoter.user_id, PollVoter.email).where(PollVoter.poll_id == poll_id, col(PollVoter.email).is_not(None))
    ).all()
    return [(int(uid), str(email)) for uid, email in rows]


def _invited(session: Session, poll_id: str) -> set[int]:
    rows = session.exec(
        select(InvitationToken.user_id).where(InvitationToken.poll_id == poll_id, InvitationToken.kind == INVITATION)
    ).all()
    return {int(u) for u in rows}


def send_invitations(*, session: Session, user: User, poll_id: str, resend: bool = False) -> int:
    """Queue one invitation to each roll entry with an address not invited yet (``resend``: to
    every one of them, ending their earlier links). Owner or admin; returns how many were queued.

    Raises:
        NotFound, Forbidden: As for managing the poll.
        Conflict: The poll is closed.
    """
    poll = _open_poll(session=session, user=user, poll_id=poll_id)
    entries = _addressed(session, poll_id)
    if resend:
        guests.revoke_tokens(session=session, poll_id=poll_id, user_ids=[uid for uid, _ in entries])
        targets = entries
    else:
        invited = _invited(session, poll_id)
        targets = [(uid, email) for uid, email in entries if uid not in invited]
    organiser = _organiser(session, poll)
    queued = 0
    for uid, email in targets:
        # Without resend, the key makes a second, racing call find the first one's mail.
        key = None if resend else f"invitation:{poll_id}:{uid}"
        queued += _queue_one(session=session, poll=poll, voter_id=uid, email=email, kind=INVITATION, organiser=organiser, dedupe_key=key)
    record_event(
        session=session, actor_id=user.id, action="poll.invite", target_type="poll", target_id=poll_id,
        detail={"queued": queued, "resend": resend},
    )
    session.commit()
    if queued:
        outbox.kick()
    return queued


def _reminder_targets(session: Session, poll_id: str) -> list[tuple[int, str]]:
    invited = _invited(session, poll_id)
    voted = voters_who_voted(session=session, poll_id=poll_id)
    return [(uid, email) for uid, email in _addressed(session, poll_id) if uid in invited and uid not in voted]


def send_reminders(*, session: Session, user: User, poll_id: str) -> int:
    """Queue one reminder, with a new link, to each invited voter who has not voted. Owner or
    admin; returns how many were queued.

    Raises:
        NotFound, Forbidden: As for managing the poll.
        Conflict: The poll is closed.
    """
    poll = _open_poll(session=session, user=user, poll_id=poll_id)
    if poll_status(poll) != "open":
        raise Conflict(N_("This poll is not open yet: remind its voters once it opens."))
    organiser = _organiser(session, poll)
    queued = 0
    for uid, email in _reminder_targets(session, poll_id):
        queued += _queue_one(session=session, poll=poll, voter_id=uid, email=email, kind=REMINDER, organiser=organiser)
    record_event(
        session=session, actor_id=user.id, action="poll.remind", target_type="poll", target_id=poll_id,
        detail={"queued": queued},
    )
    session.commit()
    if queued:
        outbox.kick()
    return queued


def reminder_due_at(poll: Poll) -> datetime | None:
    """When a poll's automatic reminder is due, or None when it has none."""
    closes_at = as_utc(poll.closes_at)
    if closes_at is None or poll.remind_before_hours is None:
        return None
    return closes_at - timedelta(hours=poll.remind_before_hours)


def send_due_reminders(*, session: Session, now: datetime | None = None) -> int:
    """Send every automatic reminder that is due (the periodic job); returns the mails queued.

    Each poll's reminder is claimed by one UPDATE (``reminded_at``), in the transaction that
    queues its mails, so two workers running this at once send it once; the outbox's dedupe keys
    make sure of it.
    """
    now = now or utcnow()
    candidates = session.exec(
        select(Poll).where(
            col(Poll.remind_before_hours).is_not(None), col(Poll.reminded_at).is_(None),
            col(Poll.closes_at).is_not(None), col(Poll.closed_at).is_(None),
        )
    ).all()
    queued = 0
    for poll in candidates:
        due = reminder_due_at(poll)
        if due is None or now < due or poll_status(poll, now) != "open":
            continue
        claimed = session.execute(
            update(Poll).where(col(Poll.id) == poll.id, col(Poll.reminded_at).is_(None)).values(reminded_at=now)
        ).rowcount
        if claimed != 1:
            session.rollback()
            continue
        organiser = _organiser(session, poll)
        stamp = (as_utc(poll.closes_at) or now).isoformat()
        for uid, email in _reminder_targets(session, poll.id):  # type: ignore[arg-type]
            queued += _queue_one(
                session=session, poll=poll, voter_id=uid, email=email, kind=REMINDER, organiser=organiser,
                dedupe_key=f"reminder:auto:{poll.id}:{uid}:{stamp}",
            )
        record_event(session=session, actor_id=None, action="poll.remind_auto", target_type="poll", target_id=poll.id)
        session.commit()
    if queued:
        outbox.kick()
    return queued


def run_due_reminders() -> None:
    """The periodic job: :func:`send_due_reminders` in a session of its own."""
    from commons_app.db import session_scope

    with session_scope() as session:
        send_due_reminders(session=session)


def statuses(*, session: Session, poll_id: str, user_ids: list[int]) -> dict[int, str]:
    """The status of each voter's latest invitation mail (``queued``, ``sent``, ``failed``)."""
    rows = session.exec(
        select(InvitationToken.user_id, OutboxMail.status)
        .join(OutboxMail, col(OutboxMail.id) == col(InvitationToken.mail_id))
        .where(
            InvitationToken.poll_id == poll_id, InvitationToken.kind == INVITATION,
            col(InvitationToken.user_id).in_(user_ids),
        )
        .order_by(col(InvitationToken.id))
    ).all()
    return {int(uid): str(status) for uid, status in rows}


def failure_reasons(*, session: Session, user: User, poll_id: str) -> dict[str, str]:
    """Why each address's latest invitation mail failed, by lower-cased address (only those whose
    latest invitation failed). Owner or admin."""
    get_managed_poll(session=session, poll_id=poll_id, user=user)
    rows = session.exec(
        select(OutboxMail.to_address, OutboxMail.status, OutboxMail.last_error)
        .where(col(OutboxMail.poll_id) == str(poll_id), col(OutboxMail.kind) == INVITATION)
        .order_by(col(OutboxMail.id))
    ).all()
    latest = {str(address).lower(): (str(status), str(error or "")) for address, status, error in rows}
    return {address: error or "no reason recorded" for address, (status, error) in latest.items() if status == "failed"}


@dataclass(frozen=True)
class MailStatus:
    """One invitation mail as the poll's managers see it."""

    email: str
    status: str
    attempts: int
    last_error: str | None
    sent_at: datetime | None
    kind: str


def list_invitations(
    *, session: Session, user: User, poll_id: str, skip: int = 0, limit: int = 100, kind: str = INVITATION
) -> tuple[list[MailStatus], int]:
    """The poll's invitation (or reminder) mails, oldest first, with their delivery status from
    the outbox, and how many there are. Owner or admin.

    Raises:
        InvalidInput: Bad paging or kind.
    """
    if skip < 0 or not (1 <= limit <= PAGE_MAX):
        raise InvalidInput(N_("skip must be >= 0 and limit between 1 and %(page_max)s."), page_max=PAGE_MAX)
    if kind not in (INVITATION, REMINDER):
        raise InvalidInput(N_("kind must be invitation or reminder."))
    get_managed_poll(session=session, poll_id=poll_id, user=user)
    where: Any = (col(OutboxMail.poll_id) == str(poll_id), col(OutboxMail.kind) == kind)
    rows = session.exec(select(OutboxMail).where(*where).order_by(col(OutboxMail.id)).offset(skip).limit(limit)).all()
    total = int(session.exec(select(func.count()).select_from(OutboxMail).where(*where)).one())
    items = [
        MailStatus(email=m.to_address, status=m.status, attempts=m.attempts, last_error=m.last_error, sent_at=as_utc(m.sent_at), kind=m.kind)
        for m in rows
    ]
    return items, total
