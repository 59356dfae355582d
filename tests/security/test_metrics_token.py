"""``GET /metrics`` is the operator's, not the public's (CONTRACT.md, "Operations").

Watching ballot counters move while a poll is open is a side channel against anonymous polls, and
the connected-clients gauge tells who is around. So: with ``METRICS_TOKEN`` unset the route is not
served (404, exactly like an unknown route); with it set, only ``Authorization: Bearer <token>``
reads it (401 and ``WWW-Authenticate: Bearer`` otherwise, compared in constant time); and even
the operator's page names no poll and no user in its labels. In production a short token is
refused at start, as a weak ``SECRET_KEY`` is.
"""

from __future__ import annotations

import hmac

import pytest
from prometheus_client.parser import text_string_to_metric_families

from commons_app import cli
from commons_app.api import app as api_module
from commons_app.config import ConfigError, load_settings
from tests.conftest import METRICS_HEADERS, TEST_METRICS_TOKEN, TEST_SECRET_KEY, clear_caches
from tests.factories import assert_error


def _no_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("METRICS_TOKEN", raising=False)
    clear_caches()


# --- not configured: not served -------------------------------------------------------------------
@pytest.mark.parametrize("value", [None, "", "   "], ids=["unset", "empty", "blank"])
def test_without_a_token_metrics_is_not_served(client, monkeypatch, value):
    if value is None:
        _no_token(monkeypatch)
    else:
        monkeypatch.setenv("METRICS_TOKEN", value)  # blank counts as unset, never as "no password"
        clear_caches()
    unknown = client.get("/no-such-route")
    for headers in ({}, METRICS_HEADERS, {"Authorization": "Bearer "}):
        response = client.get("/metrics", headers=headers)
        assert response.status_code == 404
        assert response.json() == unknown.json() == {"detail": "Not Found"}
        assert response.headers["content-type"] == unknown.headers["content-type"]
        assert "www-authenticate" not in response.headers
        assert "commons_" not in response.text


# --- configured: the token or nothing ---------------------------------------------------------------
def test_no_authorization_header_is_401(client):
    response = client.get("/metrics")
    assert_error(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["cache-control"] == "no-store"
    assert "commons_" not in response.text


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer wrong-token",
        f"Bearer {TEST_METRICS_TOKEN[:-1]}",            # a prefix
        f"Bearer {TEST_METRICS_TOKEN}x",                # one character more
        f"Bearer {TEST_METRICS_TOKEN.upper()}",         # tokens are case-sensitive
        "Bearer ",
        "Bearer",
        TEST_METRICS_TOKEN,                             # no scheme
        f"Basic {TEST_METRICS_TOKEN}",                  # another scheme
        f"Token {TEST_METRICS_TOKEN}",
        "Bearer caf\u00e9-\u00ff",                      # latin-1 bytes: refused, not a 500
    ],
    ids=["wrong", "prefix", "longer", "case", "empty", "scheme-only", "no-scheme", "basic", "token", "latin-1"],
)
def test_a_wrong_token_is_401(client, authorization):
    response = client.get("/metrics", headers={"Authorization": authorization.encode("latin-1")})
    assert_error(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"
    assert "commons_" not in response.text


def test_a_users_access_token_does_not_open_metrics(client, user, auth_headers):
    response = client.get("/metrics", headers=auth_headers(user))
    assert_error(response, 401)


def test_the_right_token_gets_prometheus_text(client):
    client.get("/api/health/live")
    response = client.get("/metrics", headers=METRICS_HEADERS)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["cache-control"] == "no-store"
    names = {family.name for family in text_string_to_metric_families(response.text)}
    assert {"commons_http_requests", "commons_ballots", "commons_connected_clients"} <= names
    # The scheme is case-insensitive (RFC 6750 / RFC 9110), the token is not.
    lower = client.get("/metrics", headers={"Authorization": f"bearer {TEST_METRICS_TOKEN}"})
    assert lower.status_code == 200


def test_the_token_is_compared_in_constant_time(client, monkeypatch):
    calls = []
    original = hmac.compare_digest

    def recording(a, b):
        calls.append((a, b))
        return original(a, b)

    monkeypatch.setattr(api_module.hmac, "compare_digest", recording)
    assert client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get("/metrics", headers=METRICS_HEADERS).status_code == 200
    assert calls == [(b"nope", TEST_METRICS_TOKEN.encode()), (TEST_METRICS_TOKEN.encode(),) * 2]


# --- what the page holds -------------------------------------------------------------------------------
def test_no_metric_label_names_a_poll_or_a_user(client, make_user, make_poll, auth_headers):
    owner, voter = make_user(username="metricowner"), make_user(username="metricvoter")
    view = make_poll(owner, title="Secret ballot on the budget", anonymous=True)
    poll_id, option_id = view.poll.id, view.options[0].id
    headers = auth_headers(voter)
    assert client.post("/api/votes/", headers=headers, json={"poll_id": poll_id, "option_id": option_id}).status_code == 201
    # Routes with the poll's id in their path, matched or not (whatever they answer, they are counted).
    client.get(f"/api/polls/{poll_id}/results", headers=auth_headers(owner))
    client.get(f"/api/polls/{poll_id}/my-vote", headers=headers)
    assert client.get(f"/api/polls/{poll_id}/no-such-thing", headers=headers).status_code == 404

    response = client.get("/metrics", headers=METRICS_HEADERS)
    assert response.status_code == 200
    samples = [s for family in text_string_to_metric_families(response.text) for s in family.samples]
    assert any(s.name == "commons_ballots_total" and s.labels.get("action") == "cast" for s in samples)
    routes = set()
    for sample in samples:
        for name, value in sample.labels.items():
            assert not any(word in name.lower() for word in ("poll", "user", "option", "voter", "ballot")), sample
            for private in ("metricowner", "metricvoter", "Secret ballot"):
                assert private not in value, sample
            if name == "route":
                assert str(poll_id) not in value.split("/"), sample  # the route's template, not its path
                routes.add(value)
    assert "/api/polls/{poll_id}/my-vote" in routes and "/api/*" in routes


# --- settings ---------------------------------------------------------------------------------------
def test_production_refuses_a_short_token(monkeypatch):
    monkeypatch.setenv("COMMONS_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", TEST_SECRET_KEY)
    monkeypatch.setenv("METRICS_TOKEN", "x" * 31)
    with pytest.raises(ConfigError, match="METRICS_TOKEN"):
        load_settings()
    monkeypatch.setenv("METRICS_TOKEN", "x" * 32)
    assert load_settings().metrics_token == "x" * 32
    monkeypatch.delenv("METRICS_TOKEN")
    assert load_settings().metrics_token is None  # unset is fine: /metrics is off


def test_short_tokens_are_allowed_outside_production(monkeypatch):
    monkeypatch.setenv("METRICS_TOKEN", " dev-token\n")  # a token file's newline is not part of it
    assert load_settings().metrics_token == "dev-token"
    assert "dev-token" not in repr(load_settings())


def test_check_config_reports_the_token_without_showing_it(monkeypatch, capsys):
    clear_caches()
    assert cli.main(["check-config"]) == 0
    out = capsys.readouterr().out
    assert "metrics_token=set" in out and TEST_METRICS_TOKEN not in out
    _no_token(monkeypatch)
    assert cli.main(["check-config"]) == 0
    assert "metrics_token=not set" in capsys.readouterr().out
    monkeypatch.setenv("COMMONS_ENV", "production")
    monkeypatch.setenv("METRICS_TOKEN", "short")
    clear_caches()
    assert cli.main(["check-config"]) == 2
    assert "METRICS_TOKEN" in capsys.readouterr().err
