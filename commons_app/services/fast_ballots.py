"""The ballot's hot path on PostgreSQL (REST, and the vote page's submit): psycopg's async API on
the event loop, no ORM objects, no thread hand-off, two statements.

1. One read: the caller's session and user, the poll, the caller's roll entry and the poll's
   options, in one join (``votes.record_ballot`` after ``auth.identify`` takes two reads).
2. One write, autocommitted: the ballot and its count in one statement, which is its own
   transaction, so the ballot is acknowledged only once committed.

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
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import errors as pg_errors

from commons_app import metrics
from commons_app.config import Settings, get_settings
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

# The ballot, and its count as counts.adjust keeps it (same shard rule), in one transaction; no
# row back: the poll closed since it was read.
_WRITE = f"""
WITH locked AS (
    SELECT id, closed_at, closes_at FROM polls WHERE id = %(poll_id)s FOR KEY SHARE
), open_poll AS (
    -- Decided above the lock, so after any wait for it: the row as the sealer left it, the clock
    -- as it is then (a condition inside the locking SELECT is not evaluated again after a wait
    -- for a lock holder that did not change the row, as sealing on time does not).
    SELECT id FROM locked WHERE closed_at IS NULL AND (closes_at IS NULL OR closes_at > clock_timestamp())
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
    *, conn: psycopg.AsyncConnection, token: str, poll_id: str, ballot: BallotInput, settings: Settings | None = None
) -> CastBallot | None:
    """Cast the token's user's ballot in a named poll, as ``votes.record_ballot`` does, on an
    autocommitting async connection; ``None`` for a ballot this path does not take (the caller
    then uses ``votes.record_ballot``, which decides everything again).

    Raises:
        NotAuthenticated: As ``auth.identify``.
        NotFound, Forbidden, InvalidInput, Conflict, RateLimited: As ``votes.record_ballot``.
    """
    claims = auth.decode_access_token(token, settings or get_settings())
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
    return CastBallot(ballot=await _write(conn, poll, caller, clean, weight), method=poll.method)


async def _write(conn: psycopg.AsyncConnection, poll: VotingPoll, caller: Caller, clean: CleanBallot, weight: float) -> NewBallot:
    """The ballot's one autocommitted write (``_WRITE``), shared by the REST and websocket paths.

    Raises:
        Conflict: The caller has already voted (or an option was removed meanwhile).
        Forbidden: The poll closed since it was read.
    """
    values = ballot_values(poll=poll, user=caller, clean=clean, weight=weight)  # type: ignore[arg-type]
    params = values | {"choices": json.dumps(values["choices"]), "scores": json.dumps(values["scores"])}
    try:
        cursor = await conn.execute(_WRITE, params)
        written = await cursor.fetchone()
    except pg_errors.UniqueViolation:
        raise Conflict(N_("You have already voted in this poll.")) from None
    except pg_errors.IntegrityError:  # an option removed meanwhile: as votes.record_ballot answers
        raise Conflict(N_("You have already voted in this poll.")) from None
    if written is None:
        raise Forbidden(N_("This poll is closed."))
    metrics.BALLOTS.labels("cast").inc()
    notify.poll_changed(str(poll.id))
    return NewBallot(id=written[0], **values)


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
    conn: psycopg.AsyncConnection,
    session_id: str,
    poll_id: str,
    ballot: BallotInput,
    allow_guest: bool = False,
    settings: Settings | None = None,
) -> BrowserCast | None:
    """Cast the ballot of a browser session's user in a named poll, as the vote page's service
    call (``auth.identify_browser_session``, then ``votes.cast_ballot``) does, on an
    autocommitting async connection; ``None`` for what this path does not take (an anonymous poll,
    an idle session): the caller then makes that service call, which decides everything again.

    Raises:
        NotAuthenticated: As ``auth.identify_browser_session``.
        NotFound, Forbidden, InvalidInput, Conflict, RateLimited: As ``votes.record_ballot``.
    """
    if not session_id or len(session_id) > 64:
        raise NotAuthenticated(N_("Please log in."))
    settings = settings or get_settings()
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
    written = await _write(conn, poll, caller, clean, weight)
    page_poll = Poll(**dict(zip(_POLL_FIELDS, first[_PAGE_POLL:], strict=True)))
    options = [OptionText(int(r[_BROWSER_COLUMNS + 12]), r[_OPTION_TEXT]) for r in rows if r[_BROWSER_COLUMNS + 12] is not None]
    return BrowserCast(ballot=written, poll=page_poll, options=options, weight=weight, user=caller)
