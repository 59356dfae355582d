"""/metrics counts what happens: requests by route and status, and ballots by action."""

from __future__ import annotations

import re

from tests.conftest import METRICS_HEADERS


def _value(text: str, name: str, **labels: str) -> float:
    pattern = name + r"\{" + ",".join(f'{k}="{re.escape(v)}"' for k, v in sorted(labels.items())) + r"\} ([0-9.e+]+)"
    match = re.search(pattern, text)
    return float(match.group(1)) if match else 0.0


def test_metrics_count_ballots_and_requests(client, make_user, make_poll, auth_headers):
    owner, voter = make_user(), make_user()
    poll = make_poll(owner)
    before = client.get("/metrics", headers=METRICS_HEADERS).text
    headers = auth_headers(voter)
    option = poll.options[0].id
    assert client.post("/api/votes/", headers=headers, json={"poll_id": poll.poll.id, "option_id": option}).status_code == 201
    assert client.post("/api/votes/", headers=headers, json={"poll_id": poll.poll.id, "option_id": option}).status_code == 409
    assert client.delete(f"/api/polls/{poll.poll.id}/my-vote", headers=headers).status_code == 204
    after = client.get("/metrics", headers=METRICS_HEADERS)
    assert after.status_code == 200 and after.headers["content-type"].startswith("text/plain")
    for action in ("cast", "retract"):
        assert _value(after.text, "commons_ballots_total", action=action) == _value(before, "commons_ballots_total", action=action) + 1
    key = {"method": "POST", "route": "/api/votes/", "status": "409"}
    assert _value(after.text, "commons_http_requests_total", **key) == _value(before, "commons_http_requests_total", **key) + 1
