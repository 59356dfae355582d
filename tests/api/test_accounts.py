"""Accounts and tokens over HTTP: POST /api/users/, /api/token, /api/token/refresh, /api/logout, /api/me."""

from __future__ import annotations

import dataclasses

import jwt
import pytest

from commons_app.config import get_settings
from commons_app.services import auth
from tests import factories
from tests.factories import DEFAULT_PASSWORD, assert_error, assert_utc_offset, bearer, row_counts


def login(client, username: str, password: str = DEFAULT_PASSWORD):
    return client.post("/api/token", data={"username": username, "password": password})


# --- registration ------------------------------------------------------------------------------------
def test_register_returns_the_public_account(client, engine):
    response = client.post("/api/users/", json={"username": "Marie_C", "email": "marie@example.org", "password": "polonium-radium-1898"})

    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"id", "username", "email", "role", "created_at"}
    assert (body["username"], body["email"], body["role"]) == ("Marie_C", "marie@example.org", "member")
    assert_utc_offset(body["created_at"])
    assert row_counts(engine)["users"] == 1
    assert login(client, "marie_c", "polonium-radium-1898").status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"username": "MARIE_c", "email": "new@example.org", "password": "another-pass-123"}, id="username"),
        pytest.param({"username": "someone", "email": "MARIE@example.org", "password": "another-pass-123"}, id="email"),
    ],
)
def test_register_duplicate_is_409_and_changes_nothing(client, engine, session, body):
    factories.make_user(session, username="Marie_C", email="marie@example.org")
    before = row_counts(engine)
    assert_error(client.post("/api/users/", json=body), 409)
    assert row_counts(engine) == before


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"username": "bob_", "email": "b@example.org", "password": "good-pass-1234", "role": "admin"}, id="unknown-field-role"),
        pytest.param({"username": 12345, "email": "b@example.org", "password": "good-pass-1234"}, id="username-not-string"),
        pytest.param({"username": "bob_", "email": ["b@example.org"], "password": "good-pass-1234"}, id="email-not-string"),
        pytest.param({"username": "bob_", "password": "good-pass-1234"}, id="missing-email"),
        pytest.param({"username": "bob_", "email": "not an email", "password": "good-pass-1234"}, id="bad-email"),
        pytest.param({"username": "b", "email": "b@example.org", "password": "good-pass-1234"}, id="short-username"),
        pytest.param({"username": "bob_", "email": "b@example.org", "password": "password"}, id="common-password"),
        pytest.param({"username": "bob_", "email": "b@example.org", "password": "short"}, id="short-password"),
        pytest.param({"username": "bob_", "email": "b@example.org", "password": "x" * 129}, id="long-password"),
        pytest.param([1, 2], id="not-an-object"),
    ],
)
def test_register_invalid_input_is_422_and_changes_nothing(client, engine, body):
    before = row_counts(engine)
    assert_error(client.post("/api/users/", json=body), 422)
    assert row_counts(engine) == before


def test_register_malformed_json_is_422(client, engine):
    response = client.post("/api/users/", content=b'{"username": "x",', headers={"content-type": "application/json"})
    assert_error(response, 422)
    assert row_counts(engine)["users"] == 0


# --- tokens ------------------------------------------------------------------------------------------
def test_token_returns_a_bearer_pair(client, user):
    response = login(client, user.username.upper())

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == get_settings().access_token_minutes * 60
    me = client.get("/api/me", headers=bearer(body["access_token"]))
    assert me.status_code == 200
    assert me.json() == {"id": user.id, "username": user.username, "email": user.email, "role": "member"}


@pytest.mark.parametrize("who", ["wrong-password", "unknown-user", "disabled"])
def test_token_bad_credentials_are_401(client, session, user, who):
    username, password = user.username, DEFAULT_PASSWORD
    if who == "wrong-password":
        password = "not-the-password"
    elif who == "unknown-user":
        username = "nobody-by-that-name"
    else:
        user.is_active = False
        session.add(user)
        session.commit()
    response = login(client, username, password)
    assert_error(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "data,kind",
    [({"username": "someone"}, "form"), ({"password": "x"}, "form"), ({"username": "a", "password": "b"}, "json")],
)
def test_token_needs_form_fields(client, data, kind):
    if kind == "form":
        response = client.post("/api/token", data=data)
    else:
        response = client.post("/api/token", json=data)
    assert_error(response, 422)


def test_refresh_rotates_and_reuse_revokes_the_session(client, user):
    first = login(client, user.username).json()

    refreshed = client.post("/api/token/refresh", json={"refresh_token": first["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text
    second = refreshed.json()
    assert second["token_type"] == "bearer" and second["refresh_token"] != first["refresh_token"]
    assert client.get("/api/me", headers=bearer(second["access_token"])).status_code == 200

    assert_error(client.post("/api/token/refresh", json={"refresh_token": first["refresh_token"]}), 401)
    # The whole session is dead now: the newest refresh token and its access token too.
    assert_error(client.post("/api/token/refresh", json={"refresh_token": second["refresh_token"]}), 401)
    assert_error(client.get("/api/me", headers=bearer(second["access_token"])), 401)


@pytest.mark.parametrize(
    "body", [{"refresh_token": "never-issued"}, {"refresh_token": ""}, {"refresh_token": 5}, {}, {"refresh_token": "x", "extra": 1}]
)
def test_refresh_bad_input(client, user, body):
    status = 401 if body == {"refresh_token": "never-issued"} else 422
    assert_error(client.post("/api/token/refresh", json=body), status)


def test_logout_rejects_both_tokens_at_once(client, user, session):
    pair = login(client, user.username).json()
    other = factories.issue_tokens(session, user)

    response = client.post("/api/logout", json={"refresh_token": pair["refresh_token"]}, headers=bearer(pair["access_token"]))

    assert response.status_code == 204 and response.content == b""
    assert_error(client.get("/api/me", headers=bearer(pair["access_token"])), 401)
    assert_error(client.post("/api/token/refresh", json={"refresh_token": pair["refresh_token"]}), 401)
    assert client.get("/api/me", headers=bearer(other.access_token)).status_code == 200


def test_logout_needs_a_bearer_token(client, user, session):
    pair = factories.issue_tokens(session, user)
    assert_error(client.post("/api/logout", json={"refresh_token": pair.refresh_token}), 401)
    assert client.post("/api/token/refresh", json={"refresh_token": pair.refresh_token}).status_code == 200


# --- /api/me and bad tokens --------------------------------------------------------------------------
def test_me_without_a_token_is_401(client, engine):
    response = client.get("/api/me")
    assert_error(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


def test_me_with_bad_tokens_is_401(client, session, user):
    settings = get_settings()
    pair = factories.issue_tokens(session, user)
    claims = jwt.decode(pair.access_token, options={"verify_signature": False})
    expired = auth.start_session(session=session, user=user, settings=dataclasses.replace(settings, access_token_minutes=-5))
    bad = [
        "garbage",
        pair.access_token[:-3] + ("aaa" if not pair.access_token.endswith("aaa") else "bbb"),
        jwt.encode(claims, "some-other-secret-that-is-long-enough-000000", algorithm="HS256"),
        jwt.encode(claims, None, algorithm="none"),
        expired.access_token,
        pair.refresh_token,
    ]
    for token in bad:
        assert_error(client.get("/api/me", headers=bearer(token)), 401)
    assert_error(client.get("/api/me", headers={"Authorization": f"Basic {pair.access_token}"}), 401)
    assert client.get("/api/me", headers=bearer(pair.access_token)).status_code == 200


def test_password_change_over_http_ends_sessions(client, session, make_user):
    user = make_user(password="before-change-42")
    pair = factories.issue_tokens(session, user)
    headers = bearer(pair.access_token)

    wrong = client.post("/api/me/password", json={"current_password": "nope-nope-nope", "new_password": "after-change-42"}, headers=headers)
    assert_error(wrong, 422)
    response = client.post("/api/me/password", json={"current_password": "before-change-42", "new_password": "after-change-42"}, headers=headers)
    assert response.status_code == 204
    assert_error(client.get("/api/me", headers=headers), 401)
    assert login(client, user.username, "after-change-42").status_code == 200


# --- rate limits -------------------------------------------------------------------------------------
def _exhaust_login_limit(client, username: str) -> None:
    for _ in range(3):
        assert login(client, username, "wrong-password-x").status_code == 401
    limited = login(client, username, "wrong-password-x")
    assert_error(limited, 429)
    retry_after = int(limited.headers["retry-after"])
    assert 1 <= retry_after <= 61
    # Even the right password is refused while the limit holds, and other accounts are unaffected.
    assert_error(login(client, username), 429)


def test_login_rate_limit_on_memory_storage(client, rate_limits, user, other_user):
    rate_limits(login_account="3/minute")
    from commons_app.services import ratelimit

    assert type(ratelimit._limiter()[1]).__name__ == "MemoryStorage"
    _exhaust_login_limit(client, user.username)
    assert login(client, other_user.username).status_code == 200


def test_login_rate_limit_on_redis_storage(client, rate_limits, redis_url, user, other_user):
    rate_limits(login_account="3/minute", redis_url=redis_url)
    from commons_app.services import ratelimit

    assert "Redis" in type(ratelimit._limiter()[1]).__name__
    _exhaust_login_limit(client, user.username)
    assert login(client, other_user.username).status_code == 200


def test_registration_rate_limit(client, engine, rate_limits):
    rate_limits(register="2/hour")
    for i in range(2):
        body = {"username": f"ratelimited{i}", "email": f"r{i}@example.org", "password": "good-pass-1234"}
        assert client.post("/api/users/", json=body).status_code == 201
    before = row_counts(engine)
    limited = client.post("/api/users/", json={"username": "ratelimited9", "email": "r9@example.org", "password": "good-pass-1234"})
    assert_error(limited, 429)
    assert int(limited.headers["retry-after"]) >= 1
    assert row_counts(engine) == before
