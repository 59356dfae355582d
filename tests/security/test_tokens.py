"""Token attacks (OWASP ASVS 5.0, V9 self-contained tokens and V7 session management, level 2).

Every forged, altered, stale or dead credential gets 401 with a JSON ``detail`` and
``WWW-Authenticate: Bearer`` — on a read (``GET /api/me``) and on a write (``POST /api/votes/``,
which must then leave no ballot behind).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import timedelta
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import update

from commons_app.config import get_settings
from commons_app.models import AuthSession, User, utcnow
from commons_app.services import auth
from commons_app.services.errors import NotAuthenticated
from tests import factories
from tests.factories import DEFAULT_PASSWORD, assert_error, bearer, row_counts
from tests.security import jose
from tests.security.conftest import REPORT

pytestmark = pytest.mark.usefixtures("engine")


def claims_for(user: User, session_id: str, **changes: Any) -> dict[str, Any]:
    """The claims the app puts in an access token, with ``changes`` applied (None removes one)."""
    settings = get_settings()
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": str(user.id), "sid": session_id, "role": user.role, "iat": now, "nbf": now,
        "exp": now + 600, "iss": settings.jwt_issuer, "aud": settings.jwt_audience,
        "jti": "attack", "typ": "access",
    }
    for name, value in changes.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


def real_secret() -> bytes:
    return get_settings().secret_key.encode()


def assert_refused(client: Any, token: str, engine: Any = None, poll: Any = None) -> str:
    """401 + JSON detail + WWW-Authenticate on GET /api/me (and on a ballot, which stays unwritten)."""
    response = client.get("/api/me", headers=bearer(token))
    detail = assert_error(response, 401)
    assert response.headers.get("www-authenticate", "").lower().startswith("bearer"), response.headers
    if poll is not None:
        before = row_counts(engine)
        answer = client.post(
            "/api/votes/", json={"poll_id": poll.poll.id, "option_id": poll.options[0].id}, headers=bearer(token)
        )
        assert_error(answer, 401)
        assert row_counts(engine) == before
    REPORT["token attacks refused"] += 1
    return detail


@pytest.fixture
def live(session, user):
    """A live session of ``user``: its token pair, checked to work."""
    return factories.issue_tokens(session, user)


@pytest.fixture
def poll(session, admin):
    return factories.make_poll(session, admin)


def test_the_genuine_token_works(client, live, user):
    """The control: without it every refusal below would prove nothing."""
    response = client.get("/api/me", headers=bearer(live.access_token))
    assert response.status_code == 200 and response.json()["id"] == user.id
    # The app's own claims, re-signed here with the real secret, also work: the forgeries below
    # differ from a good token only in what each one attacks.
    token = jose.hmac_token({"alg": "HS256", "typ": "JWT"}, claims_for(user, live.session_id), real_secret())
    assert client.get("/api/me", headers=bearer(token)).status_code == 200


# --- forged and altered tokens ---------------------------------------------------------------------------
@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_alg_none_is_refused(client, engine, live, user, poll, alg):
    claims = claims_for(user, live.session_id)
    assert_refused(client, jose.unsigned_token({"alg": alg, "typ": "JWT"}, claims), engine, poll)
    # ... also with the signature of the genuine token glued on.
    signature = live.access_token.rsplit(".", 1)[1]
    assert_refused(client, jose.unsigned_token({"alg": alg, "typ": "JWT"}, claims, signature))


def test_hs256_signed_with_a_public_key_string_is_refused(client, engine, live, user, poll):
    """Algorithm confusion: HMAC keyed with a public key, as if the server verified RS256 with it."""
    key = jose.rsa_keypair(1024)
    pem = jose.rsa_public_pem(key)
    claims = claims_for(user, live.session_id)
    assert_refused(client, jose.hmac_token({"alg": "HS256", "typ": "JWT"}, claims, pem.encode()), engine, poll)
    assert_refused(client, jose.hmac_token({"alg": "HS256", "typ": "JWT"}, claims, b""))
    assert_refused(client, jose.hmac_token({"alg": "HS256", "typ": "JWT", "kid": "../../../../dev/null"}, claims, b""))


def test_rs256_with_an_attackers_key_is_refused(client, engine, live, user, poll):
    key = jose.rsa_keypair(2048)
    claims = claims_for(user, live.session_id)
    assert_refused(client, jose.rs256_token({"alg": "RS256", "typ": "JWT"}, claims, key), engine, poll)
    # The embedded-key trick: the token carries its own public key (jwk / jku / x5u).
    header = {"alg": "RS256", "typ": "JWT", "jwk": jose.rsa_jwk(key), "jku": "http://127.0.0.1:9/jwks.json"}
    assert_refused(client, jose.rs256_token(header, claims, key), engine, poll)


def test_es256_with_an_attackers_key_is_refused(client, engine, live, user, poll):
    key = jose.ec_keypair()
    claims = claims_for(user, live.session_id)
    assert_refused(client, jose.es256_token({"alg": "ES256", "typ": "JWT"}, claims, key), engine, poll)
    header = {"alg": "ES256", "typ": "JWT", "jwk": jose.ec_jwk(key)}
    assert_refused(client, jose.es256_token(header, claims, key), engine, poll)


@pytest.mark.parametrize(("alg", "digest"), [("HS384", "sha384"), ("HS512", "sha512")])
def test_other_hmac_algorithms_are_refused_even_with_the_real_secret(client, live, user, alg, digest):
    """Only HS256 is allowed: the allow-list, not the header, picks the algorithm."""
    claims = claims_for(user, live.session_id)
    assert_refused(client, jose.hmac_token({"alg": alg, "typ": "JWT"}, claims, real_secret(), digest))


def test_a_tampered_payload_is_refused(client, engine, live, user, admin, poll):
    """Change ``sub`` (and ``role``) of a genuine token and keep its signature."""
    header_b64, _payload_b64, signature = live.access_token.split(".")
    claims = jwt.decode(live.access_token, options={"verify_signature": False})
    for changes in ({"sub": str(admin.id)}, {"role": "admin"}, {"exp": claims["exp"] + 86400}):
        forged = f"{header_b64}.{jose.b64url_json({**claims, **changes})}.{signature}"
        assert_refused(client, forged, engine, poll)
    # Flipping one bit of the signature.
    raw = bytearray(jose.b64url_decode(signature))
    raw[0] ^= 1
    assert_refused(client, f"{header_b64}.{_payload_b64}.{jose.b64url(bytes(raw))}")
    assert_refused(client, f"{header_b64}.{_payload_b64}.")


def test_a_token_signed_with_another_secret_is_refused(client, live, user):
    claims = claims_for(user, live.session_id)
    other = b"another-secret-of-the-right-length-0123456789abcdef"
    assert_refused(client, jose.hmac_token({"alg": "HS256", "typ": "JWT"}, claims, other))


@pytest.mark.parametrize(
    ("what", "changes", "message"),
    [
        ("expired", {"exp": -60, "iat": -1200, "nbf": -1200}, "expired"),
        ("not yet valid", {"nbf": 3600, "exp": 7200}, None),
        ("wrong audience", {"aud": "some-other-api"}, None),
        ("wrong issuer", {"iss": "https://evil.example"}, None),
        ("not an access token", {"typ": "refresh"}, None),
        ("missing sid", {"sid": None}, None),
        ("missing exp", {"exp": None}, None),
        ("missing nbf", {"nbf": None}, None),
        ("missing iss", {"iss": None}, None),
        ("missing aud", {"aud": None}, None),
        ("missing sub", {"sub": None}, None),
        ("unknown sid", {"sid": "0" * 32}, None),
    ],
)
def test_bad_claims_are_refused_even_when_signed_with_the_real_secret(client, engine, live, user, poll,
                                                                      what, changes, message):
    """Each token is validly signed (as a bug elsewhere might produce): the claims alone must fail it."""
    now = int(time.time())
    adjusted = {k: (now + v if k in {"exp", "nbf", "iat"} and isinstance(v, int) else v) for k, v in changes.items()}
    token = jose.hmac_token({"alg": "HS256", "typ": "JWT"}, claims_for(user, live.session_id, **adjusted), real_secret())
    detail = assert_refused(client, token, engine, poll)
    if message:
        assert message in detail.lower()


def test_a_session_id_of_another_user_is_refused(client, session, live, user, other_user):
    """``sub`` and ``sid`` must belong together: a token naming someone else's session is dead."""
    theirs = factories.issue_tokens(session, other_user)
    token = jose.hmac_token({"alg": "HS256", "typ": "JWT"}, claims_for(user, theirs.session_id), real_secret())
    assert_refused(client, token)


@pytest.mark.parametrize(
    "token",
    ["", "Bearer", "not-a-jwt", "a.b", "a.b.c", "a.b.c.d.e", "....", "x" * 8000,
     jose.b64url(b"[]") + "." + jose.b64url(b"[]") + ".", jose.b64url(b"\xff\xfe") + ".e30.sig"],
)
def test_garbage_tokens_are_refused(client, token):
    response = client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert_error(response, 401)


def test_a_demoted_admins_token_no_longer_carries_admin_rights(client, session, make_user):
    """The ``role`` claim is informational: rights come from the database on every request."""
    boss, demoted = make_user(role="admin"), make_user(role="admin")
    token = factories.issue_tokens(session, demoted).access_token
    assert client.get("/api/admin/users", headers=bearer(token)).status_code == 200
    response = client.patch(f"/api/admin/users/{demoted.id}", json={"role": "member"},
                            headers=factories.token_headers(session, boss))
    assert response.status_code == 200, response.text
    assert jwt.decode(token, options={"verify_signature": False})["role"] == "admin"
    assert_error(client.get("/api/admin/users", headers=bearer(token)), 403)


# --- dead sessions ----------------------------------------------------------------------------------------
def test_a_revoked_session_is_refused(client, engine, session, live, poll):
    auth.revoke_session(session=session, session_id=live.session_id, reason="test")
    assert_refused(client, live.access_token, engine, poll)
    assert_error(client.post("/api/token/refresh", json={"refresh_token": live.refresh_token}), 401)


def test_an_expired_session_is_refused(client, engine, session, live, poll):
    session.execute(update(AuthSession).where(AuthSession.id == live.session_id)
                    .values(expires_at=utcnow() - timedelta(seconds=1)))
    session.commit()
    assert_refused(client, live.access_token, engine, poll)
    assert_error(client.post("/api/token/refresh", json={"refresh_token": live.refresh_token}), 401)


def test_a_reused_refresh_token_kills_the_whole_session(client, engine, live, poll):
    first = client.post("/api/token/refresh", json={"refresh_token": live.refresh_token})
    assert first.status_code == 200, first.text
    fresh = first.json()
    assert client.get("/api/me", headers=bearer(fresh["access_token"])).status_code == 200
    # The stolen, already used token comes back: refused, and the session dies with it.
    assert_error(client.post("/api/token/refresh", json={"refresh_token": live.refresh_token}), 401)
    assert_refused(client, fresh["access_token"], engine, poll)
    assert_refused(client, live.access_token)
    assert_error(client.post("/api/token/refresh", json={"refresh_token": fresh["refresh_token"]}), 401)


def test_racing_refreshes_with_one_token_give_one_pair_then_kill_the_session(live_api, engine, live):
    """Ten simultaneous refreshes of one token: one wins, nine are reuse, and reuse ends the session."""
    clients = [httpx.Client(base_url=live_api.url, timeout=60) for _ in range(10)]
    barrier = threading.Barrier(len(clients))
    answers: list[Any] = [None] * len(clients)

    def refresh(index: int) -> None:
        barrier.wait(timeout=30)
        answers[index] = clients[index].post("/api/token/refresh", json={"refresh_token": live.refresh_token})

    try:
        for c in clients:
            c.get("/api/health/live")
        threads = [threading.Thread(target=refresh, args=(i,), daemon=True) for i in range(len(clients))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        statuses = Counter(a.status_code for a in answers)
        assert statuses == {200: 1, 401: 9}, statuses
        winner = next(a for a in answers if a.status_code == 200).json()
        me = clients[0].get("/api/me", headers=bearer(winner["access_token"]))
        assert_error(me, 401)
        assert_error(clients[0].post("/api/token/refresh", json={"refresh_token": winner["refresh_token"]}), 401)
    finally:
        for c in clients:
            c.close()


def test_logout_kills_both_tokens_at_once(client, engine, live, poll):
    response = client.post("/api/logout", json={"refresh_token": live.refresh_token}, headers=bearer(live.access_token))
    assert response.status_code == 204, response.text
    assert_refused(client, live.access_token, engine, poll)
    assert_error(client.post("/api/token/refresh", json={"refresh_token": live.refresh_token}), 401)


def test_logout_with_someone_elses_refresh_token_does_not_end_their_session(client, session, live, other_user):
    theirs = factories.issue_tokens(session, other_user)
    response = client.post("/api/logout", json={"refresh_token": theirs.refresh_token}, headers=bearer(live.access_token))
    assert response.status_code == 204
    assert client.get("/api/me", headers=bearer(theirs.access_token)).status_code == 200
    assert client.post("/api/token/refresh", json={"refresh_token": theirs.refresh_token}).status_code == 200


def test_a_password_change_ends_every_session(client, engine, session, make_user, poll):
    member = make_user()
    one, two = factories.issue_tokens(session, member), factories.issue_tokens(session, member)
    _browser_session, credential = auth.start_browser_session(session=session, user=member)
    response = client.post(
        "/api/me/password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": "A-new-and-long-passphrase-77"},
        headers=bearer(one.access_token),
    )
    assert response.status_code == 204, response.text
    for pair in (one, two):
        assert_refused(client, pair.access_token, engine, poll)
        assert_error(client.post("/api/token/refresh", json={"refresh_token": pair.refresh_token}), 401)
    with pytest.raises(NotAuthenticated):
        auth.identify_browser(session=session, credential=credential)
    # The old password is dead too; the new one works.
    assert_error(client.post("/api/token", data={"username": member.username, "password": DEFAULT_PASSWORD}), 401)
    assert client.post("/api/token", data={"username": member.username,
                                           "password": "A-new-and-long-passphrase-77"}).status_code == 200


def test_disabling_a_user_ends_their_sessions_at_once(client, engine, session, admin, live, user, poll):
    response = client.patch(f"/api/admin/users/{user.id}", json={"is_active": False},
                            headers=factories.token_headers(session, admin))
    assert response.status_code == 200, response.text
    assert_refused(client, live.access_token, engine, poll)
    assert_error(client.post("/api/token/refresh", json={"refresh_token": live.refresh_token}), 401)
    assert_error(client.post("/api/token", data={"username": user.username, "password": DEFAULT_PASSWORD}), 401)


def test_a_disabled_user_with_a_still_open_session_is_refused(client, engine, session, live, user, poll):
    """Defence in depth: even if disabling had not ended the session, the user check refuses it."""
    session.execute(update(User).where(User.id == user.id).values(is_active=False))
    session.commit()
    assert_refused(client, live.access_token, engine, poll)
    assert_error(client.post("/api/token/refresh", json={"refresh_token": live.refresh_token}), 401)
