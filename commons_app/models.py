"""Every table of The Commons (SQLModel). Alembic builds them; nothing calls create_all."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

ROLES = ("admin", "member")
METHODS = ("single", "approval", "irv", "schulze", "borda", "score", "star")
RANKED_METHODS = ("irv", "schulze", "borda")
SCORED_METHODS = ("score", "star")
VISIBILITIES = ("public", "unlisted", "private")
RESULTS_VISIBILITIES = ("live", "after_vote", "after_close", "creator")
POLL_ID_LENGTH = 32  # room for token_urlsafe(16) (22 characters) and longer ids later
JOIN_CODE_LENGTH = 8
# No 0/O, 1/I/L: a code read aloud or copied from a projector is typed back right.
JOIN_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """Treat naive datetimes (SQLite hands those back) as UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def new_poll_id() -> str:
    """A fresh poll id: 128 random bits, URL-safe, so nobody finds a poll by guessing or walking ids."""
    return secrets.token_urlsafe(16)


def new_join_code() -> str:
    """A fresh join code: 8 characters of an unambiguous alphabet (about 40 bits)."""
    return "".join(secrets.choice(JOIN_CODE_ALPHABET) for _ in range(JOIN_CODE_LENGTH))


def _poll_fk(*, index: bool = True, primary_key: bool = False) -> Any:
    """A column naming a poll (its string id), deleted with the poll."""
    if primary_key:
        return Field(
            sa_column=Column(
                String(POLL_ID_LENGTH), ForeignKey("polls.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
            )
        )
    return Field(
        default=None,
        sa_column=Column(String(POLL_ID_LENGTH), ForeignKey("polls.id", ondelete="CASCADE"), nullable=False, index=index),
    )


def _fk(target: str, *, nullable: bool = False, index: bool = True, ondelete: str = "CASCADE") -> Any:
    return Field(
        default=None,
        sa_column=Column(Integer, ForeignKey(target, ondelete=ondelete), nullable=nullable, index=index),
    )


class User(SQLModel, table=True):
    """An account. ``username_key`` and ``email_key`` are the lower-cased forms that must be unique;
    ``username_skeleton`` is the look-alike fold of the username (services/text.py), unique too,
    and empty only for accounts that already looked like an earlier one before it existed."""

    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=32)
    username_key: str = Field(max_length=32, unique=True)
    username_skeleton: str | None = Field(default=None, max_length=64, unique=True, index=True)
    email: str = Field(max_length=254)
    email_key: str = Field(max_length=254, unique=True)
    password_hash: str = Field(max_length=255)
    role: str = Field(default="member", max_length=16)
    is_active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


class AuthSession(SQLModel, table=True):
    """One signed-in session: access tokens name it, refresh tokens rotate within it."""

    __tablename__ = "auth_sessions"

    id: str = Field(primary_key=True, max_length=36)
    user_id: int = _fk("users.id")
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    last_used_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    revoked_reason: str | None = Field(default=None, max_length=64)
    # Browser sessions carry a non-rotating credential (SHA-256 here); API sessions leave it empty.
    browser_key_hash: str | None = Field(default=None, max_length=64, unique=True)


class RefreshToken(SQLModel, table=True):
    """A refresh token, stored only as its SHA-256; ``used_at`` is set when it is rotated away."""

    __tablename__ = "refresh_tokens"

    id: int | None = Field(default=None, primary_key=True)
    session_id: str = Field(
        sa_column=Column(ForeignKey("auth_sessions.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
    used_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))


class Poll(SQLModel, table=True):
    """A poll. Its status (scheduled/open/closed) follows from the times, see ``services.polls``."""

    __tablename__ = "polls"
    __table_args__ = (
        Index("ix_polls_visibility_created", "visibility", "created_at"),
        Index("ix_polls_creator_created", "created_by", "created_at"),
    )

    id: str = Field(default_factory=new_poll_id, primary_key=True, max_length=POLL_ID_LENGTH)
    # What people type on /join (upper-case here; services.polls.find_poll_by_join_code normalises).
    join_code: str = Field(default_factory=new_join_code, max_length=JOIN_CODE_LENGTH, unique=True, index=True)
    title: str = Field(max_length=200)
    description: str = Field(default="", max_length=5000)
    created_by: int = _fk("users.id", index=False)
    method: str = Field(default="single", max_length=16)
    max_choices: int | None = Field(default=None)
    visibility: str = Field(default="public", max_length=16)
    results_visibility: str = Field(default="live", max_length=16)
    opens_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    closes_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    closed_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    anonymous: bool = Field(default=False)
    # Anonymous polls: results appear, and move, only in steps of at least this many ballots.
    anonymity_threshold: int = Field(default=5, sa_column_kwargs={"server_default": "5"})
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


class PollOption(SQLModel, table=True):
    """One option of a poll, shown in ``position`` order."""

    __tablename__ = "poll_options"

    id: int | None = Field(default=None, primary_key=True)
    poll_id: str = _poll_fk()
    text: str = Field(max_length=200)
    position: int = Field(default=0)


class Ballot(SQLModel, table=True):
    """One ballot in one poll; the unique constraint makes a second one per user impossible.

    ``option_id`` is the single choice (or the first preference of a ranking, for fast counts);
    ``choices`` holds approved ids or a ranking in order; ``scores`` maps option id to 0..5.
    ``receipt`` is the random code that names the ballot in the poll's published record.

    In an anonymous poll nothing here points back to the voter: ``user_id`` and the times are
    NULL and ``id`` is random, not sequential (who has voted is kept apart, in
    ``poll_participants``, with nothing that joins the two).
    """

    __tablename__ = "ballots"
    __table_args__ = (
        UniqueConstraint("poll_id", "user_id", name="uq_ballots_poll_user"),
        Index("ix_ballots_poll_option", "poll_id", "option_id"),
        Index("ix_ballots_user", "user_id"),
        UniqueConstraint("receipt", name="uq_ballots_receipt"),
    )

    # 64-bit so anonymous ballots can take random ids (SQLite: INTEGER, its 64-bit rowid).
    id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    )
    poll_id: str = _poll_fk(index=False)
    user_id: int | None = _fk("users.id", nullable=True, index=False)
    option_id: int | None = _fk("poll_options.id", nullable=True, index=False, ondelete="SET NULL")
    choices: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    scores: dict[str, int] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    weight: float = Field(default=1.0)
    receipt: str = Field(sa_column=Column(String(32), nullable=False))
    created_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    updated_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))


class PollParticipant(SQLModel, table=True):
    """Who has voted in an anonymous poll: no time, no order, nothing that names a ballot."""

    __tablename__ = "poll_participants"
    # SQLite keeps such a table in key order (PostgreSQL keeps rows in the order they were
    # written, until the poll closes: services.results.seal_poll rewrites them).
    __table_args__ = {"sqlite_with_rowid": False}

    poll_id: str = _poll_fk(primary_key=True)
    user_id: int = Field(
        sa_column=Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, autoincrement=False)
    )


class ResultSnapshot(SQLModel, table=True):
    """The results an open anonymous poll shows, and what has happened since they were taken.

    Only counts are kept (never who): ``voters`` is how many have voted, ``baseline`` how many had
    when the snapshot was taken; ``casts``, ``changes`` and ``retractions`` count the ballots'
    events since. The rule that retakes it is ``services.results.note_anonymous_change``.
    """

    __tablename__ = "result_snapshots"

    poll_id: str = _poll_fk(primary_key=True)
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    voters: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    baseline: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    casts: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    changes: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    retractions: int = Field(default=0, sa_column=Column(Integer, nullable=False))


class PollSeal(SQLModel, table=True):
    """A closed poll's final result and ballot record, fixed once when it closes."""

    __tablename__ = "poll_seals"

    poll_id: str = _poll_fk(primary_key=True)
    sealed_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
    result: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    record: str = Field(sa_column=Column(Text, nullable=False))
    record_sha256: str = Field(max_length=64)
    ballots: int = Field(default=0)


class PollVoter(SQLModel, table=True):
    """The roll of a private poll: who may vote, and with what weight."""

    __tablename__ = "poll_voters"
    __table_args__ = (UniqueConstraint("poll_id", "user_id", name="uq_poll_voters_poll_user"),)

    id: int | None = Field(default=None, primary_key=True)
    poll_id: str = _poll_fk(index=False)
    user_id: int = _fk("users.id")
    weight: float = Field(default=1.0)


class AuditEvent(SQLModel, table=True):
    """Who did what to which object, and when. Never holds the content of a ballot."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False, index=True))
    actor_id: int | None = _fk("users.id", nullable=True, ondelete="SET NULL")
    action: str = Field(max_length=64, index=True)
    target_type: str = Field(max_length=32)
    target_id: str | None = Field(default=None, max_length=64)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class BallotCount(SQLModel, table=True):
    """Running counts of ballots per option and weight, kept in the same transaction as the ballots.

    Each ballot with an ``option_id`` (a single choice, or a ranking's first preference) adds one
    to the row of its (poll, option, weight) in one of a few shards (the ballot's id picks it, so
    concurrent ballots rarely wait on the same row). Weights are kept apart rather than summed so
    that the weighted totals come out exactly as the tally computes them. ``services.counts``
    reconciles the rows with the ballots table on a schedule and when a poll closes.
    """

    __tablename__ = "ballot_counts"

    poll_id: str = _poll_fk(primary_key=True)
    option_id: int = Field(
        sa_column=Column(Integer, ForeignKey("poll_options.id", ondelete="CASCADE"), primary_key=True, autoincrement=False)
    )
    weight: float = Field(sa_column=Column(Float, primary_key=True))
    shard: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    ballots: int = Field(default=0, sa_column=Column(Integer, nullable=False))


OUTBOX_STATUSES = ("queued", "sent", "failed")


class OutboxMail(SQLModel, table=True):
    """One mail the app has promised to send, written in the same transaction as its cause.

    ``services.outbox`` queues rows; ``services.mailer`` claims due ones with a lease
    (``lease_owner``/``lease_until``), sends each once and records the outcome. ``message_id`` is
    fixed when the row is made, so a resend after a crash carries the same Message-ID.
    ``poll_id`` has no foreign key: poll ids are changing type, and a mail's history outlives its poll.
    """

    __tablename__ = "outbox_mails"
    __table_args__ = (
        Index("ix_outbox_mails_due", "status", "next_attempt_at"),
        UniqueConstraint("dedupe_key", name="uq_outbox_mails_dedupe_key"),
        UniqueConstraint("message_id", name="uq_outbox_mails_message_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    to_address: str = Field(max_length=254)
    subject: str = Field(max_length=300)
    body: str = Field(sa_column=Column(Text, nullable=False))
    kind: str = Field(max_length=32)
    poll_id: str | None = Field(default=None, sa_column=Column(String(64), nullable=True, index=True))
    dedupe_key: str | None = Field(default=None, max_length=200)
    status: str = Field(default="queued", max_length=16)
    attempts: int = Field(default=0)
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    message_id: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
    next_attempt_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    sent_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
