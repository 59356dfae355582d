"""Ballots: validate, cast, read, change and retract. One ballot per user per poll, by constraint."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from commons_app import metrics
from commons_app.models import RANKED_METHODS, SCORED_METHODS, Ballot, Poll, PollOption, PollVoter, User, utcnow
from commons_app.services import counts, notify, ratelimit
from commons_app.services.errors import Conflict, Forbidden, InvalidInput, NotFound
from commons_app.services.polls import get_visible_poll, poll_status, visible_to, weight_from_roll

MAX_SCORE = 5
_INT_TEXT = re.compile(r"-?[0-9]{1,19}")


@dataclass
class BallotInput:
    """The choice fields of a ballot; exactly the one the poll's method takes must be set."""

    option_id: int | None = None
    option_ids: list[int] | None = None
    ranking: list[int] | None = None
    scores: dict[Any, Any] | None = None


@dataclass(frozen=True)
class CleanBallot:
    """A validated ballot in storage form."""

    option_id: int | None
    choices: list[int]
    scores: dict[str, int]


FIELD_FOR_METHOD = {
    "single": "option_id",
    "approval": "option_ids",
    "irv": "ranking",
    "schulze": "ranking",
    "borda": "ranking",
    "score": "scores",
    "star": "scores",
}


def _as_int(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise InvalidInput(f"{what} must be an option id (an integer).")
    if isinstance(value, int):
        return value
    # ASCII digits only, and few enough for int(): "--1", "²" or 5000 nines pass isdigit() but
    # make int() raise ValueError (a 500 through the API).
    if isinstance(value, str) and _INT_TEXT.fullmatch(value.strip()):
        return int(value.strip())
    raise InvalidInput(f"{what} must be an option id (an integer).")


def validate_ballot(*, poll: Poll, options: list[PollOption], ballot: BallotInput) -> CleanBallot:
    """Check a ballot against the poll's method and options.

    Raises:
        InvalidInput: A missing or extra field, an unknown or repeated option, a bad score,
            or more approvals than ``max_choices``.
    """
    expected = FIELD_FOR_METHOD[poll.method]
    given = {name for name in ("option_id", "option_ids", "ranking", "scores") if getattr(ballot, name) is not None}
    if expected not in given:
        raise InvalidInput(f"A {poll.method} ballot needs the field '{expected}'.")
    extra = given - {expected}
    if extra:
        raise InvalidInput(f"A {poll.method} ballot takes only '{expected}', not {', '.join(sorted(extra))}.")
    known = {o.id for o in options}

    def check_ids(values: Any, what: str) -> list[int]:
        if not isinstance(values, list):
            raise InvalidInput(f"{what} must be a list of option ids.")
        if not values:
            raise InvalidInput(f"{what} must name at least one option.")
        ids = [_as_int(v, what) for v in values]
        if len(set(ids)) != len(ids):
            raise InvalidInput(f"{what} names an option more than once.")
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise InvalidInput(f"{what} names options that are not in this poll: {unknown}.")
        return ids

    if poll.method == "single":
        option_id = _as_int(ballot.option_id, "option_id")
        if option_id not in known:
            raise InvalidInput("option_id is not an option of this poll.")
        return CleanBallot(option_id=option_id, choices=[option_id], scores={})
    if poll.method == "approval":
        ids = check_ids(ballot.option_ids, "option_ids")
        if poll.max_choices is not None and len(ids) > poll.max_choices:
            raise InvalidInput(f"This poll allows at most {poll.max_choices} approvals.")
        return CleanBallot(option_id=None, choices=ids, scores={})
    if poll.method in RANKED_METHODS:
        ids = check_ids(ballot.ranking, "ranking")
        return CleanBallot(option_id=ids[0], choices=ids, scores={})
    if poll.method in SCORED_METHODS:
        raw = ballot.scores
        if not isinstance(raw, dict) or not raw:
            raise InvalidInput("scores must map at least one option id to a score from 0 to 5.")
        scores: dict[str, int] = {}
        for key, value in raw.items():
            option_id = _as_int(key, "scores")
            if option_id not in known:
                raise InvalidInput(f"scores names an option that is not in this poll: {option_id}.")
            if str(option_id) in scores:
                raise InvalidInput("scores names an option more than once.")
            if isinstance(value, bool) or not isinstance(value, int) or not (0 <= value <= MAX_SCORE):
                raise InvalidInput(f"Each score must be a whole number from 0 to {MAX_SCORE}.")
            scores[str(option_id)] = value
        return CleanBallot(option_id=None, choices=[], scores=scores)
    raise InvalidInput(f"Unknown method {poll.method!r}.")  # pragma: no cover - models restrict methods


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
    roll_weight: float | None
    options: tuple[OptionRef, ...]


_POLL_FOR_VOTING = (
    select(
        Poll.id, Poll.method, Poll.max_choices, Poll.visibility, Poll.created_by, Poll.opens_at, Poll.closes_at,
        Poll.closed_at, PollVoter.weight, PollOption.id,
    )
    .select_from(Poll)
    .outerjoin(PollVoter, and_(col(PollVoter.poll_id) == Poll.id, col(PollVoter.user_id) == bindparam("user_id")))
    .outerjoin(PollOption, col(PollOption.poll_id) == Poll.id)
    .where(col(Poll.id) == bindparam("poll_id"))
)


_BALLOTS = Ballot.__table__  # type: ignore[attr-defined]
_INSERT_BALLOT = _BALLOTS.insert().returning(_BALLOTS.c.id)  # a Core statement: compiled once, cached


def _poll_for_voting(*, session: Session, poll_id: int, user: User) -> tuple[VotingPoll, float]:
    """The poll, the user's roll entry and the option ids in one round trip, checked for voting
    (``polls.visible_to`` and ``polls.weight_from_roll``, the rules of ``get_visible_poll`` and
    ``voter_weight``, without loading ORM objects: this is the hot path of every ballot), and the
    weight the user's ballot carries.

    Raises:
        NotFound: No such poll, or it is private and the user is neither on its roll nor a manager.
        Forbidden: Not open yet, closed, or the user is not eligible.
    """
    rows = session.execute(_POLL_FOR_VOTING, {"poll_id": poll_id, "user_id": user.id}).all()
    if not rows:
        raise NotFound("Poll not found.")
    first = rows[0]
    poll = VotingPoll(
        id=first[0], method=first[1], max_choices=first[2], visibility=first[3], created_by=first[4],
        opens_at=first[5], closes_at=first[6], closed_at=first[7], roll_weight=first[8],
        options=tuple(OptionRef(int(r[9])) for r in rows if r[9] is not None),
    )
    if not visible_to(poll, user, on_the_roll=poll.roll_weight is not None):  # type: ignore[arg-type]
        raise NotFound("Poll not found.")
    status = poll_status(poll)  # type: ignore[arg-type]
    if status == "scheduled":
        raise Forbidden("This poll is not open yet.")
    if status == "closed":
        raise Forbidden("This poll is closed.")
    weight = weight_from_roll(poll, poll.roll_weight)  # type: ignore[arg-type]
    if weight is None:
        raise Forbidden("You are not on this poll's roll of voters.")
    return poll, weight


@dataclass(frozen=True)
class CastBallot:
    """A recorded ballot and the method of its poll (which decides the ballot's API form)."""

    ballot: Ballot
    method: str


def record_ballot(*, session: Session, user: User, poll_id: int, ballot: BallotInput) -> CastBallot:
    """Record a user's ballot; the weight comes from the roll, never from the caller.

    Four statements: the poll with roll entry and options, the insert, the count, the commit.

    Raises:
        NotFound: The poll is not visible to the user.
        Forbidden: Not open yet, closed, or the user is not eligible.
        InvalidInput: The ballot does not fit the poll.
        Conflict: The user has already voted (the database constraint decides races).
    """
    ratelimit.hit("ballot", str(user.id))
    poll, weight = _poll_for_voting(session=session, poll_id=poll_id, user=user)
    clean = validate_ballot(poll=poll, options=list(poll.options), ballot=ballot)  # type: ignore[arg-type]
    now = utcnow()
    values = {
        "poll_id": poll_id, "user_id": user.id, "option_id": clean.option_id, "choices": clean.choices,
        "scores": clean.scores, "weight": weight, "created_at": now, "updated_at": now,
    }
    try:
        ballot_id = session.execute(_INSERT_BALLOT, values).scalar_one()
        counts.adjust(session=session, poll_id=poll_id, user_id=user.id, add=(clean.option_id, weight))  # type: ignore[arg-type]
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict("You have already voted in this poll.") from None
    metrics.BALLOTS.labels("cast").inc()
    notify.poll_changed(poll_id)
    return CastBallot(ballot=Ballot(id=ballot_id, **values), method=poll.method)


def cast_ballot(*, session: Session, user: User, poll_id: int, ballot: BallotInput) -> Ballot:
    """Record a user's ballot (see :func:`record_ballot`) and return it."""
    return record_ballot(session=session, user=user, poll_id=poll_id, ballot=ballot).ballot


def get_my_ballot(*, session: Session, user: User, poll_id: int) -> Ballot:
    """The user's own ballot in a poll they can see.

    Raises:
        NotFound: No such poll for the user, or no ballot.
    """
    get_visible_poll(session=session, poll_id=poll_id, user=user)
    row = session.exec(select(Ballot).where(Ballot.poll_id == poll_id, Ballot.user_id == user.id)).first()
    if row is None:
        raise NotFound("You have not voted in this poll.")
    return row


def has_voted(*, session: Session, user: User, poll_id: int) -> bool:
    """Whether the user has a ballot in the poll."""
    return (
        session.exec(select(Ballot.id).where(Ballot.poll_id == poll_id, Ballot.user_id == user.id)).first()
        is not None
    )


def change_ballot(*, session: Session, user: User, poll_id: int, ballot: BallotInput) -> Ballot:
    """Replace the user's ballot while the poll is open.

    Raises:
        NotFound: No ballot to change.
        Forbidden, InvalidInput: As for casting.
    """
    ratelimit.hit("ballot", str(user.id))
    poll, weight = _poll_for_voting(session=session, poll_id=poll_id, user=user)
    clean = validate_ballot(poll=poll, options=list(poll.options), ballot=ballot)  # type: ignore[arg-type]
    mine = (col(Ballot.poll_id) == poll_id, col(Ballot.user_id) == user.id)
    now = utcnow()
    # Take the ballot for writing first (its row on PostgreSQL, the database on SQLite), so that
    # the old choice read next stays the old choice until this transaction ends: two changes or
    # a change and a retraction racing each other then move the counts one after the other.
    # A retraction that won the race leaves nothing to change.
    if session.execute(update(Ballot).where(*mine).values(updated_at=now)).rowcount != 1:
        session.rollback()
        raise NotFound("You have not voted in this poll.")
    old = session.execute(select(Ballot.option_id, Ballot.weight).where(*mine)).one()
    session.execute(
        update(Ballot)
        .where(*mine)
        .values(option_id=clean.option_id, choices=clean.choices, scores=clean.scores, weight=weight, updated_at=now)
    )
    counts.adjust(
        session=session, poll_id=poll_id, user_id=user.id,  # type: ignore[arg-type]
        remove=(old[0], old[1]), add=(clean.option_id, weight),
    )
    session.commit()
    metrics.BALLOTS.labels("change").inc()
    notify.poll_changed(poll_id)
    return get_my_ballot(session=session, user=user, poll_id=poll_id)


def retract_ballot(*, session: Session, user: User, poll_id: int) -> None:
    """Withdraw the user's ballot while the poll is open.

    Raises:
        NotFound: No ballot to retract.
        Forbidden: The poll is not open.
    """
    ratelimit.hit("ballot", str(user.id))
    poll = get_visible_poll(session=session, poll_id=poll_id, user=user)
    if poll_status(poll) != "open":
        raise Forbidden("Ballots can be retracted only while the poll is open.")
    removed = session.execute(
        delete(Ballot)
        .where(col(Ballot.poll_id) == poll_id, col(Ballot.user_id) == user.id)
        .returning(col(Ballot.option_id), col(Ballot.weight))
    ).all()
    if len(removed) != 1:
        session.rollback()
        raise NotFound("You have not voted in this poll.")
    counts.adjust(session=session, poll_id=poll_id, user_id=user.id, remove=(removed[0][0], removed[0][1]))  # type: ignore[arg-type]
    session.commit()
    metrics.BALLOTS.labels("retract").inc()
    notify.poll_changed(poll_id)


def ballot_fields(row: Ballot, method: str) -> dict[str, Any]:
    """The method's choice field of a stored ballot, in the API's form."""
    if method == "single":
        return {"option_id": row.option_id}
    if method == "approval":
        return {"option_ids": list(row.choices)}
    if method in RANKED_METHODS:
        return {"ranking": list(row.choices)}
    return {"scores": {str(k): v for k, v in row.scores.items()}}
