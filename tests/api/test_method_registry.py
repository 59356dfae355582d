"""A voting method is one registry entry: added here, in the test alone, it is validated, counted,
published and shown on the ballot and results pages, with no other code knowing its name."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from commons_app import methods
from commons_app.pages.results import results_context
from commons_app.pages.vote import ballot_from_form, vote_context
from commons_app.state.live import results_display
from tests import factories, veto_method
from tests.factories import assert_error

_create, _vote = factories.api_poll, factories.api_vote


@pytest.fixture
def veto() -> Iterator[methods.Method]:
    yield methods.register(veto_method.METHOD)
    methods.unregister("veto")


def test_a_method_added_by_one_registry_entry_works_end_to_end(client, session, make_user, auth_headers, veto):
    owner, voters = make_user(), [make_user() for _ in range(3)]
    poll, ids = _create(client, auth_headers(owner), method="veto")
    assert poll["method"] == "veto"
    # Validated: its ballot field and nothing else.
    assert_error(_vote(client, auth_headers(voters[0]), poll["id"], ranking=[ids["Apple"]]), 422)
    assert_error(_vote(client, auth_headers(voters[0]), poll["id"], option_id=10**9), 422)
    # Settings and rules other methods take are refused for it.
    assert_error(client.post("/api/polls/", headers=auth_headers(owner), json={
        "title": "Veto?", "options": ["A", "B"], "method": "veto", "pass_rule": "majority"}), 422)
    for voter, text in zip(voters, ("Apple", "Apple", "Banana"), strict=True):
        assert _vote(client, auth_headers(voter), poll["id"], option_id=ids[text]).status_code == 201
    mine = client.get(f"/api/polls/{poll['id']}/my-vote", headers=auth_headers(voters[2])).json()
    assert mine["option_id"] == ids["Banana"]
    # Counted by its own tally.
    body = client.get(f"/api/polls/{poll['id']}/results", headers=auth_headers(owner)).json()
    assert body["method"] == "veto" and body["winners"] == [ids["Cherry"]]
    assert {o["text"]: o["votes"] for o in body["options"]} == {"Apple": 2, "Banana": 1, "Cherry": 0}
    # The ballot page: its label, instructions and input, and the form read into its field.
    ctx = vote_context(session=session, user=voters[0], poll_id=poll["id"])
    assert ctx["method_name"] == "Veto (anti-plurality)"
    assert ctx["instructions"] == "Choose the option you like least." and ctx["widget"] == "radio"
    assert ctx["summary"] == "Apple"
    assert ballot_from_form("veto", {"choice": str(ids["Banana"])}).option_id == ids["Banana"]
    # The results page: its label, column, explanation and table.
    page = results_context(session=session, user=owner, poll_id=poll["id"])
    assert page["method_name"] == "Veto (anti-plurality)" and page["ranked"] is False
    shown = results_display(page["results"])
    assert shown["first_label"] == "Vetoes" and shown["explanation"] == "The option the fewest ballots veto wins."
    assert shown["winners_label"] == "Leading: Cherry"
    assert shown["tables"] == [{"caption": "Vetoes", "header": ["Option", "Vetoes"], "rows": [["Apple", "2"], ["Banana", "1"], ["Cherry", "0"]]}]
    # Published when closed, in its field.
    assert client.post(f"/api/polls/{poll['id']}/close", headers=auth_headers(owner)).status_code == 200
    record = client.get(f"/api/polls/{poll['id']}/record.jsonl", headers=auth_headers(owner))
    assert record.status_code == 200 and record.text.count('"option_id":') == 3


def test_an_unregistered_method_is_refused(client, make_user, auth_headers):
    owner = make_user()
    message = assert_error(
        client.post("/api/polls/", headers=auth_headers(owner), json={"title": "?", "options": ["A", "B"], "method": "veto"}), 422
    )
    assert "single" in message and "veto" not in message.split("one of")[1]
