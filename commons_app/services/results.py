"""Results: who may see them, and the tally of a poll in the contract's shape.

One tally function per method lives in ``services.tally``; the API, the results page, the live
updates and the exports all come through :func:`poll_results` / :func:`compute_results`, which
decide which figures a poll shows:

* a closed poll: its seal (:func:`seal_poll`), the final tally and ballot record fixed once when
  it closed, by hand or on time; nothing changes them afterwards;
* an open anonymous poll: its latest snapshot, retaken only once at least its anonymity threshold
  of ballots have been cast, changed or retracted since the previous one
  (:func:`note_anonymous_change`), so no single ballot moves what anyone sees;
* any other open poll: the live tally.
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import case, delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from commons_app import methods
from commons_app.i18n import N_
from commons_app.models import (
    GUEST_ROLE,
    Ballot,
    Poll,
    PollOption,
    PollParticipant,
    PollSeal,
    PollVoter,
    ResultSnapshot,
    User,
    utcnow,
)
from commons_app.services import counts, decisions, record
from commons_app.services.errors import Conflict, Forbidden, InvalidInput
from commons_app.services.polls import (
    get_managed_poll,
    get_visible_poll,
    options_of,
    poll_status,
    results_refusal,
)
from commons_app.services.tally import TallyBallot, TallyResult, tally_single_counts
from commons_app.services.tally.notes import render_note

__all__ = [
    "OptionResult", "PollResults", "ballot_fields", "compute_results", "ensure_sealed", "note_anonymous_change",
    "poll_record", "poll_results", "results_refusal", "seal_closed", "seal_poll",
]

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

    poll_id: str
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
    record_sha256: str | None = None
    # The poll's decision rules applied (services.decisions): None where the poll has no such rule.
    quorum_met: bool | None = None
    passed: bool | None = None
    decision: dict[str, Any] = field(default_factory=dict)
    # The method's poll settings the tally was given (STV: seats, stv_rule), for a recount.
    settings: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PollResults:
        """The inverse of :meth:`as_dict` (a seal's or snapshot's stored form)."""
        fields = dict(data)
        fields["options"] = [OptionResult(**row) for row in data["options"]]
        return cls(**fields)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form; ``score``, ``mean`` and ``points`` appear only where the method has them."""
        data = asdict(self)
        for row in data["options"]:
            for key in ("score", "mean", "points"):
                if row[key] is None:
                    del row[key]
        return data


def compute_results(
    *, session: Session, poll: Poll, options: list[PollOption] | None = None, use_counts: bool = True
) -> PollResults:
    """The results a poll shows now (no permission check: callers check first): its seal once
    closed, its snapshot while an anonymous poll is open, else the live tally
    (:func:`live_results`)."""
    status = poll_status(poll)
    if status == "closed":
        sealed = PollResults.from_dict(ensure_sealed(session=session, poll=poll).result)  # type: ignore[union-attr]
        sealed.poll_id = poll.id  # seals made before ids became strings (migration 0004) name the old id
        return sealed
    if poll.anonymous:
        snapshot = session.get(ResultSnapshot, poll.id)
        if snapshot is not None and snapshot.result is not None:
            shown = PollResults.from_dict(snapshot.result)
            shown.status = status
            shown.poll_id = poll.id
            return shown
        options = options if options is not None else options_of(session=session, poll_id=poll.id)  # type: ignore[arg-type]
        outcome = methods.get(poll.method).tally([o.id for o in options], [], poll)  # type: ignore[misc]
        return _poll_results(session, poll, options, outcome, support=())
    return live_results(session=session, poll=poll, options=options, use_counts=use_counts)


def live_results(
    *, session: Session, poll: Poll, options: list[PollOption] | None = None, use_counts: bool = True
) -> PollResults:
    """Tally a poll's ballots as they stand (in the caller's transaction).

    Polls whose method's tally the running counts give (single choice: ``Method.counts_table``)
    are tallied from ``services.counts`` (kept in step with the ballots in the same transactions)
    unless ``use_counts`` is False; every other method reads the ballots.
    """
    options = options if options is not None else options_of(session=session, poll_id=poll.id)  # type: ignore[arg-type]
    method = methods.get(poll.method)
    if method.counts_table and use_counts:
        kept = counts.option_counts(session=session, poll_id=poll.id)  # type: ignore[arg-type]
        if all(n >= 0 for _o, _w, n in kept):
            outcome = tally_single_counts([o.id for o in options], kept)  # type: ignore[misc]
            return _poll_results(session, poll, options, outcome, support=[(w, (o,), n) for o, w, n in kept])
        # Impossible while every write goes through the services; count the ballots instead and
        # let the next reconciliation repair the counts.
        logger.error("negative ballot counts in poll %s; counting its ballots instead", poll.id)
    rows = session.exec(select(Ballot.choices, Ballot.scores, Ballot.weight).where(Ballot.poll_id == poll.id)).all()
    outcome = method.tally([o.id for o in options], _tally_ballots(rows), poll, seed=provisional_seed(poll))  # type: ignore[misc]
    return _poll_results(session, poll, options, outcome, support=[(w, c or (), 1) for c, _s, w in rows])


def _decision(session: Session, poll: Poll, outcome: TallyResult, support: Any) -> decisions.Decision:
    """The poll's decision rules applied to a tally (``support``: see ``decisions.decide``)."""
    roll = None
    if poll.quorum_share is not None:
        roll = int(session.execute(
            select(func.count()).select_from(PollVoter).where(col(PollVoter.poll_id) == poll.id)
        ).scalar_one())
    return decisions.decide(
        quorum_ballots=poll.quorum_ballots, quorum_share=poll.quorum_share, pass_rule=poll.pass_rule,
        ballots=outcome.total_ballots, roll=roll, winners=list(outcome.winners), support=support,
    )


def _poll_results(
    session: Session, poll: Poll, options: list[PollOption], outcome: TallyResult, *, support: Any
) -> PollResults:
    by_id = {o.option_id: o for o in outcome.options}
    decision = _decision(session, poll, outcome, support)
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
        notes=[render_note(note, {o.id: o.text for o in options}) for note in outcome.notes],  # type: ignore[misc]
        quorum_met=decision.quorum_met,
        passed=decision.passed,
        decision=decision.figures,
        settings=methods.get(poll.method).settings_of(poll),
    )


def provisional_seed(poll: Poll) -> str:
    """The seed of any lot while a poll is open (``services.tally.ties``); at close the sealed
    record's SHA-256 replaces it, so the lot that counts is fixed only when nobody can vote any
    more, and anyone can redo it from the published ``record_sha256``."""
    return f"provisional:{poll.id}"


_EVENT_COLUMNS = {"cast": "casts", "change": "changes", "retract": "retractions"}


def note_anonymous_change(*, session: Session, poll_id: str, threshold: int, event: str) -> None:
    """Count a ballot's ``event`` (cast, change or retract) in an open anonymous poll, inside its
    transaction and after its own statements, and retake the shown snapshot when that can single
    nobody out.

    Casts and retractions are seen by whoever watches the roll (a voter's mark comes or goes);
    changes are not (nothing tells who changed). So a snapshot is retaken only when

    * at least ``threshold`` more people have voted than when the last one was taken (so every
      identifiable cast or retraction is mixed with that many new ballots whose authors' choices
      nobody knows; a voter casting and retracting over and over adds no one), or
    * nobody has cast or retracted since, and at least ``threshold`` ballots have been changed
      (changes whose authors are unknown to everyone).

    Counting events alone would not do: one voter changing a ballot back and forth would force a
    snapshot right after a single other voter's ballot and expose it.

    The snapshot row is taken for writing first, so concurrent ballots of the poll count one after
    the other; the snapshot then sees every ballot committed before it and this one.
    """
    column = _EVENT_COLUMNS[event]
    table = ResultSnapshot.__table__  # type: ignore[attr-defined]
    joined = {"cast": 1, "retract": -1}.get(event, 0)
    bump = (
        table.update()
        .where(table.c.poll_id == poll_id)
        .values({column: table.c[column] + 1, "voters": table.c.voters + joined})
        .returning(table.c.baseline, table.c.casts, table.c.changes, table.c.retractions, table.c.voters)
    )
    row = session.execute(bump).one_or_none()
    if row is None:  # a poll made anonymous before snapshots existed: count its voters once
        voters = session.execute(
            select(func.count()).select_from(PollParticipant).where(col(PollParticipant.poll_id) == poll_id)
        ).scalar_one()
        try:
            with session.begin_nested():
                session.execute(table.insert().values(poll_id=poll_id, voters=int(voters) - joined))
        except IntegrityError:  # a concurrent ballot made it first
            pass
        row = session.execute(bump).one()
    baseline, casts, changes, retractions, voters = row
    grown = voters - baseline >= threshold
    only_changes = casts == 0 and retractions == 0 and changes >= threshold
    if not (grown or only_changes):
        return
    poll = session.get(Poll, poll_id)
    shown = live_results(session=session, poll=poll, use_counts=True).as_dict()  # type: ignore[arg-type]
    session.execute(
        table.update()
        .where(table.c.poll_id == poll_id)
        .values(result=shown, baseline=voters, casts=0, changes=0, retractions=0)
    )


def _tally_ballots(rows: Any) -> list[TallyBallot]:
    """Tally ballots from ``(choices, scores, weight)`` rows."""
    return [
        TallyBallot(
            weight=float(weight),
            choices=tuple(choices or ()),
            scores={int(k): int(v) for k, v in (scores or {}).items()},
        )
        for choices, scores, weight in rows
    ]


def seal_poll(*, session: Session, poll: Poll) -> PollSeal:
    """Fix a closed poll's final result and ballot record, once; commits.

    Holds the poll's row (on PostgreSQL) so that no ballot commits while its ballots are read: a
    ballot's first read takes a key-share lock on the same row (``votes._poll_for_voting``). The
    record is one canonical line per ballot, sorted by receipt (``services.record``); the result
    is tallied from the same ballots, and both are kept, with the record's SHA-256, in
    ``PollSeal``. An anonymous poll's snapshot goes: from now on the full result shows.
    """
    counts.lock_poll(session=session, poll_id=poll.id)  # type: ignore[arg-type]
    existing = session.get(PollSeal, poll.id, populate_existing=True)
    if existing is not None:
        session.commit()
        return existing
    options = options_of(session=session, poll_id=poll.id)  # type: ignore[arg-type]
    rows = session.execute(
        select(Ballot.receipt, Ballot.weight, Ballot.option_id, Ballot.choices, Ballot.scores).where(
            col(Ballot.poll_id) == poll.id
        )
    ).all()
    data = record.record_bytes(
        poll.method,
        (
            record.RecordBallot(
                receipt=receipt, weight=float(weight), option_id=option_id, choices=tuple(choices or ()),
                scores={int(k): int(v) for k, v in (scores or {}).items()},
            )
            for receipt, weight, option_id, choices, scores in rows
        ),
    )
    digest = record.record_digest(data)
    # Any lot is drawn with the record's SHA-256 as its seed: fixed at close, published with it.
    outcome = methods.get(poll.method).tally(
        [o.id for o in options], _tally_ballots([(c, sc, w) for _r, w, _o, c, sc in rows]), poll, seed=digest  # type: ignore[misc]
    )
    final = _poll_results(session, poll, options, outcome, support=[(w, c or (), 1) for _r, w, _o, c, _sc in rows])
    final.status = "closed"
    final.record_sha256 = digest
    seal = PollSeal(
        poll_id=poll.id, sealed_at=utcnow(), result=final.as_dict(), record=data.decode("utf-8"),  # type: ignore[arg-type]
        record_sha256=digest, ballots=len(rows),
    )
    session.add(seal)
    session.execute(delete(ResultSnapshot).where(col(ResultSnapshot.poll_id) == poll.id))
    if poll.anonymous:
        _rewrite_in_neutral_order(session=session, poll_id=poll.id)  # type: ignore[arg-type]
    try:
        session.commit()
    except IntegrityError:  # another worker sealed it first (SQLite has no row lock to wait on)
        session.rollback()
        return session.get(PollSeal, poll.id)  # type: ignore[return-value]
    return seal


def _rewrite_in_neutral_order(*, session: Session, poll_id: str) -> None:
    """Write an anonymous poll's ballots again in receipt order and its participants in user-id
    order. PostgreSQL returns rows of an unordered read in the order they were written, so two
    tables filled one row per voter at a time would line up, row for row, in a dump; rewritten,
    neither order says anything about when anyone voted. (While a poll is open this remains a
    residual risk: docs/SECURITY.md.)"""
    ballots = session.execute(
        select(Ballot.__table__).where(Ballot.__table__.c.poll_id == poll_id).order_by(Ballot.__table__.c.receipt)  # type: ignore[attr-defined]
    ).mappings().all()
    people = session.execute(
        select(PollParticipant.__table__)  # type: ignore[attr-defined]
        .where(PollParticipant.__table__.c.poll_id == poll_id)  # type: ignore[attr-defined]
        .order_by(PollParticipant.__table__.c.user_id)  # type: ignore[attr-defined]
    ).mappings().all()
    session.execute(delete(Ballot).where(col(Ballot.poll_id) == poll_id))
    session.execute(delete(PollParticipant).where(col(PollParticipant.poll_id) == poll_id))
    if ballots:
        session.execute(Ballot.__table__.insert(), [dict(b) for b in ballots])  # type: ignore[attr-defined]
    if people:
        session.execute(PollParticipant.__table__.insert(), [dict(p) for p in people])  # type: ignore[attr-defined]


def ensure_sealed(*, session: Session, poll: Poll) -> PollSeal | None:
    """The poll's seal, made now if it has closed (on time) and nobody sealed it yet; None while open."""
    if poll_status(poll) != "closed":
        return None
    seal = session.get(PollSeal, poll.id)
    return seal if seal is not None else seal_poll(session=session, poll=poll)


def seal_closed(*, session: Session, poll_ids: list[str]) -> None:
    """Seal those of the polls that have closed (on time) and are not sealed yet."""
    for poll_id in poll_ids:
        poll = session.get(Poll, poll_id)
        if poll is not None:
            ensure_sealed(session=session, poll=poll)


def poll_record(*, session: Session, user: User, poll_id: str, form: str = "jsonl") -> tuple[str, str]:
    """A closed poll's published ballot record, for everyone who may see its results: the JSONL
    record (``form="jsonl"``) or, for ranked methods, the same ballots in BLT; and its SHA-256
    (that of the JSONL record, which the results carry).

    Raises:
        NotFound, Forbidden: As for the results.
        Conflict: The poll is still open (its record is published when it closes).
        InvalidInput: BLT asked of a poll whose method is not ranked.
    """
    poll = get_visible_poll(session=session, poll_id=poll_id, user=user)
    refusal = results_refusal(session=session, poll=poll, user=user)
    if refusal:
        raise Forbidden(refusal)
    seal = ensure_sealed(session=session, poll=poll)
    if seal is None:
        raise Conflict(N_("The ballot record is published when the poll closes."))
    if form == "jsonl":
        return seal.record, seal.record_sha256
    if not methods.get(poll.method).ranked_record:
        raise InvalidInput(N_("BLT records exist for ranked polls only."))
    options = options_of(session=session, poll_id=poll_id)
    _field, ballots = record.parse_record(seal.record.encode("utf-8"))
    blt = record.record_blt(
        title=poll.title, option_ids=[o.id for o in options], option_texts=[o.text for o in options],  # type: ignore[misc]
        method=poll.method, ballots=ballots, seats=poll.seats or 1,
    )
    return blt, seal.record_sha256


def poll_results(*, session: Session, user: User, poll_id: str) -> PollResults:
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
    # The decision rules' outcome, on every row, when the poll has such rules.
    rules = [(name, value) for name, value in (("quorum_met", results.quorum_met), ("passed", results.passed)) if value is not None]
    header += [name for name, _value in rules]
    writer.writerow(header)
    for o in results.options:
        row: list[Any] = [o.option_id, _csv_safe(o.text), o.votes, format_number(o.weight)]
        if has_score:
            row += [format_number(o.score or 0), format_number(o.mean or 0)]
        if has_points:
            row += [format_number(o.points or 0)]
        row.append("yes" if o.option_id in results.winners else "")
        row += ["yes" if value else "no" for _name, value in rules]
        writer.writerow(row)
    return buffer.getvalue()


def _csv_safe(text: str) -> str:
    """Keep spreadsheet programs from reading option texts as formulas (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def export_ballots(
    *, session: Session, user: User, poll_id: str, after_id: int = 0, limit: int | None = None
) -> list[dict[str, Any]]:
    """The ballots of a non-anonymous poll with their voters, for the owner or an admin, in id
    order: all of them, or (``limit``) a page of those whose id is above ``after_id``.

    Raises:
        NotFound, Forbidden: Not visible / not a manager.
        Forbidden: The poll is anonymous: nobody may learn how a given user voted.
    """
    poll = get_managed_poll(session=session, poll_id=poll_id, user=user)
    if poll.anonymous:
        raise Forbidden(N_("Ballots of an anonymous poll cannot be exported (its record is published when it closes)."))
    # A voter without an account shows as their invitation's address (a link poll's guest: its handle).
    voter = case((col(User.role) == GUEST_ROLE, func.coalesce(func.nullif(User.email, ""), User.username)), else_=User.username)
    query = (
        select(Ballot, voter)
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


def ballot_fields(row: Ballot, method: str) -> dict[str, Any]:
    """The method's choice field of a stored ballot, in the API's form."""
    return methods.get(method).ballot.api_form(row.option_id, row.choices, row.scores)


def ballots_csv(ballots: list[dict[str, Any]], texts: dict[int, str]) -> str:
    """Exported ballots as CSV: one row per ballot, choices named by option text."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["ballot_id", "username", "weight", "choice", "created_at", "updated_at"])
    for b in ballots:
        kind = next(kind for name, kind in methods.KINDS.items() if name in b)
        choice = kind.describe(b[kind.field], texts)
        writer.writerow([
            b["ballot_id"], _csv_safe(b["username"]), format_number(b["weight"]), _csv_safe(choice),
            b["created_at"].isoformat(), b["updated_at"].isoformat(),
        ])
    return buffer.getvalue()
