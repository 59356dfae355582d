"""The ballot's hot path on PostgreSQL (REST, and the vote page's submit): psycopg's async API on
the event loop, no ORM objects, no thread hand-off, two statements.

1. One read: the caller's session and user, the poll, the caller's roll entry and the poll's
   options, in one join (``votes.record_ballot`` after ``auth.identify`` takes two reads).
2. One write, autocommitted: the ballot and its count in one statement, which is its own
   transaction, so the ballot is acknowledged only once committed. Ballots that reach their write
   while another is at the database go together in one such statement (``_Group``: group
   commit, one round trip and one commit for all of them).

The rules are the services' own, decided once for every path: ``auth.check_token_session``,
``votes.voting_weight``, ``votes.validate_ballot``, ``votes.ballot_values``, the rate limits.
Only the SQL is this path's. What it does not take it hands back (``None``) to
``votes.record_ballot``: anonymous polls (the participant, the result snapshot).

The vote page's submit takes the same path (``cast_browser_ballot``): its caller is a browser
session named by its id (the websocket's verified connection), checked by
``auth.check_browser_session`` (the rules ``auth.identify_browser_session`` applies) in the same
one read, which also brings what the page shows of the poll (all its columns, the options' texts
in display order), so that the page needs no second read. The session's ``last_used_at`` is
written when the rule says it is due (one more statement, at most once a minute); an idle session
(which must be revoked, a write every worker hears of), like an anonymous poll, is handed back to
the service call.

Closing races: a poll may close between the read and the write. The write takes the key-share
lock on the poll's row that every ballot's foreign key takes, and inserts only while the poll is
still open (``closed_at`` unset, ``closes_at`` not passed by the clock once the row is locked). Sealing a poll holds its row for update while it reads the ballots
(``results.seal_poll``): a ballot either commits before the seal reads, or waits for the seal and
then finds the poll closed: it inserts nothing and is refused. ``votes.record_ballot`` gets the
same guarantee by reading the poll with that lock at the start of its transaction.
"""

from __future__ import annotations

import asyncio
import json
import weakref
from dataclasses import dataclass
from typing import Any

from psycopg import errors as pg_errors

from commons_app import metrics
from commons_app.config import Settings, get_settings
from commons_app.db import AsyncPool
from commons_app.i18n import N_
from commons_app.models import Poll, utcnow
from commons_app.services import auth, counts, notify, ratelimit
from commons_app.services.errors import Conflict, Forbidden, NotAuthenticated, NotFound
from commons_app.services.votes import (
    BallotInput,
    CastBallot,
    CleanBallot,
    VotingPoll,
    ballot_values,
    validate_ballot,
    voting_poll,
    voting_weight,
)

# The caller's session and user (columns 0-5), then exactly the columns of votes._POLL_FOR_VOTING
# (from 6: poll, roll weight, option id), one row per option; no row: no such session.
_READ = """
SELECT u.id, u.role, u.is_active, u.guest_poll_id, s.revoked_at, s.expires_at,
       p.id, p.method, p.max_choices, p.visibility, p.created_by, p.opens_at, p.closes_at,
       p.closed_at, p.anonymous, p.anonymity_threshold, p.access, v.weight, o.id
FROM auth_sessions AS s
JOIN users AS u ON u.id = s.user_id
LEFT JOIN polls AS p ON p.id = %(poll_id)s
LEFT JOIN poll_voters AS v ON v.poll_id = p.id AND v.user_id = u.id
LEFT JOIN poll_options AS o ON o.poll_id = p.id
WHERE s.id = %(session_id)s
"""
_POLL_COLUMNS = 6

# Whether a locked poll is still open. Decided above the lock, so after any wait for it: the row
# as the sealer left it, the clock as it is then (a condition inside the locking SELECT is not
# evaluated again after a wait for a lock holder that did not change the row, as sealing on time
# does not).
_OPEN = "closed_at IS NULL AND (closes_at IS NULL OR closes_at > clock_timestamp())"

# One ballot (a group of one: every ballot when they come one at a time), and its count as
# counts.adjust keeps it (same shard rule), in one transaction; no row back: the poll closed since
# it was read. A second ballot of the voter fails on the unique key.
_WRITE_ONE = f"""
WITH locked AS (
    SELECT id, closed_at, closes_at FROM polls WHERE id = %(poll_id)s FOR KEY SHARE
), open_poll AS (
    SELECT id FROM locked WHERE {_OPEN}
), ballot AS (
    INSERT INTO ballots (poll_id, user_id, option_id, choices, scores, weight, receipt, created_at, updated_at)
    SELECT id, %(user_id)s, %(option_id)s, %(choices)s::json, %(scores)s::json, %(weight)s, %(receipt)s,
           %(created_at)s, %(updated_at)s
    FROM open_poll
    RETURNING id, option_id, weight
), counted AS (
    INSERT INTO ballot_counts (poll_id, option_id, weight, shard, ballots)
    SELECT %(poll_id)s, option_id, weight, id %% {counts.SHARDS}, 1 FROM ballot WHERE option_id IS NOT NULL
    ON CONFLICT (poll_id, option_id, weight, shard) DO UPDATE SET ballots = ballot_counts.ballots + excluded.ballots
)
SELECT id FROM ballot
"""

# Ballots cast together on one worker (a group of many, see ``_Group``), the same way, in one
# statement and so one transaction, from one array per column; a row back per ballot, in the order
# given: its id (NULL: not stored), and whether its poll was open. Not stored in an open poll: the
# voter already has a ballot there (``ON CONFLICT``, which also waits for a concurrent ballot of
# the same voter to commit or roll back, and keeps a second ballot in the same group from failing
# the others).
_COLUMNS = ("poll_id", "text"), ("user_id", "integer"), ("option_id", "integer"), ("choices", "json"), \
    ("scores", "json"), ("weight", "float8"), ("receipt", "text"), ("created_at", "timestamptz")
_WRITE_MANY = f"""
WITH given AS (
    SELECT * FROM unnest({", ".join(f"%({name})s::{kind}[]" for name, kind in _COLUMNS)})
        WITH ORDINALITY AS g({", ".join(name for name, _ in _COLUMNS)}, ord)
), locked AS (
    -- In one order (by id), so that two groups never wait for each other's polls.
    SELECT id, closed_at, closes_at FROM polls WHERE id IN (SELECT poll_id FROM given) ORDER BY id FOR KEY SHARE
), open_poll AS (
    SELECT id FROM locked WHERE {_OPEN}
), ballot AS (
    INSERT INTO ballots (poll_id, user_id, option_id, choices, scores, weight, receipt, created_at, updated_at)
    SELECT g.poll_id, g.user_id, g.option_id, g.choices, g.scores, g.weight, g.receipt, g.created_at, g.created_at
    FROM given AS g JOIN open_poll AS o ON o.id = g.poll_id
    ORDER BY g.ord
    ON CONFLICT (poll_id, user_id) DO NOTHING
    RETURNING id, poll_id, option_id, weight, receipt
), counted AS (
    INSERT INTO ballot_counts (poll_id, option_id, weight, shard, ballots)
    SELECT poll_id, option_id, weight, id %% {counts.SHARDS}, count(*) FROM ballot WHERE option_id IS NOT NULL
    GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4  -- one row each, locked in one order
    ON CONFLICT (poll_id, option_id, weight, shard) DO UPDATE SET ballots = ballot_counts.ballots + excluded.ballots
)
SELECT b.id, o.id IS NOT NULL
FROM given AS g LEFT JOIN ballot AS b ON b.receipt = g.receipt LEFT JOIN open_poll AS o ON o.id = g.poll_id
ORDER BY g.ord
"""
_GROUP_MAX = 128  # ballots in one statement at most


@dataclass(frozen=True)
class Caller:
    """What the rules need of the user behind the token (``polls.visible_to``, ``is_manager``)."""

    id: int
    role: str
    is_active: bool
    guest_poll_id: str | None


@dataclass(frozen=True, slots=True)
class NewBallot:
    """The stored ballot's columns, as ``api.routes.votes.vote_out`` reads them (a plain record:
    building the ORM entity cost a tenth of this path)."""

    id: int
    poll_id: str
    user_id: int
    option_id: int | None
    choices: list[int]
    scores: dict[str, int]
    weight: float
    receipt: str
    created_at: Any
    updated_at: Any


async def _limit(name: str, key: str) -> None:
    # The limiter's storage may be Redis (a blocking client): counted in a worker thread.
    if ratelimit.enabled():
        await asyncio.to_thread(ratelimit.hit, name, key)


async def cast_ballot(
    *, pool: AsyncPool, token: str, poll_id: str, ballot: BallotInput, settings: Settings | None = None
) -> CastBallot | None:
    """Cast the token's user's ballot in a named poll, as ``votes.record_ballot`` does, with the
    async pool's connections (the read on one, the write with its group); ``None`` for a ballot
    this path does not take (the caller then uses ``votes.record_ballot``, which decides
    everything again).

    Raises:
        NotAuthenticated: As ``auth.identify``.
        NotFound, Forbidden, InvalidInput, Conflict, RateLimited: As ``votes.record_ballot``.
    """
    claims = auth.decode_access_token(token, settings or get_settings())
    async with pool.connection() as conn:
        cursor = await conn.execute(_READ, {"poll_id": poll_id, "session_id": str(claims["sid"])})
        rows = await cursor.fetchall()
    if not rows:
        raise NotAuthenticated(N_("Session has ended; log in again."))
    first = rows[0]
    caller = Caller(id=first[0], role=first[1], is_active=bool(first[2]), guest_poll_id=first[3])
    auth.check_token_session(claims, caller, revoked_at=first[4], expires_at=first[5])
    if first[_POLL_COLUMNS] is None:
        await _limit("ballot", ratelimit.private_key(caller.id))
        raise NotFound(N_("Poll not found."))
    poll = voting_poll(rows, _POLL_COLUMNS)
    if poll.anonymous:
        return None  # before the rate limit: the route counts this ballot
    await _limit("ballot", ratelimit.private_key(caller.id))
    weight = voting_weight(poll, caller)  # type: ignore[arg-type]
    clean = validate_ballot(poll=poll, options=list(poll.options), ballot=ballot)  # type: ignore[arg-type]
    return CastBallot(ballot=await _write(pool, poll, caller, clean, weight), method=poll.method)


async def _write(pool: AsyncPool, poll: VotingPoll, caller: Caller, clean: CleanBallot, weight: float) -> NewBallot:
    """The ballot's write, shared by the REST and websocket paths: committed with the other
    ballots of this worker that are waiting for theirs (``_Group``), acknowledged once committed.

    Raises:
        Conflict: The caller has already voted (or an option was removed meanwhile).
        Forbidden: The poll closed since it was read.
    """
    values = ballot_values(poll=poll, user=caller, clean=clean, weight=weight)  # type: ignore[arg-type]
    group = _GROUPS.get(pool)
    if group is None:
        group = _GROUPS[pool] = _Group(pool)
    ballot_id = await group.write(values)
    return NewBallot(id=ballot_id, **values)


class _Group:
    """Group commit: the ballots that reach their write while another group's statement is at
    the database wait, then go together in one statement (``_WRITE_MANY``): one round trip and one
    commit for all of them instead of one each, and each ballot is answered only after that
    commit. A ballot arriving when none is in flight goes at once, alone.

    Each ballot keeps its own outcome: stored, already voted (``ON CONFLICT DO NOTHING``), poll
    closed. A statement that fails as a whole (an option removed meanwhile, a deadlock with
    another worker's group on the same voter) is tried again one ballot at a time, so that only
    the ballot at fault is refused. A voter whose ballot waits in a group and who gives up (a
    closed connection cancels the request) does not take the ballot out: it is written, like a
    statement already sent, and announced (the live push) as every stored ballot is.
    """

    def __init__(self, pool: AsyncPool) -> None:
        self.pool = pool
        self.waiting: list[tuple[dict[str, Any], asyncio.Future[int]]] = []
        self.busy = False  # a statement of this group's is at the database
        self.drainer: asyncio.Task[None] | None = None  # kept: the loop holds tasks only weakly

    async def write(self, values: dict[str, Any]) -> int:
        future: asyncio.Future[int] = self.pool.loop.create_future()
        if self.busy:
            self.waiting.append((values, future))
            return await future
        self.busy = True  # nothing at the database: this ballot goes now, in this task
        try:
            await self._commit([(values, future)])
        finally:
            self._next()
        return future.result()

    def _next(self) -> None:
        """After a statement: the ballots that came meanwhile go next, in a task of their own
        (not in a request's, which its client may cancel)."""
        self.busy = bool(self.waiting)
        if self.waiting:
            self.drainer = self.pool.loop.create_task(self._drain())

    async def _drain(self) -> None:
        try:
            group, self.waiting = self.waiting[:_GROUP_MAX], self.waiting[_GROUP_MAX:]
            await self._commit(group)
        except BaseException:  # cancelled (the worker stops): so are the ballots still waiting
            waiting, self.waiting = self.waiting, []
            for _, future in waiting:
                future.cancel()
            raise
        finally:
            self._next()

    async def _commit(self, group: list[tuple[dict[str, Any], asyncio.Future[int]]]) -> None:
        try:
            async with self.pool.connection() as conn:
                if len(group) == 1:
                    cursor = await conn.execute(_WRITE_ONE, _params(group[0][0]))
                    written = await cursor.fetchone()
                    rows = [(written[0], True) if written else (None, False)]
                else:
                    cursor = await conn.execute(_WRITE_MANY, _columns([values for values, _ in group]))
                    rows = await cursor.fetchall()
        except (pg_errors.IntegrityError, pg_errors.DeadlockDetected) as exc:
            if len(group) > 1:  # one ballot's fault, or another group's: each alone
                for one in group:
                    await self._commit([one])
                return
            if isinstance(exc, pg_errors.DeadlockDetected):
                _settle(group[0][1], exc)
            else:  # an option removed meanwhile: as votes.record_ballot answers
                _settle(group[0][1], Conflict(N_("You have already voted in this poll.")))
            return
        except Exception as exc:  # noqa: BLE001 - the database unreachable, no connection free: for all alike
            for _, future in group:
                _settle(future, exc)
            return
        except BaseException:  # cancelled (the worker stops): so are its ballots' requests
            for _, future in group:
                future.cancel()
            raise
        for (values, future), (ballot_id, poll_open) in zip(group, rows, strict=True):
            if ballot_id is not None:
                metrics.BALLOTS.labels("cast").inc()
                notify.poll_changed(str(values["poll_id"]))
                _settle(future, ballot_id)
            elif poll_open:
                _settle(future, Conflict(N_("You have already voted in this poll.")))
            else:
                _settle(future, Forbidden(N_("This poll is closed.")))


_GROUPS: weakref.WeakKeyDictionary[AsyncPool, _Group] = weakref.WeakKeyDictionary()


def _params(values: dict[str, Any]) -> dict[str, Any]:
    """A ballot's columns as ``_WRITE_ONE``'s parameters."""
    return values | {
        "choices": json.dumps(values["choices"]), "scores": json.dumps(values["scores"]), "weight": float(values["weight"])
    }


def _columns(group: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """The group's ballots as ``_WRITE_MANY``'s arrays, one per column."""
    rows = [_params(values) for values in group]
    return {name: [row[name] for row in rows] for name, _ in _COLUMNS}


def _settle(future: asyncio.Future[int], outcome: int | BaseException) -> None:
    if future.done():  # its request was cancelled
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


# The browser's session and user (columns 0-8), the columns of votes._POLL_FOR_VOTING (from 9),
# the option's text, then every column of the poll for the page; one row per option, in display
# order; no row: no such session. Outer joins: a session whose user row is gone is still found
# (and refused by auth.check_browser_session, as the ORM path does).
_POLL_FIELDS = tuple(c.name for c in Poll.__table__.columns)  # type: ignore[attr-defined]
_BROWSER_COLUMNS = 9
_OPTION_TEXT = _BROWSER_COLUMNS + 13
_PAGE_POLL = _OPTION_TEXT + 1
_BROWSER_READ = f"""
SELECT s.revoked_at, s.browser_key_hash, s.expires_at, s.last_used_at, s.created_at,
       u.id, u.role, u.is_active, u.guest_poll_id,
       p.id, p.method, p.max_choices, p.visibility, p.created_by, p.opens_at, p.closes_at,
       p.closed_at, p.anonymous, p.anonymity_threshold, p.access, v.weight, o.id,
       o.text, {", ".join("p." + name for name in _POLL_FIELDS)}
FROM auth_sessions AS s
LEFT JOIN users AS u ON u.id = s.user_id
LEFT JOIN polls AS p ON p.id = %(poll_id)s
LEFT JOIN poll_voters AS v ON v.poll_id = p.id AND v.user_id = u.id
LEFT JOIN poll_options AS o ON o.poll_id = p.id
WHERE s.id = %(session_id)s
ORDER BY o.position, o.id
"""
_TOUCH = "UPDATE auth_sessions SET last_used_at = %(now)s WHERE id = %(session_id)s"


@dataclass(frozen=True, slots=True)
class OptionText:
    """An option as the vote page shows it."""

    id: int
    text: str


@dataclass(frozen=True)
class BrowserCast:
    """A ballot cast from the vote page, and what the page shows of its poll (as read with it)."""

    ballot: NewBallot
    poll: Poll
    options: list[OptionText]
    weight: float
    user: Caller


async def cast_browser_ballot(
    *,
    pool: AsyncPool,
    session_id: str,
    poll_id: str,
    ballot: BallotInput,
    allow_guest: bool = False,
    settings: Settings | None = None,
) -> BrowserCast | None:
    """Cast the ballot of a browser session's user in a named poll, as the vote page's service
    call (``auth.identify_browser_session``, then ``votes.cast_ballot``) does, with the async
    pool's connections; ``None`` for what this path does not take (an anonymous poll,
    an idle session): the caller then makes that service call, which decides everything again.

    Raises:
        NotAuthenticated: As ``auth.identify_browser_session``.
        NotFound, Forbidden, InvalidInput, Conflict, RateLimited: As ``votes.record_ballot``.
    """
    if not session_id or len(session_id) > 64:
        raise NotAuthenticated(N_("Please log in."))
    settings = settings or get_settings()
    async with pool.connection() as conn:
        cursor = await conn.execute(_BROWSER_READ, {"poll_id": poll_id, "session_id": session_id})
        rows = await cursor.fetchall()
        if not rows:
            raise NotAuthenticated(N_("Your session has ended; please log in again."))
        first = rows[0]
        caller = None if first[5] is None else Caller(id=first[5], role=first[6], is_active=bool(first[7]), guest_poll_id=first[8])
        now = utcnow()
        try:
            due = auth.check_browser_session(
                revoked_at=first[0], browser_key_hash=first[1], expires_at=first[2], last_used_at=first[3],
                created_at=first[4], user=caller, settings=settings, allow_guest=allow_guest, now=now,
            )
        except auth.IdleSession:
            return None  # revoking it is the service call's (a write every worker hears of)
        assert caller is not None  # check_browser_session refuses a session without its user
        if due:
            await conn.execute(_TOUCH, {"now": now, "session_id": session_id})
    if first[_BROWSER_COLUMNS] is None:
        await _limit("ballot", ratelimit.private_key(caller.id))
        raise NotFound(N_("Poll not found."))
    poll = voting_poll(rows, _BROWSER_COLUMNS)
    if poll.anonymous:
        return None  # before the rate limit: the service call counts this ballot
    await _limit("ballot", ratelimit.private_key(caller.id))
    weight = voting_weight(poll, caller)  # type: ignore[arg-type]
    clean = validate_ballot(poll=poll, options=list(poll.options), ballot=ballot)  # type: ignore[arg-type]
    written = await _write(pool, poll, caller, clean, weight)
    page_poll = Poll(**dict(zip(_POLL_FIELDS, first[_PAGE_POLL:], strict=True)))
    options = [OptionText(int(r[_BROWSER_COLUMNS + 12]), r[_OPTION_TEXT]) for r in rows if r[_BROWSER_COLUMNS + 12] is not None]
    return BrowserCast(ballot=written, poll=page_poll, options=options, weight=weight, user=caller)
