"""What axe cannot see: after each action the keyboard focus lands on its outcome (never on
<body>), hints and errors are tied to their fields, and the results page announces changes
politely, at most once per ~10 s window (components/a11y.py)."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect

from commons_app.components.a11y import ANNOUNCE_EVERY_MS
from tests.browser.helpers import DESKTOP, PHONE, UI_TIMEOUT, goto, ui_login

pytestmark = pytest.mark.browser


def _focused_id(page: Page) -> str:
    return page.evaluate("() => document.activeElement ? (document.activeElement.id || document.activeElement.tagName) : ''")


def _described_by(page: Page, selector: str) -> list[str]:
    return (page.locator(selector).get_attribute("aria-describedby") or "").split()


def test_focus_moves_to_the_confirmation_after_voting_changing_and_to_the_title_after_retracting(
    new_page, app_server, api
):
    owner, voter = api.register("focusowner"), api.register("focusvoter")
    poll = api.create_poll(owner, options=["Apple", "Pear"], visibility="public")
    page = new_page(PHONE)
    ui_login(page, app_server.url, voter)
    goto(page, f"{app_server.url}/polls/{poll['id']}")
    page.get_by_label("Apple", exact=True).check()
    page.get_by_role("button", name="Submit vote").click()
    confirmation = page.locator("#my-ballot")
    expect(confirmation).to_have_text("Your ballot: Apple")
    expect(confirmation).to_be_focused()
    assert _focused_id(page) == "my-ballot"

    page.get_by_label("Pear", exact=True).check()
    page.get_by_role("button", name="Change vote").click()
    expect(confirmation).to_have_text("Your ballot: Pear")
    expect(confirmation).to_be_focused()

    page.get_by_role("button", name="Retract vote").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Retract my vote").click()  # the confirmation
    expect(page.get_by_role("button", name="Submit vote")).to_be_visible()
    expect(page.locator("#poll-title")).to_be_focused()
    expect(page.locator("#poll-title")).to_have_attribute("tabindex", "-1")  # focusable by script, not a Tab stop


def test_a_refused_ballot_moves_the_focus_to_its_error(new_page, app_server, api):
    owner, voter = api.register("focusowner"), api.register("focusvoter")
    poll = api.create_poll(owner, options=["Apple", "Pear"], method="irv", visibility="public")
    page = new_page()
    ui_login(page, app_server.url, voter)
    goto(page, f"{app_server.url}/polls/{poll['id']}")
    page.get_by_role("button", name="Submit vote").click()  # nothing ranked
    error = page.locator("#vote-error")
    expect(error).to_be_visible()
    expect(error).to_have_attribute("role", "alert")
    expect(error).to_be_focused()
    assert api.get(f"/polls/{poll['id']}/results", owner).json()["total_ballots"] == 0


def test_login_error_takes_the_focus_and_describes_both_fields(new_page, app_server):
    page = new_page()
    goto(page, app_server.url + "/login")
    page.get_by_label("Username", exact=True).fill("nobody_here")
    page.get_by_label("Password", exact=True).fill("wrong-password-1")
    page.get_by_role("button", name="Log in").click()
    error = page.locator("#form-error")
    expect(error).to_have_text("Incorrect username or password.")
    expect(error).to_be_focused()
    for field in ("#username", "#password"):
        expect(page.locator(field)).to_have_attribute("aria-invalid", "true")
        expect(page.locator(field)).to_have_attribute("aria-errormessage", "form-error")
        assert "form-error" in _described_by(page, field)


def test_register_error_focuses_the_field_at_fault_with_its_hint_and_error(new_page, app_server):
    page = new_page()
    goto(page, app_server.url + "/register")
    # before any error: the hint only, nothing invalid
    assert _described_by(page, "#password") == ["password-hint"]
    assert page.locator("#password").get_attribute("aria-invalid") is None
    page.get_by_label("Username", exact=True).fill("fine_name_1")
    page.get_by_label("Email", exact=True).fill("fine_name_1@example.org")
    page.get_by_label("Password", exact=True).fill("short")
    page.get_by_role("button", name="Create account").click()
    expect(page.locator("#form-error")).to_contain_text("Password must be")
    password = page.locator("#password")
    expect(password).to_be_focused()
    expect(password).to_have_attribute("aria-invalid", "true")
    assert _described_by(page, "#password") == ["password-hint", "form-error"]
    # the other fields are not at fault
    assert page.locator("#email").get_attribute("aria-invalid") is None
    assert _described_by(page, "#username") == ["username-hint"]


def test_new_poll_errors_focus_the_field_and_success_focuses_the_new_poll(new_page, app_server, api):
    owner = api.register("focusowner")
    page = new_page()
    ui_login(page, app_server.url, owner)
    goto(page, app_server.url + "/polls/new")
    page.get_by_role("button", name="Create poll").click()
    title = page.locator("#title")
    expect(page.locator("#title-error")).to_be_visible()
    expect(title).to_be_focused()
    expect(title).to_have_attribute("aria-invalid", "true")
    expect(title).to_have_attribute("aria-errormessage", "title-error")
    assert "title-error" in _described_by(page, "#title")
    assert api.my_polls(owner) == []

    title.fill("Where to picnic?")
    page.locator("#option-1").fill("Park")
    page.locator("#option-2").fill("Beach")
    page.get_by_role("button", name="Create poll").click()
    expect(page).to_have_url(re.compile(r"/polls/[A-Za-z0-9_-]+/?$"))
    heading = page.locator("#poll-title")
    expect(heading).to_have_text("Where to picnic?")
    expect(heading).to_be_focused()


def test_join_error_and_success_move_the_focus(new_page, app_server, api):
    owner = api.register("focusowner")
    poll = api.create_poll(owner, title="Joinable crop poll", options=["Kale", "Leek"], visibility="public")
    page = new_page(PHONE)
    goto(page, app_server.url + "/join")
    code = page.locator("#join-code-input")
    assert _described_by(page, "#join-code-input") == ["join-code-input-hint"]
    code.fill("NOSUCHCODE9")
    page.get_by_role("button", name="Join").click()
    expect(page.locator("#join-error")).to_be_visible()
    expect(code).to_be_focused()
    expect(code).to_have_attribute("aria-invalid", "true")
    assert _described_by(page, "#join-code-input") == ["join-code-input-hint", "join-error"]

    code.fill(poll["join_code"])
    page.get_by_role("button", name="Join").click()
    heading = page.locator("#poll-title")
    expect(heading).to_have_text("Joinable crop poll")
    expect(heading).to_be_focused()


def test_roll_editor_error_is_tied_to_the_voter_field_and_takes_the_focus(new_page, app_server, api):
    owner = api.register("focusowner")
    poll = api.create_poll(owner, options=["Kale", "Leek"], visibility="private")
    page = new_page()
    ui_login(page, app_server.url, owner)
    goto(page, f"{app_server.url}/polls/{poll['id']}")
    editor = page.locator("#roll-editor")
    voter = editor.locator("#roll-voter")
    assert voter.get_attribute("aria-invalid") is None
    voter.fill("no_such_user_here")
    editor.get_by_role("button", name="Add voter").click()
    expect(editor.locator("#roll-voter-error")).to_be_visible()
    expect(voter).to_be_focused()
    expect(voter).to_have_attribute("aria-invalid", "true")
    expect(voter).to_have_attribute("aria-describedby", "roll-voter-error")


# Every text the announcer region takes, recorded in the page.
_RECORD_ANNOUNCEMENTS = """
() => {
  window.__said = [];
  const region = document.getElementById('results-announcer');
  new MutationObserver(() => { if (region.textContent) window.__said.push([region.textContent, Date.now()]); })
    .observe(region, { childList: true, characterData: true, subtree: true });
}
"""


def test_results_changes_are_announced_politely_at_most_once_per_window(new_page, app_server, api):
    owner = api.register("announceowner")
    voters = [api.register("announcevoter") for _ in range(3)]
    poll = api.create_poll(owner, options=["Apple", "Pear"], visibility="public")
    apple = next(o["id"] for o in poll["options"] if o["text"] == "Apple")
    page = new_page(DESKTOP)
    ui_login(page, app_server.url, owner)
    goto(page, f"{app_server.url}/polls/{poll['id']}/results")
    total = page.get_by_test_id("total-ballots")
    expect(total).to_have_text("0")
    region = page.get_by_test_id("results-announcer")
    expect(region).to_have_attribute("aria-live", "polite")
    expect(region).to_have_attribute("role", "status")
    expect(region).to_have_text("")  # nothing changed yet: nothing said
    page.evaluate(_RECORD_ANNOUNCEMENTS)

    def vote(user) -> None:
        response = api.client.post("/votes/", json={"poll_id": poll["id"], "option_id": apple}, headers=user.headers)
        assert response.status_code in (200, 201), response.text

    vote(voters[0])
    expect(total).to_have_text("1")
    expect(region).to_have_text("1 more ballot; Apple leads with 1 of 1")  # the first change: at once
    said_at = time.monotonic()

    # two more pushes inside the window: shown at once, said once, after the window
    vote(voters[1])
    expect(total).to_have_text("2")
    vote(voters[2])
    expect(total).to_have_text("3")
    assert time.monotonic() - said_at < ANNOUNCE_EVERY_MS / 1000 - 1, "the machine was too slow to test the window"
    assert [text for text, _ in page.evaluate("() => window.__said")] == ["1 more ballot; Apple leads with 1 of 1"]
    expect(region).to_have_text("2 more ballots; Apple leads with 3 of 3", timeout=ANNOUNCE_EVERY_MS + UI_TIMEOUT)
    said = page.evaluate("() => window.__said")
    assert [text for text, _ in said] == [
        "1 more ballot; Apple leads with 1 of 1",
        "2 more ballots; Apple leads with 3 of 3",
    ]
    assert said[1][1] - said[0][1] >= ANNOUNCE_EVERY_MS - 20  # not before the window ended
    # the region is read, not seen
    box = region.bounding_box()
    assert box is not None and box["width"] <= 1 and box["height"] <= 1


def test_results_chart_has_a_text_alternative(new_page, app_server, api):
    owner = api.register("chartowner")
    poll = api.create_poll(owner, options=["Apple", "Pear"], visibility="public")
    page = new_page()
    ui_login(page, app_server.url, owner)
    goto(page, f"{app_server.url}/polls/{poll['id']}/results")
    chart = page.get_by_role("img", name="Bar chart of the results")
    expect(chart).to_be_visible()
    caption = page.locator("#results-table-caption")
    expect(caption).to_be_visible()
    assert chart.get_attribute("aria-describedby") == "results-table-caption"
    # the caption belongs to the table that holds the chart's figures, one row per option
    table = page.locator("table", has=caption)
    expect(table.get_by_role("rowheader")).to_have_count(2)


def test_admin_active_switch_toggles_through_its_44px_label(new_page, app_server, api):
    from commons_app.cli import DEMO_PASSWORD

    admin = api.login("admin", DEMO_PASSWORD)
    member = api.register("switchee")
    page = new_page(PHONE)
    ui_login(page, app_server.url, admin)
    goto(page, app_server.url + "/admin")
    page.get_by_label("Search users").fill(member.username)
    switch = page.get_by_role("switch", name=f"Active: {member.username}")
    expect(switch).to_have_attribute("aria-checked", "true")
    label = page.locator("label.commons-switch-target", has=switch)
    label.scroll_into_view_if_needed()  # the users' table scrolls sideways on a phone
    box = label.bounding_box()
    assert box is not None and box["width"] >= 44 and box["height"] >= 44, box
    page.mouse.click(box["x"] + 3, box["y"] + 3)  # a corner of the label, off the switch itself
    expect(switch).to_have_attribute("aria-checked", "false")
    listed = api.client.get("/admin/users", params={"search": member.username}, headers=admin.headers).json()["items"]
    assert [u["is_active"] for u in listed if u["id"] == member.id] == [False]
