"""Every voting method and poll rule through the browser: the ballot each method takes, the form
its results take, and the refusals people see (hidden results, private, scheduled, closed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import UI_TIMEOUT, goto, ui_login

pytestmark = pytest.mark.browser

OPTIONS = ["Tomatoes", "Beans", "Squash"]


def _fill_ballot(page, method: str) -> None:
    if method == "single":
        page.get_by_label("Beans", exact=True).check()
    elif method == "approval":
        page.get_by_label("Tomatoes", exact=True).check()
        page.get_by_label("Beans", exact=True).check()
    elif method in ("irv", "schulze", "borda"):
        page.get_by_role("button", name="Use menus instead").click()  # the fallback to the drag-and-drop list
        page.get_by_label("Beans", exact=True).select_option("1")
        page.get_by_label("Tomatoes", exact=True).select_option("2")
    else:
        page.get_by_label("Tomatoes", exact=True).select_option("5")
        page.get_by_label("Beans", exact=True).select_option("2")


def _expected(method: str, ids: dict[str, int]) -> tuple[str, dict]:
    if method == "single":
        return "Your ballot: Beans", {"option_id": ids["Beans"]}
    if method == "approval":
        return "Your ballot: Tomatoes, Beans", {"option_ids": sorted([ids["Tomatoes"], ids["Beans"]])}
    if method in ("irv", "schulze", "borda"):
        return "Your ballot: Beans > Tomatoes", {"ranking": [ids["Beans"], ids["Tomatoes"]]}
    return "Your ballot: Tomatoes: 5, Beans: 2", {"scores": {str(ids["Tomatoes"]): 5, str(ids["Beans"]): 2}}


@pytest.mark.parametrize("method", ["single", "approval", "irv", "schulze", "borda", "score", "star"])
def test_each_method_is_voted_and_shown_in_its_own_form(new_page, app_server, api, method):
    base = app_server.url
    owner, voter = api.register("owner"), api.register("voter")
    poll = api.create_poll(owner, options=OPTIONS, method=method)
    ids = {o["text"]: o["id"] for o in poll["options"]}
    page = new_page()
    ui_login(page, base, voter)
    goto(page, f"{base}/polls/{poll['id']}")
    _fill_ballot(page, method)
    page.get_by_role("button", name="Submit vote").click()
    summary, stored = _expected(method, ids)
    expect(page.locator("#my-ballot")).to_have_text(summary, timeout=UI_TIMEOUT)
    mine = api.get(f"/polls/{poll['id']}/my-vote", voter)
    assert mine.status_code == 200, mine.text
    assert {k: v for k, v in mine.json().items() if k in stored} == stored

    goto(page, f"{base}/polls/{poll['id']}/results")
    expect(page.get_by_test_id("total-ballots")).to_have_text("1", timeout=UI_TIMEOUT)
    if method == "irv":
        expect(page.get_by_text("Instant-runoff rounds")).to_be_visible()
        expect(page.get_by_role("columnheader", name="Round 1")).to_be_visible()
    elif method == "schulze":
        expect(page.get_by_text("Head to head: ballots preferring")).to_be_visible()
        expect(page.get_by_test_id("result-summary")).to_contain_text("Beans is leading so far")
    elif method == "borda":
        expect(page.get_by_test_id(f"result-points-{ids['Beans']}")).to_have_text("2")
    elif method in ("score", "star"):
        expect(page.get_by_test_id(f"result-score-{ids['Tomatoes']}")).to_contain_text("5")
        if method == "star":
            expect(page.get_by_text("Automatic runoff —")).to_be_visible()
    elif method == "approval":
        expect(page.get_by_role("columnheader", name="Approvals")).to_be_visible()
        expect(page.get_by_test_id(f"result-votes-{ids['Tomatoes']}")).to_have_text("1")
    else:
        expect(page.get_by_test_id(f"result-weight-{ids['Beans']}")).to_have_text("1")


def test_a_ballot_that_does_not_fit_shows_a_message_and_saves_nothing(new_page, app_server, api):
    base = app_server.url
    owner, voter = api.register("owner"), api.register("voter")
    poll = api.create_poll(owner, options=OPTIONS, method="irv")
    page = new_page()
    ui_login(page, base, voter)
    goto(page, f"{base}/polls/{poll['id']}")
    page.get_by_role("button", name="Use menus instead").click()
    page.get_by_label("Beans", exact=True).select_option("1")
    page.get_by_label("Squash", exact=True).select_option("1")
    page.get_by_role("button", name="Submit vote").click()
    expect(page.get_by_role("alert")).to_contain_text("Each rank can be given to one option only.", timeout=UI_TIMEOUT)
    assert api.get(f"/polls/{poll['id']}/my-vote", voter).status_code == 404
    page.get_by_role("button", name="Submit vote").click()  # still refused, still nothing saved
    assert api.get(f"/polls/{poll['id']}/my-vote", voter).status_code == 404


def test_results_visibility_after_vote_in_the_browser(new_page, app_server, api):
    base = app_server.url
    owner, voter = api.register("owner"), api.register("voter")
    poll = api.create_poll(owner, options=OPTIONS, results_visibility="after_vote")
    page = new_page()
    ui_login(page, base, voter)
    goto(page, f"{base}/polls/{poll['id']}/results")
    expect(page.locator("#results-hidden")).to_have_text("Results are shown once you have voted.", timeout=UI_TIMEOUT)
    expect(page.get_by_test_id("total-ballots")).to_have_count(0)
    goto(page, f"{base}/polls/{poll['id']}")
    page.get_by_label("Squash", exact=True).check()
    page.get_by_role("button", name="Submit vote").click()
    expect(page.locator("#my-ballot")).to_be_visible(timeout=UI_TIMEOUT)
    goto(page, f"{base}/polls/{poll['id']}/results")
    expect(page.get_by_test_id("total-ballots")).to_have_text("1", timeout=UI_TIMEOUT)


def test_private_scheduled_closed_and_anonymous_polls_in_the_browser(new_page, app_server, api):
    base = app_server.url
    owner, member, outsider = api.register("owner"), api.register("member"), api.register("outsider")
    private = api.create_poll(owner, options=OPTIONS, visibility="private", anonymous=True)
    roll = api.client.put(
        f"/polls/{private['id']}/voters", json={"voters": [{"username": member.username, "weight": 2}]},
        headers=owner.headers,
    )
    assert roll.status_code == 200, roll.text
    opens = datetime.now(UTC) + timedelta(days=1)
    scheduled = api.create_poll(owner, options=OPTIONS, opens_at=opens.isoformat())
    closed = api.create_poll(owner, options=OPTIONS)
    assert api.client.post(f"/polls/{closed['id']}/close", headers=owner.headers).status_code == 200

    page = new_page()
    ui_login(page, base, outsider)
    for path in (f"/polls/{private['id']}", f"/polls/{private['id']}/results"):
        goto(page, base + path)
        expect(page.get_by_text("Poll not found, or you may not see it.")).to_be_visible(timeout=UI_TIMEOUT)
        expect(page.get_by_text(private["title"])).to_have_count(0)
    goto(page, f"{base}/polls/{scheduled['id']}")
    expect(page.locator("#vote-closed-reason")).to_have_text("This poll is not open yet.", timeout=UI_TIMEOUT)
    expect(page.get_by_role("button", name="Submit vote")).to_have_count(0)
    goto(page, f"{base}/polls/{closed['id']}")
    expect(page.locator("#vote-closed-reason")).to_have_text("This poll is closed.", timeout=UI_TIMEOUT)

    member_page = new_page()
    ui_login(member_page, base, member)
    goto(member_page, f"{base}/polls/{private['id']}")
    expect(member_page.get_by_text("anonymous", exact=True)).to_be_visible(timeout=UI_TIMEOUT)
    member_page.get_by_label("Tomatoes", exact=True).check()
    member_page.get_by_role("button", name="Submit vote").click()
    # Anonymous: the page says the user voted, never how (the server cannot tell which ballot).
    expect(member_page.locator("#my-ballot")).to_contain_text("You have voted", timeout=UI_TIMEOUT)
    expect(member_page.locator("#my-ballot")).not_to_contain_text("Tomatoes")
    expect(member_page.get_by_test_id("ballot-receipt")).to_be_visible()
    goto(member_page, f"{base}/polls/{private['id']}/results")
    ids = {o["text"]: o["id"] for o in private["options"]}
    # While open, its results move only in steps of the anonymity threshold: one ballot shows none.
    expect(member_page.get_by_test_id("total-ballots")).to_have_text("0", timeout=UI_TIMEOUT)
    expect(member_page.locator("#anonymous-steps")).to_contain_text("steps of at least 5 ballots")
    assert api.client.post(f"/polls/{private['id']}/close", headers=owner.headers).status_code == 200
    goto(member_page, f"{base}/polls/{private['id']}/results")
    expect(member_page.get_by_test_id(f"result-weight-{ids['Tomatoes']}")).to_have_text("2", timeout=UI_TIMEOUT)
