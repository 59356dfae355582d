"""Accounts, passwords and tokens.

Access tokens are short-lived JWTs naming a session; refresh tokens are opaque, stored hashed,
rotated on every use, and a second use of one revokes its whole session.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import jwt
from email_validator import EmailNotValidError, validate_email
from passlib.context import CryptContext
from sqlalchemy import bindparam, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from commons_app.config import Settings, get_settings
from commons_app.i18n import N_
from commons_app.models import GUEST_ROLE, ROLES, AuthSession, RefreshToken, User, as_utc, utcnow
from commons_app.services import notify, ratelimit
from commons_app.services import text as text_rules
from commons_app.services.audit import record_event
from commons_app.services.errors import Conflict, Forbidden, InvalidInput, NotAuthenticated, NotFound

# OWASP Password Storage Cheat Sheet: argon2id, 19 MiB, 2 iterations, 1 lane.
PASSWORD_CONTEXT = CryptContext(
    schemes=["argon2"],
    argon2__type="ID",
    argon2__memory_cost=19456,
    argon2__time_cost=2,
    argon2__parallelism=1,
)
# passlib picks a hash's backend lazily, on the first hash or verify, and that first pick is not
# thread-safe: a second thread entering verify while the first swaps the backend in fails with
# "AssertionError: argon2: _finalize_backend('argon2_cffi') failed to replace lazy loader" (seen
# by bench/ws_ballots.py: 1 of 200 simultaneous first log-ins in a fresh worker). Pick it now, at
# import, before any thread (or forked worker) can race for it.
PASSWORD_CONTEXT.handler("argon2").get_backend()
JWT_ALGORITHM = "HS256"
ALLOWED_JWT_ALGORITHMS = [JWT_ALGORITHM]
USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{2,31}$")
PASSWORD_MIN, PASSWORD_MAX = 8, 128
# The HttpOnly cookie that carries a browser session's credential.
BROWSER_COOKIE = "commons_session"
COMMON_PASSWORDS_FILE = Path(__file__).resolve().parent.parent / "data" / "common-passwords.txt"


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return PASSWORD_CONTEXT.hash(secrets.token_urlsafe(16))


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The list of common passwords shipped with the project, lower-cased."""
    try:
        lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    except OSError:
        return frozenset()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


@dataclass(frozen=True)
class TokenPair:
    """What a successful log-in or refresh hands back."""

    access_token: str
    refresh_token: str
    expires_in: int
    session_id: str
    token_type: str = "bearer"


@dataclass(frozen=True)
class Identity:
    """The user behind a live access token, and the session it belongs to."""

    user: User
    session_id: str


def hash_password(password: str) -> str:
    """Hash a password with the current argon2id parameters."""
    return PASSWORD_CONTEXT.hash(password)


def check_username(username: str, *, allow_reserved: bool = False) -> str:
    """Return the username stripped, or raise InvalidInput (a reserved name or a look-alike of
    one, such as ``admin_`` or ``adrnin``, only when ``allow_reserved``: the operator's commands)."""
    username = username.strip()
    if not USERNAME_RE.fullmatch(username):
        raise InvalidInput(
            "Username must be 3 to 32 characters: letters, digits, '.', '_' or '-', "
            "starting with a letter or digit."
        )
    if not allow_reserved and text_rules.reserved_username(username):
        raise InvalidInput(N_("The username %(username)s is reserved; choose another."), username=repr(username))
    return username


def check_email(email: str) -> str:
    """Return the normalised email address, or raise InvalidInput."""
    try:
        result = validate_email(email.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidInput(N_("Email address is not valid: %(reason)s"), reason=exc) from None
    return result.normalized


def check_password(password: str, *, username: str | None = None) -> None:
    """Raise InvalidInput unless the password is acceptable (length, not common, not the username)."""
    if not (PASSWORD_MIN <= len(password) <= PASSWORD_MAX):
        raise InvalidInput(
            N_("Password must be %(password_min)s to %(password_max)s characters long."),
            password_min=PASSWORD_MIN, password_max=PASSWORD_MAX,
        )
    lowered = password.lower()
    if lowered in common_passwords():
        raise InvalidInput(N_("This password is too common; choose another."))
    if username and lowered == username.lower():
        raise InvalidInput(N_("Password must not be the same as the username."))


def register_user(
    *,
    session: Session,
    username: str,
    email: str,
    password: str,
    role: str = "member",
    address: str | None = None,
    allow_reserved: bool = False,
) -> User:
    """Create an account; ``address`` (the caller's, for self-registration) counts against its limit.
    Reserved names (admin, root, support, ...) are for the operator's commands (``allow_reserved``).

    Raises:
        RateLimited: Too many registrations from ``address``.
        InvalidInput: A username, email or password that does not fit, or a reserved username.
        Conflict: The username or email is taken (case-insensitively), or the username looks like
            a taken one (``aIice`` beside ``alice``).
    """
    if address is not None:
        ratelimit.hit("register", address)
    username = check_username(username, allow_reserved=allow_reserved)
    email = check_email(email)
    check_password(password, username=username)
    if role not in ROLES:
        raise InvalidInput(N_("Role must be one of %(choices)s."), choices=', '.join(ROLES))
    skeleton = text_rules.username_key(username)
    _raise_if_taken(session=session, username_key=username.lower(), email_key=email.lower(), skeleton=skeleton)
    user = User(
        username=username,
        username_key=username.lower(),
        username_skeleton=skeleton,
        email=email,
        email_key=email.lower(),
        password_hash=hash_password(password),
        role=role,
    )
    session.add(user)
    try:
        session.flush()
        record_event(
            session=session, actor_id=user.id, action="user.register", target_type="user", target_id=user.id
        )
        session.commit()
    except IntegrityError:
        # Two registrations raced past the check above: the unique constraints decide.
        session.rollback()
        _raise_if_taken(session=session, username_key=username.lower(), email_key=email.lower(), skeleton=skeleton)
        raise Conflict(N_("Username or email is already registered.")) from None
    session.refresh(user)
    return user


def _raise_if_taken(*, session: Session, username_key: str, email_key: str, skeleton: str) -> None:
    if session.exec(select(User.id).where(User.username_key == username_key)).first() is not None:
        raise Conflict(N_("Username is already taken."))
    if session.exec(select(User.id).where(User.username_skeleton == skeleton)).first() is not None:
        raise Conflict(N_("Username looks like one that is already taken; choose another."))
    if session.exec(select(User.id).where(User.email_key == email_key)).first() is not None:
        raise Conflict(N_("Email is already registered."))


def authenticate(*, session: Session, username: str, password: str, address: str | None = None) -> User:
    """Check a username (or email) and password, counting the attempt against the log-in limits.

    The limits count the *account*, whichever of its names was typed, per caller address
    (``login_account``) and from all addresses together (``login_account_total``), and the
    caller address's failures (``login_address``): a stranger's guesses use up the stranger's
    buckets, not the owner's (docs/SECURITY.md, "Rate limits").

    A missing user is verified against a dummy hash so that timing does not tell which
    usernames exist. The hash is upgraded when the hashing parameters have changed.

    Raises:
        RateLimited: Too many attempts for the account or failures from the address.
        NotAuthenticated: Wrong credentials, or a disabled account.
    """
    key = username.strip().lower()
    if address is not None:
        ratelimit.check("login_address", address)
    oversized = len(password) > PASSWORD_MAX or len(key) > 254
    user = None if oversized else session.exec(
        select(User).where((User.username_key == key) | (User.email_key == key))
    ).first()
    # One bucket per account, whether its username or its email was typed; an unknown name
    # gets its own (keyed hashes: Redis keys name nobody).
    account = ratelimit.private_key(user.id if user is not None else f"name:{key[:254]}")  # type: ignore[arg-type]
    ratelimit.hit("login_account", f"{account}:{address or '-'}")
    ratelimit.hit("login_account_total", account)
    try:
        if user is None or user.role == GUEST_ROLE:  # guests have no password: never a log-in
            PASSWORD_CONTEXT.verify("x" if oversized else password, _dummy_hash())
            raise NotAuthenticated(N_("Incorrect username or password."))
        valid, new_hash = PASSWORD_CONTEXT.verify_and_update(password, user.password_hash)
        if not valid:
            raise NotAuthenticated(N_("Incorrect username or password."))
    except NotAuthenticated:
        if address is not None:
            ratelimit.record("login_address", address)
        raise
    if not user.is_active:
        raise NotAuthenticated(N_("This account is disabled."))
    if new_hash is not None:
        user.password_hash = new_hash
        session.add(user)
        session.commit()
    return user


def _hash_refresh(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _encode_access(user: User, session_id: str, settings: Settings) -> tuple[str, int]:
    now = utcnow()
    lifetime = timedelta(minutes=settings.access_token_minutes)
    claims = {
        "sub": str(user.id),
        "sid": session_id,
        "role": user.role,
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "jti": uuid.uuid4().hex,
        "typ": "access",
    }
    token = jwt.encode(claims, settings.secret_key, algorithm=JWT_ALGORITHM)
    return token, int(lifetime.total_seconds())


def _new_refresh(*, session: Session, session_id: str) -> str:
    token = secrets.token_urlsafe(32)
    session.add(RefreshToken(session_id=session_id, token_hash=_hash_refresh(token)))
    return token


def start_session(*, session: Session, user: User, settings: Settings | None = None) -> TokenPair:
    """Open a new session for ``user`` and return its first token pair."""
    settings = settings or get_settings()
    auth_session = AuthSession(
        id=uuid.uuid4().hex,
        user_id=user.id,  # type: ignore[arg-type]
        expires_at=utcnow() + timedelta(days=settings.refresh_token_days),
        last_used_at=utcnow(),
    )
    session.add(auth_session)
    session.flush()
    refresh = _new_refresh(session=session, session_id=auth_session.id)
    session.commit()
    access, expires_in = _encode_access(user, auth_session.id, settings)
    return TokenPair(access, refresh, expires_in, auth_session.id)


def log_in(
    *, session: Session, username: str, password: str, address: str | None = None, settings: Settings | None = None
) -> TokenPair:
    """Authenticate and open a session."""
    user = authenticate(session=session, username=username, password=password, address=address)
    return start_session(session=session, user=user, settings=settings)


def refresh_session(*, session: Session, refresh_token: str, settings: Settings | None = None) -> TokenPair:
    """Rotate a refresh token: the presented one dies, a new pair is returned.

    Presenting a token that was already used revokes the whole session (it has leaked).

    Raises:
        NotAuthenticated: Unknown, used, expired or revoked token.
    """
    settings = settings or get_settings()
    token_hash = _hash_refresh(refresh_token)
    now = utcnow()
    # One UPDATE decides which of two racing refreshes wins.
    claimed = session.execute(
        update(RefreshToken)
        .where(col(RefreshToken.token_hash) == token_hash, col(RefreshToken.used_at).is_(None))
        .values(used_at=now)
    ).rowcount
    row = session.exec(select(RefreshToken).where(RefreshToken.token_hash == token_hash)).first()
    if row is None:
        session.rollback()
        raise NotAuthenticated(N_("Refresh token is not valid."))
    auth_session = session.get(AuthSession, row.session_id)
    if claimed != 1:
        if auth_session is not None and auth_session.revoked_at is None:
            auth_session.revoked_at = now
            auth_session.revoked_reason = "refresh_reuse"
            session.add(auth_session)
            record_event(
                session=session,
                actor_id=auth_session.user_id,
                action="session.revoked_reuse",
                target_type="session",
                target_id=auth_session.id,
            )
            session.commit()
            notify.sessions_ended([auth_session.id])
        session.commit()
        raise NotAuthenticated(N_("Refresh token was already used; the session has been revoked."))
    user = session.get(User, auth_session.user_id) if auth_session else None
    if (
        auth_session is None
        or user is None
        or auth_session.revoked_at is not None
        or as_utc(auth_session.expires_at) <= now  # type: ignore[operator]
        or not user.is_active
    ):
        session.rollback()
        raise NotAuthenticated(N_("Session has ended; log in again."))
    auth_session.last_used_at = now
    session.add(auth_session)
    new_refresh = _new_refresh(session=session, session_id=auth_session.id)
    session.commit()
    access, expires_in = _encode_access(user, auth_session.id, settings)
    return TokenPair(access, new_refresh, expires_in, auth_session.id)


def start_browser_session(*, session: Session, user: User, settings: Settings | None = None) -> tuple[str, str]:
    """Open a session for the browser app; returns ``(session_id, credential)``.

    The one place a browser session begins (log-in, registration, and any other way of being
    let in): the caller hands the credential to the browser as an HttpOnly cookie
    (``api.routes.browser``), each websocket presents it once when it connects, and nothing else
    keeps it (the database holds its SHA-256). The session ends after
    ``BROWSER_SESSION_IDLE_MINUTES`` without use, ``BROWSER_SESSION_MAX_HOURS`` after it began,
    and at once on log-out, password change or disabling.
    """
    settings = settings or get_settings()
    credential = secrets.token_urlsafe(32)
    now = utcnow()
    auth_session = AuthSession(
        id=uuid.uuid4().hex,
        user_id=user.id,  # type: ignore[arg-type]
        created_at=now,
        expires_at=now + timedelta(hours=settings.browser_max_hours),
        last_used_at=now,
        browser_key_hash=_hash_refresh(credential),
    )
    session.add(auth_session)
    session.commit()
    return auth_session.id, credential


def _idle_limit(settings: Settings) -> timedelta:
    return timedelta(minutes=settings.browser_idle_minutes)


def _touch_interval(settings: Settings) -> timedelta:
    """How stale ``last_used_at`` may get before an event writes it again (not on every event)."""
    return min(timedelta(seconds=60), _idle_limit(settings) / 10)


class IdleSession(NotAuthenticated):
    """A browser session unused for longer than its idle limit: the caller revokes it (a write,
    so every worker hears of it), then refuses with this message."""


def check_browser_session(
    *,
    revoked_at: Any,
    browser_key_hash: str | None,
    expires_at: Any,
    last_used_at: Any,
    created_at: Any,
    user: Any,
    settings: Settings,
    allow_guest: bool,
    now: Any,
) -> bool:
    """The rules a browser session and its user must meet, decided once for every path that reads
    them (the ORM one, ``_browser_identity``, and the websocket ballot's async one,
    ``services.fast_ballots``). ``user``: None when its row is gone, else anything with
    ``is_active`` and ``role``. Returns whether this use should be written as ``last_used_at``
    (not on every event: see ``_touch_interval``).

    Raises:
        IdleSession: Unused for too long (the caller revokes the session).
        NotAuthenticated: Revoked, not a browser's, expired, user gone or disabled, or an
            unwanted guest.
    """
    if revoked_at is not None or browser_key_hash is None:
        raise NotAuthenticated(N_("Your session has ended; please log in again."))
    if as_utc(expires_at) <= now:  # type: ignore[operator]
        raise NotAuthenticated(N_("Your session has ended; please log in again."))
    last = as_utc(last_used_at) or as_utc(created_at)
    if last is not None and now - last >= _idle_limit(settings):  # type: ignore[operator]
        raise IdleSession(N_("Your session ended after a period without use; please log in again."))
    if user is None or not user.is_active:
        raise NotAuthenticated(N_("This account is disabled."))
    # A guest (services.guests) counts only where the caller says so: the ballot page.
    if user.role == GUEST_ROLE and not allow_guest:
        raise NotAuthenticated(N_("Please log in."))
    return last is None or now - last >= _touch_interval(settings)  # type: ignore[operator]


def _browser_identity(
    *,
    session: Session,
    auth_session: AuthSession | None,
    settings: Settings,
    touch: bool,
    allow_guest: bool = False,
) -> Identity:
    now = utcnow()
    if auth_session is None:
        raise NotAuthenticated(N_("Your session has ended; please log in again."))
    # The user is read only past the session's own checks (as before: an ended session reads no user).
    user: User | None = None

    class _Lazy:
        # check_browser_session looks at the user only after the session's checks.
        @property
        def is_active(self) -> bool:
            return _user() is not None and _user().is_active  # type: ignore[union-attr]

        @property
        def role(self) -> str:
            return _user().role  # type: ignore[union-attr]

    def _user() -> User | None:
        nonlocal user
        if user is None:
            user = session.get(User, auth_session.user_id)
        return user

    try:
        due = check_browser_session(
            revoked_at=auth_session.revoked_at, browser_key_hash=auth_session.browser_key_hash,
            expires_at=auth_session.expires_at, last_used_at=auth_session.last_used_at,
            created_at=auth_session.created_at, user=_Lazy(), settings=settings, allow_guest=allow_guest, now=now,
        )
    except IdleSession:
        revoke_session(session=session, session_id=auth_session.id, reason="idle")
        raise
    if touch and due:
        auth_session.last_used_at = now
        session.add(auth_session)
        session.commit()
    return Identity(user=_user(), session_id=auth_session.id)  # type: ignore[arg-type]


def identify_browser(
    *, session: Session, credential: str, settings: Settings | None = None, allow_guest: bool = False
) -> Identity:
    """The user behind a browser credential whose session is still live (checked once per
    websocket connection; the connection then names the session by its id).

    A guest's credential (``services.guests``) counts only where ``allow_guest`` says so: the
    ballot page; everywhere else it is no one.

    Raises:
        NotAuthenticated: Unknown credential, ended, expired or idle session, disabled user, or
            an unwanted guest.
    """
    if not credential or len(credential) > 512:
        raise NotAuthenticated(N_("Please log in."))
    auth_session = session.exec(
        select(AuthSession).where(AuthSession.browser_key_hash == _hash_refresh(credential))
    ).first()
    return _browser_identity(
        session=session,
        auth_session=auth_session,
        settings=settings or get_settings(),
        touch=True,
        allow_guest=allow_guest,
    )


# Built once, like _SESSION_AND_USER below. An outer join: a session whose user row is gone is
# still found (and then refused by _browser_identity as before).
_BROWSER_SESSION_AND_USER = (
    select(AuthSession, User)
    .outerjoin(User, col(User.id) == col(AuthSession.user_id))
    .where(col(AuthSession.id) == bindparam("session_id"))
)


def identify_browser_session(
    *,
    session: Session,
    session_id: str,
    settings: Settings | None = None,
    touch: bool = True,
    allow_guest: bool = False,
) -> Identity:
    """The user of a live browser session, named by its id (a verified connection's), counting
    this call as use of the session unless ``touch`` is false.

    ``allow_guest``: a guest's session counts too (only the ballot page passes it).

    Raises:
        NotAuthenticated: Ended, expired or idle session, disabled user, or an unwanted guest.
    """
    if not session_id or len(session_id) > 64:
        raise NotAuthenticated(N_("Please log in."))
    # The session and its user in one round trip (every websocket event that acts as a user comes
    # here); the user then sits in the session's identity map, where _browser_identity finds it.
    found = session.execute(_BROWSER_SESSION_AND_USER, {"session_id": session_id}).first()
    auth_session = found[0] if found is not None else None
    return _browser_identity(
        session=session,
        auth_session=auth_session,
        settings=settings or get_settings(),
        touch=touch,
        allow_guest=allow_guest,
    )


# What the periodic sweep needs of each session and its user: columns, not ORM objects (building
# an AuthSession and a User per watching tab, every few seconds, was most of the sweep's cost).
_SWEPT_SESSIONS = (
    select(
        AuthSession.id, AuthSession.revoked_at, AuthSession.browser_key_hash, AuthSession.expires_at,
        AuthSession.last_used_at, AuthSession.created_at, User.is_active, User.role,
    )
    .outerjoin(User, col(User.id) == col(AuthSession.user_id))
    .where(col(AuthSession.id).in_(bindparam("ids", expanding=True)))
)


@dataclass(frozen=True)
class _SweptUser:
    is_active: bool
    role: str


def ended_browser_sessions(*, session: Session, session_ids: list[str], settings: Settings | None = None) -> set[str]:
    """Which of ``session_ids`` are no longer live (revoked, expired, idle, user disabled), by the
    same rule as every other path (:func:`check_browser_session`); idle ones are revoked on the
    way, so that every worker hears of it. A guest's session is live like any other (its role
    limits where it counts, not how long it lasts). One query per 500 sessions."""
    settings = settings or get_settings()
    ended: set[str] = set()
    for start in range(0, len(session_ids), 500):
        chunk = session_ids[start : start + 500]
        rows = {row.id: row for row in session.execute(_SWEPT_SESSIONS, {"ids": chunk})}
        now = utcnow()
        for session_id in chunk:
            row = rows.get(session_id)
            if row is None:
                ended.add(session_id)
                continue
            user = _SweptUser(row.is_active, row.role) if row.is_active is not None else None
            try:
                check_browser_session(
                    revoked_at=row.revoked_at, browser_key_hash=row.browser_key_hash, expires_at=row.expires_at,
                    last_used_at=row.last_used_at, created_at=row.created_at, user=user, settings=settings,
                    allow_guest=True, now=now,
                )
            except IdleSession:
                revoke_session(session=session, session_id=session_id, reason="idle")
                ended.add(session_id)
            except NotAuthenticated:
                ended.add(session_id)
    return ended


def revoke_session(*, session: Session, session_id: str, reason: str) -> None:
    """End a session at once: its access and refresh tokens stop working."""
    auth_session = session.get(AuthSession, session_id)
    if auth_session is not None and auth_session.revoked_at is None:
        auth_session.revoked_at = utcnow()
        auth_session.revoked_reason = reason
        session.add(auth_session)
        session.commit()
        notify.sessions_ended([session_id])


def log_out(*, session: Session, identity: Identity, refresh_token: str | None = None) -> None:
    """End the caller's session, and the session of ``refresh_token`` if it is the caller's too."""
    revoke_session(session=session, session_id=identity.session_id, reason="logout")
    if refresh_token:
        row = session.exec(
            select(RefreshToken).where(RefreshToken.token_hash == _hash_refresh(refresh_token))
        ).first()
        if row is not None and row.session_id != identity.session_id:
            other = session.get(AuthSession, row.session_id)
            if other is not None and other.user_id == identity.user.id:
                revoke_session(session=session, session_id=other.id, reason="logout")


def revoke_all_sessions(*, session: Session, user_id: int, reason: str) -> int:
    """End every live session of a user; returns how many were ended."""
    result = session.execute(
        update(AuthSession)
        .where(col(AuthSession.user_id) == user_id, col(AuthSession.revoked_at).is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
    )
    session.commit()
    notify.user_access_changed(user_id, ended=True)
    return int(result.rowcount or 0)


def decode_access_token(token: str, settings: Settings | None = None) -> dict:
    """Verify a JWT's signature, algorithm, times, issuer and audience.

    Raises:
        NotAuthenticated: Whatever is wrong with it.
    """
    settings = settings or get_settings()
    try:
        claims = jwt.decode(
            token,
            settings.secret_key,
            algorithms=ALLOWED_JWT_ALGORITHMS,
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": ["exp", "iat", "nbf", "sub", "iss", "aud", "sid"]},
        )
    except jwt.ExpiredSignatureError:
        raise NotAuthenticated(N_("Access token has expired.")) from None
    except jwt.PyJWTError:
        raise NotAuthenticated(N_("Access token is not valid.")) from None
    if claims.get("typ") != "access":
        raise NotAuthenticated(N_("Access token is not valid."))
    return claims


# Built once: every authenticated API request runs it, and building the statement and its cache
# key each time cost more than the ORM's compiled-statement cache then saves.
_SESSION_AND_USER = (
    select(User, AuthSession.revoked_at, AuthSession.expires_at)
    .join(AuthSession, col(AuthSession.user_id) == col(User.id))
    .where(col(AuthSession.id) == bindparam("session_id"))
)


def identify(*, session: Session, token: str, settings: Settings | None = None) -> Identity:
    """The user behind an access token, checking that its session is still live.

    Raises:
        NotAuthenticated: Invalid token, ended session, or disabled user.
    """
    claims = decode_access_token(token, settings)
    # The session and its user in one round trip (every authenticated request comes here).
    session_id = str(claims["sid"])
    found = session.execute(_SESSION_AND_USER, {"session_id": session_id}).first()
    if found is None:
        raise NotAuthenticated(N_("Session has ended; log in again."))
    user, revoked_at, expires_at = found
    check_token_session(claims, user, revoked_at=revoked_at, expires_at=expires_at)
    return Identity(user=user, session_id=session_id)


def check_token_session(claims: dict, user: Any, *, revoked_at: Any, expires_at: Any) -> None:
    """The rules an access token's session and user must meet, decided once for every path that
    reads them (``user`` needs ``id``, ``is_active`` and ``role``).

    Raises:
        NotAuthenticated: The session ended or expired, belongs to someone else, or the user is
            disabled or a guest.
    """
    if revoked_at is not None or as_utc(expires_at) <= utcnow() or str(user.id) != str(claims["sub"]):
        raise NotAuthenticated(N_("Session has ended; log in again."))
    if not user.is_active:
        raise NotAuthenticated(N_("This account is disabled."))
    if user.role == GUEST_ROLE:  # guests never get API tokens; should one appear, it is no one
        raise NotAuthenticated(N_("Session has ended; log in again."))


def change_password(*, session: Session, user: User, current_password: str, new_password: str) -> None:
    """Change a password after checking the current one; every session of the user ends."""
    if not PASSWORD_CONTEXT.verify(current_password, user.password_hash):
        raise InvalidInput(N_("Current password is incorrect."))
    check_password(new_password, username=user.username)
    user.password_hash = hash_password(new_password)
    user.updated_at = utcnow()
    session.add(user)
    record_event(session=session, actor_id=user.id, action="user.password_change", target_type="user", target_id=user.id)
    session.commit()
    revoke_all_sessions(session=session, user_id=user.id, reason="password_change")  # type: ignore[arg-type]


def require_admin(user: User) -> None:
    """Raise Forbidden unless ``user`` is an admin."""
    if user.role != "admin":
        raise Forbidden(N_("Only administrators may do this."))


def list_users(
    *, session: Session, actor: User, skip: int = 0, limit: int = 50, search: str = ""
) -> tuple[list[User], int]:
    """Users for the admin page, with the total; admins only."""
    require_admin(actor)
    # Guests are roll entries, not accounts: they are managed on their poll's roll.
    query = select(User).where(col(User.role) != GUEST_ROLE)
    count = select(func.count()).select_from(User).where(col(User.role) != GUEST_ROLE)
    if search.strip():
        pattern = f"%{search.strip().lower()}%"
        query = query.where(col(User.username_key).like(pattern) | col(User.email_key).like(pattern))
        count = count.where(col(User.username_key).like(pattern) | col(User.email_key).like(pattern))
    rows = session.exec(query.order_by(col(User.id)).offset(skip).limit(limit)).all()
    return list(rows), int(session.exec(count).one())


def set_role(*, session: Session, actor: User, user_id: int, role: str) -> User:
    """Give a user a role; admins only, and the last active admin cannot step down."""
    require_admin(actor)
    if role not in ROLES:
        raise InvalidInput(N_("Role must be one of %(choices)s."), choices=', '.join(ROLES))
    user = session.get(User, user_id)
    if user is None or user.role == GUEST_ROLE:
        raise NotFound(N_("No such user."))
    if user.role == "admin" and role != "admin" and _active_admins(session) <= 1:
        raise Conflict(N_("The last administrator cannot lose the admin role."))
    user.role = role
    user.updated_at = utcnow()
    session.add(user)
    record_event(
        session=session, actor_id=actor.id, action="user.role", target_type="user", target_id=user.id,
        detail={"role": role},
    )
    session.commit()
    notify.user_access_changed(user.id, ended=False)  # type: ignore[arg-type]
    session.refresh(user)
    return user


def set_active(*, session: Session, actor: User, user_id: int, active: bool) -> User:
    """Enable or disable an account; disabling ends its sessions at once. Admins only."""
    require_admin(actor)
    user = session.get(User, user_id)
    if user is None or user.role == GUEST_ROLE:
        raise NotFound(N_("No such user."))
    if not active and user.id == actor.id:
        raise Conflict(N_("You cannot disable your own account."))
    if not active and user.role == "admin" and user.is_active and _active_admins(session) <= 1:
        raise Conflict(N_("The last administrator cannot be disabled."))
    user.is_active = active
    user.updated_at = utcnow()
    session.add(user)
    record_event(
        session=session, actor_id=actor.id, action="user.enable" if active else "user.disable",
        target_type="user", target_id=user.id,
    )
    session.commit()
    if not active:
        revoke_all_sessions(session=session, user_id=user.id, reason="disabled")  # type: ignore[arg-type]
    session.refresh(user)
    return user


def _active_admins(session: Session) -> int:
    return int(
        session.exec(
            select(func.count()).select_from(User).where(User.role == "admin", col(User.is_active).is_(True))
        ).one()
    )


def get_user(*, session: Session, user_id: int) -> User:
    """An account by id (never a guest), or NotFound."""
    user = session.get(User, user_id)
    if user is None or user.role == GUEST_ROLE:
        raise NotFound(N_("No such user."))
    return user


def find_user_by_username(*, session: Session, username: str) -> User | None:
    """An account by username, case-insensitively (never a guest)."""
    return session.exec(
        select(User).where(User.username_key == username.strip().lower(), col(User.role) != GUEST_ROLE)
    ).first()
