"""Lists over HTTP are paged with a bounded page size, and the optional paging parameters added
for issue 6 (``before_id`` on the audit log, ``skip``/``limit`` on a poll's roll) keep the
existing answers unchanged when absent."""

from __future__ import annotations

import pytest

from commons_app.services import audit, polls
from tests import factories
from tests.factories import assert_error


@pytest.mark.parametrize(
    ("url", "largest"),
    [("/api/polls/", 100), ("/api/admin/users", 100), ("/api/admin/audit", audit.LIST_LIMIT_MAX), ("/api/admin/outbox", 100)],
)
def test_every_list_has_a_bounded_page_size(client, admin, auth_headers, url, largest):
    headers = auth_headers(admin)
    page = client.get(url, params={"limit": largest}, headers=headers)
    assert page.status_code == 200 and page.json()["limit"] == largest
    for bad in ({"limit": largest + 1}, {"limit": 0}, {"skip": -1}):
        assert_error(client.get(url, params=bad, headers=headers), 422)


def test_audit_log_keyset_walks_the_whole_log(client, session, admin, auth_headers):
    for i in range(5):
        audit.record_event(session=session, actor_id=admin.id, action="test.entry", target_type="test", target_id=i)
    session.commit()
    headers = auth_headers(admin)
    everything = client.get("/api/admin/audit", params={"limit": 200}, headers=headers).json()
    ids = [e["id"] for e in everything["items"]]
    assert ids == sorted(ids, reverse=True) and everything["total"] == len(ids) >= 5

    walked: list[int] = []
    before = None
    while True:
        params = {"limit": 2} | ({"before_id": before} if before else {})
        page = client.get("/api/admin/audit", params=params, headers=headers)
        assert page.status_code == 200
        body = page.json()
        assert set(body) == {"items", "total", "skip", "limit"}
        assert body["total"] == len(ids) - len(walked)
        if not body["items"]:
            break
        walked += [e["id"] for e in body["items"]]
        before = body["items"][-1]["id"]
    assert walked == ids

    assert_error(client.get("/api/admin/audit", params={"before_id": 0}, headers=headers), 422)
    assert_error(client.get("/api/admin/audit", params={"before_id": "x"}, headers=headers), 422)


def test_roll_pages_with_a_total_header(client, session, user, other_user, make_user, auth_headers):
    voters = [make_user() for _ in range(5)]
    view = factories.make_poll(session, user, voters=[(v, 2.0) for v in voters])
    factories.vote(session, voters[0], view, option_id=view.options[0].id)
    headers = auth_headers(user)
    url = f"/api/polls/{view.poll.id}/voters"

    whole = client.get(url, headers=headers)
    assert whole.status_code == 200 and whole.headers["x-total-count"] == "5"
    everyone = whole.json()["voters"]
    assert set(whole.json()) == {"poll_id", "voters"} and len(everyone) == 5
    assert [v["username"].lower() for v in everyone] == sorted(v.username.lower() for v in voters)

    pages = []
    for skip in (0, 2, 4):
        page = client.get(url, params={"skip": skip, "limit": 2}, headers=headers)
        assert page.status_code == 200 and page.headers["x-total-count"] == "5"
        pages += page.json()["voters"]
    assert pages == everyone  # same entries, same has_voted, in the same order

    for bad in ({"limit": 0}, {"limit": polls.ROLL_PAGE_MAX + 1}, {"skip": -1}, {"skip": polls.MAX_ROLL + 1}):
        assert_error(client.get(url, params=bad, headers=headers), 422)
    assert_error(client.get(url, params={"limit": 2}, headers=auth_headers(other_user)), 403)


def test_the_new_parameters_are_in_the_openapi_schema(client):
    schema = client.get("/api/openapi.json").json()
    audit_params = {p["name"] for p in schema["paths"]["/api/admin/audit"]["get"]["parameters"]}
    assert {"skip", "limit", "before_id"} <= audit_params
    voters = schema["paths"]["/api/polls/{poll_id}/voters"]["get"]
    assert {"skip", "limit"} <= {p["name"] for p in voters["parameters"]}
    assert "X-Total-Count" in voters["responses"]["200"]["headers"]
