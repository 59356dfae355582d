"""The outbox sender: claims due mails with a lease, sends each over SMTP once, records the outcome.

One sweep (:func:`send_due`) repeats three short steps until nothing is due:

1. **Claim** (one transaction): each due row (``queued``, ``next_attempt_at`` passed, no live
   lease) is taken by a conditional ``UPDATE … WHERE lease is free``, which sets this sender's
   lease and counts the attempt. Two senders never hold the same row: the database lets only one
   conditional update match it. Counting the attempt at the claim means a mail that crashes its
   sender every time still reaches its limit and fails instead of looping.
2. **Send** each claimed mail over one SMTP connection, one recipient per mail, with the row's
   fixed ``Message-ID``.
3. **Mark** each mail in its own transaction right after the server answers: ``sent`` after its
   250 reply; otherwise ``queued`` again with a later ``next_attempt_at`` (exponential back-off),
   or ``failed`` with the reason after ``OUTBOX_MAX_ATTEMPTS`` attempts or at once on a permanent
   (5xx) refusal.

A sender that dies leaves its rows leased; once the lease runs out another sender claims them
again. The one window where a mail can go out twice is between the server's 250 reply and the
commit of step 3 (one database round trip), or when the 250 reply itself is lost: the resent mail
carries the same Message-ID, so receivers (and our tests) can drop the copy. Nothing can be lost:
a row only leaves ``queued`` after a 250 or a recorded failure. See docs/MAIL.md.

Without ``SMTP_URL`` nothing is sent: each new mail is written to the log once (with its link)
and stays ``queued`` in the outbox, where admins read it on ``/admin``.
"""

from __future__ import annotations

import logging
import os
import smtplib
import socket
import ssl
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from functools import lru_cache
from urllib.parse import unquote, urlsplit

from sqlalchemy import and_, or_, update
from sqlmodel import Session, col, select

from commons_app import metrics
from commons_app.config import ConfigError, get_settings
from commons_app.db import session_scope
from commons_app.i18n import N_
from commons_app.models import OutboxMail, as_utc, utcnow

logger = logging.getLogger("commons.mail")

NO_SMTP_NOTE = "not sent: SMTP_URL is not set (shown in the log and on /admin)"
SCHEMES = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    try:
        return float(raw) if raw else default
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from exc


@dataclass(frozen=True)
class MailerSettings:
    """How the sender behaves; read from the environment (names in the README)."""

    max_attempts: int = 8
    retry_seconds: float = 30.0  # the first back-off; doubled per attempt
    retry_max_seconds: float = 3600.0
    lease_seconds: float = 300.0
    batch: int = 20
    smtp_timeout: float = 30.0

    @classmethod
    def from_env(cls) -> MailerSettings:
        """The settings from ``OUTBOX_*`` and ``SMTP_TIMEOUT``.

        Raises:
            ConfigError: A lease too short to cover a send (it must exceed twice the SMTP timeout).
        """
        settings = cls(
            max_attempts=max(1, int(_env_float("OUTBOX_MAX_ATTEMPTS", 8))),
            retry_seconds=max(0.0, _env_float("OUTBOX_RETRY_SECONDS", 30.0)),
            retry_max_seconds=max(0.0, _env_float("OUTBOX_RETRY_MAX_SECONDS", 3600.0)),
            lease_seconds=max(1.0, _env_float("OUTBOX_LEASE_SECONDS", 300.0)),
            batch=max(1, int(_env_float("OUTBOX_BATCH", 20))),
            smtp_timeout=max(1.0, _env_float("SMTP_TIMEOUT", 30.0)),
        )
        if settings.lease_seconds <= 2 * settings.smtp_timeout:
            raise ConfigError(N_("OUTBOX_LEASE_SECONDS must exceed twice SMTP_TIMEOUT (a send must end within its lease)"))
        return settings


@dataclass(frozen=True)
class SmtpTarget:
    """A parsed ``SMTP_URL``."""

    scheme: str
    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)


def parse_smtp_url(url: str) -> SmtpTarget:
    """Read ``smtp://host:port``, ``smtp+starttls://user:password@host:port`` or ``smtps://…``.

    Raises:
        ConfigError: Another scheme, or no host.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise ConfigError(f"SMTP_URL must start with smtp://, smtp+starttls:// or smtps://, not {parts.scheme!r}")
    if not parts.hostname:
        raise ConfigError(N_("SMTP_URL names no host"))
    try:
        port = parts.port or SCHEMES[scheme]
    except ValueError as exc:
        raise ConfigError(f"SMTP_URL has a bad port: {exc}") from exc
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    if username and scheme == "smtp":
        # Never send a password in clear text over a plain connection.
        raise ConfigError(N_("SMTP_URL with a user name needs smtp+starttls:// or smtps://"))
    return SmtpTarget(scheme=scheme, host=parts.hostname, port=port, username=username, password=password)


def build_message(mail: OutboxMail, *, mail_from: str) -> EmailMessage:
    """The RFC 5322 message of an outbox row: one recipient, a text/plain part, its fixed Message-ID."""
    message = EmailMessage()
    message["From"] = mail_from
    message["To"] = mail.to_address
    message["Subject"] = mail.subject
    message["Message-ID"] = mail.message_id
    message["Date"] = format_datetime(as_utc(mail.created_at) or utcnow())
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(mail.body, subtype="plain", charset="utf-8")
    return message


@dataclass
class SweepReport:
    """What one sweep did."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    logged: int = 0

    @property
    def total(self) -> int:
        return self.sent + self.retried + self.failed + self.logged


def _due(now: object) -> object:
    return and_(
        OutboxMail.status == "queued",
        col(OutboxMail.next_attempt_at) <= now,
        or_(col(OutboxMail.lease_until).is_(None), col(OutboxMail.lease_until) < now),
    )


def claim(*, session: Session, owner: str, limit: int, lease_seconds: float) -> list[OutboxMail]:
    """Lease up to ``limit`` due mails to ``owner`` and count their attempt; commits.

    Each row is taken by its own conditional UPDATE: whichever sender's update matches first holds
    it, a concurrent one matches nothing (PostgreSQL re-checks the WHERE after the row lock,
    SQLite has one writer at a time).
    """
    now = utcnow()
    candidates = session.exec(
        select(OutboxMail.id).where(_due(now)).order_by(col(OutboxMail.next_attempt_at), col(OutboxMail.id)).limit(limit)
    ).all()
    until = now + timedelta(seconds=lease_seconds)
    taken: list[int] = []
    for mail_id in candidates:
        result = session.execute(
            update(OutboxMail)
            .where(col(OutboxMail.id) == mail_id, _due(now))
            .values(lease_owner=owner, lease_until=until, attempts=OutboxMail.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            taken.append(int(mail_id))
    session.commit()
    if not taken:
        return []
    rows = session.exec(select(OutboxMail).where(col(OutboxMail.id).in_(taken)).order_by(col(OutboxMail.id))).all()
    return list(rows)


ABANDONED = "the sender stopped during its last attempt (a crash?), {attempts} attempt(s) in all"


def fail_abandoned(*, session: Session, max_attempts: int) -> int:
    """Fail the mails whose last allowed attempt never reported back (its sender died, its lease
    ran out): a mail that kills its sender each time must not be retried for ever. Commits.

    Returns:
        How many mails were failed.
    """
    now = utcnow()
    rows = session.exec(
        select(OutboxMail.id, OutboxMail.attempts).where(
            OutboxMail.status == "queued", col(OutboxMail.attempts) >= max_attempts,
            col(OutboxMail.lease_until).is_not(None), col(OutboxMail.lease_until) < now,
        )
    ).all()
    failed = 0
    for mail_id, attempts in rows:
        result = session.execute(
            update(OutboxMail)
            .where(col(OutboxMail.id) == mail_id, OutboxMail.status == "queued", col(OutboxMail.lease_until) < now)
            .values(status="failed", lease_owner=None, lease_until=None, last_error=ABANDONED.format(attempts=attempts))
            .execution_options(synchronize_session=False)
        )
        failed += result.rowcount  # type: ignore[attr-defined]
    session.commit()
    if failed:
        metrics.MAILS.labels("failed").inc(failed)
        logger.warning("%s mail(s) failed: their last attempt's sender never reported back", failed)
    return failed


def _mark(session: Session, mail: OutboxMail, owner: str, **values: object) -> bool:
    """Record an outcome for a row this sender still holds, and free its lease; commits at once."""
    result = session.execute(
        update(OutboxMail)
        .where(col(OutboxMail.id) == mail.id, OutboxMail.lease_owner == owner)
        .values(lease_owner=None, lease_until=None, **values)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    if result.rowcount != 1:  # type: ignore[attr-defined]
        logger.error("outbox mail %s: lease lost before its outcome was recorded", mail.id)
        return False
    return True


def _backoff(settings: MailerSettings, attempts: int) -> float:
    return min(settings.retry_max_seconds, settings.retry_seconds * 2 ** max(0, attempts - 1))


def _record_failure(session: Session, mail: OutboxMail, owner: str, settings: MailerSettings, reason: str,
                    *, permanent: bool, report: SweepReport) -> None:
    reason = reason[:2000]
    if permanent or mail.attempts >= settings.max_attempts:
        _mark(session, mail, owner, status="failed", last_error=reason)
        report.failed += 1
        metrics.MAILS.labels("failed").inc()
        logger.warning("mail %s to %s failed after %s attempt(s): %s", mail.id, mail.to_address, mail.attempts, reason)
    else:
        delay = _backoff(settings, mail.attempts)
        _mark(session, mail, owner, last_error=reason, next_attempt_at=utcnow() + timedelta(seconds=delay))
        report.retried += 1
        metrics.MAILS.labels("retried").inc()
        logger.info("mail %s to %s: attempt %s failed (%s); next in %.0f s", mail.id, mail.to_address, mail.attempts,
                    reason, delay)


def _release(session: Session, mails: list[OutboxMail], owner: str) -> None:
    """Give back rows claimed but never tried (their attempt did not happen)."""
    for mail in mails:
        session.execute(
            update(OutboxMail)
            .where(col(OutboxMail.id) == mail.id, OutboxMail.lease_owner == owner)
            .values(lease_owner=None, lease_until=None, attempts=OutboxMail.attempts - 1)
        )
    session.commit()


@lru_cache(maxsize=1)
def _local_hostname() -> str:
    """The name given in EHLO. Looked up once: ``getfqdn`` can take a second per call (a reverse
    DNS lookup), which smtplib would otherwise pay on every connection."""
    return socket.getfqdn()


def _connect(target: SmtpTarget, timeout: float) -> smtplib.SMTP:
    context = ssl.create_default_context()
    hostname = _local_hostname()
    if target.scheme == "smtps":
        client: smtplib.SMTP = smtplib.SMTP_SSL(target.host, target.port, timeout=timeout, context=context,
                                                local_hostname=hostname)
    else:
        client = smtplib.SMTP(target.host, target.port, timeout=timeout, local_hostname=hostname)
    try:
        client.ehlo()
        if target.scheme == "smtp+starttls":
            client.starttls(context=context)
            client.ehlo()
        if target.username:
            client.login(target.username, target.password or "")
    except BaseException:
        client.close()
        raise
    return client


def _describe(exc: BaseException) -> tuple[str, bool]:
    """A readable reason, and whether the refusal is permanent (a 5xx reply)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(exc.recipients.values()))
        return f"{code} {text.decode(errors='replace') if isinstance(text, bytes) else text}", 500 <= code < 600
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        # An authentication failure is the operator's to fix: retried, not failed at once.
        permanent = 500 <= exc.smtp_code < 600 and not isinstance(exc, smtplib.SMTPAuthenticationError)
        return f"{exc.smtp_code} {text}", permanent
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__, False


def _log_unsent(session: Session, report: SweepReport) -> None:
    """Without SMTP: print each new mail once to the log, and leave it queued."""
    rows = session.exec(
        select(OutboxMail).where(OutboxMail.status == "queued", col(OutboxMail.last_error).is_(None)).order_by(
            col(OutboxMail.id)).limit(200)
    ).all()
    for mail in rows:
        logger.info("mail not sent (no SMTP_URL) #%s to %s: %s\n%s", mail.id, mail.to_address, mail.subject, mail.body)
        session.execute(
            update(OutboxMail).where(col(OutboxMail.id) == mail.id, col(OutboxMail.last_error).is_(None)).values(
                last_error=NO_SMTP_NOTE)
        )
        report.logged += 1
    session.commit()


def send_due(*, owner: str | None = None, settings: MailerSettings | None = None, max_rounds: int = 1000) -> SweepReport:
    """Send every due mail (claim, send, mark, until none is due); opens its own sessions.

    Args:
        owner: This sender's lease name (default: a fresh one per sweep).
        settings: Retry and lease settings (default: from the environment).
        max_rounds: At most this many claim rounds (a bound, not a limit one expects to reach).
    """
    settings = settings or MailerSettings.from_env()
    owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    app_settings = get_settings()
    report = SweepReport()
    if not app_settings.smtp_url:
        with session_scope() as session:
            _log_unsent(session, report)
        return report
    target = parse_smtp_url(app_settings.smtp_url)
    with session_scope() as session:
        report.failed += fail_abandoned(session=session, max_attempts=settings.max_attempts)
    for _ in range(max_rounds):
        with session_scope() as session:
            mails = claim(session=session, owner=owner, limit=settings.batch, lease_seconds=settings.lease_seconds)
            if not mails:
                break
            _send_batch(session, mails, owner, target, app_settings.mail_from, settings, report)
    return report


def _send_batch(session: Session, mails: list[OutboxMail], owner: str, target: SmtpTarget, mail_from: str,
                settings: MailerSettings, report: SweepReport) -> None:
    # Stop before the lease could run out mid-send: another sender may claim the rows after it.
    deadline = time.monotonic() + settings.lease_seconds - 2 * settings.smtp_timeout
    client: smtplib.SMTP | None = None
    try:
        for index, mail in enumerate(mails):
            if time.monotonic() > deadline:
                _release(session, mails[index:], owner)
                return
            try:
                if client is None:
                    client = _connect(target, settings.smtp_timeout)
                message = build_message(mail, mail_from=mail_from)
                client.send_message(message, from_addr=_envelope_from(mail_from), to_addrs=[mail.to_address])
            except Exception as exc:  # noqa: BLE001 - whatever it was, it is this mail's attempt's outcome
                # Anything else (a message the library cannot encode, …) is recorded too, so that
                # it cannot stall the batch or loop unseen.
                reason, permanent = _describe(exc)
                _record_failure(session, mail, owner, settings, reason, permanent=permanent, report=report)
                if client is not None and not isinstance(
                    exc, (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError)
                ):
                    _quietly_close(client)  # the connection is in an unknown state: a fresh one next
                    client = None
                continue
            # The server has taken the mail (250): record it before anything else.
            _mark(session, mail, owner, status="sent", sent_at=utcnow(), last_error=None)
            report.sent += 1
            metrics.MAILS.labels("sent").inc()
            logger.info("mail %s sent to %s (%s)", mail.id, mail.to_address, mail.message_id)
    finally:
        if client is not None:
            _quietly_close(client, polite=True)


def _envelope_from(mail_from: str) -> str:
    from email.utils import parseaddr

    return parseaddr(mail_from)[1] or mail_from


def _quietly_close(client: smtplib.SMTP, *, polite: bool = False) -> None:
    try:
        if polite:
            client.quit()
        else:
            client.close()
    except (smtplib.SMTPException, OSError):
        client.close()
