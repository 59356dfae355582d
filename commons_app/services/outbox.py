"""The durable mail outbox: mails are rows written in the caller's transaction.

A service that promises a mail calls :func:`queue_mail` inside the transaction of the action that
causes it (an invitation, a reminder), commits, then calls :func:`kick`. If the action rolls back,
so does the mail; once it commits, the mail is stored and ``services.mailer`` will send it (with
retries) even if nobody kicks: a periodic sweep picks up every due row.
"""

from __future__ import annotations

import logging
import secrets
from email.utils import parseaddr

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from commons_app.config import get_settings
from commons_app.i18n import N_
from commons_app.models import OUTBOX_STATUSES, OutboxMail, User
from commons_app.services.auth import require_admin
from commons_app.services.errors import InvalidInput

logger = logging.getLogger("commons.outbox")

SUBJECT_MAX = 300


def _message_id() -> str:
    """A new, globally unique Message-ID (angle brackets included) in MAIL_FROM's domain."""
    address = parseaddr(get_settings().mail_from)[1]
    domain = address.rpartition("@")[2] or "localhost"
    return f"<outbox.{secrets.token_hex(16)}@{domain}>"


def _existing(session: Session, dedupe_key: str) -> OutboxMail | None:
    return session.exec(select(OutboxMail).where(OutboxMail.dedupe_key == dedupe_key)).first()


def queue_mail(
    *,
    session: Session,
    to: str,
    subject: str,
    text: str,
    kind: str,
    poll_id: str | None = None,
    dedupe_key: str | None = None,
) -> OutboxMail:
    """Add one mail (status ``queued``) to the outbox in the caller's transaction; commit nothing.

    Args:
        session: The caller's session; the row is flushed, not committed.
        to: The one recipient's address.
        subject: The subject line (one line).
        text: The ``text/plain`` body.
        kind: What the mail is for (``invitation``, ``reminder``, …), for the admin's list.
        poll_id: The poll the mail is about, if any.
        dedupe_key: When given, a second call with the same key (in any transaction) returns the
            row already stored instead of adding one.

    Returns:
        The queued (or, with a known ``dedupe_key``, the existing) row.

    Raises:
        InvalidInput: The address or subject cannot be put in a mail header.
    """
    to = to.strip()
    if not to or "@" not in to or any(c in to for c in "\r\n<>,;") or len(to) > 254:
        raise InvalidInput(N_("Not a single mail address: %(to)s"), to=repr(to))
    subject = " ".join(subject.split())  # no line breaks in a header
    if len(subject) > SUBJECT_MAX:
        raise InvalidInput(N_("A mail subject is at most %(subject_max)s characters."), subject_max=SUBJECT_MAX)
    if dedupe_key is not None:
        found = _existing(session, dedupe_key)
        if found is not None:
            return found
    mail = OutboxMail(
        to_address=to,
        subject=subject,
        body=text,
        kind=kind,
        poll_id=None if poll_id is None else str(poll_id),
        dedupe_key=dedupe_key,
        message_id=_message_id(),
    )
    if dedupe_key is None:
        session.add(mail)
        session.flush()
        return mail
    # Another transaction may be adding the same key right now: the unique constraint decides,
    # and the loser returns the winner's row (a savepoint keeps the caller's transaction alive).
    try:
        with session.begin_nested():
            session.add(mail)
    except IntegrityError:
        found = _existing(session, dedupe_key)
        if found is None:
            raise
        return found
    return mail


def kick() -> None:
    """Nudge the sender after the caller has committed: never blocks, never raises.

    Safe without Redis or a running worker: the periodic sweep sends whatever a lost nudge left.
    """
    try:
        from commons_app import jobs

        jobs.kick_outbox()
    except Exception:
        logger.warning("could not nudge the mail sender; the periodic sweep will send", exc_info=True)


def list_mails(
    *, session: Session, actor: User, skip: int = 0, limit: int = 50, status: str | None = None
) -> tuple[list[OutboxMail], int]:
    """Outbox rows, newest first, and how many match (admins only: mails hold personal links).

    Raises:
        Forbidden: ``actor`` is not an admin.
        InvalidInput: An unknown ``status``.
    """
    require_admin(actor)
    if status is not None and status not in OUTBOX_STATUSES:
        raise InvalidInput(N_("status must be one of %(outbox_statuses)s"), outbox_statuses=', '.join(OUTBOX_STATUSES))
    query = select(OutboxMail)
    count = select(func.count()).select_from(OutboxMail)
    if status:
        query = query.where(OutboxMail.status == status)
        count = count.where(OutboxMail.status == status)
    rows = session.exec(query.order_by(col(OutboxMail.id).desc()).offset(skip).limit(limit)).all()
    return list(rows), int(session.exec(count).one())
