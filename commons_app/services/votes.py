"""Ballots: validate, cast, read, change and retract. One ballot per user per poll, by constraint."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from commons_app import metrics
from commons_app.models import RANKED_METHODS, SCORED_METHODS, Ballot, Poll, PollOption, User, utcnow
from commons_app.services import notify, ratelimit
from commons_app.services.errors import Conflict, Forbidden, InvalidInput, NotFound
from commons_app.services.polls import get_visible_poll, options_of, poll_status, voter_weight

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


def _open_poll_for_voting(*, session: Session, poll_id: int, user: User) -> tuple[Poll, float]:
    poll = get_visible_poll(session=session, poll_id=poll_id, user=user)
    status = poll_status(poll)
    if status == "scheduled":
        raise Forbidden("This poll is not open yet.")
    if status == "closed":
        raise Forbidden("This poll is closed.")
    weight = voter_weight(session=session, poll=poll, user=user)
    if weight is None:
        raise Forbidden("You are not on this poll's roll of voters.")
    return poll, weight


def cast_ballot(*, session: Session, user: User, poll_id: int, ballot: BallotInput) -> Ballot:
    """Record a user's ballot; the weight comes from the roll, never from the caller.

    Raises:
        NotFound: The poll is not visible to the user.
        Forbidden: Not open yet, closed, or the user is not eligible.
        InvalidInput: The ballot does not fit the poll.
        Conflict: The user has already voted (the database constraint decides races).
    """
    ratelimit.hit("ballot", str(user.id))
    poll, weight = _open_poll_for_voting(session=session, poll_id=poll_id, user=user)
    clean = validate_ballot(poll=poll, options=options_of(session=session, poll_id=poll_id), ballot=ballot)
    row = Ballot(
        poll_id=poll_id,
        user_id=user.id,  # type: ignore[arg-type]
        option_id=clean.option_id,
        choices=clean.choices,
        scores=clean.scores,
        weight=weight,
    )
    session.add(row)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict("You have already voted in this poll.") from None
    metrics.BALLOTS.labels("cast").inc()
    # No refresh: every column was set here (the id by the flush), and a retraction racing in
    # right after the commit would make a refresh fail although the ballot was recorded.
    notify.poll_changed(poll_id)
    return row


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
    poll, weight = _open_poll_for_voting(session=session, poll_id=poll_id, user=user)
    clean = validate_ballot(poll=poll, options=options_of(session=session, poll_id=poll_id), ballot=ballot)
    # One UPDATE, so that a retraction racing with this change leaves either no ballot or this one.
    changed = session.execute(
        update(Ballot)
        .where(col(Ballot.poll_id) == poll_id, col(Ballot.user_id) == user.id)
        .values(option_id=clean.option_id, choices=clean.choices, scores=clean.scores, weight=weight, updated_at=utcnow())
    ).rowcount
    if changed != 1:
        session.rollback()
        raise NotFound("You have not voted in this poll.")
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
        delete(Ballot).where(col(Ballot.poll_id) == poll_id, col(Ballot.user_id) == user.id)
    ).rowcount
    if removed != 1:
        session.rollback()
        raise NotFound("You have not voted in this poll.")
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
