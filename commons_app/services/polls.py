"""Polls: creation, reading, listing, editing, closing, deletion and voter rolls.

This module is the one place that decides who may see a poll, whether it is open, who may vote
in it and with what weight, and who may manage it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import delete, exists, or_
from sqlmodel import Session, col, func, select

from commons_app import methods
from commons_app.i18n import N_
from commons_app.models import (
    ACCESS_MODES,
    GUEST_ROLE,
    JOIN_CODE_ALPHABET,
    JOIN_CODE_LENGTH,
    RESULTS_VISIBILITIES,
    VISIBILITIES,
    Ballot,
    Poll,
    PollOption,
    PollParticipant,
    PollVoter,
    ResultSnapshot,
    User,
    as_utc,
    new_join_code,
    utcnow,
)
from commons_app.services import auth, counts, decisions, guests, notify, ratelimit
from commons_app.services import text as text_rules
from commons_app.services.audit import record_event
from commons_app.services.errors import Conflict, Forbidden, InvalidInput, NotFound

TITLE_MAX = 200
DESCRIPTION_MAX = 5000
OPTION_MAX = 200
MIN_OPTIONS, MAX_OPTIONS = 2, 50
MAX_ROLL = 10_000
MAX_WEIGHT = 1_000_000.0
WEIGHT_DECIMALS = 6
DEFAULT_ANONYMITY = 5
MIN_ANONYMITY, MAX_ANONYMITY = 2, 1000
MAX_REMIND_BEFORE_HOURS = 24 * 365
LIST_LIMIT_MAX = 100
LIST_FILTERS = ("all", "open", "closed", "mine", "not_voted")
"""What a poll list can show: everything listed, open polls, closed ones, the user's own, and
open polls the user has not voted in yet."""
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
    anonymity_threshold: int | None = None
    access: str = "account"
    remind_before_hours: int | None = None
    seats: int | None = None
    stv_rule: str | None = None
    quorum_ballots: int | None = None
    quorum_share: float | None = None
    pass_rule: str | None = None


METHOD_SETTINGS = ("max_choices", "seats", "stv_rule")
"""The poll fields that hold some method's settings (``methods.Param``); the registry says which
methods take which. Each is None on a poll whose method does not take it."""


@dataclass
class PollView:
    """A poll with its options in order, as the API and the pages show it."""

    poll: Poll
    options: list[PollOption]
    status: str
    ballot_count: int | None = 0  # None: the viewer may not see how many ballots are in
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


def on_roll(*, session: Session, poll_id: str, user_id: int) -> PollVoter | None:
    """The user's entry on the poll's roll, if any."""
    return session.exec(
        select(PollVoter).where(PollVoter.poll_id == poll_id, PollVoter.user_id == user_id)
    ).first()


def visible_to(poll: Poll, user: User | None, *, on_the_roll: bool) -> bool:
    """Public and unlisted polls are visible to anyone given their link, signed in or not
    (unlisted only by id); private ones to their managers (the creator always) and to the users
    on their roll. A visitor who is not signed in (``user`` None) sees them read-only: voting
    and results still need an account (or, in a link poll, a browser's guest).

    A guest (``services.guests``) sees one poll only: an invitee the poll whose roll made it
    (while on that roll), a browser's link guest any poll that takes ballots by link.
    """
    if user is not None and user.role == GUEST_ROLE:
        if user.guest_poll_id is not None:
            return user.guest_poll_id == poll.id and on_the_roll
        return poll.access == "link"
    if poll.visibility != "private":
        return True
    return user is not None and (is_manager(poll, user) or on_the_roll)


def can_view(*, session: Session, poll: Poll, user: User) -> bool:
    """:func:`visible_to`, reading the roll only when it decides."""
    if user.role == GUEST_ROLE and user.guest_poll_id is not None:  # an invitee: its poll, while on its roll
        return user.guest_poll_id == poll.id and on_roll(session=session, poll_id=poll.id, user_id=user.id) is not None  # type: ignore[arg-type]
    if visible_to(poll, user, on_the_roll=False):
        return True
    return on_roll(session=session, poll_id=poll.id, user_id=user.id) is not None  # type: ignore[arg-type]


def get_visible_poll(*, session: Session, poll_id: str, user: User) -> Poll:
    """A poll the user may see.

    Raises:
        NotFound: It does not exist or the user may not see it (the two are not told apart).
    """
    poll = session.get(Poll, poll_id)
    if poll is None or not can_view(session=session, poll=poll, user=user):
        raise NotFound(N_("Poll not found."))
    return poll


@dataclass
class PollPreview:
    """What a visitor who is not signed in learns from a poll's link."""

    poll_id: str
    visible: bool  # False: private or unknown (not told apart): only "sign in to see it"
    title: str = ""
    description: str = ""
    status: str = ""
    options: list[str] = field(default_factory=list)


def preview_poll(*, session: Session, poll_id: str) -> PollPreview:
    """The read-only view of a poll for a visitor who is not signed in (:func:`visible_to` with
    no user): a private or unknown poll shows nothing, so its link leaks neither its title nor
    whether it exists."""
    poll = session.get(Poll, poll_id)
    if poll is None or not visible_to(poll, None, on_the_roll=False):
        return PollPreview(poll_id=poll_id, visible=False)
    return PollPreview(
        poll_id=poll_id, visible=True, title=poll.title, description=poll.description or "", status=poll_status(poll),
        options=[o.text for o in options_of(session=session, poll_id=poll_id)],
    )


def normalize_join_code(code: str) -> str | None:
    """The stored form of a typed join code (upper case, no spaces or dashes), or None when it
    cannot be one."""
    if not isinstance(code, str) or len(code) > 4 * JOIN_CODE_LENGTH:
        return None
    cleaned = "".join(ch for ch in code if not ch.isspace() and ch != "-").upper()
    if len(cleaned) != JOIN_CODE_LENGTH or any(ch not in JOIN_CODE_ALPHABET for ch in cleaned):
        return None
    return cleaned


def find_poll_by_join_code(*, session: Session, code: str) -> Poll | None:
    """The poll a join code names, whatever its case and spacing; None if it names none.

    Who may then see the poll is still decided by :func:`get_visible_poll` on its id.
    """
    cleaned = normalize_join_code(code)
    if cleaned is None:
        return None
    return session.exec(select(Poll).where(Poll.join_code == cleaned)).first()


def _unused_join_code(session: Session) -> str:
    # About 8.5e11 codes: a clash is rare, but the unique index would turn one into a 500.
    for _ in range(20):
        code = new_join_code()
        if session.exec(select(Poll.id).where(Poll.join_code == code)).first() is None:
            return code
    raise Conflict(N_("Could not find a free join code; try again."))


def find_by_join_code(*, session: Session, code: str, address: str) -> str:
    """The id of the poll whose join code is ``code`` (:func:`find_poll_by_join_code`), counted
    against the ``join`` rate limit of the asking ``address``.

    Raises:
        RateLimited: Too many codes tried from this address.
        NotFound: No poll has this code (visibility is checked by the poll's page, as for a link).
    """
    ratelimit.hit("join", address)
    poll = find_poll_by_join_code(session=session, code=code)
    if poll is None:
        raise NotFound(N_("No poll has this join code. Check it and try again."))
    return poll.id  # type: ignore[return-value]


def join_code_of(poll: Poll) -> str:
    """The short code people type into ``/join`` to reach the poll."""
    return poll.join_code


def get_managed_poll(*, session: Session, poll_id: str, user: User) -> Poll:
    """A poll the user may manage (owner or admin).

    Raises:
        NotFound: Not visible to the user.
        Forbidden: Visible, but the user is not its owner or an admin.
    """
    poll = get_visible_poll(session=session, poll_id=poll_id, user=user)
    if not is_manager(poll, user):
        raise Forbidden(N_("Only the poll's owner or an administrator may do this."))
    return poll


def has_voted(*, session: Session, user: User, poll_id: str) -> bool:
    """Whether the user has a ballot in the poll (in an anonymous poll: is marked as a participant)."""
    named = exists().where(col(Ballot.poll_id) == poll_id, col(Ballot.user_id) == user.id)
    anonymous = exists().where(col(PollParticipant.poll_id) == poll_id, col(PollParticipant.user_id) == user.id)
    return bool(session.execute(select(or_(named, anonymous))).scalar())


def voters_who_voted(*, session: Session, poll_id: str, user_ids: Sequence[int] | None = None) -> set[int]:
    """The ids of the users who have voted in the poll (among ``user_ids`` when given)."""
    named = select(Ballot.user_id).where(col(Ballot.poll_id) == poll_id, col(Ballot.user_id).is_not(None))
    anonymous = select(PollParticipant.user_id).where(col(PollParticipant.poll_id) == poll_id)
    if user_ids is not None:
        named = named.where(col(Ballot.user_id).in_(list(user_ids)))
        anonymous = anonymous.where(col(PollParticipant.user_id).in_(list(user_ids)))
    return {int(u) for u in session.exec(named).all()} | {int(u) for u in session.exec(anonymous).all()}


def results_refusal(*, session: Session | None, poll: Poll, user: User, voted: bool | None = None) -> str | None:
    """Why the user may not see the poll's results yet, or None when they may.

    ``voted``: whether the user has voted, when the caller knows (then ``session`` may be None).

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
        if closed or (voted if voted is not None else has_voted(session=session, user=user, poll_id=poll.id)):  # type: ignore[arg-type]
            return None
        return "Results are shown once you have voted."
    if rule == "after_close":
        return None if closed else "Results are shown once the poll closes."
    return "Only the poll's creator can see its results."


def room_refusal(*, session: Session, poll: Poll, user: User) -> str | None:
    """Why a screen projected in a room may not show the poll's results, or None when it may.

    The presenter's own right comes first (:func:`results_refusal`). Beyond it, a room holds
    everyone: people who have not voted and who do not manage the poll, so an owner's or an
    admin's right, or the presenter's own vote, must not show them what the poll's rule hides
    from them: ``live`` results may be projected, ``after_vote`` and ``after_close`` ones once the
    poll is closed, ``creator`` ones never. The sentence is a msgid: the page translates it.
    """
    own = results_refusal(session=session, poll=poll, user=user)
    if own is not None:
        return own
    rule = poll.results_visibility
    closed = poll_status(poll) == "closed"
    if rule == "live" or (closed and rule in ("after_vote", "after_close")):
        return None
    if rule == "after_vote":
        return N_("On a shared screen, results are shown once the poll closes: until then only those who have voted may see them.")
    if rule == "after_close":
        return N_("Results are shown once the poll closes.")
    return N_("Only the poll's creator can see its results, so they are not shown on a shared screen.")


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


def options_of(*, session: Session, poll_id: str) -> list[PollOption]:
    """The poll's options in display order."""
    return list(
        session.exec(
            select(PollOption).where(PollOption.poll_id == poll_id).order_by(col(PollOption.position), col(PollOption.id))
        ).all()
    )


def ballot_count(*, session: Session, poll_id: str) -> int:
    """How many ballots the poll holds."""
    return int(session.exec(select(func.count()).select_from(Ballot).where(Ballot.poll_id == poll_id)).one())


def view_poll(*, session: Session, poll: Poll) -> PollView:
    """Bundle a poll with its options and status."""
    return PollView(poll=poll, options=options_of(session=session, poll_id=poll.id), status=poll_status(poll))  # type: ignore[arg-type]


def _clean_text(
    value: str, *, name: str, max_len: int, required: bool = True, field: str | None = None, multiline: bool = False
) -> str:
    """``value`` stripped, or InvalidInput: empty when required, too long, or holding a control or
    invisible character (only a multi-line text keeps line breaks and tabs)."""
    if not isinstance(value, str):
        raise InvalidInput(N_("%(name)s must be text."), field=field, name=name)
    value = value.strip()
    if required and not value:
        raise InvalidInput(N_("%(name)s must not be empty."), field=field, name=name)
    if len(value) > max_len:
        raise InvalidInput(
            N_("%(name)s must be at most %(max_len)s characters."),
            field=field, name=name, max_len=max_len,
        )
    refused = text_rules.refuse_hidden(value, name=name, multiline=multiline)
    if refused is not None:
        raise InvalidInput(refused, field=field)
    return value


def clean_options(options: Sequence[str]) -> list[str]:
    """Strip option texts and check their count and distinctness."""
    if not isinstance(options, (list, tuple)):
        raise InvalidInput(N_("Options must be a list of texts."), field="options")
    cleaned = [_clean_text(text, name="Each option", max_len=OPTION_MAX, field="options") for text in options]
    if not (MIN_OPTIONS <= len(cleaned) <= MAX_OPTIONS):
        raise InvalidInput(
            N_("A poll needs %(min_options)s to %(max_options)s options."),
            field="options", min_options=MIN_OPTIONS, max_options=MAX_OPTIONS,
        )
    # Compared as they read: case, width and look-alike letters folded (services/text.py).
    seen: dict[str, str] = {}
    for text in cleaned:
        key = text_rules.option_key(text)
        if key in seen:
            if seen[key] != text:
                raise InvalidInput(N_("Options must be distinct: %(text)s reads the same as %(other)s."),
                                   field="options", text=repr(text), other=repr(seen[key]))
            raise InvalidInput(
                N_("Options must be distinct: %(text)s appears twice."),
                field="options", text=repr(text),
            )
        seen[key] = text
    return cleaned


def _aware(value: datetime | None, name: str) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise InvalidInput(
            N_("%(name)s must include a time-zone offset (ISO 8601, e.g. 2026-12-01T18:00:00+01:00)."),
            field=name, name=name,
        )
    try:
        return as_utc(value)
    except OverflowError:  # e.g. 0001-01-01T00:00+05:00 is before year 1 in UTC
        raise InvalidInput(N_("%(name)s is out of range."), field=name, name=name) from None


def validate_spec(spec: PollSpec, *, now: datetime | None = None, creating: bool = True) -> PollSpec:
    """Check every field of a poll; returns a cleaned copy.

    Raises:
        InvalidInput: With a message naming the field.
    """
    now = now or utcnow()
    title = _clean_text(spec.title, name="Title", max_len=TITLE_MAX, field="title")
    description = _clean_text(
        spec.description or "", name="Description", max_len=DESCRIPTION_MAX, required=False, field="description",
        multiline=True,
    )
    options = clean_options(spec.options)
    method = methods.get(spec.method)
    settings = _method_settings(spec, method, len(options))
    if spec.visibility not in VISIBILITIES:
        raise InvalidInput(
            N_("Visibility must be one of %(visibilities)s."),
            field="visibility", visibilities=', '.join(VISIBILITIES),
        )
    if spec.results_visibility not in RESULTS_VISIBILITIES:
        raise InvalidInput(
            N_("Results visibility must be one of %(results_visibilities)s."),
            field="results_visibility", results_visibilities=', '.join(RESULTS_VISIBILITIES),
        )
    opens_at = _aware(spec.opens_at, "opens_at")
    closes_at = _aware(spec.closes_at, "closes_at")
    if opens_at and closes_at and closes_at <= opens_at:
        raise InvalidInput(N_("The closing time must be after the opening time."), field="closes_at")
    if creating and closes_at and closes_at <= now:
        raise InvalidInput(N_("The closing time must be in the future."), field="closes_at")
    threshold = spec.anonymity_threshold
    if threshold is None:
        threshold = DEFAULT_ANONYMITY
    elif not spec.anonymous:
        raise InvalidInput(N_("anonymity_threshold applies to anonymous polls only."), field="anonymity_threshold")
    if isinstance(threshold, bool) or not isinstance(threshold, int) or not (MIN_ANONYMITY <= threshold <= MAX_ANONYMITY):
        raise InvalidInput(
            N_("anonymity_threshold must be a whole number from %(min_anonymity)s to %(max_anonymity)s."),
            field="anonymity_threshold", min_anonymity=MIN_ANONYMITY, max_anonymity=MAX_ANONYMITY,
        )
    quorum_ballots, quorum_share, pass_rule = decisions.check_rules(
        method=method, visibility=spec.visibility, quorum_ballots=spec.quorum_ballots,
        quorum_share=spec.quorum_share, pass_rule=spec.pass_rule,
    )
    if spec.access not in ACCESS_MODES:
        raise InvalidInput(
            N_("Access must be one of %(access_modes)s."),
            field="access", access_modes=', '.join(ACCESS_MODES),
        )
    if spec.access == "link" and spec.visibility == "private":
        raise InvalidInput(
            "A link poll cannot be private: anyone with its link may vote. Use a private poll with "
            "invitations to limit who votes.",
            field="access",
        )
    remind = spec.remind_before_hours
    if remind is not None and (
        isinstance(remind, bool) or not isinstance(remind, int) or not (1 <= remind <= MAX_REMIND_BEFORE_HOURS)
    ):
        raise InvalidInput(
            N_("remind_before_hours must be a whole number from 1 to %(max_remind_before_hours)s."),
            field="remind_before_hours", max_remind_before_hours=MAX_REMIND_BEFORE_HOURS,
        )
    return PollSpec(
        title=title,
        options=options,
        description=description,
        method=spec.method,
        visibility=spec.visibility,
        results_visibility=spec.results_visibility,
        opens_at=opens_at,
        closes_at=closes_at,
        anonymous=bool(spec.anonymous),
        anonymity_threshold=threshold,
        quorum_ballots=quorum_ballots,
        quorum_share=quorum_share,
        pass_rule=pass_rule,
        **settings,
        access=spec.access,
        remind_before_hours=remind,
    )


def _method_settings(spec: PollSpec, method: methods.Method, options: int) -> dict[str, Any]:
    """The method's settings of ``spec``, checked by the method's entry; each setting the method
    does not take must be left out.

    Raises:
        InvalidInput: A setting another method takes, or a value its method refuses.
    """
    taking = methods.all_params()
    for name in METHOD_SETTINGS:
        if getattr(spec, name) is not None and name not in method.param_names():
            takers = ", ".join(m.name for m in taking.get(name, []))
            raise InvalidInput(N_("%(name)s applies to %(takers)s polls only."), field=name, name=name, takers=takers)
    settings: dict[str, Any] = dict.fromkeys(METHOD_SETTINGS)
    for param in method.params:
        settings[param.name] = param.check(getattr(spec, param.name, None), options)
    return settings


def create_poll(*, session: Session, user: User, spec: PollSpec) -> PollView:
    """Create a poll with its options; the creator owns it."""
    spec = validate_spec(spec)
    poll = Poll(
        join_code=_unused_join_code(session),
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
        anonymity_threshold=spec.anonymity_threshold or DEFAULT_ANONYMITY,
        seats=spec.seats,
        stv_rule=spec.stv_rule,
        quorum_ballots=spec.quorum_ballots,
        quorum_share=spec.quorum_share,
        pass_rule=spec.pass_rule or "none",
        access=spec.access,
        remind_before_hours=spec.remind_before_hours,
    )
    session.add(poll)
    session.flush()
    for position, text in enumerate(spec.options):
        session.add(PollOption(poll_id=poll.id, text=text, position=position))  # type: ignore[arg-type]
    if spec.anonymous:
        session.add(ResultSnapshot(poll_id=poll.id))  # type: ignore[arg-type]
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
    show: str = "all",
) -> tuple[list[PollView], int]:
    """Polls the user may list, newest first, with the total.

    Listed: public polls, the user's own, and private polls the user is on the roll of. Unlisted
    polls of others never appear (they are reached by link only). ``show`` narrows that (see
    ``LIST_FILTERS``); each view's ``extra["voted"]`` says whether the user has voted in it (for
    anonymous polls from ``poll_participants``, which says who voted, never how).
    """
    if skip < 0 or not (1 <= limit <= LIST_LIMIT_MAX):
        raise InvalidInput(
            N_("skip must be >= 0 and limit between 1 and %(list_limit_max)s."),
            list_limit_max=LIST_LIMIT_MAX,
        )
    if len(search) > TITLE_MAX:
        raise InvalidInput(N_("Search text must be at most %(title_max)s characters."), title_max=TITLE_MAX)
    if show not in LIST_FILTERS:
        raise InvalidInput(
            N_("show must be one of %(list_filters)s."),
            field="show", list_filters=', '.join(LIST_FILTERS),
        )
    mine = mine or show == "mine"
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
    now = utcnow()
    # NULL-safe: NOT over a NULL comparison would drop polls without a closing time.
    is_closed = or_(col(Poll.closed_at).is_not(None), col(Poll.closes_at).is_not(None) & (col(Poll.closes_at) <= now))
    voted_clause = or_(
        exists().where(col(Ballot.poll_id) == col(Poll.id), col(Ballot.user_id) == user.id),
        exists().where(col(PollParticipant.poll_id) == col(Poll.id), col(PollParticipant.user_id) == user.id),
    )
    if show == "closed":
        condition = condition & is_closed
    elif show in ("open", "not_voted"):  # open now: not closed, and not waiting to open
        condition = condition & ~is_closed & or_(col(Poll.opens_at).is_(None), col(Poll.opens_at) <= now)
        if show == "not_voted":
            condition = condition & ~voted_clause
    query = select(Poll).where(condition)
    count_query = select(func.count()).select_from(Poll).where(condition)
    if search.strip():
        pattern = "%" + search.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(func.lower(Poll.title).like(pattern, escape="\\"))
        count_query = count_query.where(func.lower(Poll.title).like(pattern, escape="\\"))
    total = int(session.exec(count_query).one())
    polls = session.exec(query.order_by(col(Poll.created_at).desc(), col(Poll.id).desc()).offset(skip).limit(limit)).all()
    views = _views_for(session=session, polls=list(polls), user=user)
    voted = _voted_in(session=session, user=user, poll_ids=[v.poll.id for v in views])  # type: ignore[misc]
    for view in views:
        view.extra["voted"] = view.poll.id in voted
    return views, total


def _voted_in(*, session: Session, user: User, poll_ids: list[str]) -> set[str]:
    """Which of the polls the user has voted in (two queries for a whole page)."""
    if not poll_ids:
        return set()
    named = select(Ballot.poll_id).where(col(Ballot.poll_id).in_(poll_ids), col(Ballot.user_id) == user.id)
    anonymous = select(PollParticipant.poll_id).where(
        col(PollParticipant.poll_id).in_(poll_ids), col(PollParticipant.user_id) == user.id
    )
    return set(session.exec(named).all()) | set(session.exec(anonymous).all())


def _views_for(*, session: Session, polls: list[Poll], user: User) -> list[PollView]:
    """Views for many polls with a few queries, not a few per poll.

    A poll's ballot count is shown only to those who may see its results, and for an open
    anonymous poll it is the count of its latest results snapshot (the figure its results show).
    """
    ids = [p.id for p in polls]
    if not ids:
        return []
    options: dict[str, list[PollOption]] = {pid: [] for pid in ids}  # type: ignore[misc]
    for option in session.exec(
        select(PollOption).where(col(PollOption.poll_id).in_(ids)).order_by(col(PollOption.position), col(PollOption.id))
    ).all():
        options[option.poll_id].append(option)
    counts = dict(
        session.exec(
            select(Ballot.poll_id, func.count()).where(col(Ballot.poll_id).in_(ids)).group_by(Ballot.poll_id)
        ).all()
    )
    open_anonymous = [p.id for p in polls if p.anonymous and poll_status(p) != "closed"]
    snapshots = dict(
        session.exec(select(ResultSnapshot.poll_id, ResultSnapshot.result).where(col(ResultSnapshot.poll_id).in_(open_anonymous))).all()
    ) if open_anonymous else {}
    shown: dict[str, int | None] = {}
    for p in polls:
        if results_refusal(session=session, poll=p, user=user) is not None:
            shown[p.id] = None  # type: ignore[index]
        elif p.id in open_anonymous:  # the count its results show: the snapshot's (0 before one)
            shown[p.id] = int((snapshots.get(p.id) or {}).get("total_ballots", 0))  # type: ignore[index]
        else:
            shown[p.id] = int(counts.get(p.id, 0))  # type: ignore[index]
    return [
        PollView(poll=p, options=options[p.id], status=poll_status(p), ballot_count=shown[p.id])  # type: ignore[index]
        for p in polls
    ]


UPDATABLE = {
    "title", "description", "options", "method", "max_choices", "visibility",
    "results_visibility", "opens_at", "closes_at", "anonymous", "anonymity_threshold",
    "seats", "stv_rule", "quorum_ballots", "quorum_share", "pass_rule",
    "access", "remind_before_hours",
}
# What may still change once a ballot is in: the wording and the closing time. Everything else
# is what the ballots were cast under (a changed option, method, setting or rule would recount
# them, or re-decide their outcome, under rules the voters did not see; a changed audience,
# schedule or results rule would change who voted, or what they were told, after the fact).
AFTER_BALLOT_UPDATABLE: frozenset[str] = frozenset({"title", "description", "closes_at"})
FROZEN_WITH_BALLOTS = tuple(sorted(UPDATABLE - AFTER_BALLOT_UPDATABLE))
# What may still change once a poll is closed: nothing. Its question, options, rules, times and
# audience are part of what was decided (a retitled or re-hidden result would mislead as much as
# a changed one); deleting the whole poll stays possible, and is audited.
CLOSED_UPDATABLE: set[str] = set()


def update_poll(*, session: Session, user: User, poll_id: str, changes: dict[str, Any]) -> PollView:
    """Change a poll (owner or admin).

    Before the first ballot every field may change; once a ballot exists only the title, the
    description and the closing time (not into the past); once closed, nothing (409).

    Raises:
        InvalidInput, NotFound, Forbidden, Conflict
    """
    unknown = set(changes) - UPDATABLE
    if unknown:
        raise InvalidInput(N_("Unknown fields: %(fields)s."), fields=', '.join(sorted(unknown)))
    poll = get_managed_poll(session=session, poll_id=poll_id, user=user)
    if poll_status(poll) == "closed":
        sealed = sorted(name for name in set(changes) - CLOSED_UPDATABLE if changes[name] != _current_value(poll, name))
        if sealed:
            raise Conflict(
                N_("This poll is closed and sealed; these can no longer change: %(fields)s."),
                fields=', '.join(sealed),
            )
    current = options_of(session=session, poll_id=poll_id)
    spec = PollSpec(
        title=changes.get("title", poll.title),
        options=changes.get("options", [o.text for o in current]),
        description=changes.get("description", poll.description) or "",
        method=changes.get("method", poll.method),
        visibility=changes.get("visibility", poll.visibility),
        results_visibility=changes.get("results_visibility", poll.results_visibility),
        opens_at=changes["opens_at"] if "opens_at" in changes else as_utc(poll.opens_at),
        closes_at=changes["closes_at"] if "closes_at" in changes else as_utc(poll.closes_at),
        anonymous=changes.get("anonymous", poll.anonymous),
        anonymity_threshold=changes.get("anonymity_threshold", poll.anonymity_threshold if changes.get("anonymous", poll.anonymous) else None),
        quorum_ballots=changes["quorum_ballots"] if "quorum_ballots" in changes else poll.quorum_ballots,
        quorum_share=changes["quorum_share"] if "quorum_share" in changes else poll.quorum_share,
        pass_rule=changes.get("pass_rule", poll.pass_rule),
        access=changes["access"] if changes.get("access") is not None else poll.access,
        remind_before_hours=changes["remind_before_hours"] if "remind_before_hours" in changes else poll.remind_before_hours,
    )
    # A setting the new method takes keeps its value unless changed; the others are dropped.
    target = methods.find(spec.method)
    for name in METHOD_SETTINGS:
        keep = target is not None and name in target.param_names()
        setattr(spec, name, changes[name] if name in changes else (getattr(poll, name) if keep else None))
    spec = validate_spec(spec, creating=False)
    if "closes_at" in changes and spec.closes_at is not None and spec.closes_at <= utcnow() and poll_status(poll) != "closed":
        raise InvalidInput(N_("The closing time must be in the future; use close to end the poll now."))
    has_ballots = ballot_count(session=session, poll_id=poll_id) > 0
    options_changed = [o.text for o in current] != spec.options
    if has_ballots:
        frozen = [name for name in FROZEN_WITH_BALLOTS if _differs(poll, spec, name, options_changed=options_changed)]
        if frozen:
            raise Conflict(
                N_(
                    "Ballots have been cast; only the title, description and closing time can change now "
                    "(refused: %(fields)s)."
                ),
                fields=', '.join(frozen),
            )
    if spec.anonymous:
        roll = [float(w) for w in session.exec(select(PollVoter.weight).where(PollVoter.poll_id == poll_id)).all()]
        _check_anonymous_weights(roll, spec.anonymity_threshold or DEFAULT_ANONYMITY)
    if options_changed:
        _replace_options(session=session, poll_id=poll_id, current=current, texts=spec.options)
    poll.title = spec.title
    poll.description = spec.description
    poll.method = spec.method
    for name in (*METHOD_SETTINGS, "quorum_ballots", "quorum_share", "pass_rule"):
        setattr(poll, name, getattr(spec, name))
    poll.visibility = spec.visibility
    poll.results_visibility = spec.results_visibility
    poll.opens_at = spec.opens_at
    poll.closes_at = spec.closes_at
    if spec.anonymous and not poll.anonymous and session.get(ResultSnapshot, poll_id) is None:
        session.add(ResultSnapshot(poll_id=poll_id))
    poll.anonymous = spec.anonymous
    poll.anonymity_threshold = spec.anonymity_threshold or DEFAULT_ANONYMITY
    poll.access = spec.access
    if spec.remind_before_hours != poll.remind_before_hours or "closes_at" in changes:
        poll.reminded_at = None  # a new reminder time: the automatic reminder is due again
    poll.remind_before_hours = spec.remind_before_hours
    poll.updated_at = utcnow()
    session.add(poll)
    record_event(
        session=session, actor_id=user.id, action="poll.update", target_type="poll", target_id=poll_id,
        detail={"fields": sorted(changes)},
    )
    session.commit()
    session.refresh(poll)
    notify.poll_changed(poll_id)
    if {"visibility", "results_visibility"} & set(changes):  # what decides who sees the results
        notify.poll_access_changed(poll_id)
    return view_poll(session=session, poll=poll)


def editable_fields(*, session: Session, poll: Poll) -> frozenset[str]:
    """The fields an edit of ``poll`` may change now: all of them before the first ballot, the
    title, description and closing time after it, none once it is closed (what the edit page
    shows as locked, and what ``update_poll`` enforces)."""
    if poll_status(poll) == "closed":
        return frozenset(CLOSED_UPDATABLE)
    if ballot_count(session=session, poll_id=poll.id) > 0:  # type: ignore[arg-type]
        return AFTER_BALLOT_UPDATABLE
    return frozenset(UPDATABLE)


def _differs(poll: Poll, spec: PollSpec, name: str, *, options_changed: bool) -> bool:
    """Whether the cleaned ``spec`` changes the poll's field ``name``."""
    if name == "options":
        return options_changed
    if name == "anonymity_threshold":  # only meaningful (and only kept) for anonymous polls
        return spec.anonymous and spec.anonymity_threshold != poll.anonymity_threshold
    return getattr(spec, name) != _current_value(poll, name)


def _current_value(poll: Poll, name: str) -> Any:
    """A poll field as an update would compare it (options are never equal: always refused)."""
    if name in ("opens_at", "closes_at"):
        return as_utc(getattr(poll, name))
    return getattr(poll, name, object())


def _replace_options(*, session: Session, poll_id: str, current: list[PollOption], texts: list[str]) -> None:
    """Keep options whose text stays (and their ids), add new ones, drop the rest."""
    by_key = {text_rules.option_key(o.text): o for o in current}
    keep: set[int] = set()
    for position, text in enumerate(texts):
        existing = by_key.get(text_rules.option_key(text))
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


def close_poll(*, session: Session, user: User, poll_id: str) -> PollView:
    """Close a poll now (owner or admin) and seal its result and ballot record (see
    ``results.seal_poll``); closing a closed poll changes nothing, but seals it if it closed on
    time and nobody has read it since."""
    from commons_app.services import results  # results builds on this module

    poll = get_managed_poll(session=session, poll_id=poll_id, user=user)
    if poll_status(poll) != "closed":
        counts.lock_poll(session=session, poll_id=poll_id)  # no ballot commits between the two
        session.refresh(poll)
    if poll_status(poll) != "closed":
        poll.closed_at = utcnow()
        poll.updated_at = poll.closed_at
        session.add(poll)
        record_event(session=session, actor_id=user.id, action="poll.close", target_type="poll", target_id=poll_id)
        session.flush()
        results.seal_poll(session=session, poll=poll)  # commits
        session.refresh(poll)
        notify.poll_changed(poll_id)
    else:
        results.ensure_sealed(session=session, poll=poll)
    return view_poll(session=session, poll=poll)


def delete_poll(*, session: Session, user: User, poll_id: str) -> None:
    """Delete a poll with its options, ballots and roll (owner or admin)."""
    poll = get_managed_poll(session=session, poll_id=poll_id, user=user)
    session.execute(delete(Ballot).where(col(Ballot.poll_id) == poll_id))
    session.execute(delete(PollVoter).where(col(PollVoter.poll_id) == poll_id))
    # Its invitees exist only for it (link guests vote in many polls and stay).
    session.execute(delete(User).where(col(User.guest_poll_id) == poll_id, col(User.role) == GUEST_ROLE))
    session.execute(delete(PollOption).where(col(PollOption.poll_id) == poll_id))
    record_event(
        session=session, actor_id=user.id, action="poll.delete", target_type="poll", target_id=poll_id,
        detail={"title": poll.title},
    )
    session.delete(poll)
    session.commit()
    notify.poll_changed(poll_id)
    notify.poll_access_changed(poll_id)


@dataclass(frozen=True)
class RollEntry:
    """One line of a roll as the owner sets it: an account by username, or an email address
    (an account's, or, when no account has it, a voter who votes through an invitation link).
    An entry with both names the account and sends its invitations to that address."""

    username: str | None = None
    weight: float = 1.0
    email: str | None = None


@dataclass(frozen=True)
class RollLine:
    """One voter of a roll as its managers see it (``invitation``: see ``services.invitations``)."""

    user: User
    entry: PollVoter
    has_voted: bool
    invitation: str | None = None

    @property
    def username(self) -> str | None:
        """The account's username; None for a voter without an account."""
        return None if self.user.role == GUEST_ROLE else self.user.username

    def __iter__(self) -> Any:
        """Unpacks (and indexes) as ``(user, entry, has_voted)``, the roll's older shape, which
        callers still use."""
        return iter((self.user, self.entry, self.has_voted))

    def __getitem__(self, index: int) -> Any:
        return (self.user, self.entry, self.has_voted)[index]


def parse_weight(value: Any, *, who: str) -> float:
    """A roll weight: a decimal number above 0, at most ``MAX_WEIGHT``, with at most
    ``WEIGHT_DECIMALS`` decimal places (so the tally can treat it as the exact decimal written).

    Raises:
        InvalidInput: Anything else.
    """
    message = (
        f"Weight of {who!r} must be a number greater than 0 and at most {MAX_WEIGHT:g}, "
        f"with at most {WEIGHT_DECIMALS} decimal places."
    )
    if isinstance(value, bool):
        raise InvalidInput(message, field="voters")
    try:
        weight = float(value)
        exact = Decimal(repr(weight))
    except (TypeError, ValueError, InvalidOperation, OverflowError):
        raise InvalidInput(message, field="voters") from None
    if not math.isfinite(weight) or weight <= 0 or weight > MAX_WEIGHT or -exact.as_tuple().exponent > WEIGHT_DECIMALS:  # type: ignore[operator]
        raise InvalidInput(message, field="voters")
    return weight


def _check_anonymous_weights(weights: Sequence[float], threshold: int) -> None:
    """No weight on an anonymous roll may single anyone out: unless all weights are equal, each
    distinct weight is held by at least ``threshold`` voters (else results weighted by it would
    tell a small group's choices apart).

    Raises:
        InvalidInput: Some weight is held by fewer than ``threshold`` voters.
    """
    held: dict[float, int] = {}
    for weight in weights:
        held[weight] = held.get(weight, 0) + 1
    if len(held) <= 1:
        return
    rare = sorted(w for w, n in held.items() if n < threshold)
    if rare:
        shown = ", ".join(f"{w:g}" for w in rare)
        raise InvalidInput(
            N_(
                "In an anonymous poll every weight must be held by at least %(threshold)s voters "
                "(the poll's anonymity threshold), or all weights must be equal; too few voters hold: %(shown)s."
            ),
            field="voters", threshold=threshold, shown=shown,
        )


def _roll_email(raw: str, *, who: str) -> str:
    try:
        return auth.check_email(raw)
    except InvalidInput as exc:
        raise InvalidInput(N_("%(who)s: %(reason)s"), field="voters", who=repr(who), reason=exc.message) from None


def set_roll(*, session: Session, user: User, poll_id: str, voters: Sequence[RollEntry]) -> list[tuple[User, PollVoter]]:
    """Replace the poll's roll (owner or admin).

    Entries name accounts by username or by email; an email without an account makes (or, when
    it is on the roll already, keeps) a guest voter of this poll (``services.guests``), who
    votes through an invitation link. A guest who leaves the roll is deleted, with its links.

    The roll is sealed where it could change a result or expose a voter: a voter who has voted
    keeps their place and weight until the poll closes; a closed poll's roll never changes; an
    anonymous poll's weights are fixed once it opens, and no weight on it may single anyone out
    (:func:`_check_anonymous_weights`). Every change is audited with each voter's weight before
    and after.

    Raises:
        InvalidInput: Unknown usernames, entries naming nobody, bad addresses, duplicates, bad
            weights, too many entries, or weights that would single voters out of an anonymous poll.
        Conflict: The poll is closed; the change would alter the weight of, or remove, a voter
            who has voted; or it would change a weight of an anonymous poll that is open.
    """
    poll = get_managed_poll(session=session, poll_id=poll_id, user=user)
    status = poll_status(poll)
    if status == "closed":
        raise Conflict(N_("This poll is closed: its roll can no longer change."))
    if len(voters) > MAX_ROLL:
        raise InvalidInput(N_("A roll holds at most %(max_roll)s voters."), max_roll=MAX_ROLL)
    named: dict[str, tuple[float, str | None]] = {}  # username key -> weight, invitation address
    by_email: dict[str, tuple[float, str]] = {}  # address key -> weight, address
    for entry in voters:
        username = (entry.username or "").strip() or None
        raw_email = (entry.email or "").strip() or None
        if username is None and raw_email is None:
            raise InvalidInput(N_("Each voter on the roll needs a username or an email address."), field="voters")
        who = username or raw_email or ""
        weight = parse_weight(entry.weight, who=who)
        email = _roll_email(raw_email, who=who) if raw_email else None
        if username is not None:
            key = username.lower()
            if key in named:
                raise InvalidInput(N_("%(username)s appears twice on the roll."), username=repr(username))
            named[key] = (weight, email)
        else:
            key = email.lower()  # type: ignore[union-attr]
            if key in by_email:
                raise InvalidInput(N_("%(email)s appears twice on the roll."), email=repr(email))
            by_email[key] = (weight, email)  # type: ignore[assignment]
    accounts = col(User.role) != GUEST_ROLE
    users = {
        u.username_key: u for u in session.exec(select(User).where(col(User.username_key).in_(list(named)), accounts)).all()
    } if named else {}
    missing = [name for name in named if name not in users]
    if missing:
        raise InvalidInput(N_("Unknown users: %(users)s."), users=', '.join(sorted(missing)))
    by_address = {
        u.email_key: u for u in session.exec(select(User).where(col(User.email_key).in_(list(by_email)), accounts)).all()
    } if by_email else {}
    current = session.exec(
        select(PollVoter, User).join(User, col(User.id) == col(PollVoter.user_id)).where(PollVoter.poll_id == poll_id)
    ).all()
    guests_here = {(v.email or "").lower(): u for v, u in current if u.role == GUEST_ROLE}
    after: dict[int, float] = {}  # user id -> weight (new guests: below)
    addresses: dict[int, str | None] = {}
    shown: dict[int, str] = {}
    for key, (weight, email) in named.items():
        account = users[key]
        after[account.id] = weight  # type: ignore[index]
        addresses[account.id] = email  # type: ignore[index]
        shown[account.id] = account.username  # type: ignore[index]
    fresh: list[tuple[str, float]] = []  # addresses that need a new guest
    for key, (weight, email) in by_email.items():
        known = by_address.get(key) or guests_here.get(key)
        if known is None:
            fresh.append((email, weight))
            continue
        if known.id in after:
            raise InvalidInput(N_("%(email)s names a voter who is already on the roll."), email=repr(email))
        after[known.id] = weight  # type: ignore[index]
        addresses[known.id] = email  # type: ignore[index]
        shown[known.id] = email  # type: ignore[index]
    before = {int(v.user_id): float(v.weight) for v, _u in current}
    counts.lock_poll(session=session, poll_id=poll_id)  # PostgreSQL: no ballot commits until we do
    voted = voters_who_voted(session=session, poll_id=poll_id)
    for uid in voted:
        # The weight their ballot carries now, and the one it would carry after the change.
        was = weight_from_roll(poll, before.get(uid))
        will = weight_from_roll(poll, after.get(uid))
        if was != will or (uid in before and uid not in after):
            raise Conflict(
                "Voters who have voted keep their place and weight on the roll until the poll closes; "
                "this change would remove or re-weight one of them."
            )
    if poll.anonymous and status == "open":
        changed = [uid for uid in before.keys() & after.keys() if before[uid] != after[uid]]
        if changed:
            raise Conflict(N_("An anonymous poll's weights are fixed once it opens."))
    if poll.anonymous:
        _check_anonymous_weights(list(after.values()) + [w for _e, w in fresh], poll.anonymity_threshold)
    session.execute(delete(PollVoter).where(col(PollVoter.poll_id) == poll_id))
    gone = [uid for uid in before if uid not in after]
    # SQLite: the delete above made this the one writer; a ballot that slipped in since the check
    # would be deleted with its guest below, so look again.
    if gone and voters_who_voted(session=session, poll_id=poll_id, user_ids=gone):
        session.rollback()
        raise Conflict(N_("A voter being removed has just voted; reload the roll and try again."))
    gone_guests = [u.id for _v, u in current if u.role == GUEST_ROLE and u.id in gone]
    if gone:
        guests.revoke_tokens(session=session, poll_id=poll_id, user_ids=gone)
    if gone_guests:
        session.execute(delete(User).where(col(User.id).in_(gone_guests)))
    for email, weight in fresh:
        guest = guests.new_guest(session=session, poll_id=poll_id, email=email)
        after[guest.id] = weight  # type: ignore[index]
        addresses[guest.id] = email  # type: ignore[index]
        shown[guest.id] = email  # type: ignore[index]
    everyone = {u.id: u for u in users.values()} | {u.id: u for u in by_address.values()} | {u.id: u for _v, u in current}
    rows: list[tuple[User, PollVoter]] = []
    for uid, weight in after.items():
        entry_row = PollVoter(poll_id=poll_id, user_id=uid, weight=weight, email=addresses.get(uid))
        session.add(entry_row)
        voter = everyone.get(uid) or session.get(User, uid)
        rows.append((voter, entry_row))  # type: ignore[arg-type]
    names = {uid: shown[uid] for uid in after} | {
        u.id: (u.username if u.role != GUEST_ROLE else v.email) for v, u in current if u.id in gone
    }
    changes = [
        {"user_id": uid, "username": names.get(uid), "before": before.get(uid), "after": after.get(uid)}
        for uid in sorted(before.keys() | after.keys())  # type: ignore[type-var]
        if before.get(uid) != after.get(uid)
    ]
    record_event(
        session=session, actor_id=user.id, action="poll.roll", target_type="poll", target_id=poll_id,
        detail={"voters": len(after), "changes": changes},
    )
    session.commit()
    notify.poll_changed(poll_id)
    notify.poll_access_changed(poll_id)
    return rows


def get_roll(
    *, session: Session, user: User, poll_id: str, skip: int = 0, limit: int | None = None
) -> list[RollLine]:
    """The roll (accounts by username, then voters by address) with, for each voter, whether
    they have voted (never how) and the status of their invitation. Owner or admin.

    ``skip`` and ``limit`` (at most ``ROLL_PAGE_MAX``) give one page of it; without ``limit``, all
    of it (at most ``MAX_ROLL`` entries).

    Raises:
        InvalidInput: ``skip`` below 0 or ``limit`` outside 1..``ROLL_PAGE_MAX``.
    """
    from commons_app.services import invitations  # it builds on this module

    if skip < 0 or (limit is not None and not (1 <= limit <= ROLL_PAGE_MAX)):
        raise InvalidInput(
            N_("skip must be >= 0 and limit between 1 and %(roll_page_max)s."),
            roll_page_max=ROLL_PAGE_MAX,
        )
    get_managed_poll(session=session, poll_id=poll_id, user=user)
    query = (
        select(User, PollVoter)
        .join(PollVoter, col(PollVoter.user_id) == col(User.id))
        .where(PollVoter.poll_id == poll_id)
        .order_by(col(User.username_key), col(PollVoter.email))
    )
    if limit is not None:
        rows = session.exec(query.offset(skip).limit(limit)).all()
        voted = voters_who_voted(session=session, poll_id=poll_id, user_ids=[u.id for u, _ in rows]) if rows else set()  # type: ignore[misc]
    else:
        rows = session.exec(query.offset(skip)).all()
        voted = voters_who_voted(session=session, poll_id=poll_id) if rows else set()
    status = invitations.statuses(session=session, poll_id=poll_id, user_ids=[int(u.id) for u, _ in rows]) if rows else {}  # type: ignore[arg-type]
    return [RollLine(user=u, entry=v, has_voted=u.id in voted, invitation=status.get(int(u.id))) for u, v in rows]  # type: ignore[arg-type]


def roll_page(
    *, session: Session, user: User, poll_id: str, skip: int = 0, limit: int | None = None
) -> tuple[list[RollLine], int]:
    """One page of the roll (see :func:`get_roll`) and the roll's length. Owner or admin."""
    rows = get_roll(session=session, user=user, poll_id=poll_id, skip=skip, limit=limit)
    total = session.exec(select(func.count()).select_from(PollVoter).where(PollVoter.poll_id == poll_id)).one()
    return rows, int(total)


def turnout(*, session: Session, user: User, poll_id: str, buckets: int = 24) -> list[dict[str, Any]]:
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
    # Anonymous ballots carry no time: their poll's chart stays flat (nothing to plot, by design).
    times = sorted(
        as_utc(t) for t in session.exec(select(Ballot.created_at).where(Ballot.poll_id == poll_id)).all() if t is not None  # type: ignore[type-var]
    )
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
