"""Accounts, passwords, sessions and tokens, on a real database session (every backend)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import jwt
import pytest
from passlib.context import CryptContext
from sqlmodel import select

from commons_app.config import get_settings
from commons_app.models import AuditEvent, AuthSession, RefreshToken, User, utcnow
from commons_app.services import auth
from commons_app.services.errors import Conflict, Forbidden, InvalidInput, NotAuthenticated, NotFound
from tests import factories
from tests.factories import DEFAULT_PASSWORD


def _common_password() -> str:
    """A password of acceptable length that is on the shipped list of common passwords."""
    lines = auth.COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    candidates = [
        line.strip() for line in lines
        if line.strip() and not line.startswith("#") and auth.PASSWORD_MIN <= len(line.strip()) <= auth.PASSWORD_MAX
    ]
    assert candidates, "the common-password list has no entry long enough to test with"
    return candidates[len(candidates) // 2]


def _users(session) -> list[User]:
    return list(session.exec(select(User)).all())


# --- registration ------------------------------------------------------------------------------------
def test_register_creates_a_member_with_an_argon2_hash(session):
    user = auth.register_user(session=session, username="Ada.Lovelace", email="Ada@Example.ORG", password="analytical-engine-1843")

    assert user.id is not None
    assert (user.username, user.username_key) == ("Ada.Lovelace", "ada.lovelace")
    assert user.email_key == user.email.lower() == "ada@example.org"
    assert user.role == "member" and user.is_active
    assert user.password_hash.startswith("$argon2id$")
    assert "analytical-engine-1843" not in user.password_hash
    assert auth.PASSWORD_CONTEXT.verify("analytical-engine-1843", user.password_hash)
    events = session.exec(select(AuditEvent).where(AuditEvent.action == "user.register")).all()
    assert [(e.actor_id, e.target_id) for e in events] == [(user.id, str(user.id))]


@pytest.mark.parametrize("field", ["username", "email"])
def test_duplicate_username_or_email_is_a_conflict_case_insensitively(session, make_user, field):
    existing = make_user(username="Grace.Hopper", email="grace@navy.example.org")
    username = "GRACE.hopper" if field == "username" else "someone.else"
    email = "other@navy.example.org" if field == "username" else "Grace@NAVY.example.org"

    with pytest.raises(Conflict) as caught:
        auth.register_user(session=session, username=username, email=email, password="compiler-cobol-1959")

    assert caught.value.status_code == 409
    assert field.capitalize() in caught.value.message
    assert [u.id for u in _users(session)] == [existing.id]


@pytest.mark.parametrize(
    "username",
    ["ab", "-leading-dash", "_underscore", "a" * 33, "has space", "semi;colon", "ünicode", "", "   "],
)
def test_bad_usernames_are_refused(session, username):
    with pytest.raises(InvalidInput) as caught:
        auth.register_user(session=session, username=username, email="x@example.org", password="fine-password-42")
    assert caught.value.status_code == 422
    assert _users(session) == []


@pytest.mark.parametrize("email", ["not-an-email", "a@", "@example.org", "a@b", "two@@example.org", "a b@example.org"])
def test_bad_emails_are_refused(session, email):
    with pytest.raises(InvalidInput, match="Email"):
        auth.register_user(session=session, username="valid_name", email=email, password="fine-password-42")
    assert _users(session) == []


@pytest.mark.parametrize(
    "password",
    [
        "short7!",                   # under 8
        "x" * 129,                   # over 128
        pytest.param("COMMON", id="common-password"),
        pytest.param("COMMON-UPPER", id="common-password-upper-case"),
        pytest.param("Valid_Name", id="same-as-username"),
    ],
)
def test_bad_passwords_are_refused(session, password):
    if password == "COMMON":
        password = _common_password()
    elif password == "COMMON-UPPER":
        password = _common_password().upper()
    with pytest.raises(InvalidInput, match=r"[Pp]assword"):
        auth.register_user(session=session, username="valid_name", email="v@example.org", password=password)
    assert _users(session) == []


def test_unknown_role_is_refused(session):
    with pytest.raises(InvalidInput):
        auth.register_user(session=session, username="rooty", email="r@example.org", password="fine-password-42", role="root")


# --- authentication ----------------------------------------------------------------------------------
def test_authenticate_by_username_or_email_in_any_case(session, make_user):
    user = make_user(username="Katherine", email="kj@nasa.example.org")
    for login in ("Katherine", "katherine", " KATHERINE ", "KJ@nasa.example.org"):
        assert auth.authenticate(session=session, username=login, password=DEFAULT_PASSWORD).id == user.id


@pytest.mark.parametrize("password", ["wrong-password", DEFAULT_PASSWORD.upper(), "", "x" * 500])
def test_authenticate_refuses_a_wrong_password(session, make_user, password):
    user = make_user()
    with pytest.raises(NotAuthenticated) as caught:
        auth.authenticate(session=session, username=user.username, password=password)
    assert caught.value.status_code == 401
    assert caught.value.message == "Incorrect username or password."


def test_log_in_returns_a_working_token_pair(session, make_user):
    user = make_user()
    pair = auth.log_in(session=session, username=user.username, password=DEFAULT_PASSWORD)

    assert pair.token_type == "bearer"
    assert pair.expires_in == get_settings().access_token_minutes * 60
    assert auth.identify(session=session, token=pair.access_token).user.id == user.id
    claims = auth.decode_access_token(pair.access_token)
    assert claims["sub"] == str(user.id) and claims["sid"] == pair.session_id and claims["typ"] == "access"


def test_unknown_user_still_costs_a_hash_verification(session, make_user, monkeypatch):
    make_user(username="existing")
    calls: list[str] = []
    real_verify = auth.PASSWORD_CONTEXT.verify

    def counting_verify(secret, hash_, *args, **kwargs):
        calls.append(hash_)
        return real_verify(secret, hash_, *args, **kwargs)

    monkeypatch.setattr(auth.PASSWORD_CONTEXT, "verify", counting_verify)

    with pytest.raises(NotAuthenticated) as caught:
        auth.authenticate(session=session, username="nobody-here", password="whatever-password")
    assert caught.value.message == "Incorrect username or password."  # same words as a wrong password
    assert len(calls) == 1
    # The dummy hash is a real hash with the current parameters, so it costs as much as a real one.
    assert auth.PASSWORD_CONTEXT.identify(calls[0]) == "argon2"
    assert not auth.PASSWORD_CONTEXT.needs_update(calls[0])

    with pytest.raises(NotAuthenticated):
        auth.authenticate(session=session, username="nobody-here", password="y" * 1000)
    assert len(calls) == 2


def test_login_rehashes_a_password_hashed_with_old_parameters(session, make_user):
    weak = CryptContext(schemes=["argon2"], argon2__type="ID", argon2__memory_cost=1024, argon2__time_cost=1, argon2__parallelism=1)
    user = make_user()
    old_hash = weak.hash(DEFAULT_PASSWORD)
    user.password_hash = old_hash
    session.add(user)
    session.commit()
    assert auth.PASSWORD_CONTEXT.needs_update(old_hash)

    auth.authenticate(session=session, username=user.username, password=DEFAULT_PASSWORD)

    session.expire_all()
    new_hash = session.get(User, user.id).password_hash
    assert new_hash != old_hash
    assert "m=19456,t=2,p=1" in new_hash
    assert not auth.PASSWORD_CONTEXT.needs_update(new_hash)
    assert auth.PASSWORD_CONTEXT.verify(DEFAULT_PASSWORD, new_hash)


def test_login_keeps_a_current_hash(session, make_user):
    user = make_user()
    before = user.password_hash
    auth.authenticate(session=session, username=user.username, password=DEFAULT_PASSWORD)
    session.expire_all()
    assert session.get(User, user.id).password_hash == before


def test_disabled_user_cannot_log_in(session, make_user):
    user = make_user(is_active=False)
    with pytest.raises(NotAuthenticated, match="disabled"):
        auth.log_in(session=session, username=user.username, password=DEFAULT_PASSWORD)
    assert session.exec(select(AuthSession)).all() == []


# --- tokens ----------------------------------------------------------------------------------------
def test_refresh_rotates_the_pair_within_the_session(session, user):
    first = factories.issue_tokens(session, user)
    second = auth.refresh_session(session=session, refresh_token=first.refresh_token)

    assert second.session_id == first.session_id
    assert second.refresh_token != first.refresh_token
    assert second.access_token != first.access_token
    assert auth.identify(session=session, token=second.access_token).user.id == user.id
    third = auth.refresh_session(session=session, refresh_token=second.refresh_token)
    assert auth.identify(session=session, token=third.access_token).session_id == first.session_id
    # Tokens are stored only as hashes.
    stored = {r.token_hash for r in session.exec(select(RefreshToken)).all()}
    assert first.refresh_token not in stored and len(stored) == 3


def test_reusing_a_refresh_token_revokes_the_whole_session(session, user):
    first = factories.issue_tokens(session, user)
    second = auth.refresh_session(session=session, refresh_token=first.refresh_token)

    with pytest.raises(NotAuthenticated, match="already used"):
        auth.refresh_session(session=session, refresh_token=first.refresh_token)

    with pytest.raises(NotAuthenticated):  # the thief's or the owner's new token: dead either way
        auth.refresh_session(session=session, refresh_token=second.refresh_token)
    with pytest.raises(NotAuthenticated):
        auth.identify(session=session, token=second.access_token)
    session.expire_all()
    revoked = session.get(AuthSession, first.session_id)
    assert revoked.revoked_at is not None and revoked.revoked_reason == "refresh_reuse"
    actions = [e.action for e in session.exec(select(AuditEvent)).all()]
    assert "session.revoked_reuse" in actions


def test_reuse_in_one_session_leaves_other_sessions_alone(session, user):
    victim = factories.issue_tokens(session, user)
    other = factories.issue_tokens(session, user)
    auth.refresh_session(session=session, refresh_token=victim.refresh_token)
    with pytest.raises(NotAuthenticated):
        auth.refresh_session(session=session, refresh_token=victim.refresh_token)
    assert auth.identify(session=session, token=other.access_token).session_id == other.session_id


def test_an_unknown_refresh_token_is_refused_and_changes_nothing(session, user):
    pair = factories.issue_tokens(session, user)
    with pytest.raises(NotAuthenticated, match="not valid"):
        auth.refresh_session(session=session, refresh_token="made-up-" + pair.refresh_token)
    assert auth.identify(session=session, token=pair.access_token).user.id == user.id
    assert auth.refresh_session(session=session, refresh_token=pair.refresh_token).session_id == pair.session_id


def test_logout_kills_both_tokens(session, user):
    pair = factories.issue_tokens(session, user)
    other = factories.issue_tokens(session, user)
    identity = auth.identify(session=session, token=pair.access_token)

    auth.log_out(session=session, identity=identity, refresh_token=pair.refresh_token)

    with pytest.raises(NotAuthenticated):
        auth.identify(session=session, token=pair.access_token)
    with pytest.raises(NotAuthenticated):
        auth.refresh_session(session=session, refresh_token=pair.refresh_token)
    assert auth.identify(session=session, token=other.access_token).user.id == user.id  # other device stays


def test_logout_with_someone_elses_refresh_token_does_not_end_their_session(session, user, other_user):
    mine = factories.issue_tokens(session, user)
    theirs = factories.issue_tokens(session, other_user)
    identity = auth.identify(session=session, token=mine.access_token)
    auth.log_out(session=session, identity=identity, refresh_token=theirs.refresh_token)
    assert auth.identify(session=session, token=theirs.access_token).user.id == other_user.id


def test_a_disabled_user_is_refused_at_once_and_cannot_refresh(session, user):
    pair = factories.issue_tokens(session, user)
    assert auth.identify(session=session, token=pair.access_token)
    user.is_active = False
    session.add(user)
    session.commit()

    with pytest.raises(NotAuthenticated, match="disabled"):
        auth.identify(session=session, token=pair.access_token)
    with pytest.raises(NotAuthenticated):
        auth.refresh_session(session=session, refresh_token=pair.refresh_token)


def test_disabling_through_set_active_revokes_sessions(session, user, admin):
    pair = factories.issue_tokens(session, user)
    auth.set_active(session=session, actor=admin, user_id=user.id, active=False)

    session.expire_all()
    assert session.get(AuthSession, pair.session_id).revoked_reason == "disabled"
    with pytest.raises(NotAuthenticated):
        auth.identify(session=session, token=pair.access_token)
    # Enabling again does not revive old sessions.
    auth.set_active(session=session, actor=admin, user_id=user.id, active=True)
    with pytest.raises(NotAuthenticated):
        auth.refresh_session(session=session, refresh_token=pair.refresh_token)


def test_an_expired_session_is_refused(session, user):
    pair = factories.issue_tokens(session, user)
    row = session.get(AuthSession, pair.session_id)
    row.expires_at = utcnow() - timedelta(seconds=1)
    session.add(row)
    session.commit()
    with pytest.raises(NotAuthenticated):
        auth.identify(session=session, token=pair.access_token)
    with pytest.raises(NotAuthenticated):
        auth.refresh_session(session=session, refresh_token=pair.refresh_token)


def test_access_tokens_are_checked_strictly(session, user):
    settings = get_settings()
    pair = factories.issue_tokens(session, user)
    claims = jwt.decode(pair.access_token, options={"verify_signature": False})

    expired = dataclasses.replace(settings, access_token_minutes=-1)
    expired_pair = auth.start_session(session=session, user=user, settings=expired)
    with pytest.raises(NotAuthenticated, match="expired"):
        auth.identify(session=session, token=expired_pair.access_token)

    forged = jwt.encode(claims, "another-secret-of-sufficient-length-000000", algorithm="HS256")
    unsigned = jwt.encode(claims, key=None, algorithm="none")
    wrong_audience = jwt.encode({**claims, "aud": "someone-else"}, settings.secret_key, algorithm="HS256")
    not_access = jwt.encode({**claims, "typ": "refresh"}, settings.secret_key, algorithm="HS256")
    other_user_claim = jwt.encode({**claims, "sub": str(user.id + 1000)}, settings.secret_key, algorithm="HS256")
    for token in (forged, unsigned, wrong_audience, not_access, other_user_claim, "not-a-jwt", ""):
        with pytest.raises(NotAuthenticated):
            auth.identify(session=session, token=token)


# --- passwords and administration -------------------------------------------------------------------
def test_password_change_ends_every_session(session, make_user):
    user = make_user(password="first-password-77")
    sessions = [factories.issue_tokens(session, user) for _ in range(2)]

    auth.change_password(session=session, user=user, current_password="first-password-77", new_password="second-password-88")

    for pair in sessions:
        with pytest.raises(NotAuthenticated):
            auth.identify(session=session, token=pair.access_token)
        with pytest.raises(NotAuthenticated):
            auth.refresh_session(session=session, refresh_token=pair.refresh_token)
    with pytest.raises(NotAuthenticated):
        auth.authenticate(session=session, username=user.username, password="first-password-77")
    assert auth.authenticate(session=session, username=user.username, password="second-password-88").id == user.id


def test_password_change_needs_the_current_password_and_a_good_new_one(session, user):
    pair = factories.issue_tokens(session, user)
    with pytest.raises(InvalidInput, match="Current password"):
        auth.change_password(session=session, user=user, current_password="not-it", new_password="brand-new-pass-1")
    with pytest.raises(InvalidInput):
        auth.change_password(session=session, user=user, current_password=DEFAULT_PASSWORD, new_password=_common_password())
    assert auth.identify(session=session, token=pair.access_token).user.id == user.id


def test_admin_only_operations(session, user, admin):
    with pytest.raises(Forbidden):
        auth.list_users(session=session, actor=user)
    with pytest.raises(Forbidden):
        auth.set_role(session=session, actor=user, user_id=user.id, role="admin")
    rows, total = auth.list_users(session=session, actor=admin, search=user.username[2:8].upper())
    assert total == 1 and [r.id for r in rows] == [user.id]
    with pytest.raises(NotFound):
        auth.set_role(session=session, actor=admin, user_id=user.id + 1000, role="admin")
    with pytest.raises(Conflict):
        auth.set_role(session=session, actor=admin, user_id=admin.id, role="member")  # the last admin
    with pytest.raises(Conflict):
        auth.set_active(session=session, actor=admin, user_id=admin.id, active=False)
    promoted = auth.set_role(session=session, actor=admin, user_id=user.id, role="admin")
    assert promoted.role == "admin"
    assert auth.set_role(session=session, actor=admin, user_id=admin.id, role="member").role == "member"


def test_the_argon2_backend_is_chosen_at_import_not_by_racing_threads():
    """passlib's lazy backend pick is not thread-safe (simultaneous first log-ins in a fresh worker
    failed with "failed to replace lazy loader"): importing the auth service must pick it."""
    import subprocess
    import sys

    probe = (
        "from commons_app.services.auth import PASSWORD_CONTEXT; "
        "h = PASSWORD_CONTEXT.handler('argon2'); print(h.verify.__qualname__, h.hash.__qualname__)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60).stdout
    assert "_NoBackend" not in out and "verify" in out, out
