"""Voters without an account: guests, personal voting links and link polls.

A guest is a :class:`~commons_app.models.User` of role ``guest``, so a guest's ballot takes the
same path as everyone's (``services.votes``). A guest has no password and no API tokens, cannot
log in, never appears in admin lists and cannot take a username (its name starts with ``~``,
which no username may). There are two kinds:

* an *invitee*: made by a roll entry that names an email address without an account
  (``guest_poll_id`` is that poll); it reaches the poll through a personal link ``/v/<token>``;
* a *link guest*: one per browser, made the first time that browser opens a poll whose
  ``access`` is ``link``; it may vote in link polls only.

Either gets a browser session through :func:`commons_app.services.auth.start_browser_session`,
the function a log-in uses, so whatever hardens browser sessions covers guests too.

Personal links carry 256 random bits; only their SHA-256 is stored (``InvitationToken``). A link
works until its poll closes, its voter leaves the roll, or a resend replaces it.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import update
from sqlmodel import Session, col, select

from commons_app.config import get_settings
from commons_app.i18n import N_
from commons_app.models import GUEST_ROLE, InvitationToken, Poll, PollVoter, User, utcnow
from commons_app.services import auth, counts, ratelimit
from commons_app.services.errors import Conflict, Forbidden, NotFound

TOKEN_BYTES = 32
TOKEN_MAX_LENGTH = 128
BAD_LINK = "This voting link is not valid. Ask the poll's organiser for a new one."
CLOSED_LINK = "This poll is closed: its voting links no longer work."


def is_guest(user: User) -> bool:
    """Whether ``user`` is a voter without an account."""
    return user.role == GUEST_ROLE


def voting_link(token: str) -> str:
    """The personal voting link of a token, at ``COMMONS_PUBLIC_URL``."""
    return f"{get_settings().public_url}/v/{token}"


def hash_token(token: str) -> str:
    """What is stored of a token: its SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_guest(*, session: Session, poll_id: str | None = None, email: str = "") -> User:
    """Add (not commit) a guest: an invitee of ``poll_id`` or, without it, a browser's link guest.

    Its username and email keys start with ``~``, which no account's can, so a guest never takes
    a name or an address from anyone; ``email`` (shown to the poll's managers) is the invitee's.
    """
    handle = "~" + secrets.token_hex(15)
    user = User(
        username=handle,
        username_key=handle,
        email=email,
        email_key=handle,
        password_hash="!",  # matches no password (and authenticate() never looks at a guest)
        role=GUEST_ROLE,
        guest_poll_id=poll_id,
    )
    session.add(user)
    session.flush()
    return user


def issue_token(
    *, session: Session, poll_id: str, user_id: int, kind: str = "invitation"
) -> tuple[str, InvitationToken]:
    """Add (not commit) a personal link for the voter ``user_id`` of a poll; returns the token
    (the only time it exists outside the mail that carries it) and its stored row."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    row = InvitationToken(token_hash=hash_token(token), poll_id=poll_id, user_id=user_id, kind=kind)
    session.add(row)
    return token, row


def revoke_tokens(*, session: Session, poll_id: str, user_ids: list[int] | None = None) -> None:
    """End (not commit) the live links of a poll, or of some of its voters."""
    statement = update(InvitationToken).where(
        col(InvitationToken.poll_id) == poll_id, col(InvitationToken.revoked_at).is_(None)
    )
    if user_ids is not None:
        statement = statement.where(col(InvitationToken.user_id).in_(user_ids))
    session.execute(statement.values(revoked_at=utcnow()))


@dataclass(frozen=True)
class Invitation:
    """What a personal link names: a poll and one voter on its roll."""

    poll: Poll
    voter: User


def redeem(*, session: Session, token: str) -> Invitation:
    """The poll and voter a personal link names, while it works.

    Raises:
        NotFound: An unknown, replaced or malformed token, or its voter is no longer on the roll.
        Forbidden: The poll is closed.
    """
    from commons_app.services.polls import poll_status  # polls builds on this module

    if not isinstance(token, str) or not token or len(token) > TOKEN_MAX_LENGTH:
        raise NotFound(BAD_LINK)
    row = session.exec(select(InvitationToken).where(InvitationToken.token_hash == hash_token(token))).first()
    if row is None or row.revoked_at is not None:
        raise NotFound(BAD_LINK)
    poll = session.get(Poll, row.poll_id)
    voter = session.get(User, row.user_id)
    on_roll = session.exec(
        select(PollVoter.id).where(PollVoter.poll_id == row.poll_id, PollVoter.user_id == row.user_id)
    ).first()
    if poll is None or voter is None or on_roll is None or not voter.is_active:
        raise NotFound(BAD_LINK)
    if poll_status(poll) == "closed":
        raise Forbidden(CLOSED_LINK)
    return Invitation(poll=poll, voter=voter)


@dataclass(frozen=True)
class GuestPass:
    """A guest's browser session: the poll it is for and the credential the browser keeps."""

    poll_id: str
    credential: str


class AccountInvitation(Forbidden):
    """The link names a voter with an account: they vote after logging in."""

    def __init__(self, poll_id: str) -> None:
        super().__init__("This invitation is for an account: log in to vote.")
        self.poll_id = poll_id


def check_invitation(*, session: Session, token: str) -> str:
    """Whether a personal link works, without opening a session: the poll's id.

    Raises:
        NotFound, Forbidden: As :func:`redeem`.
        AccountInvitation: The voter has an account.
    """
    invitation = redeem(session=session, token=token)
    if not is_guest(invitation.voter):
        raise AccountInvitation(str(invitation.poll.id))
    return str(invitation.poll.id)


def open_invitation(*, session: Session, token: str) -> GuestPass:
    """Exchange a personal link for a browser session of its (guest) voter.

    Raises:
        NotFound, Forbidden: As :func:`redeem`.
        AccountInvitation: The voter has an account (a link is never a way into an account).
    """
    invitation = redeem(session=session, token=token)
    if not is_guest(invitation.voter):
        raise AccountInvitation(str(invitation.poll.id))
    _session_id, credential = auth.start_browser_session(session=session, user=invitation.voter)
    return GuestPass(poll_id=str(invitation.poll.id), credential=credential)


def start_link_guest(*, session: Session, poll_id: str, address: str | None = None) -> GuestPass:
    """A new link guest for a browser that opens a link poll, with its browser session.

    Raises:
        NotFound: No such poll, or it does not take ballots by link.
        RateLimited: Too many new guests from ``address`` (``RATELIMIT_LINK_GUEST``).
    """
    poll = session.get(Poll, poll_id)
    if poll is None or poll.access != "link":
        raise NotFound(N_("Poll not found."))
    if address is not None:
        ratelimit.hit("link_guest", address)
    guest = new_guest(session=session)
    session.commit()
    _session_id, credential = auth.start_browser_session(session=session, user=guest)
    return GuestPass(poll_id=poll_id, credential=credential)


def takes_link_ballots(*, session: Session, poll_id: str) -> bool:
    """Whether the poll exists and anyone with its link may vote without an account."""
    poll = session.get(Poll, poll_id)
    return poll is not None and poll.access == "link"


def attach_invitation(*, session: Session, user: User, token: str) -> int:
    """Put the signed-in ``user``'s account in the place of the guest a personal link names (the
    invitee has an account after all); returns the poll's id. The roll entry keeps its weight
    and address, its links now name the account (which logs in to vote), and the guest is deleted.

    Raises:
        NotFound, Forbidden: As :func:`redeem`.
        Conflict: The link names an account already, the account is on the roll already, or a
            ballot was cast through the link (it stays where it is: moving it could change a
            sealed weight or, in an anonymous poll, link a ballot to a person).
    """
    from commons_app.services.audit import record_event
    from commons_app.services.polls import voters_who_voted

    if is_guest(user):
        raise Forbidden(N_("Log in with an account to attach this invitation to it."))
    invitation = redeem(session=session, token=token)
    poll_id = str(invitation.poll.id)
    guest = invitation.voter
    if not is_guest(guest):
        raise Conflict(N_("This invitation already belongs to an account."))
    if session.exec(select(PollVoter.id).where(PollVoter.poll_id == poll_id, PollVoter.user_id == user.id)).first():
        raise Conflict(N_("Your account is already on this poll's roll."))
    counts.lock_poll(session=session, poll_id=poll_id)  # PostgreSQL: no ballot commits until we do
    session.execute(
        update(PollVoter).where(col(PollVoter.poll_id) == poll_id, col(PollVoter.user_id) == guest.id).values(user_id=user.id)
    )
    # Checked after the first write (SQLite: from then on the one writer), else a ballot cast
    # meanwhile would go with the guest.
    if voters_who_voted(session=session, poll_id=poll_id, user_ids=[int(guest.id)]):  # type: ignore[arg-type]
        session.rollback()
        raise Conflict(N_("A ballot was already cast through this link; it stays with the link."))
    # Its links now lead the account to the log-in (services.guests.AccountInvitation).
    session.execute(update(InvitationToken).where(col(InvitationToken.user_id) == guest.id).values(user_id=user.id))
    session.delete(guest)
    record_event(session=session, actor_id=user.id, action="poll.invitation_attach", target_type="poll", target_id=poll_id)
    session.commit()
    return poll_id
