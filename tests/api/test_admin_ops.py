"""Operations and administration over HTTP: health, metrics, OpenAPI, the request guard, admin routes."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from commons_app import db as db_module
from commons_app.api.app import MAX_BODY_BYTES, SECURITY_HEADERS
from tests import factories
from tests.conftest import METRICS_HEADERS, clear_caches
from tests.factories import assert_error, assert_utc_offset, bearer, row_counts


def assert_security_headers(response) -> None:
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"]
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp
    assert response.headers["x-request-id"]


@pytest.fixture
def broken_database(engine):
    """The app's engine points at a database that cannot be opened (restored by ``engine``)."""
    broken = db_module.make_engine("sqlite:////nonexistent-directory-for-tests/commons.db")
    db_module.set_engine(broken)
    yield
    broken.dispose()


# --- health and metrics ------------------------------------------------------------------------------
def test_health_without_redis(client):
    response = client.get("/api/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "redis": "not configured"}


def test_health_with_redis(client, redis_url, monkeypatch):
    monkeypatch.setenv("REDIS_URL", redis_url)
    clear_caches()
    response = client.get("/api/health")
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ok", "database": "ok", "redis": "ok"}


def test_health_names_a_redis_outage(client, monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    clear_caches()
    response = client.get("/api/health")
    assert response.status_code == 503
    body = response.json()
    # The failing dependency by name, not the exception behind it (that goes to the log).
    assert body == {"status": "degraded", "database": "ok", "redis": "down"}, body


def test_health_names_a_database_outage(client, broken_database):
    response = client.get("/api/health")
    assert response.status_code == 503
    body = response.json()
    assert body == {"status": "degraded", "database": "down", "redis": "not configured"}, body
    assert client.get("/api/health/live").json() == {"status": "ok"}


def test_a_database_outage_is_503_not_500(client, session, user, broken_database):
    headers = factories.token_headers(session, user)  # made on the real database before the outage matters
    assert_error(client.get("/api/me", headers=headers), 503)
    assert_error(client.post("/api/token", data={"username": "x", "password": "y"}), 503)


def test_metrics_in_prometheus_format(client, session, user):
    headers = factories.token_headers(session, user)
    client.get("/api/me", headers=headers)
    response = client.get("/metrics", headers=METRICS_HEADERS)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "# TYPE commons_http_requests_total counter" in response.text
    assert 'commons_http_requests_total{method="GET",route="/api/me",status="200"}' in response.text
    assert "commons_http_request_seconds_bucket" in response.text


# --- OpenAPI -----------------------------------------------------------------------------------------
CONTRACT_ENDPOINTS = {
    ("post", "/api/users/"), ("post", "/api/token"), ("post", "/api/token/refresh"), ("post", "/api/logout"),
    ("get", "/api/me"), ("post", "/api/polls/"), ("get", "/api/polls/"), ("get", "/api/polls/{poll_id}"),
    ("patch", "/api/polls/{poll_id}"), ("delete", "/api/polls/{poll_id}"), ("post", "/api/polls/{poll_id}/close"),
    ("put", "/api/polls/{poll_id}/voters"), ("post", "/api/votes/"), ("get", "/api/polls/{poll_id}/my-vote"),
    ("put", "/api/polls/{poll_id}/my-vote"), ("delete", "/api/polls/{poll_id}/my-vote"),
    ("get", "/api/polls/{poll_id}/results"), ("get", "/api/polls/{poll_id}/results.csv"), ("get", "/api/health"),
    ("get", "/api/polls/{poll_id}/record.jsonl"), ("get", "/api/polls/{poll_id}/record.blt"),
    ("get", "/metrics"), ("get", "/api/admin/users"), ("patch", "/api/admin/users/{user_id}"), ("get", "/api/admin/audit"),
}


def test_openapi_lists_every_endpoint(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    listed = {(method, path) for path, item in schema["paths"].items() for method in item}
    assert CONTRACT_ENDPOINTS <= listed, CONTRACT_ENDPOINTS - listed
    # Error answers are documented with the {"detail": str} shape.
    vote = schema["paths"]["/api/votes/"]["post"]["responses"]
    assert {"201", "401", "403", "404", "409", "422"} <= set(vote)
    assert schema["components"]["schemas"]["ErrorOut"]["properties"]["detail"]["type"] == "string"


PUBLIC_ENDPOINTS = {("post", "/api/users/"), ("post", "/api/token"), ("post", "/api/token/refresh"),
                    ("get", "/api/health")}


@pytest.mark.parametrize("token", [None, "garbage", "eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl"], ids=["no-token", "bad", "bad-jwt"])
def test_every_protected_endpoint_needs_a_live_token(client, engine, token):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    before = row_counts(engine)
    for method, path in sorted(CONTRACT_ENDPOINTS - PUBLIC_ENDPOINTS):
        url = path.replace("{poll_id}", "1").replace("{user_id}", "1")
        body = {"poll_id": "1", "option_id": 1} if method in {"post", "put", "patch"} else None
        response = client.request(method, url, json=body, headers=headers)
        detail = assert_error(response, 401)
        assert response.headers["www-authenticate"] == "Bearer", (method, path, detail)
    assert row_counts(engine) == before


# --- the request guard -------------------------------------------------------------------------------
def test_security_headers_on_every_kind_of_answer(client, session, user):
    headers = factories.token_headers(session, user)
    answers = [
        client.get("/api/me", headers=headers),                 # 200
        client.get("/api/me"),                                  # 401
        client.get("/api/polls/12345", headers=headers),        # 404 from a route
        client.get("/api/no-such-route"),                       # 404 from the router
        client.post("/api/users/", json={"x": 1}),              # 422
        client.put("/api/me", headers=headers),                 # 405
        client.get("/metrics"),                                 # 401 without the metrics token
        client.get("/metrics", headers=METRICS_HEADERS),        # 200
    ]
    for response in answers:
        assert_security_headers(response)
    assert set(SECURITY_HEADERS) <= set(answers[0].headers)
    assert_error(answers[3], 404)
    assert_error(answers[5], 405)


def test_request_id_is_echoed(client):
    response = client.get("/api/health/live", headers={"X-Request-ID": "trace-me-123"})
    assert response.headers["x-request-id"] == "trace-me-123"


def test_a_body_over_one_megabyte_is_413(client, engine, session, user):
    headers = {**factories.token_headers(session, user), "content-type": "application/json"}
    before = row_counts(engine)
    big = b'{"title": "' + b"x" * MAX_BODY_BYTES + b'", "options": ["a", "b"]}'

    response = client.post("/api/polls/", content=big, headers=headers)

    assert_error(response, 413)
    assert_security_headers(response)
    assert row_counts(engine) == before


def test_a_streamed_body_over_one_megabyte_is_413(api_app, engine, session, user):
    headers = {**factories.token_headers(session, user), "content-type": "application/json"}

    def chunks():
        yield b'{"title": "'
        for _ in range(MAX_BODY_BYTES // 65536 + 2):
            yield b"x" * 65536
        yield b'", "options": ["a", "b"]}'

    with TestClient(api_app, raise_server_exceptions=False) as raw:
        response = raw.post("/api/polls/", content=chunks(), headers=headers)
    assert_error(response, 413)
    assert row_counts(engine)["polls"] == 0


def test_a_body_just_under_the_limit_is_read(client, session, user):
    headers = {**factories.token_headers(session, user), "content-type": "application/json"}
    body = b'{"title": "t", "options": ["a", "b"], "description": "' + b"d" * (MAX_BODY_BYTES - 200) + b'"}'
    # Read (not refused for size): the description is simply too long for a poll.
    assert_error(client.post("/api/polls/", content=body, headers=headers), 422)


# --- admin: users ------------------------------------------------------------------------------------
def test_admin_lists_users(client, session, admin, user, other_user, auth_headers):
    response = client.get("/api/admin/users", headers=auth_headers(admin))
    assert response.status_code == 200
    page = response.json()
    assert (page["total"], page["skip"], page["limit"]) == (3, 0, 50)
    assert {u["id"] for u in page["items"]} == {admin.id, user.id, other_user.id}
    item = next(u for u in page["items"] if u["id"] == user.id)
    assert item == {
        "id": user.id, "username": user.username, "email": user.email, "role": "member",
        "created_at": item["created_at"], "is_active": True,
    }
    assert_utc_offset(item["created_at"])
    found = client.get("/api/admin/users", params={"search": other_user.username.upper(), "limit": 5}, headers=auth_headers(admin)).json()
    assert [u["id"] for u in found["items"]] == [other_user.id] and found["total"] == 1


def test_admin_routes_refuse_members_and_strangers(client, admin, user, auth_headers):
    member = auth_headers(user)
    for method, url in (("get", "/api/admin/users"), ("get", "/api/admin/audit"), ("patch", f"/api/admin/users/{admin.id}")):
        kwargs = {"json": {"role": "member"}} if method == "patch" else {}
        assert_error(client.request(method, url, headers=member, **kwargs), 403)
        assert_error(client.request(method, url, **kwargs), 401)


def test_admin_changes_roles(client, session, admin, user, auth_headers):
    headers = auth_headers(admin)
    response = client.patch(f"/api/admin/users/{user.id}", json={"role": "admin"}, headers=headers)
    assert response.status_code == 200 and response.json()["role"] == "admin"
    assert client.get("/api/admin/users", headers=auth_headers(user)).status_code == 200
    assert client.patch(f"/api/admin/users/{user.id}", json={"role": "member"}, headers=headers).json()["role"] == "member"


def test_disabling_a_user_takes_effect_at_once(client, session, admin, user, auth_headers):
    pair = factories.issue_tokens(session, user)
    assert client.get("/api/me", headers=bearer(pair.access_token)).status_code == 200

    response = client.patch(f"/api/admin/users/{user.id}", json={"is_active": False}, headers=auth_headers(admin))

    assert response.status_code == 200 and response.json()["is_active"] is False
    assert_error(client.get("/api/me", headers=bearer(pair.access_token)), 401)
    assert_error(client.post("/api/token/refresh", json={"refresh_token": pair.refresh_token}), 401)
    assert_error(client.post("/api/token", data={"username": user.username, "password": factories.DEFAULT_PASSWORD}), 401)


def test_admin_user_update_errors(client, engine, admin, user, auth_headers):
    headers = auth_headers(admin)
    before = row_counts(engine)
    assert_error(client.patch(f"/api/admin/users/{admin.id}", json={"is_active": False}, headers=headers), 409)
    assert_error(client.patch(f"/api/admin/users/{admin.id}", json={"role": "member"}, headers=headers), 409)  # last admin
    assert_error(client.patch("/api/admin/users/999999", json={"role": "admin"}, headers=headers), 404)
    assert_error(client.patch(f"/api/admin/users/{user.id}", json={"role": "owner"}, headers=headers), 422)
    assert_error(client.patch(f"/api/admin/users/{user.id}", json={"is_active": "no"}, headers=headers), 422)
    assert_error(client.patch(f"/api/admin/users/{user.id}", json={"password_hash": "x"}, headers=headers), 422)
    assert row_counts(engine) == before


# --- admin: audit ------------------------------------------------------------------------------------
def test_audit_log_records_poll_lifecycle(client, session, admin, user, auth_headers):
    member = auth_headers(user)
    created = client.post("/api/polls/", json={"title": "Audited", "options": ["a", "b"]}, headers=member).json()
    client.post("/api/votes/", json={"poll_id": created["id"], "option_id": created["options"][0]["id"]}, headers=member)
    client.post(f"/api/polls/{created['id']}/close", headers=member)
    assert client.delete(f"/api/polls/{created['id']}", headers=member).status_code == 204

    response = client.get("/api/admin/audit", headers=auth_headers(admin))

    assert response.status_code == 200
    page = response.json()
    entries = [(e["action"], e["actor_id"], e["target_type"], e["target_id"]) for e in page["items"]]
    poll_id = str(created["id"])
    assert entries[:3] == [  # newest first
        ("poll.delete", user.id, "poll", poll_id),
        ("poll.close", user.id, "poll", poll_id),
        ("poll.create", user.id, "poll", poll_id),
    ]
    assert page["total"] == len(page["items"])
    for entry in page["items"]:
        assert_utc_offset(entry["at"])
        assert "option_id" not in entry["detail"] and "choices" not in entry["detail"]  # never ballot content
    limited = client.get("/api/admin/audit?limit=1&skip=1", headers=auth_headers(admin)).json()
    assert [e["action"] for e in limited["items"]] == ["poll.close"]
    assert_error(client.get("/api/admin/audit?limit=0", headers=auth_headers(admin)), 422)


# --- values the database cannot hold -----------------------------------------------------------------
def test_values_the_database_refuses_are_client_errors(client, engine, session, user, admin, auth_headers):
    """Ids beyond the integer columns' range and NUL bytes (PostgreSQL text cannot hold them) are
    the client's mistake: a 4xx with a JSON detail, never a 500 or a 503 "database unavailable"."""
    member, boss = auth_headers(user), auth_headers(admin)
    view = factories.make_poll(session, user)
    before = row_counts(engine)
    answers = {
        "poll id 2**70": (client.get(f"/api/polls/{2**70}", headers=member), {404}),
        "poll id of 65 characters": (client.get(f"/api/polls/{'a' * 65}", headers=member), {422}),
        "poll id 2**40": (client.get(f"/api/polls/{2**40}", headers=member), {404, 422}),
        "results id 2**63": (client.get(f"/api/polls/{2**63}/results", headers=member), {404, 422}),
        "vote poll_id 2**40": (client.post("/api/votes/", json={"poll_id": 2**40, "option_id": 1}, headers=member), {404, 422}),
        "admin user id 2**40": (client.patch(f"/api/admin/users/{2**40}", json={"role": "admin"}, headers=boss), {404, 422}),
        "NUL in login": (client.post("/api/token", data={"username": "a\x00b", "password": "whatever"}), {401, 422}),
        "NUL in search": (client.get("/api/polls/", params={"search": "a\x00b"}, headers=member), {200, 422}),
        "NUL in admin search": (client.get("/api/admin/users", params={"search": "\x00"}, headers=boss), {200, 422}),
        "NUL in roll": (
            client.put(f"/api/polls/{view.poll.id}/voters", json={"voters": [{"username": "a\x00b"}]}, headers=member),
            {422},
        ),
        "NUL in title": (client.post("/api/polls/", json={"title": "a\x00b", "options": ["x", "y"]}, headers=member), {422}),
    }
    for name, (response, expected) in answers.items():
        assert response.status_code in expected, (name, response.status_code, response.text)
        if response.status_code != 200:
            assert_error(response, response.status_code)
    assert row_counts(engine) == before
