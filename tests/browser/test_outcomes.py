"""The plain-language outcome on the results page (issue 13 item 2): every method's page opens
with ``result-summary`` naming the winner, the summary follows live pushes, a closed poll says
"Final result"; IRV and STV show the stacked round chart; weights show only when they differ.

Each method's page is also shot at 1280 and 390 px into ``test-artifacts/outcomes/`` (git-ignored)
for people to look at."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import DESKTOP, PHONE, UI_TIMEOUT, goto, ui_login
from tests.browser.servers import ARTIFACTS

pytestmark = pytest.mark.browser

GARDEN = ["Herbs", "Squash", "Sunflowers", "Tomatoes"]
RANKINGS = [["Herbs"], ["Herbs"], ["Herbs"], ["Squash", "Herbs"], ["Squash", "Tomatoes"], ["Tomatoes", "Herbs"]]
SCORES = [{"Herbs": 5, "Squash": 3}, {"Herbs": 4, "Tomatoes": 2}, {"Squash": 2, "Herbs": 3}]
# What each method's page says of these ballots (the exact sentences are the service tests').
EXPECTED = {
    "single": "Herbs is leading with 3 of 6 ballots (50%) so far.",
    "approval": "Herbs is leading so far, approved on 5 of 6 ballots (83%).",
    "irv": "Herbs is leading in round 3 with 4 of 6 ballots (67%) so far, after Sunflowers and Tomatoes were eliminated.",
    "schulze": "Herbs is leading so far: more ballots prefer it to each other option, head to head.",
    "borda": "Herbs is leading with 13 Borda points (54% of all points given) so far.",
    "score": "Herbs is leading with the highest total score so far, 12 (an average of 4 out of 5 per ballot).",
    "star": "Herbs is leading the automatic runoff between the two highest-scored options so far: 3 of 3 ballots (100%) score it above Squash, 0 the other way round.",
    "stv": "So far, for 2 seats with a quota of 3 votes: elected Herbs in round 1",
}
SHOTS = ARTIFACTS / "outcomes"


def _ballots(method: str, ids: dict[str, int]) -> list[dict[str, Any]]:
    if method == "single":
        return [{"option_id": ids[t]} for t in ("Herbs", "Herbs", "Herbs", "Squash", "Squash", "Tomatoes")]
    if method == "approval":
        return [{"option_ids": [ids[t] for t in r]} for r in RANKINGS]
    if method in ("score", "star"):
        return [{"scores": {str(ids[t]): v for t, v in s.items()}} for s in SCORES]
    return [{"ranking": [ids[t] for t in r]} for r in RANKINGS]


def _poll_with_ballots(api, owner, method: str) -> dict[str, Any]:
    extra = {"seats": 2} if method == "stv" else {}
    poll = api.create_poll(owner, title=f"What should we plant ({method})?", options=GARDEN, method=method, **extra)
    ids = {o["text"]: o["id"] for o in poll["options"]}
    for ballot in _ballots(method, ids):
        voter = api.register("grower")
        response = api.client.post("/votes/", json={"poll_id": poll["id"], **ballot}, headers=voter.headers)
        assert response.status_code == 201, response.text
    return poll


def _settled(page: Page) -> None:
    expect(page.get_by_role("status").filter(has_text="Loading…")).to_have_count(0, timeout=UI_TIMEOUT)
    page.evaluate("() => document.fonts.ready.then(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))))")


@pytest.mark.parametrize("method", list(EXPECTED))
def test_each_method_opens_with_its_outcome_in_words(new_page, app_server, api, method):
    owner = api.register("owner")
    poll = _poll_with_ballots(api, owner, method)
    body = api.get(f"/polls/{poll['id']}/results", owner).json()
    assert body["summary"].startswith(EXPECTED[method]), body["summary"]
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width, viewport in (("1280", DESKTOP), ("390", PHONE)):
        page = new_page(viewport)
        ui_login(page, app_server.url, owner)
        goto(page, f"{app_server.url}/polls/{poll['id']}/results")
        summary = page.get_by_test_id("result-summary")
        expect(summary).to_contain_text(EXPECTED[method], timeout=UI_TIMEOUT)
        # The summary comes first in the results: before the totals and the tables.
        assert summary.evaluate(
            "(el) => !!(el.compareDocumentPosition(document.querySelector('[data-testid=\"total-ballots\"]'))"
            " & Node.DOCUMENT_POSITION_FOLLOWING)"
        )
        # Every ballot weighs 1: no "Weighted" column, no total weight; the contract's hook stays.
        expect(page.get_by_role("columnheader", name="Weighted")).to_have_count(0)
        expect(page.get_by_test_id("total-weight")).to_have_count(0)
        expect(page.get_by_test_id(f"result-weight-{poll['options'][0]['id']}")).to_have_count(1)
        if method in ("irv", "stv"):
            expect(page.get_by_test_id("rounds-chart")).to_be_visible()
            expect(page.get_by_test_id("rounds-chart").locator(".recharts-bar-rectangle").first).to_be_visible()
        if method == "schulze":
            expect(page.get_by_role("cell", name="5 : 0 ✓ beats").first).to_be_visible()
        _settled(page)
        page.screenshot(path=str(SHOTS / f"{method}-{width}.png"), full_page=True, animations="disabled")
        page.close()


def test_the_summary_follows_live_votes_and_says_final_result_once_closed(new_page, app_server, api):
    owner = api.register("owner")
    poll = _poll_with_ballots(api, owner, "single")
    ids = {o["id"] for o in poll["options"]}
    squash = next(o["id"] for o in poll["options"] if o["text"] == "Squash")
    assert squash in ids
    page = new_page()
    ui_login(page, app_server.url, owner)
    goto(page, f"{app_server.url}/polls/{poll['id']}/results")
    summary = page.get_by_test_id("result-summary")
    expect(summary).to_have_text(EXPECTED["single"], timeout=UI_TIMEOUT)
    expect(page.get_by_text("live", exact=True)).to_be_visible()
    for _ in range(2):
        voter = api.register("late")
        response = api.client.post("/votes/", json={"poll_id": poll["id"], "option_id": squash}, headers=voter.headers)
        assert response.status_code == 201, response.text
    expect(summary).to_have_text("Squash is leading with 4 of 8 ballots (50%) so far.", timeout=UI_TIMEOUT)
    assert api.client.post(f"/polls/{poll['id']}/close", headers=owner.headers).status_code == 200
    expect(summary).to_have_text("Final result: Squash won with 4 of 8 ballots (50%).", timeout=UI_TIMEOUT)
    expect(page.get_by_text("Final result", exact=True)).to_be_visible()
    expect(page.get_by_text("live", exact=True)).to_have_count(0)
    expect(page.get_by_test_id("winners")).to_have_text("Winner: Squash")
    SHOTS.mkdir(parents=True, exist_ok=True)
    _settled(page)
    page.screenshot(path=str(SHOTS / "single-closed-1280.png"), full_page=True, animations="disabled")


def test_weights_show_when_they_differ(new_page, app_server, api):
    owner, heavy = api.register("owner"), api.register("heavy")
    poll = api.create_poll(owner, options=GARDEN, visibility="private")
    roll = api.client.put(f"/polls/{poll['id']}/voters", json={"voters": [{"username": heavy.username, "weight": 2.5}]},
                          headers=owner.headers)
    assert roll.status_code == 200, roll.text
    herbs = poll["options"][0]["id"]
    response = api.client.post("/votes/", json={"poll_id": poll["id"], "option_id": herbs}, headers=heavy.headers)
    assert response.status_code == 201, response.text
    page = new_page()
    ui_login(page, app_server.url, owner)
    goto(page, f"{app_server.url}/polls/{poll['id']}/results")
    expect(page.get_by_test_id("result-summary")).to_have_text(
        "Herbs is leading with 2.5 of 2.5 votes by weight (100%) so far.", timeout=UI_TIMEOUT
    )
    expect(page.get_by_role("columnheader", name="Weighted")).to_be_visible()
    expect(page.get_by_test_id(f"result-weight-{herbs}")).to_have_text("2.5")
    expect(page.get_by_test_id("total-weight")).to_have_text("2.5")
