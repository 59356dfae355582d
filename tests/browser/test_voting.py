"""Voting in the browser: cast, change, retract; one ballot per user, in the UI and at the API."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import UI_TIMEOUT, goto, ui_login

pytestmark = pytest.mark.browser


def test_vote_change_retract_and_no_second_ballot(new_page, app_server, api):
    base = app_server.url
    owner, voter = api.register("owner"), api.register("voter")
    poll = api.create_poll(owner, options=["Red", "Green", "Blue"])
    poll_id = poll["id"]
    ids = {o["text"]: o["id"] for o in poll["options"]}

    page = new_page()
    ui_login(page, base, voter)
    goto(page, f"{base}/polls/{poll_id}")
    expect(page.get_by_role("heading", name=poll["title"], exact=True)).to_be_visible()
    expect(page.locator("#my-ballot")).to_have_count(0)
    expect(page.get_by_role("button", name="Retract vote")).to_have_count(0)

    # Cast: the summary shows the ballot, and only "Change vote" / "Retract vote" are offered.
    page.get_by_label("Red", exact=True).check()
    page.get_by_role("button", name="Submit vote").click()
    expect(page.locator("#my-ballot")).to_have_text("Your ballot: Red", timeout=UI_TIMEOUT)
    expect(page.get_by_role("button", name="Change vote")).to_be_visible()
    expect(page.get_by_role("button", name="Retract vote")).to_be_visible()
    expect(page.get_by_role("button", name="Submit vote")).to_have_count(0)
    expect(page.get_by_label("Red", exact=True)).to_be_checked()
    mine = api.get(f"/polls/{poll_id}/my-vote", voter)
    assert mine.status_code == 200 and mine.json()["option_id"] == ids["Red"], mine.text

    # Change: still one ballot, now for Green.
    page.get_by_label("Green", exact=True).check()
    page.get_by_role("button", name="Change vote").click()
    expect(page.locator("#my-ballot")).to_have_text("Your ballot: Green", timeout=UI_TIMEOUT)
    expect(page.get_by_label("Green", exact=True)).to_be_checked()
    mine = api.get(f"/polls/{poll_id}/my-vote", voter)
    assert mine.status_code == 200 and mine.json()["option_id"] == ids["Green"], mine.text
    results = api.get(f"/polls/{poll_id}/results", voter).json()
    assert results["total_ballots"] == 1
    assert {o["option_id"]: o["votes"] for o in results["options"]} == {ids["Red"]: 0, ids["Green"]: 1, ids["Blue"]: 0}

    # A second ballot is impossible: the page offers no "Submit vote", and the API answers 409.
    expect(page.get_by_role("button", name="Submit vote")).to_have_count(0)
    second = api.client.post("/votes/", json={"poll_id": poll_id, "option_id": ids["Blue"]}, headers=voter.headers)
    assert second.status_code == 409, second.text
    assert api.get(f"/polls/{poll_id}/results", voter).json()["total_ballots"] == 1

    # Retract: the ballot is gone, "Submit vote" is back.
    page.get_by_role("button", name="Retract vote").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Retract my vote").click()  # the confirmation
    expect(page.locator("#my-ballot")).to_have_count(0, timeout=UI_TIMEOUT)
    expect(page.get_by_role("button", name="Submit vote")).to_be_visible()
    expect(page.get_by_role("button", name="Retract vote")).to_have_count(0)
    assert api.get(f"/polls/{poll_id}/my-vote", voter).status_code == 404
    assert api.get(f"/polls/{poll_id}/results", voter).json()["total_ballots"] == 0

    # The page survives a reload in the same state (the server, not the tab, holds the truth).
    goto(page, f"{base}/polls/{poll_id}")
    expect(page.get_by_role("button", name="Submit vote")).to_be_visible()
    expect(page.locator("#my-ballot")).to_have_count(0)


def test_guessed_ids_open_no_poll_and_the_link_opens_an_unlisted_one(new_page, app_server, api):
    """Walking /polls/1, /polls/2, ... in the browser finds nothing; the poll's own link works."""
    base = app_server.url
    owner, stranger = api.register("owner"), api.register("stranger")
    poll = api.create_poll(owner, options=["Red", "Green"], visibility="unlisted")
    assert isinstance(poll["id"], str) and len(poll["id"]) >= 22

    page = new_page()
    ui_login(page, base, stranger)
    for guess in ("1", "2", "3", poll["id"][:-1]):
        for path in (f"/polls/{guess}", f"/polls/{guess}/results"):
            goto(page, base + path)
            expect(page.get_by_text("Poll not found, or you may not see it.")).to_be_visible(timeout=UI_TIMEOUT)
    goto(page, f"{base}/polls/{poll['id']}")
    expect(page.get_by_role("heading", name=poll["title"], exact=True)).to_be_visible(timeout=UI_TIMEOUT)
    page.get_by_label("Green", exact=True).check()
    page.get_by_role("button", name="Submit vote").click()
    expect(page.locator("#my-ballot")).to_have_text("Your ballot: Green", timeout=UI_TIMEOUT)
    page.get_by_role("link", name="See results").click()
    expect(page).to_have_url(f"{base}/polls/{poll['id']}/results", timeout=UI_TIMEOUT)
    green = next(o["id"] for o in poll["options"] if o["text"] == "Green")
    expect(page.get_by_test_id(f"result-weight-{green}")).to_have_text("1", timeout=UI_TIMEOUT)
