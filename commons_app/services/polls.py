"""Polls: creation, reading, listing, editing, closing, deletion and voter rolls.

This module is the one place that decides who may see a poll, whether it is open, who may vote
in it and with what weight, and who may manage it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, or_
from sqlmodel import Session, col, func, select

from commons_app.models import (
    METHODS,
    RESULTS_VISIBILITIES,
    VISIBILITIES,
    Ballot,
    Poll,
    PollOption,
    PollVoter,
    User,
    as_utc,
    utcnow,
)
from commons_app.services import counts, notify
from commons_app.services.audit import record_event
from commons_app.services.errors import Conflict, Forbidden, InvalidInput, NotFound

TITLE_MAX = 200
DESCRIPTION_MAX = 5000
OPTION_MAX = 200
MIN_OPTIONS, MAX_OPTIONS = 2, 50
MAX_ROLL = 10_000
MAX_WEIGHT = 1_000_000.0
LIST_LIMIT_MAX = 100
ROLL_PAGE_MAX = 1000


@dataclass
class PollSpec:
    """What a creator fills in; the API and the UI both build one."""

    title: str
    options: list[str]
    description: str = ""
    method: str = "single"
    max_choices: int | None = None
    visibility: str = "public"
    results_visibility: str = "live"
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    anonymous: bool = False


@dataclass
class PollView:
    """A poll with its options in order, as the API and the pages show it."""

    poll: Poll
    options: list[PollOption]
    status: str
    ballot_count: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def poll_status(poll: Poll, now: datetime | None = None) -> str:
    """``scheduled``, ``open`` or ``closed``, from the poll's times: closing needs no one's action."""
    now = now or utcnow()
    if poll.closed_at is not None:
        return "closed"
    closes_at = as_utc(poll.closes_at)
    if closes_at is not None and now >= closes_at:
        return "closed"
    opens_at = as_utc(poll.opens_at)
    if opens_at is not None and now < opens_at:
        return "scheduled"
    return "open"


def is_manager(poll: Poll, user: User) -> bool:
    """Owners and admins manage a poll."""
    return user.role == "admin" or poll.created_by == user.id


def on_roll(*, session: Session, poll_id: int, user_id: int) -> PollVoter | None:
    """The user's entry on the poll's roll, if any."""
    return session.exec(
        select(PollVoter).where(PollVoter.poll_id == poll_id, PollVoter.user_id == user_id)
    ).first()


def visible_to(poll: Poll, user: User, *, on_the_roll: bool) -> bool:
    """Public and unlisted polls are visible to any signed-in user (unlisted only by id);
    private ones to their managers and to the users on their roll."""
    return poll.visibility != "private" or is_manager(poll, user) or on_the_roll


def can_view(*, session: Session, poll: Poll, user: User) -> bool:
    """:func:`visible_to`, reading the roll only when it decides."""
    if visible_to(poll, user, on_the_roll=False):
        return True
    return on_roll(session=session, poll_id=poll.id, user_id=user.id) is not None  # type: ignore[arg-type]


def get_visible_poll(*, session: Session, poll_id: int, user: User) -> Poll:
    """A poll the user may see.

    Raises:
        NotFound: It does not exist or the user may not see it (the two are not told apart).
    """
    poll = session.get(Poll, poll_id)
    if poll is None or not can_view(session=session, poll=poll, user=user):
        raise NotFound("Poll not found.")
    return poll


def get_managed_poll(*, session: Session, poll_id: int, user: User) -> Poll:
    """A poll the user may manage (owner or admin).

    Raises:
        NotFound: Not visible to the user.
        Forbidden: Visible, but the user is not its owner or an admin.
    """
    poll = get_visible_poll(session=session, poll_id=poll_id, user=user)
    if not is_manager(poll, user):
        raise Forbidden("Only the poll's owner or an administrator may do this.")
    return poll


def voter_weight(*, session: Session, poll: Poll, user: User) -> float | None:
    """The weight a user's ballot carries in this poll, or None when the user may not vote.

    Private polls admit only their roll; in other polls anyone signed in may vote, with the weight
    the roll gives them or 1.
    """
    entry = on_roll(session=session, poll_id=poll.id, user_id=user.id)  # type: ignore[arg-type]
    return weight_from_roll(poll, None if entry is None else entry.weight)


def weight_from_roll(poll: Poll, roll_weight: float | None) -> float | None:
    """:func:`voter_weight` from the user's roll weight (None: not on the roll)."""
    if roll_weight is not None:
        return float(roll_weight)
    if poll.visibility == "private":
        return None
    return 1.0


def options_of(*, session: Session, poll_id: int) -> list[PollOption]:
    """The poll's options in display order."""
    return list(
        session.exec(
            select(PollOption).where(PollOption.poll_id == poll_id).order_by(col(PollOption.position), col(PollOption.id))
        ).all()
    )


def ballot_count(*, session: Session, poll_id: int) -> int:
    """How many ballots the poll holds."""
    return int(session.exec(select(func.count()).select_from(Ballot).where(Ballot.poll_id == poll_id)).one())


def view_poll(*, session: Session, poll: Poll) -> PollView:
    """Bundle a poll with its options and status."""
    return PollView(poll=poll, options=options_of(session=session, poll_id=poll.id), status=poll_status(poll))  # type: ignore[arg-type]


def _clean_text(value: str, *, name: str, max_len: int, required: bool = True, field: str | None = None) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be text.", field=field)
    value = value.strip()
    if required and not value:
        raise InvalidInput(f"{name} must not be empty.", field=field)
    if len(value) > max_len:
        raise InvalidInput(f"{name} must be at most {max_len} characters.", field=field)
    if any(ord(ch) < 32 and ch not in "\n\t" for ch in value):
        raise InvalidInput(f"{name} must not contain control characters.", field=field)
    return value


def clean_options(options: Sequence[str]) -> list[str]:
    """Strip option texts and check their count and distinctness."""
    if not isinstance(options, (list, tuple)):
        raise InvalidInput("Options must be a list of texts.", field="options")
    cleaned = [_clean_text(text, name="Each option", max_len=OPTION_MAX, field="options") for text in options]
    if not (MIN_OPTIONS <= len(cleaned) <= MAX_OPTIONS):
        raise InvalidInput(f"A poll needs {MIN_OPTIONS} to {MAX_OPTIONS} options.", field="options")
    seen: set[str] = set()
    for text in cleaned:
        key = text.casefold()
        if key in seen:
            raise InvalidInput(f"Options must be distinct: {text!r} appears twice.", field="options")
        seen.add(key)
    return cleaned


def _aware(value: datetime | None, name: str) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise InvalidInput(
            f"{name} must include a time-zone offset (ISO 8601, e.g. 2026-12-01T18:00:00+01:00).", field=name
        )
    try:
        return as_utc(value)
    except OverflowError:  # e.g. 0001-01-01T00:00+05:00 is before year 1 in UTC
        raise InvalidInput(f"{name} is out of range.", field=name) from None


def validate_spec(spec: PollSpec, *, now: datetime | None = None, creating: bool = True) -> PollSpec:
    """Check every field of a poll; returns a cleaned copy.

    Raises:
        InvalidInput: With a message naming the field.
    """
    now = now or utcnow()
    title = _clean_text(spec.title, name="Title", max_len=TITLE_MAX, field="title")
    description = _clean_text(
        spec.description or "", name="Description", max_len=DESCRIPTION_MAX, required=False, field="description"
    )
    options = clean_options(spec.options)
    if spec.method not in METHODS:
        raise InvalidInput(f"Method must be one of {', '.join(METHODS)}.", field="method")
    max_choices = spec.max_choices
    if max_choices is not None:
        if spec.method != "approval":
            raise InvalidInput("max_choices applies to approval polls only.", field="max_choices")
        if not (1 <= max_choices <= len(options)):
            raise InvalidInput(
                f"max_choices must be between 1 and the number of options ({len(options)}).", field="max_choices"
            )
    if spec.visibility not in VISIBILITIES:
        raise InvalidInput(f"Visibility must be one of {', '.join(VISIBILITIES)}.", field="visibility")
    if spec.results_visibility not in RESULTS_VISIBILITIES:
        raise InvalidInput(
            f"Results visibility must be one of {', '.join(RESULTS_VISIBILITIES)}.", field="results_visibility"
        )
    opens_at = _aware(spec.opens_at, "opens_at")
    closes_at = _aware(spec.closes_at, "closes_at")
    if opens_at and closes_at and closes_at <= opens_at:
        raise InvalidInput("The closing time must be after the opening time.", field="closes_at")
    if creating and closes_at and closes_at <= now:
        raise InvalidInput("The closing time must be in the future.", field="closes_at")
    return PollSpec(
        title=title,
        options=options,
        description=description,
        method=spec.method,
        max_choices=max_choices,
        visibility=spec.visibility,
        results_visibility=spec.results_visibility,
        opens_at=opens_at,
        closes_at=closes_at,
        anonymous=bool(spec.anonymous),
    )


def create_poll(*, session: Session, user: User, spec: PollSpec) -> PollView:
    """Create a poll with its options; the creator owns it."""
    spec = validate_spec(spec)
    poll = Poll(
        title=spec.title,
        description=spec.description,
        created_by=user.id,  # type: ignore[arg-type]
        method=spec.method,
        max_choices=spec.max_choices,
        visibility=spec.visibility,
        results_visibility=spec.results_visibility,
        opens_at=spec.opens_at,
        closes_at=spec.closes_at,
        anonymous=spec.anonymous,
    )
    session.add(poll)
    session.flush()
    for position, text in enumerate(spec.options):
        session.add(PollOption(poll_id=poll.id, text=text, position=position))  # type: ignore[arg-type]
    record_event(
        session=session, actor_id=user.id, action="poll.create", target_type="poll", target_id=poll.id,
        detail={"title": spec.title, "method": spec.method, "visibility": spec.visibility},
    )
    session.commit()
    session.refresh(poll)
    return view_poll(session=session, poll=poll)


def list_polls(
    *,
    session: Session,
    user: User,
    skip: int = 0,
    limit: int = 20,
    search: str = "",
    mine: bool = False,
) -> tuple[list[PollView], int]:
    """Polls the user may list, newest first, with the total.

    Listed: public polls, the user's own, and private polls the user is on the roll of. Unlisted
    polls of others never appear (they are reached by link only).
    """
    if skip < 0 or not (1 <= limit <= LIST_LIMIT_MAX):
        raise InvalidInput(f"skip must be >= 0 and limit between 1 and {LIST_LIMIT_MAX}.")
    if len(search) > TITLE_MAX:
        raise InvalidInput(f"Search text must be at most {TITLE_MAX} characters.")
    on_roll_clause = exists().where(
        col(PollVoter.poll_id) == col(Poll.id), col(PollVoter.user_id) == user.id
    )
    if mine:
        condition = col(Poll.created_by) == user.id
    else:
        condition = or_(
            col(Poll.visibility) == "public",
            col(Poll.created_by) == user.id,
            (col(Poll.visibility) == "private") & on_roll_clause,
        )
    query = select(Poll).where(condition)
    count_query = select(func.count()).select_from(Poll).where(condition)
    if search.strip():
        pattern = "%" + search.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(func.lower(Poll.title).like(pattern, escape="\\"))
        count_query = count_query.where(func.lower(Poll.title).like(pattern, escape="\\"))
    total = int(session.exec(count_query).one())
    polls = session.exec(query.order_by(col(Poll.created_at).desc(), col(Poll.id).desc()).offset(skip).limit(limit)).all()
    return _views_for(session=session, polls=list(polls)), total


def _views_for(*, session: Session, polls: list[Poll]) -> list[PollView]:
    """Views for many polls with two queries, not two per poll."""
    ids = [p.id for p in polls]
    if not ids:
        return []
    options: dict[int, list[PollOption]] = {pid: [] for pid in ids}  # type: ignore[misc]
    for option in session.exec(
        select(PollOption).where(col(PollOption.poll_id).in_(ids)).order_by(col(PollOption.position), col(PollOption.id))
    ).all():
        options[option.poll_id].append(option)
    counts = dict(
        session.exec(
            select(Ballot.poll_id, func.count()).where(col(Ballot.poll_id).in_(ids)).group_by(Ballot.poll_id)
        ).all()
    )
    return [
        PollView(poll=p, options=options[p.id], status=poll_status(p), ballot_count=int(counts.get(p.id, 0)))  # type: ignore[index]
        for p in polls
    ]


UPDATABLE = {
    "title", "description", "options", "method", "max_choices", "visibility",
    "results_visibility", "opens_at", "closes_at", "anonymous",
}


def update_poll(*, session: Session, user: User, poll_id: int, changes: dict[str, Any]) -> PollView:
    """Change a poll (owner or admin).

    Once a ballot exists, the options, the method, max_choices and anonymity are fixed (409).

    Raises:
        InvalidInput, NotFound, Forbidden, Conflict
    """
    unknown = set(changes) - UPDATABLE
    if unknown:
        raise InvalidInput(f"Unknown fields: {', '.join(sorted(unknown))}.")
    poll = get_managed_poll(session=session, poll_id=poll_id, user=user)
    current = options_of(session=session, poll_id=poll_id)
    spec = PollSpec(
        title=changes.get("title", poll.title),
        options=changes.get("options", [o.text for o in current]),
        description=changes.get("description", poll.description) or "",
        method=changes.get("method", poll.method),
        max_choices=changes["max_choices"] if "max_choices" in changes else (
            poll.max_choices if changes.get("method", poll.method) == "approval" else None
        ),
        visibility=changes.get("visibility", poll.visibility),
        results_visibility=changes.get("results_visibility", poll.results_visibility),
        opens_at=changes["opens_at"] if "opens_at" in changes else as_utc(poll.opens_at),
        closes_at=changes["closes_at"] if "closes_at" in changes else as_utc(poll.closes_at),
        anonymous=changes.get("anonymous", poll.anonymous),
    )
    spec = validate_spec(spec, creating=False)
    if "closes_at" in changes and spec.closes_at is not None and spec.closes_at <= utcnow() and poll_status(poll) != "closed":
        raise InvalidInput("The closing time must be in the future; use close to end the poll now.")
    has_ballots = ballot_count(session=session, poll_id=poll_id) > 0
    options_changed = [o.text for o in current] != spec.options
    if has_ballots:
        frozen = []
        if options_changed:
            frozen.append("options")
        if spec.method != poll.method:
            frozen.append("method")
        if spec.max_choices != poll.max_choices:
            frozen.append("max_choices")
        if spec.anonymous != poll.anonymous:
            frozen.append("anonymous")
        if frozen:
            raise Conflict(f"Ballots have been cast; these can no longer change: {', '.join(frozen)}.")
    if options_changed:
        _replace_options(session=session, poll_id=poll_id, current=current, texts=spec.options)
    poll.title = spec.title
    poll.description = spec.description
    poll.method = spec.method
    poll.max_choices = spec.max_choices
    poll.visibility = spec.visibility
    poll.results_visibility = spec.results_visibility
    poll.opens_at = spec.opens_at
    poll.closes_at = spec.closes_at
    poll.anonymous = spec.anonymous
    poll.updated_at = utcnow()
    session.add(poll)
    record_event(
        session=session, actor_id=user.id, action="poll.update", target_type="poll", target_id=poll_id,
        detail={"fields": sorted(changes)},
    )
    session.commit()
    session.refresh(poll)
    notify.poll_changed(poll_id)
    return view_poll(session=session, poll=poll)


def _replace_options(*, session: Session, poll_id: int, current: list[PollOption], texts: list[str]) -> None:
    """Keep options whose text stays (and their ids), add new ones, drop the rest."""
    by_key = {o.text.casefold(): o for o in current}
    keep: set[int] = set()
    for position, text in enumerate(texts):
        existing = by_key.get(text.casefold())
        if existing is not None:
            existing.text = text
            existing.position = position
            session.add(existing)
            keep.add(existing.id)  # type: ignore[arg-type]
        else:
            session.add(PollOption(poll_id=poll_id, text=text, position=position))
    for option in current:
        if option.id not in keep:
            session.delete(option)


def close_poll(*, session: Session, user: User, poll_id: int) -> PollView:
    """Close a poll now (owner or admin); closing a closed poll changes nothing."""
    poll = get_managed_poll(session=session, poll_id=poll_id, user=user)
    if poll_status(poll) != "closed":
        poll.closed_at = utcnow()
        poll.updated_at = poll.closed_at
        session.add(poll)
        record_event(session=session, actor_id=user.id, action="poll.close", target_type="poll", target_id=poll_id)
        session.commit()
        # The final figures: make sure the counts agree with the ballots (see services.counts).
        counts.reconcile(session=session, poll_id=poll_id)
        session.refresh(poll)
        notify.poll_changed(poll_id)
    return view_poll(session=session, poll=poll)


def delete_poll(*, session: Session, user: User, poll_id: int) -> None:
    """Delete a poll with its options, ballots and roll (owner or admin)."""
    poll = get_managed_poll(session=session, poll_id=poll_id, user=user)
    session.execute(delete(Ballot).where(col(Ballot.poll_id) == poll_id))
    session.execute(delete(PollVoter).where(col(PollVoter.poll_id) == poll_id))
    session.execute(delete(PollOption).where(col(PollOption.poll_id) == poll_id))
    record_event(
        session=session, actor_id=user.id, action="poll.delete", target_type="poll", target_id=poll_id,
        detail={"title": poll.title},
    )
    session.delete(poll)
    session.commit()
    notify.poll_changed(poll_id)


@dataclass(frozen=True)
class RollEntry:
    """One line of a roll as the owner sets it."""

    username: str
    weight: float = 1.0


def set_roll(*, session: Session, user: User, poll_id: int, voters: Sequence[RollEntry]) -> list[tuple[User, PollVoter]]:
    """Replace the poll's roll (owner or admin); existing ballots take the new weights.

    Raises:
        InvalidInput: Unknown usernames, duplicates, bad weights or too many entries.
        Conflict: Removing someone from a private poll's roll after they voted.
    """
    poll = get_managed_poll(session=session, poll_id=poll_id, user=user)
    if len(voters) > MAX_ROLL:
        raise InvalidInput(f"A roll holds at most {MAX_ROLL} voters.")
    keys: dict[str, float] = {}
    for entry in voters:
        key = entry.username.strip().lower()
        if key in keys:
            raise InvalidInput(f"{entry.username!r} appears twice on the roll.")
        weight = float(entry.weight)
        if not math.isfinite(weight) or weight <= 0 or weight > MAX_WEIGHT:
            raise InvalidInput(f"Weight of {entry.username!r} must be greater than 0 and at most {MAX_WEIGHT:g}.")
        keys[key] = weight
    users = {u.username_key: u for u in session.exec(select(User).where(col(User.username_key).in_(list(keys)))).all()} if keys else {}
    missing = [name for name in keys if name not in users]
    if missing:
        raise InvalidInput(f"Unknown users: {', '.join(sorted(missing))}.")
    new_ids = {users[k].id: keys[k] for k in keys}
    ballots = session.exec(select(Ballot).where(Ballot.poll_id == poll_id)).all()
    if poll.visibility == "private":
        stranded = [b for b in ballots if b.user_id not in new_ids]
        if stranded:
            raise Conflict("Voters who have already voted cannot be removed from a private poll's roll.")
    session.execute(delete(PollVoter).where(col(PollVoter.poll_id) == poll_id))
    rows: list[tuple[User, PollVoter]] = []
    for key, weight in keys.items():
        entry_row = PollVoter(poll_id=poll_id, user_id=users[key].id, weight=weight)  # type: ignore[arg-type]
        session.add(entry_row)
        rows.append((users[key], entry_row))
    reweighted = False
    for ballot in ballots:
        weight = new_ids.get(ballot.user_id, 1.0)
        if ballot.weight != weight:
            ballot.weight = weight
            session.add(ballot)
            reweighted = True
    if reweighted:
        session.flush()
        counts.rebuild(session=session, poll_id=poll_id)
    record_event(
        session=session, actor_id=user.id, action="poll.roll", target_type="poll", target_id=poll_id,
        detail={"voters": len(keys)},
    )
    session.commit()
    notify.poll_changed(poll_id)
    return rows


def get_roll(
    *, session: Session, user: User, poll_id: int, skip: int = 0, limit: int | None = None
) -> list[tuple[User, PollVoter, bool]]:
    """The roll by username with, for each voter, whether they have voted (never how). Owner or admin.

    ``skip`` and ``limit`` (at most ``ROLL_PAGE_MAX``) give one page of it; without ``limit``, all
    of it (at most ``MAX_ROLL`` entries).

    Raises:
        InvalidInput: ``skip`` below 0 or ``limit`` outside 1..``ROLL_PAGE_MAX``.
    """
    if skip < 0 or (limit is not None and not (1 <= limit <= ROLL_PAGE_MAX)):
        raise InvalidInput(f"skip must be >= 0 and limit between 1 and {ROLL_PAGE_MAX}.")
    get_managed_poll(session=session, poll_id=poll_id, user=user)
    query = select(User, PollVoter).join(PollVoter, col(PollVoter.user_id) == col(User.id)).where(PollVoter.poll_id == poll_id).order_by(col(User.username_key))
    voted_query = select(Ballot.user_id).where(Ballot.poll_id == poll_id)
    if limit is not None:
        rows = session.exec(query.offset(skip).limit(limit)).all()
        voted_query = voted_query.where(col(Ballot.user_id).in_([u.id for u, _ in rows]))
    else:
        rows = session.exec(query.offset(skip)).all()
    voted = set(session.exec(voted_query).all()) if rows else set()
    return [(u, v, u.id in voted) for u, v in rows]


def roll_page(
    *, session: Session, user: User, poll_id: int, skip: int = 0, limit: int | None = None
) -> tuple[list[tuple[User, PollVoter, bool]], int]:
    """One page of the roll (see :func:`get_roll`) and the roll's length. Owner or admin."""
    rows = get_roll(session=session, user=user, poll_id=poll_id, skip=skip, limit=limit)
    total = session.exec(select(func.count()).select_from(PollVoter).where(PollVoter.poll_id == poll_id)).one()
    return rows, int(total)


def turnout(*, session: Session, user: User, poll_id: int, buckets: int = 24) -> list[dict[str, Any]]:
    """Cumulative ballots over time for the dashboard chart (owner or admin).

    The span from the poll's creation to now (or its close) is cut into ``buckets`` equal parts;
    each point counts the ballots standing that were cast by then.
    """
    poll = get_managed_poll(session=session, poll_id=poll_id, user=user)
    start = as_utc(poll.created_at) or utcnow()
    end = as_utc(poll.closed_at) or as_utc(poll.closes_at) or utcnow()
    end = min(end, utcnow())
    if end <= start:
        end = start + (utcnow() - start if utcnow() > start else (end - start))
    times = sorted(as_utc(t) for t in session.exec(select(Ballot.created_at).where(Ballot.poll_id == poll_id)).all())  # type: ignore[type-var]
    span = max((end - start).total_seconds(), 1.0)
    points = []
    index = 0
    for step in range(1, buckets + 1):
        edge = start + (end - start) * (step / buckets) if span > 1 else end
        while index < len(times) and times[index] <= edge:  # type: ignore[operator]
            index += 1
        label = edge.strftime("%d %b %H:%M") if span > 3600 * 6 else edge.strftime("%H:%M:%S")
        points.append({"time": label, "ballots": index})
    if times and points and points[-1]["ballots"] < len(times):
        points[-1]["ballots"] = len(times)
    return points
