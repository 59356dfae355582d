"""Results: who may see them, and the tally of a poll in the contract's shape.

One tally function per method lives in ``services.tally``; the API, the results page, the live
updates and the exports all come through :func:`poll_results`.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlmodel import Session, col, select

from commons_app.models import Ballot, Poll, PollOption, User
from commons_app.services import counts
from commons_app.services.errors import Forbidden
from commons_app.services.polls import get_managed_poll, get_visible_poll, is_manager, options_of, poll_status
from commons_app.services.tally import TallyBallot, TallyResult, tally, tally_single_counts
from commons_app.services.votes import ballot_fields, has_voted

logger = logging.getLogger(__name__)


@dataclass
class OptionResult:
    """One row of the results table."""

    option_id: int
    text: str
    votes: int
    weight: float
    score: float | None = None
    mean: float | None = None
    points: float | None = None


@dataclass
class PollResults:
    """The results of a poll, in the contract's shape (see ``as_dict``)."""

    poll_id: int
    method: str
    status: str
    total_ballots: int
    total_weight: float
    options: list[OptionResult]
    winners: list[int]
    rounds: list[dict[str, Any]]
    detail: dict[str, Any] = field(default_factory=dict)
    tie: bool = False
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form; ``score``, ``mean`` and ``points`` appear only where the method has them."""
        data = asdict(self)
        for row in data["options"]:
            for key in ("score", "mean", "points"):
                if row[key] is None:
                    del row[key]
        return data


def results_refusal(*, session: Session, poll: Poll, user: User) -> str | None:
    """Why the user may not see the poll's results yet, or None when they may.

    Owners and admins always may. Otherwise: ``live`` shows them to every viewer, ``after_vote``
    once the user has voted (or the poll closed), ``after_close`` once the poll is closed, and
    ``creator`` never.
    """
    if is_manager(poll, user):
        return None
    rule = poll.results_visibility
    closed = poll_status(poll) == "closed"
    if rule == "live":
        return None
    if rule == "after_vote":
        if closed or has_voted(session=session, user=user, poll_id=poll.id):  # type: ignore[arg-type]
            return None
        return "Results are shown once you have voted."
    if rule == "after_close":
        return None if closed else "Results are shown once the poll closes."
    return "Only the poll's creator can see its results."


def compute_results(
    *, session: Session, poll: Poll, options: list[PollOption] | None = None, use_counts: bool = True
) -> PollResults:
    """Tally a poll (no permission check: callers check first).

    Single-choice polls are tallied from ``services.counts`` (kept in step with the ballots in
    the same transactions) unless ``use_counts`` is False; every other method reads the ballots.
    """
    options = options if options is not None else options_of(session=session, poll_id=poll.id)  # type: ignore[arg-type]
    if poll.method == "single" and use_counts:
        kept = counts.option_counts(session=session, poll_id=poll.id)  # type: ignore[arg-type]
        if all(n >= 0 for _o, _w, n in kept):
            return _poll_results(poll, options, tally_single_counts([o.id for o in options], kept))  # type: ignore[misc]
        # Impossible while every write goes through the services; count the ballots instead and
        # let the next reconciliation repair the counts.
        logger.error("negative ballot counts in poll %s; counting its ballots instead", poll.id)
    rows = session.exec(
        select(Ballot.option_id, Ballot.choices, Ballot.scores, Ballot.weight).where(Ballot.poll_id == poll.id)
    ).all()
    ballots = [
        TallyBallot(
            weight=float(weight),
            choices=tuple(choices or ()),
            scores={int(k): int(v) for k, v in (scores or {}).items()},
        )
        for _option_id, choices, scores, weight in rows
    ]
    outcome = tally(poll.method, [o.id for o in options], ballots)  # type: ignore[misc]
    return _poll_results(poll, options, outcome)


def _poll_results(poll: Poll, options: list[PollOption], outcome: TallyResult) -> PollResults:
    by_id = {o.option_id: o for o in outcome.options}
    return PollResults(
        poll_id=poll.id,  # type: ignore[arg-type]
        method=poll.method,
        status=poll_status(poll),
        total_ballots=outcome.total_ballots,
        total_weight=outcome.total_weight,
        options=[
            OptionResult(
                option_id=o.id,  # type: ignore[arg-type]
                text=o.text,
                votes=by_id[o.id].votes,
                weight=by_id[o.id].weight,
                score=by_id[o.id].score,
                mean=by_id[o.id].mean,
                points=by_id[o.id].points,
            )
            for o in options
        ],
        winners=list(outcome.winners),
        rounds=list(outcome.rounds),
        detail=dict(outcome.detail),
        tie=outcome.tie,
        notes=[name_options(note, {o.id: o.text for o in options}) for note in outcome.notes],  # type: ignore[misc]
    )


_OPTION_REFS = re.compile(r"(?i)\boptions? (\d+(?:(?:, | and )\d+)*)")


def name_options(note: str, texts: dict[int, str]) -> str:
    """Replace the tally's "option 3" / "options 1, 2 and 4" by the options' texts."""

    def named(match: re.Match[str]) -> str:
        ids = [int(n) for n in re.findall(r"\d+", match.group(1))]
        if not all(i in texts for i in ids):
            return match.group(0)
        names = [f"“{texts[i]}”" for i in ids]
        return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]

    return _OPTION_REFS.sub(named, note)


def poll_results(*, session: Session, user: User, poll_id: int) -> PollResults:
    """The results of a poll for a user who may see them.

    Raises:
        NotFound: The poll is not visible to the user.
        Forbidden: Its results visibility hides them from the user for now.
    """
    poll = get_visible_poll(session=session, poll_id=poll_id, user=user)
    refusal = results_refusal(session=session, poll=poll, user=user)
    if refusal:
        raise Forbidden(refusal)
    return compute_results(session=session, poll=poll)


def format_number(value: float) -> str:
    """Whole numbers without a decimal point, others with up to four decimals."""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.4f}".rstrip("0").rstrip(".")


def results_csv(results: PollResults) -> str:
    """The results table as CSV: one row per option."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    has_score = any(o.score is not None for o in results.options)
    has_points = any(o.points is not None for o in results.options)
    header = ["option_id", "text", "votes", "weight"]
    if has_score:
        header += ["score", "mean"]
    if has_points:
        header += ["points"]
    header.append("winner")
    writer.writerow(header)
    for o in results.options:
        row: list[Any] = [o.option_id, _csv_safe(o.text), o.votes, format_number(o.weight)]
        if has_score:
            row += [format_number(o.score or 0), format_number(o.mean or 0)]
        if has_points:
            row += [format_number(o.points or 0)]
        row.append("yes" if o.option_id in results.winners else "")
        writer.writerow(row)
    return buffer.getvalue()


def _csv_safe(text: str) -> str:
    """Keep spreadsheet programs from reading option texts as formulas (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def export_ballots(
    *, session: Session, user: User, poll_id: int, after_id: int = 0, limit: int | None = None
) -> list[dict[str, Any]]:
    """The ballots of a non-anonymous poll with their voters, for the owner or an admin, in id
    order: all of them, or (``limit``) a page of those whose id is above ``after_id``.

    Raises:
        NotFound, Forbidden: Not visible / not a manager.
        Forbidden: The poll is anonymous: nobody may learn how a given user voted.
    """
    poll = get_managed_poll(session=session, poll_id=poll_id, user=user)
    if poll.anonymous:
        raise Forbidden("Ballots of an anonymous poll cannot be exported.")
    query = (
        select(Ballot, User.username)
        .join(User, User.id == Ballot.user_id)  # type: ignore[arg-type]
        .where(Ballot.poll_id == poll_id, col(Ballot.id) > after_id)
        .order_by(col(Ballot.id))
    )
    rows = session.exec(query.limit(limit) if limit is not None else query).all()
    return [
        {
            "ballot_id": b.id,
            "username": name,
            "weight": b.weight,
            "created_at": b.created_at,
            "updated_at": b.updated_at,
            **ballot_fields(b, poll.method),
        }
        for b, name in rows
    ]


def ballots_csv(ballots: list[dict[str, Any]], texts: dict[int, str]) -> str:
    """Exported ballots as CSV: one row per ballot, choices named by option text."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["ballot_id", "username", "weight", "choice", "created_at", "updated_at"])
    for b in ballots:
        if "scores" in b:
            choice = "; ".join(f"{texts.get(int(k), k)}={v}" for k, v in b["scores"].items())
        elif "ranking" in b:
            choice = " > ".join(texts.get(i, str(i)) for i in b["ranking"])
        elif "option_ids" in b:
            choice = "; ".join(texts.get(i, str(i)) for i in b["option_ids"])
        else:
            choice = texts.get(b.get("option_id") or 0, "")
        writer.writerow([
            b["ballot_id"], _csv_safe(b["username"]), format_number(b["weight"]), _csv_safe(choice),
            b["created_at"].isoformat(), b["updated_at"].isoformat(),
        ])
    return buffer.getvalue()
