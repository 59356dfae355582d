"""The plain-language outcome in the REST results (``summary``, an extension of the contract's
shape): there for whoever may see the results, absent with the 403 of hidden results."""

from __future__ import annotations

from tests import factories

_create, _vote = factories.api_poll, factories.api_vote


def test_results_carry_the_summary(client, make_user, auth_headers):
    owner = make_user()
    poll, ids = _create(client, auth_headers(owner))
    _vote(client, auth_headers(make_user()), poll["id"], option_id=ids["Banana"])
    _vote(client, auth_headers(make_user()), poll["id"], option_id=ids["Banana"])
    _vote(client, auth_headers(make_user()), poll["id"], option_id=ids["Apple"])
    body = client.get(f"/api/polls/{poll['id']}/results", headers=auth_headers(owner)).json()
    assert body["summary"] == "Banana is leading with 2 of 3 ballots (67%) so far."
    assert client.post(f"/api/polls/{poll['id']}/close", headers=auth_headers(owner)).status_code == 200
    body = client.get(f"/api/polls/{poll['id']}/results", headers=auth_headers(owner)).json()
    assert body["summary"] == "Final result: Banana won with 2 of 3 ballots (67%)."


def test_hidden_results_give_no_summary(client, make_user, auth_headers):
    owner, voter = make_user(), make_user()
    poll, ids = _create(client, auth_headers(owner), results_visibility="after_close")
    _vote(client, auth_headers(voter), poll["id"], option_id=ids["Apple"])
    response = client.get(f"/api/polls/{poll['id']}/results", headers=auth_headers(voter))
    assert response.status_code == 403
    assert "summary" not in response.json() and "Apple" not in response.text
