"""PATCH /api/polls/{id} after the first ballot, and GET /api/polls/?show=... with ``voted``."""

from __future__ import annotations

from datetime import timedelta

from commons_app.models import utcnow
from tests import factories
from tests.factories import api_poll, api_vote, assert_error, iso, row_counts


def test_owner_cannot_change_options_or_method_after_a_ballot(client, engine, user, other_user, auth_headers):
    owner, voter = auth_headers(user), auth_headers(other_user)
    poll, ids = api_poll(client, owner)
    assert api_vote(client, voter, poll["id"], option_id=ids["Apple"]).status_code == 201
    before = client.get(f"/api/polls/{poll['id']}", headers=owner).json()
    counts = row_counts(engine)

    for body in ({"options": ["Apple", "Banana", "Durian"]}, {"method": "approval"}, {"visibility": "unlisted"},
                 {"title": "Sneaky", "results_visibility": "creator"}):
        message = assert_error(client.patch(f"/api/polls/{poll['id']}", json=body, headers=owner), 409)
        assert "only the title, description and closing time" in message

    assert client.get(f"/api/polls/{poll['id']}", headers=owner).json() == before
    assert row_counts(engine) == counts
    closes = utcnow() + timedelta(days=1)
    response = client.patch(f"/api/polls/{poll['id']}", headers=owner,
                            json={"title": "Better title", "description": "Now with context", "closes_at": iso(closes)})
    assert response.status_code == 200, response.text
    assert response.json()["title"] == "Better title"


def test_non_owner_cannot_edit(client, user, other_user, auth_headers):
    owner, stranger = auth_headers(user), auth_headers(other_user)
    public, _ = api_poll(client, owner)
    private, _ = api_poll(client, owner, visibility="private")
    assert_error(client.patch(f"/api/polls/{public['id']}", json={"title": "Mine"}, headers=stranger), 403)
    assert_error(client.patch(f"/api/polls/{private['id']}", json={"title": "Mine"}, headers=stranger), 404)
    assert client.get(f"/api/polls/{public['id']}", headers=owner).json()["title"] == public["title"]


def test_list_filters_and_voted_mark(client, session, user, other_user, auth_headers):
    me, them = auth_headers(user), auth_headers(other_user)
    voted, ids = api_poll(client, them, title="Voted in")
    fresh, _ = api_poll(client, them, title="Not voted")
    mine, _ = api_poll(client, me, title="My own")
    closed = factories.make_closed(session, other_user, title="Closed one")
    assert api_vote(client, me, voted["id"], option_id=ids["Apple"]).status_code == 201

    def listed(show: str) -> dict[str, bool]:
        response = client.get("/api/polls/", params={"show": show}, headers=me)
        assert response.status_code == 200, response.text
        page = response.json()
        assert page["total"] == len(page["items"])
        return {item["id"]: item["voted"] for item in page["items"]}

    assert listed("all") == {voted["id"]: True, fresh["id"]: False, mine["id"]: False, closed.poll.id: False}
    assert set(listed("open")) == {voted["id"], fresh["id"], mine["id"]}
    assert set(listed("closed")) == {closed.poll.id}
    assert set(listed("mine")) == {mine["id"]}
    assert set(listed("not_voted")) == {fresh["id"], mine["id"]}
    assert_error(client.get("/api/polls/", params={"show": "secret"}, headers=me), 422)
    assert client.get(f"/api/polls/{voted['id']}", headers=me).json()["voted"] is None
