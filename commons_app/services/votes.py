"""Ballots: validate, cast, read, change and retract. One ballot per user per poll, by constraint.

Every cast or change hands back a fresh receipt: the random code that names the ballot in the
poll's published record. In an anonymous poll the ballot row keeps no voter, no time and a random
id; who has voted is kept apart (``PollParticipant``), and the voter reaches their ballot again
only with its receipt, which only they hold.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, delete, exists, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from commons_app import methods, metrics
from commons_app.i18n import N_
from commons_app.methods.ballots import CleanBallot
from commons_app.models import (
    Ballot,
    Poll,
    PollOption,
    PollParticipant,
    PollSeal,
    PollVoter,
    User,
    utcnow,
)
from commons_app.services import counts, notify, ratelimit, results
from commons_app.services.errors import Conflict, Forbidden, InvalidInput, NotFound
from commons_app.services.polls import get_visible_poll, has_voted, poll_status, visible_to, weight_from_roll
from commons_app.services.results import ballot_fields

__all__ = [
    "BallotInput", "CastBallot", "CleanBallot", "ballot_fields", "cast_ballot", "change_ballot", "get_my_ballot",
    "has_voted", "new_receipt", "record_ballot", "retract_ballot", "validate_ballot",
]

BALLOT_FIELDS = tuple(methods.KINDS)  # every field a ballot kind takes


@dataclass
class BallotInput:
    """The choice fields of a ballot; exactly the one the poll's method takes must be set."""

    option_id: int | None = None
    option_ids: list[int] | None = None
    ranking: list[int] | None = None
    scores: dict[Any, Any] | None = None


def validate_ballot(*, poll: Poll, options: list[PollOption], ballot: BallotInput) -> CleanBallot:
    """Check a ballot against the poll's method (its registry entry's ballot kind) and options.

    Raises:
        InvalidInput: A missing or extra field, an unknown or repeated option, a bad score,
            or more approvals than ``max_choices``.
    """
    method = methods.get(poll.method)
    expected = method.field
    given = {name for name in BALLOT_FIELDS if getattr(ballot, name) is not None}
    if expected not in given:
        raise InvalidInput(
            N_("A %(method)s ballot needs the field '%(expected)s'."),
            method=poll.method, expected=expected,
        )
    extra = given - {expected}
    if extra:
        raise InvalidInput(
            N_("A %(method)s ballot takes only '%(expected)s', not %(extra)s."),
            method=poll.method, expected=expected, extra=', '.join(sorted(extra)),
        )
    return method.ballot.clean(getattr(ballot, expected), {o.id for o in options}, poll)  # type: ignore[misc]


@dataclass(frozen=True)
class OptionRef:
    """An option id, for :func:`validate_ballot` (which only needs the ids)."""

    id: int


@dataclass(frozen=True)
class VotingPoll:
    """What casting a ballot needs of a poll, read in one query (see :func:`_poll_for_voting`)."""

    id: int
    method: str
    max_choices: int | None
    visibility: str
    created_by: int
    opens_at: Any
    closes_at: Any
    closed_at: Any
    anonymous: bool
    anonymity_threshold: int
    access: str
    roll_weight: float | None
    options: tuple[OptionRef, ...]


_POLL_FOR_VOTING = (
    select(
        Poll.id, Poll.method, Poll.max_choices, Poll.visibility, Poll.created_by, Poll.opens_at, Poll.closes_at,
        Poll.closed_at, Poll.anonymous, Poll.anonymity_threshold, Poll.access, PollVoter.weight, PollOption.id,
    )
    .select_from(Poll)
    .outerjoin(PollVoter, and_(col(PollVoter.poll_id) == Poll.id, col(PollVoter.user_id) == bindparam("user_id")))
    .outerjoin(PollOption, col(PollOption.poll_id) == Poll.id)
    .where(col(Poll.id) == bindparam("poll_id"))
)
# On PostgreSQL the read takes a key-share lock on the poll's row (the lock the ballot's foreign key
# takes anyway, only earlier): sealing a poll at close takes the row for update, so a ballot either
# commits before the seal reads the ballots or reads the poll after the seal, and sees it closed.
_POLL_FOR_VOTING_LOCKED = _POLL_FOR_VOTING.with_for_update(read=True, key_share=True, of=Poll)  # type: ignore[arg-type]


_BALLOTS = Ballot.__table__  # type: ignore[attr-defined]
_INSERT_BALLOT = _BALLOTS.insert().returning(_BALLOTS.c.id)  # a Core statement: compiled once, cached
_PARTICIPANTS = PollParticipant.__table__  # type: ignore[attr-defined]
_INSERT_PARTICIPANT = _PARTICIPANTS.insert()
# Random ids for anonymous ballots: far above the sequence of the others, below 2**53 (JavaScript).
_ANON_ID_LOW, _ANON_ID_HIGH = 2**44, 2**52


def new_receipt() -> str:
    """A ballot receipt: 128 random bits, URL-safe."""
    return secrets.token_urlsafe(16)


def _poll_for_voting(
    *, session: Session, poll_id: str, user: User, retracting: bool = False
) -> tuple[VotingPoll, float]:
    """The poll, the user's roll entry and the option ids in one round trip, checked for voting
    (``polls.visible_to`` and ``polls.weight_from_roll``, the rules of ``get_visible_poll`` and
    ``voter_weight``, without loading ORM objects: this is the hot path of every ballot), and the
    weight the user's ballot carries. ``retracting`` words the refusals for a retraction.

    Raises:
        NotFound: No such poll, or it is private and the user is neither on its roll nor a manager;
            when retracting, also: the user is not on the roll (so has no ballot).
        Forbidden: Not open yet, closed, or the user is not eligible.
    """
    locked = session.get_bind().dialect.name == "postgresql"
    statement = _POLL_FOR_VOTING_LOCKED if locked else _POLL_FOR_VOTING
    rows = session.execute(statement, {"poll_id": poll_id, "user_id": user.id}).all()
    if not rows:
        raise NotFound(N_("Poll not found."))
    poll = voting_poll(rows)
    return poll, voting_weight(poll, user, retracting=retracting)


def voting_poll(rows: Sequence[Sequence[Any]], offset: int = 0) -> VotingPoll:
    """A :class:`VotingPoll` from the rows of :data:`_POLL_FOR_VOTING` (one per option). Its
    columns start at ``offset`` (the REST hot path reads the caller's session before them)."""
    f = rows[0][offset:]
    return VotingPoll(
        id=f[0], method=f[1], max_choices=f[2], visibility=f[3], created_by=f[4],
        opens_at=f[5], closes_at=f[6], closed_at=f[7], anonymous=bool(f[8]),
        anonymity_threshold=int(f[9]), access=str(f[10]), roll_weight=f[11],
        options=tuple(OptionRef(int(r[offset + 12])) for r in rows if r[offset + 12] is not None),
    )


def voting_weight(poll: VotingPoll, user: User, *, retracting: bool = False) -> float:
    """The rules of voting in a poll (``polls.visible_to``, ``polls.poll_status``,
    ``polls.weight_from_roll``), decided once for every path that casts, changes or retracts a
    ballot: the weight the user's ballot carries. ``retracting`` words the refusals for a retraction.

    Raises:
        NotFound: The poll is private and the user is neither on its roll nor a manager; when
            retracting, also: the user is not on the roll (so has no ballot).
        Forbidden: Not open yet, closed, or the user is not eligible.
    """
    if not visible_to(poll, user, on_the_roll=poll.roll_weight is not None):  # type: ignore[arg-type]
        raise NotFound(N_("Poll not found."))
    status = poll_status(poll)  # type: ignore[arg-type]
    if status != "open" and retracting:
        raise Forbidden(N_("Ballots can be retracted only while the poll is open."))
    if status == "scheduled":
        raise Forbidden(N_("This poll is not open yet."))
    if status == "closed":
        raise Forbidden(N_("This poll is closed."))
    weight = weight_from_roll(poll, poll.roll_weight)  # type: ignore[arg-type]
    if weight is None:
        if retracting:  # not on the roll: so no ballot to take back either
            raise NotFound(N_("You have not voted in this poll."))
        raise Forbidden(N_("You are not on this poll's roll of voters."))
    return weight


def _refuse_if_sealed(*, session: Session, poll_id: str) -> None:
    """On SQLite, check inside the ballot's write transaction that the poll was not closed since
    it was read (its reads run outside the transaction; PostgreSQL's row lock covers this).

    Raises:
        Forbidden: The poll was closed (and sealed) meanwhile; the caller's transaction is rolled back.
    """
    if session.get_bind().dialect.name == "postgresql":
        return
    closed_at, sealed = session.execute(
        select(Poll.closed_at, exists().where(col(PollSeal.poll_id) == poll_id)).where(col(Poll.id) == poll_id)
    ).one()
    if closed_at is not None or sealed:
        session.rollback()
        raise Forbidden(N_("This poll is closed."))


def ballot_values(*, poll: VotingPoll, user: User, clean: CleanBallot, weight: float) -> dict[str, Any]:
    """The columns of a new ballot, with a fresh receipt. In an anonymous poll: a random id, and
    neither voter nor time."""
    values: dict[str, Any] = {
        "poll_id": poll.id, "option_id": clean.option_id, "choices": clean.choices, "scores": clean.scores,
        "weight": weight, "receipt": new_receipt(),
    }
    if poll.anonymous:
        values |= {"id": _ANON_ID_LOW + secrets.randbelow(_ANON_ID_HIGH - _ANON_ID_LOW), "user_id": None}
    else:
        now = utcnow()
        values |= {"user_id": user.id, "created_at": now, "updated_at": now}
    return values


@dataclass(frozen=True)
class CastBallot:
    """A recorded ballot and the method of its poll (which decides the ballot's API form)."""

    ballot: Ballot
    method: str


def record_ballot(*, session: Session, user: User, poll_id: str, ballot: BallotInput) -> CastBallot:
    """Record a user's ballot; the weight comes from the roll, never from the caller.

    Four statements for a named ballot: the poll with roll entry and options, the insert, the
    count, the commit. An anonymous ballot also records the voter as a participant (which makes a
    second ballot impossible) and counts toward its next result snapshot (``results.note_anonymous_change``).

    Raises:
        NotFound: The poll is not visible to the user.
        Forbidden: Not open yet, closed, or the user is not eligible.
        InvalidInput: The ballot does not fit the poll.
        Conflict: The user has already voted (the database constraints decide races).
    """
    ratelimit.hit("ballot", ratelimit.private_key(user.id))  # type: ignore[arg-type]
    poll, weight = _poll_for_voting(session=session, poll_id=poll_id, user=user)
    clean = validate_ballot(poll=poll, options=list(poll.options), ballot=ballot)  # type: ignore[arg-type]
    values = ballot_values(poll=poll, user=user, clean=clean, weight=weight)
    try:
        if poll.anonymous:
            session.execute(_INSERT_PARTICIPANT, {"poll_id": poll_id, "user_id": user.id})
        ballot_id = session.execute(_INSERT_BALLOT, values).scalar_one()
        _refuse_if_sealed(session=session, poll_id=poll_id)
        counts.adjust(session=session, poll_id=poll_id, ballot_id=ballot_id, add=(clean.option_id, weight))
        if poll.anonymous:
            results.note_anonymous_change(session=session, poll_id=poll_id, threshold=poll.anonymity_threshold, event="cast")
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict(N_("You have already voted in this poll.")) from None
    metrics.BALLOTS.labels("cast").inc()
    notify.poll_changed(poll_id)
    return CastBallot(ballot=Ballot(**(values | {"id": ballot_id})), method=poll.method)


def cast_ballot(*, session: Session, user: User, poll_id: str, ballot: BallotInput) -> Ballot:
    """Record a user's ballot (see :func:`record_ballot`) and return it."""
    return record_ballot(session=session, user=user, poll_id=poll_id, ballot=ballot).ballot


def _mine(poll: Poll | VotingPoll, user: User, receipt: str | None) -> tuple[Any, ...]:
    """The WHERE clause that finds the user's ballot: by voter, or in an anonymous poll by receipt.

    Raises:
        NotFound: An anonymous poll and no receipt given.
    """
    if poll.anonymous:
        if not receipt or not isinstance(receipt, str) or len(receipt) > 64:
            raise NotFound(N_("In an anonymous poll your ballot is found only by its receipt."))
        return (col(Ballot.poll_id) == poll.id, col(Ballot.receipt) == receipt, col(Ballot.user_id).is_(None))
    return (col(Ballot.poll_id) == poll.id, col(Ballot.user_id) == user.id)


def _participates(*, session: Session, poll_id: str, user: User) -> bool:
    return session.get(PollParticipant, (poll_id, user.id)) is not None


def get_my_ballot(*, session: Session, user: User, poll_id: str, receipt: str | None = None) -> Ballot:
    """The user's own ballot in a poll they can see (in an anonymous poll: the one ``receipt`` names).

    Raises:
        NotFound: No such poll for the user, or no ballot.
    """
    poll = get_visible_poll(session=session, poll_id=poll_id, user=user)
    where = _mine(poll, user, receipt)
    if poll.anonymous and not _participates(session=session, poll_id=poll_id, user=user):
        raise NotFound(N_("You have not voted in this poll."))
    row = session.exec(select(Ballot).where(*where)).first()
    if row is None:
        raise NotFound(N_("You have not voted in this poll."))
    return row


def change_ballot(
    *, session: Session, user: User, poll_id: str, ballot: BallotInput, receipt: str | None = None
) -> Ballot:
    """Replace the user's ballot while the poll is open; the changed ballot gets a new receipt.

    Raises:
        NotFound: No ballot to change (in an anonymous poll: none that ``receipt`` names).
        Forbidden, InvalidInput: As for casting.
    """
    ratelimit.hit("ballot", ratelimit.private_key(user.id))  # type: ignore[arg-type]
    poll, _weight = _poll_for_voting(session=session, poll_id=poll_id, user=user)
    clean = validate_ballot(poll=poll, options=list(poll.options), ballot=ballot)  # type: ignore[arg-type]
    mine = _mine(poll, user, receipt)
    if poll.anonymous and not _participates(session=session, poll_id=poll_id, user=user):
        raise NotFound(N_("You have not voted in this poll."))
    fresh = new_receipt()
    stamp: dict[str, Any] = {} if poll.anonymous else {"updated_at": utcnow()}
    # Take the ballot for writing first (its row on PostgreSQL, the database on SQLite), so that
    # the old choice read next stays the old choice until this transaction ends: two changes or
    # a change and a retraction racing each other then move the counts one after the other.
    # A retraction that won the race leaves nothing to change.
    if session.execute(update(Ballot).where(*mine).values(receipt=fresh, **stamp)).rowcount != 1:
        session.rollback()
        raise NotFound(N_("You have not voted in this poll."))
    ballot_id, old_option, old_weight = session.execute(
        select(Ballot.id, Ballot.option_id, Ballot.weight).where(col(Ballot.receipt) == fresh)
    ).one()
    _refuse_if_sealed(session=session, poll_id=poll_id)
    # The weight stays the one the ballot was cast with: rolls do not change voters who have voted.
    session.execute(
        update(Ballot)
        .where(col(Ballot.id) == ballot_id)
        .values(option_id=clean.option_id, choices=clean.choices, scores=clean.scores)
    )
    counts.adjust(
        session=session, poll_id=poll_id, ballot_id=ballot_id,
        remove=(old_option, old_weight), add=(clean.option_id, old_weight),
    )
    if poll.anonymous:
        results.note_anonymous_change(
            session=session, poll_id=poll_id, threshold=poll.anonymity_threshold, event="change"
        )
    # A detached copy: after the commit a racing retraction may already have removed the row.
    changed = Ballot(**session.exec(select(Ballot).where(col(Ballot.id) == ballot_id)).one().model_dump())
    session.commit()
    metrics.BALLOTS.labels("change").inc()
    notify.poll_changed(poll_id)
    return changed


def retract_ballot(*, session: Session, user: User, poll_id: str, receipt: str | None = None) -> None:
    """Withdraw the user's ballot while the poll is open (in an anonymous poll: the one ``receipt``
    names, and the user is no longer marked as having voted).

    Raises:
        NotFound: No ballot to retract.
        Forbidden: The poll is not open.
    """
    ratelimit.hit("ballot", ratelimit.private_key(user.id))  # type: ignore[arg-type]
    # The same checks and lock as a ballot's.
    poll, _weight = _poll_for_voting(session=session, poll_id=poll_id, user=user, retracting=True)
    mine = _mine(poll, user, receipt)
    if poll.anonymous:
        gone = session.execute(
            delete(PollParticipant).where(
                col(PollParticipant.poll_id) == poll_id, col(PollParticipant.user_id) == user.id
            )
        ).rowcount
        if gone != 1:
            session.rollback()
            raise NotFound(N_("You have not voted in this poll."))
    removed = session.execute(
        delete(Ballot).where(*mine).returning(col(Ballot.id), col(Ballot.option_id), col(Ballot.weight))
    ).all()
    if len(removed) != 1:
        session.rollback()
        raise NotFound(N_("You have not voted in this poll."))
    _refuse_if_sealed(session=session, poll_id=poll_id)
    ballot_id, option_id, weight = removed[0]
    counts.adjust(session=session, poll_id=poll_id, ballot_id=ballot_id, remove=(option_id, weight))
    if poll.anonymous:
        results.note_anonymous_change(
            session=session, poll_id=poll_id, threshold=poll.anonymity_threshold, event="retract"
        )
    session.commit()
    metrics.BALLOTS.labels("retract").inc()
    notify.poll_changed(poll_id)
    # Without a ballot, results shown "after vote" are hidden from this user again.
    notify.user_access_changed(user.id, ended=False)  # type: ignore[arg-type]
