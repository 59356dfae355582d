"""Polls over HTTP: create, list, read, edit, close, delete and voter rolls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from commons_app.models import utcnow
from tests import factories
from tests.factories import assert_error, assert_utc_offset, row_counts


@pytest.fixture
def owner_headers(user, auth_headers):
    return auth_headers(user)


@pytest.fixture
def other_headers(other_user, auth_headers):
    return auth_headers(other_user)


def create(client, headers, **body):
    body.setdefault("title", factories.random_title())
    body.setdefault("options", factories.random_options(3))
    return client.post("/api/polls/", json=body, headers=headers)


# --- create ------------------------------------------------------------------------------------------
def test_create_returns_the_poll(client, user, owner_headers):
    opens = (utcnow() - timedelta(minutes=1)).astimezone(UTC)
    closes = datetime(2040, 6, 1, 12, 0, tzinfo=UTC).astimezone(timezone(timedelta(hours=-5)))
    response = create(
        client, owner_headers, title="Park bench colour", description="Pick one", options=["Green", "Oak", "Blue"],
        opens_at=opens.isoformat(), closes_at=closes.isoformat(),
    )

    assert response.status_code == 201, response.text
    poll = response.json()
    assert poll["title"] == "Park bench colour" and poll["description"] == "Pick one"
    assert poll["created_by"] == user.id
    assert (poll["method"], poll["visibility"], poll["results_visibility"], poll["anonymous"]) == ("single", "public", "live", False)
    assert poll["status"] == "open" and poll["max_choices"] is None and poll["closed_at"] is None
    assert [(o["text"], o["position"]) for o in poll["options"]] == [("Green", 0), ("Oak", 1), ("Blue", 2)]
    assert all(isinstance(o["id"], int) for o in poll["options"])
    for key in ("created_at", "updated_at", "opens_at", "closes_at"):
        assert_utc_offset(poll[key])
    assert datetime.fromisoformat(poll["closes_at"]) == datetime(2040, 6, 1, 12, 0, tzinfo=UTC)
    assert client.get(f"/api/polls/{poll['id']}", headers=owner_headers).json() == poll


def test_create_a_scheduled_approval_poll(client, owner_headers):
    response = create(
        client, owner_headers, method="approval", max_choices=2, visibility="unlisted", results_visibility="after_close",
        opens_at=(utcnow() + timedelta(days=1)).isoformat(), anonymous=True,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["status"], body["method"], body["max_choices"], body["visibility"], body["anonymous"]) == (
        "scheduled", "approval", 2, "unlisted", True,
    )


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"owner": 1}, id="unknown-field"),
        pytest.param({"created_by": 1}, id="unknown-field-created_by"),
        pytest.param({"options": "a,b"}, id="options-not-a-list"),
        pytest.param({"options": ["a", 2]}, id="option-not-text"),
        pytest.param({"options": [f"opt {i}" for i in range(51)]}, id="too-many-options"),
        pytest.param({"options": ["lonely"]}, id="one-option"),
        pytest.param({"options": ["Same", "same"]}, id="duplicate-options"),
        pytest.param({"options": ["a", ""]}, id="empty-option"),
        pytest.param({"title": ""}, id="empty-title"),
        pytest.param({"title": None}, id="null-title"),
        pytest.param({"title": 42}, id="title-not-text"),
        pytest.param({"method": "dictator"}, id="unknown-method"),
        pytest.param({"visibility": "hidden"}, id="unknown-visibility"),
        pytest.param({"max_choices": 2}, id="max-choices-on-single"),
        pytest.param({"method": "approval", "max_choices": "2"}, id="max-choices-not-int"),
        pytest.param({"anonymous": "yes"}, id="anonymous-not-bool"),
        pytest.param({"opens_at": "2030-01-01T10:00:00"}, id="naive-datetime"),
        pytest.param({"opens_at": "next tuesday"}, id="not-a-datetime"),
        pytest.param({"closes_at": "2001-01-01T10:00:00+00:00"}, id="closes-in-past"),
    ],
)
def test_create_invalid_is_422_and_stores_nothing(client, engine, owner_headers, body):
    before = row_counts(engine)
    assert_error(create(client, owner_headers, **body), 422)
    assert row_counts(engine) == before


def test_create_needs_a_token(client, engine):
    assert_error(create(client, {}), 401)
    assert row_counts(engine)["polls"] == 0


# --- list and read -----------------------------------------------------------------------------------
def test_list_visibility(client, session, user, other_user, other_headers):
    public = factories.make_poll(session, user)
    unlisted = factories.make_poll(session, user, visibility="unlisted")
    private_on_roll = factories.make_poll(session, user, visibility="private", voters=[(other_user, 1.0)])
    private_off_roll = factories.make_poll(session, user, visibility="private")
    own_unlisted = factories.make_poll(session, other_user, visibility="unlisted")

    response = client.get("/api/polls/", headers=other_headers)

    assert response.status_code == 200
    page = response.json()
    assert (page["total"], page["skip"], page["limit"]) == (3, 0, 20)
    assert {p["id"] for p in page["items"]} == {public.poll.id, private_on_roll.poll.id, own_unlisted.poll.id}
    assert client.get(f"/api/polls/{unlisted.poll.id}", headers=other_headers).status_code == 200
    assert_error(client.get(f"/api/polls/{private_off_roll.poll.id}", headers=other_headers), 404)
    assert client.get(f"/api/polls/{private_on_roll.poll.id}", headers=other_headers).status_code == 200


def test_list_paginates_and_searches(client, session, user, owner_headers):
    ids = [factories.make_poll(session, user, title=f"Budget item {i}").poll.id for i in range(5)]
    factories.make_poll(session, user, title="Unrelated")

    first = client.get("/api/polls/?skip=0&limit=2&search=budget", headers=owner_headers).json()
    rest = client.get("/api/polls/", params={"skip": 2, "limit": 10, "search": "BUDGET"}, headers=owner_headers).json()

    assert (first["total"], first["limit"], rest["total"], rest["skip"]) == (5, 2, 5, 2)
    assert [p["id"] for p in first["items"] + rest["items"]] == list(reversed(ids))
    mine = client.get("/api/polls/?mine=true", headers=owner_headers).json()
    assert mine["total"] == 6


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "skip=-1", "limit=abc", "search=" + "x" * 201])
def test_list_bad_paging_is_422(client, owner_headers, query):
    assert_error(client.get(f"/api/polls/?{query}", headers=owner_headers), 422)


def test_poll_answer_has_an_opaque_id_and_a_join_code(client, owner_headers):
    created = client.post("/api/polls/", json={"title": "Lunch?", "options": ["A", "B"]}, headers=owner_headers)
    assert created.status_code == 201
    poll = created.json()
    assert isinstance(poll["id"], str) and len(poll["id"]) >= 22
    assert isinstance(poll["join_code"], str) and len(poll["join_code"]) == 8
    again = client.get(f"/api/polls/{poll['id']}", headers=owner_headers).json()
    assert (again["id"], again["join_code"]) == (poll["id"], poll["join_code"])
    listed = client.get("/api/polls/?mine=true", headers=owner_headers).json()["items"]
    assert {p["join_code"] for p in listed} == {poll["join_code"]}
    schema = client.get("/api/openapi.json").json()
    out = schema["components"]["schemas"]["PollOut"]
    assert out["properties"]["id"]["type"] == "string" and out["properties"]["join_code"]["type"] == "string"
    assert "join_code" in out["required"]
    vote_in = schema["components"]["schemas"]["VoteCreate"]["properties"]["poll_id"]
    assert vote_in["type"] == "string"
    params = schema["paths"]["/api/polls/{poll_id}"]["get"]["parameters"]
    assert next(p for p in params if p["name"] == "poll_id")["schema"]["type"] == "string"
    results = schema["components"]["schemas"]["ResultsOut"]["properties"]["poll_id"]
    assert results["type"] == "string"


def test_read_missing_or_invalid_ids(client, owner_headers):
    assert_error(client.get("/api/polls/987654", headers=owner_headers), 404)
    assert_error(client.get("/api/polls/no-such-poll", headers=owner_headers), 404)
    assert_error(client.get("/api/polls/not%20an%20id", headers=owner_headers), 422)
    assert_error(client.get("/api/polls/" + "x" * 65, headers=owner_headers), 422)
    assert_error(client.get("/api/polls/1"), 401)


# --- edit, close, delete -----------------------------------------------------------------------------
def test_patch_by_owner_admin_and_others(client, session, user, admin, owner_headers, other_headers, auth_headers):
    view = factories.make_poll(session, user, options=["A", "B"])
    url = f"/api/polls/{view.poll.id}"

    response = client.patch(url, json={"title": "Renamed", "options": ["A", "B", "C"]}, headers=owner_headers)
    assert response.status_code == 200, response.text
    assert response.json()["title"] == "Renamed" and [o["text"] for o in response.json()["options"]] == ["A", "B", "C"]
    assert_error(client.patch(url, json={"title": "Mine now"}, headers=other_headers), 403)
    assert client.patch(url, json={"description": "admin note"}, headers=auth_headers(admin)).json()["description"] == "admin note"
    assert client.get(url, headers=owner_headers).json()["title"] == "Renamed"


def test_patch_errors(client, engine, session, user, other_user, owner_headers):
    view = factories.make_poll(session, user, options=["A", "B"])
    factories.vote(session, other_user, view, option_id=view.options[0].id)
    url = f"/api/polls/{view.poll.id}"
    before = row_counts(engine)

    assert_error(client.patch(url, json={"options": ["A", "B", "C"]}, headers=owner_headers), 409)
    assert_error(client.patch(url, json={"method": "irv"}, headers=owner_headers), 409)
    assert_error(client.patch(url, json={"created_by": other_user.id}, headers=owner_headers), 422)
    assert_error(client.patch(url, json={"title": ["x"]}, headers=owner_headers), 422)
    assert_error(client.patch(url, json={"title": "x"}), 401)
    assert_error(client.patch("/api/polls/999999", json={"title": "x"}, headers=owner_headers), 404)
    assert row_counts(engine) == before
    assert client.get(url, headers=owner_headers).json()["title"] == view.poll.title


def test_close(client, session, user, owner_headers, other_headers):
    view = factories.make_poll(session, user)
    url = f"/api/polls/{view.poll.id}/close"

    assert_error(client.post(url, headers=other_headers), 403)
    response = client.post(url, headers=owner_headers)
    assert response.status_code == 200
    assert response.json()["status"] == "closed"
    assert_utc_offset(response.json()["closed_at"])
    assert client.get(f"/api/polls/{view.poll.id}", headers=other_headers).json()["status"] == "closed"
    assert_error(client.post("/api/polls/424242/close", headers=owner_headers), 404)


def test_delete(client, engine, session, user, owner_headers, other_headers):
    view = factories.make_poll(session, user)
    url = f"/api/polls/{view.poll.id}"

    assert_error(client.delete(url, headers=other_headers), 403)
    assert row_counts(engine)["polls"] == 1
    response = client.delete(url, headers=owner_headers)
    assert response.status_code == 204 and response.content == b""
    assert_error(client.get(url, headers=owner_headers), 404)
    assert_error(client.delete(url, headers=owner_headers), 404)
    assert row_counts(engine)["poll_options"] == 0


# --- voter rolls -------------------------------------------------------------------------------------
def test_put_voters_sets_the_roll_of_a_private_poll(client, session, user, other_user, owner_headers, other_headers, make_user):
    third = make_user()
    view = factories.make_poll(session, user, visibility="private")
    url = f"/api/polls/{view.poll.id}/voters"
    assert_error(client.get(f"/api/polls/{view.poll.id}", headers=other_headers), 404)

    response = client.put(url, json={"voters": [{"username": other_user.username.upper(), "weight": 2.5}, {"username": third.username}]}, headers=owner_headers)

    assert response.status_code == 200, response.text
    roll = response.json()
    assert roll["poll_id"] == view.poll.id
    assert {(v["user_id"], v["weight"], v["has_voted"]) for v in roll["voters"]} == {(other_user.id, 2.5, False), (third.id, 1.0, False)}
    assert client.get(f"/api/polls/{view.poll.id}", headers=other_headers).status_code == 200
    vote = client.post("/api/votes/", json={"poll_id": view.poll.id, "option_id": view.options[0].id}, headers=other_headers)
    assert vote.status_code == 201 and vote.json()["weight"] == 2.5
    listed = client.get(url, headers=owner_headers).json()["voters"]
    assert {v["user_id"]: v["has_voted"] for v in listed} == {other_user.id: True, third.id: False}
    assert_error(client.get(url, headers=other_headers), 403)  # on the roll, but not a manager


@pytest.mark.parametrize(
    "make_body",
    [
        pytest.param(lambda name: {"voters": [{"username": "no-such-person"}]}, id="unknown-user"),
        pytest.param(lambda name: {"voters": [{"username": name.upper()}, {"username": name.lower()}]}, id="twice"),
        pytest.param(lambda name: {"voters": [{"username": name, "weight": 0}]}, id="zero-weight"),
        pytest.param(lambda name: {"voters": [{"username": name, "weight": -2}]}, id="negative-weight"),
        pytest.param(lambda name: {"voters": [{"username": name, "weight": "heavy"}]}, id="weight-not-number"),
        pytest.param(lambda name: {"voters": [{"username": name, "role": "admin"}]}, id="unknown-field"),
        pytest.param(lambda name: {"voters": name}, id="not-a-list"),
        pytest.param(lambda name: {}, id="missing-voters"),
    ],
)
def test_put_voters_invalid_is_422(client, engine, session, user, other_user, owner_headers, make_body):
    view = factories.make_poll(session, user, visibility="private")
    before = row_counts(engine)
    response = client.put(f"/api/polls/{view.poll.id}/voters", json=make_body(other_user.username), headers=owner_headers)
    assert_error(response, 422)
    assert row_counts(engine) == before


def test_put_voters_by_others(client, session, user, other_user, other_headers):
    public = factories.make_poll(session, user)
    private = factories.make_poll(session, user, visibility="private")
    body = {"voters": [{"username": other_user.username}]}
    assert_error(client.put(f"/api/polls/{public.poll.id}/voters", json=body, headers=other_headers), 403)
    assert_error(client.put(f"/api/polls/{private.poll.id}/voters", json=body, headers=other_headers), 404)
    assert_error(client.put(f"/api/polls/{public.poll.id}/voters", json=body), 401)


def test_removing_a_voter_who_voted_from_a_private_roll_is_409(client, session, user, other_user, owner_headers):
    view = factories.make_poll(session, user, visibility="private", voters=[(other_user, 1.0)])
    factories.vote(session, other_user, view, option_id=view.options[0].id)
    assert_error(client.put(f"/api/polls/{view.poll.id}/voters", json={"voters": []}, headers=owner_headers), 409)
