"""Decision rules and STV in the browser: a poll made with a quorum and a pass rule on the
new-poll form shows them on its ballot, and its results say, live, whether the quorum is reached
and the winner passes; an STV poll shows the elected in order and its round table."""

from __future__ import annotations

import secrets

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import UI_TIMEOUT, goto, ui_login

pytestmark = pytest.mark.browser


def test_quorum_and_pass_rule_from_the_form_to_the_live_results(new_page, app_server, api):
    base = app_server.url
    creator, other = api.register("creator"), api.register("voter")
    page = new_page()
    ui_login(page, base, creator)
    goto(page, base + "/polls/new")
    title = f"Adopt the budget? {secrets.token_hex(3)}"
    page.get_by_label("Title", exact=True).fill(title)
    page.get_by_label("Option 1", exact=True).fill("Yes")
    page.get_by_label("Option 2", exact=True).fill("No")
    page.get_by_label("Quorum (ballots)", exact=True).fill("0")
    page.get_by_label("Pass rule", exact=True).select_option("two_thirds")
    page.get_by_role("button", name="Create poll").click()
    # A quorum of 0 is refused beside its field; nothing is saved.
    expect(page.locator("#quorum_ballots-error")).to_contain_text("quorum_ballots", timeout=UI_TIMEOUT)
    assert api.my_polls(creator) == []
    page.get_by_label("Quorum (ballots)", exact=True).fill("2")
    page.get_by_role("button", name="Create poll").click()
    expect(page.get_by_test_id("poll-rules")).to_contain_text("at least 2 ballots", timeout=UI_TIMEOUT)
    expect(page.get_by_test_id("poll-rules")).to_contain_text("at least two thirds of the weighted ballots")
    poll = api.find_poll(creator, title)
    assert poll["quorum_ballots"] == 2 and poll["pass_rule"] == "two_thirds"
    ids = {o["text"]: o["id"] for o in poll["options"]}

    page.get_by_label("Yes", exact=True).check()
    page.get_by_role("button", name="Submit vote").click()
    expect(page.locator("#my-ballot")).to_have_text("Your ballot: Yes", timeout=UI_TIMEOUT)
    goto(page, f"{base}/polls/{poll['id']}/results")
    decision = page.get_by_test_id("decision")
    expect(decision).to_contain_text("Quorum not reached yet: 1 ballots (2 needed)", timeout=UI_TIMEOUT)
    expect(decision).to_have_attribute("data-passed", "no")
    # A second ballot, cast elsewhere: the open page follows live.
    response = api.client.post("/votes/", json={"poll_id": poll["id"], "option_id": ids["Yes"]}, headers=other.headers)
    assert response.status_code == 201, response.text
    expect(decision).to_contain_text("Quorum reached: 2 ballots (2 needed)", timeout=UI_TIMEOUT)
    expect(decision).to_contain_text("Passing with 100 %")
    expect(decision).to_have_attribute("data-quorum-met", "yes")
    expect(decision).to_have_attribute("data-passed", "yes")
    expect(page.get_by_test_id("result-summary")).to_contain_text("Yes is leading with 2 of 2 ballots (100%) so far.")
    expect(page.get_by_test_id("winners")).to_have_text("Leading: Yes")


def test_stv_poll_in_the_browser(new_page, app_server, api):
    base = app_server.url
    owner = api.register("owner")
    voters = [api.register("voter") for _ in range(3)]
    poll = api.create_poll(owner, options=["Ana", "Ben", "Chen", "Dana"], method="stv", seats=2)
    ids = {o["text"]: o["id"] for o in poll["options"]}
    for voter, ranking in zip(voters[1:], (["Ben", "Chen"], ["Chen", "Ben"]), strict=True):
        response = api.client.post("/votes/", json={"poll_id": poll["id"], "ranking": [ids[t] for t in ranking]}, headers=voter.headers)
        assert response.status_code == 201, response.text
    page = new_page()
    ui_login(page, base, voters[0])
    goto(page, f"{base}/polls/{poll['id']}")
    expect(page.get_by_test_id("poll-rules")).to_contain_text("Seats: 2", timeout=UI_TIMEOUT)
    page.get_by_role("button", name="Use menus instead").click()
    page.get_by_label("Ben", exact=True).select_option("1")
    page.get_by_label("Ana", exact=True).select_option("2")
    page.get_by_role("button", name="Submit vote").click()
    expect(page.locator("#my-ballot")).to_have_text("Your ballot: Ben > Ana", timeout=UI_TIMEOUT)
    goto(page, f"{base}/polls/{poll['id']}/results")
    expect(page.get_by_test_id("winners")).to_have_text("Elected so far: Ben, Chen", timeout=UI_TIMEOUT)
    expect(page.get_by_text("STV rounds")).to_be_visible()
    expect(page.get_by_role("cell", name="Quota")).to_be_visible()
