"""Ballot counts per option, kept in step with the ballots (``models.BallotCount``).

Every change to a ballot that has an ``option_id`` (a single choice, or a ranking's first
preference) adjusts the counts **in the same transaction** as the ballot itself, so the counts
are exactly the ballots whenever a transaction commits, with or without Redis. Single-choice
results then read a few dozen count rows instead of every ballot (a GROUP BY over 1,000,000
ballots takes ~170 ms on PostgreSQL here; the counts take ~1 ms).

:func:`reconcile` recounts a poll from the ballots table and repairs the counts if they differ
(they should not: a difference means something wrote ballots around the services, and it is
logged and counted in ``commons_count_repairs_total``). It runs when a poll closes and, for open
polls, on a schedule (the ``counts_reconcile`` periodic job of ``commons_app.jobs``, once per period).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col

from commons_app import metrics
from commons_app.models import Ballot, BallotCount, Poll, utcnow

logger = logging.getLogger(__name__)

SHARDS = 16
"""Rows per (poll, option, weight): concurrent ballots spread over them (by ballot id, which is
random in anonymous polls: nothing derived from the voter)."""

_COUNTS = BallotCount.__table__  # type: ignore[attr-defined]


def _build_upsert(dialect: str) -> Any:
    if dialect == "postgresql":
        stmt = pg_insert(_COUNTS)
    elif dialect == "sqlite":
        stmt = sqlite_insert(_COUNTS)
    else:  # pragma: no cover - the app runs on SQLite and PostgreSQL only
        raise RuntimeError(f"ballot counts do not support {dialect}")
    return stmt.on_conflict_do_update(
        index_elements=["poll_id", "option_id", "weight", "shard"],
        set_={"ballots": _COUNTS.c.ballots + stmt.excluded.ballots},
    )


# Built once per dialect: SQLAlchemy then reuses the compiled SQL (it cannot cache a statement
# rebuilt with literal rows on every call, and compiling costs more than the round trip).
_UPSERTS = {name: _build_upsert(name) for name in ("postgresql", "sqlite")}


def _upsert(session: Session, rows: list[dict[str, Any]]) -> None:
    session.execute(_UPSERTS[session.get_bind().dialect.name], rows)


def adjust(
    *,
    session: Session,
    poll_id: str,
    ballot_id: int,
    remove: tuple[int | None, float] | None = None,
    add: tuple[int | None, float] | None = None,
) -> None:
    """Take a ballot's old ``(option_id, weight)`` out of the counts and put its new one in.

    Call inside the transaction that changes the ballot, before its commit. Ballots without an
    option id (approval and scored ballots) are not counted.
    """
    rows: dict[tuple[int, float], int] = {}
    for entry, delta in ((remove, -1), (add, 1)):
        if entry is not None and entry[0] is not None:
            key = (int(entry[0]), float(entry[1]))
            rows[key] = rows.get(key, 0) + delta
    changes = [
        {"poll_id": poll_id, "option_id": option_id, "weight": weight, "shard": ballot_id % SHARDS, "ballots": delta}
        for (option_id, weight), delta in sorted(rows.items())
        if delta
    ]
    if changes:
        _upsert(session, changes)
    emptied = [c for c in changes if c["ballots"] < 0]
    if emptied:  # a row back at zero goes, so a cast-and-retract leaves the table as it was
        session.execute(
            delete(_COUNTS).where(
                _COUNTS.c.poll_id == poll_id,
                _COUNTS.c.shard == ballot_id % SHARDS,
                or_(*(and_(_COUNTS.c.option_id == c["option_id"], _COUNTS.c.weight == c["weight"]) for c in emptied)),
                _COUNTS.c.ballots == 0,
            )
        )


def option_counts(*, session: Session, poll_id: str) -> list[tuple[int, float, int]]:
    """``(option_id, weight, ballots)`` of a poll, from the counts."""
    rows = session.execute(
        select(_COUNTS.c.option_id, _COUNTS.c.weight, func.sum(_COUNTS.c.ballots))
        .where(_COUNTS.c.poll_id == poll_id)
        .group_by(_COUNTS.c.option_id, _COUNTS.c.weight)
    ).all()
    return [(int(o), float(w), int(n)) for o, w, n in rows if n]


def counted_from_ballots(*, session: Session, poll_id: str) -> list[tuple[int, float, int]]:
    """``(option_id, weight, ballots)`` of a poll, counted from the ballots table."""
    rows = session.execute(
        select(Ballot.option_id, Ballot.weight, func.count())
        .where(col(Ballot.poll_id) == poll_id, col(Ballot.option_id).is_not(None))
        .group_by(Ballot.option_id, Ballot.weight)
    ).all()
    return [(int(o), float(w), int(n)) for o, w, n in rows]


def lock_poll(*, session: Session, poll_id: str) -> None:
    """Hold the poll's row until the transaction ends.

    On PostgreSQL every ballot insert takes a key-share lock on its poll (the foreign key), which
    this lock excludes: ballots of the poll wait while the counts are rebuilt. SQLite lets one
    writer in at a time, so its transactions are already serial.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT id FROM polls WHERE id = :p FOR UPDATE"), {"p": poll_id})


def rebuild(*, session: Session, poll_id: str) -> None:
    """Recount the poll's counts from its ballots (in the caller's transaction; no commit)."""
    lock_poll(session=session, poll_id=poll_id)
    session.execute(delete(_COUNTS).where(_COUNTS.c.poll_id == poll_id))
    shard = col(Ballot.id) % SHARDS
    session.execute(
        _COUNTS.insert().from_select(
            ["poll_id", "option_id", "weight", "shard", "ballots"],
            select(Ballot.poll_id, Ballot.option_id, Ballot.weight, shard, func.count())
            .where(col(Ballot.poll_id) == poll_id, col(Ballot.option_id).is_not(None))
            .group_by(Ballot.poll_id, Ballot.option_id, Ballot.weight, shard),
        )
    )


def _as_map(rows: Iterable[tuple[int, float, int]]) -> dict[tuple[int, float], int]:
    return {(o, w): n for o, w, n in rows if n}


def reconcile(*, session: Session, poll_id: str) -> int:
    """Compare a poll's counts with its ballots and repair them; commits.

    Returns:
        How many (option, weight) figures differed (0 when the counts were right).
    """
    lock_poll(session=session, poll_id=poll_id)
    expected = _as_map(counted_from_ballots(session=session, poll_id=poll_id))
    kept = _as_map(option_counts(session=session, poll_id=poll_id))
    differing = sum(1 for key in expected.keys() | kept.keys() if expected.get(key, 0) != kept.get(key, 0))
    if differing:
        logger.warning("ballot counts of poll %s differed from its ballots in %s figures; rebuilt", poll_id, differing)
        metrics.COUNT_REPAIRS.inc()
        rebuild(session=session, poll_id=poll_id)
    session.commit()
    return differing


def open_poll_ids(*, session: Session) -> list[str]:
    """Polls that can still receive ballots (not closed by hand or by their closing time)."""
    now = utcnow()
    rows = session.execute(
        select(Poll.id).where(
            col(Poll.closed_at).is_(None),
            or_(col(Poll.closes_at).is_(None), col(Poll.closes_at) > now),
        )
    ).all()
    return [str(r[0]) for r in rows]


def reconcile_polls(*, session: Session, poll_ids: Iterable[str]) -> dict[str, int]:
    """:func:`reconcile` each poll; returns the polls whose counts had to be repaired."""
    repaired = {}
    for poll_id in poll_ids:
        differing = reconcile(session=session, poll_id=poll_id)
        if differing:
            repaired[poll_id] = differing
    return repaired
