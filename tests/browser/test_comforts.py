"""Everyday comforts: editing a poll (locked fields shown with the reason), confirmations before
destructive actions (cancel and Escape keep, confirm acts), the /polls filters in the URL and the
"You voted" mark; axe on each new page and open dialog at 1280 and 390 px."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from commons_app.cli import DEMO_PASSWORD
from tests.browser import a11y
from tests.browser.helpers import DESKTOP, PHONE, UI_TIMEOUT, at, goto, ui_login

pytestmark = pytest.mark.browser

SHOTS = Path("/work/shots/comforts")


def _shot(page: Page, name: str) -> None:
    if SHOTS.parent.is_dir():  # screenshots for review on the dev machine; nothing in the repo
        SHOTS.mkdir(exist_ok=True)
        # An open dialog is fixed to the viewport: a full-page shot would misplace it.
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=not name.startswith("confirm-"))


def _check(page: Page, context: str) -> None:
    a11y.assert_no_violations(page, context)


def test_owner_edits_a_poll_everything_before_a_ballot_then_only_wording_and_closing(new_page, app_server, api):
    base = app_server.url
    owner, voter, stranger = api.register("editor"), api.register("editvoter"), api.register("editstranger")
    poll = api.create_poll(owner, title="Team lunch", options=["Soup", "Salad"])
    pid = poll["id"]

    page = new_page()
    ui_login(page, base, owner)
    goto(page, f"{base}/polls/{pid}")
    page.get_by_role("link", name="Edit poll").click()
    expect(page).to_have_url(at(base, f"/polls/{pid}/edit"), timeout=UI_TIMEOUT)
    expect(page.get_by_label("Title", exact=True)).to_have_value("Team lunch", timeout=UI_TIMEOUT)
    expect(page.locator("#edit-lock-reason")).to_have_count(0)
    _check(page, "edit/open/desktop")
    _shot(page, "edit-before-ballot-1280")

    # Before the first ballot: title, options and method all change.
    page.get_by_label("Title", exact=True).fill("Team lunch on Friday")
    page.get_by_role("button", name="Add option").click()
    page.get_by_label("Option 3", exact=True).fill("Noodles")
    page.get_by_label("Voting method", exact=True).select_option("approval")
    page.get_by_role("button", name="Save changes").click()
    expect(page).to_have_url(at(base, f"/polls/{pid}"), timeout=UI_TIMEOUT)
    expect(page.get_by_role("heading", name="Team lunch on Friday", exact=True)).to_be_visible(timeout=UI_TIMEOUT)
    saved = api.get(f"/polls/{pid}", owner).json()
    assert saved["method"] == "approval" and [o["text"] for o in saved["options"]] == ["Soup", "Salad", "Noodles"]

    # After a ballot: the options and method are read-only, with the reason; the title still changes.
    ids = {o["text"]: o["id"] for o in saved["options"]}
    assert api.client.post("/votes/", json={"poll_id": pid, "option_ids": [ids["Soup"]]}, headers=voter.headers).status_code == 201
    goto(page, f"{base}/polls/{pid}/edit")
    expect(page.locator("#edit-lock-reason")).to_contain_text("only the title, description and closing time", timeout=UI_TIMEOUT)
    expect(page.get_by_label("Option 1", exact=True)).to_have_attribute("readonly", "")
    expect(page.get_by_label("Voting method", exact=True)).to_be_disabled()
    expect(page.get_by_role("button", name="Add option")).to_have_count(0)
    _check(page, "edit/after-ballot/desktop")
    _shot(page, "edit-after-ballot-1280")
    page.set_viewport_size(PHONE)
    _check(page, "edit/after-ballot/phone")
    _shot(page, "edit-after-ballot-390")
    page.set_viewport_size(DESKTOP)
    page.get_by_label("Description", exact=True).fill("Bring your own cup")
    page.get_by_role("button", name="Save changes").click()
    expect(page).to_have_url(at(base, f"/polls/{pid}"), timeout=UI_TIMEOUT)
    after = api.get(f"/polls/{pid}", owner).json()
    assert after["description"] == "Bring your own cup" and after["method"] == "approval"
    assert [o["text"] for o in after["options"]] == ["Soup", "Salad", "Noodles"]

    # Someone else gets no form, only the refusal.
    other = new_page()
    ui_login(other, base, stranger)
    goto(other, f"{base}/polls/{pid}/edit")
    expect(other.get_by_role("alert")).to_be_visible(timeout=UI_TIMEOUT)
    expect(other.get_by_role("button", name="Save changes")).to_have_count(0)
    goto(other, f"{base}/polls/{pid}")
    expect(other.get_by_role("link", name="Edit poll")).to_have_count(0)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "390"])
def test_closing_early_asks_first(new_page, app_server, api, viewport):
    base = app_server.url
    owner = api.register("closer")
    poll = api.create_poll(owner, title=f"Close me {viewport['width']}")
    page = new_page(viewport=viewport)
    ui_login(page, base, owner)
    goto(page, f"{base}/dashboard")
    card = page.locator(".dashboard-poll").filter(has_text=poll["title"])
    close = card.get_by_role("button", name=f"Close {poll['title']}")
    dialog = page.get_by_role("alertdialog")

    close.click()
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()  # the safe choice first
    _check(page, f"dashboard/close-dialog/{viewport['width']}")
    _shot(page, f"confirm-close-{viewport['width']}")
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(close).to_be_focused()
    close.click()
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)
    assert api.get(f"/polls/{poll['id']}", owner).json()["status"] == "open"

    close.click()
    dialog.get_by_role("button", name="Close poll").click()
    expect(card.get_by_role("button", name=f"Close {poll['title']}")).to_have_count(0, timeout=UI_TIMEOUT)
    assert api.get(f"/polls/{poll['id']}", owner).json()["status"] == "closed"

    # Deleting asks too: cancel keeps it.
    card.get_by_role("button", name="Delete", exact=True).click()
    dialog.get_by_role("button", name="Cancel").click()
    assert api.get(f"/polls/{poll['id']}", owner).status_code == 200


def test_retracting_a_ballot_and_removing_a_voter_ask_first(new_page, app_server, api):
    base = app_server.url
    owner, voter, extra = api.register("rollowner"), api.register("retractor"), api.register("rolled")
    poll = api.create_poll(owner, title="Retract or not", options=["Yes", "No"], visibility="private")
    pid = poll["id"]
    roll = {"voters": [{"username": voter.username}, {"username": extra.username}]}
    assert api.client.put(f"/polls/{pid}/voters", json=roll, headers=owner.headers).status_code == 200
    assert api.client.post("/votes/", json={"poll_id": pid, "option_id": poll["options"][0]["id"]},
                           headers=voter.headers).status_code == 201

    page = new_page(viewport=PHONE)
    ui_login(page, base, voter)
    goto(page, f"{base}/polls/{pid}")
    dialog = page.get_by_role("alertdialog")
    page.get_by_role("button", name="Retract vote").click()
    expect(dialog).to_contain_text("Retract your vote?")
    _check(page, "vote/retract-dialog/390")
    _shot(page, "confirm-retract-390")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)
    assert api.get(f"/polls/{pid}/my-vote", voter).status_code == 200
    page.get_by_role("button", name="Retract vote").click()
    dialog.get_by_role("button", name="Retract my vote").click()
    expect(page.get_by_role("button", name="Submit vote")).to_be_visible(timeout=UI_TIMEOUT)
    assert api.get(f"/polls/{pid}/my-vote", voter).status_code == 404

    own = new_page()
    ui_login(own, base, owner)
    goto(own, f"{base}/polls/{pid}")
    editor = own.locator("#roll-editor")
    expect(editor.get_by_role("rowheader", name=extra.username)).to_be_visible(timeout=UI_TIMEOUT)
    editor.get_by_role("button", name=f"Remove {extra.username}").click()
    dialog = own.get_by_role("alertdialog")
    expect(dialog).to_contain_text(f"Remove {extra.username} from the roll?")
    _check(own, "vote/remove-voter-dialog/1280")
    own.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    assert extra.username in {v["username"] for v in api.get(f"/polls/{pid}/voters", owner).json()["voters"]}
    editor.get_by_role("button", name=f"Remove {extra.username}").click()
    dialog.get_by_role("button", name="Remove voter").click()
    # The toast comes after the commit; the row alone counts as gone while the dialog hides the page.
    expect(dialog).to_have_count(0, timeout=UI_TIMEOUT)
    expect(own.get_by_text(f"{extra.username} was removed.")).to_be_visible(timeout=UI_TIMEOUT)
    expect(editor.get_by_role("rowheader", name=extra.username)).to_have_count(0, timeout=UI_TIMEOUT)
    assert extra.username not in {v["username"] for v in api.get(f"/polls/{pid}/voters", owner).json()["voters"]}


def test_admin_changes_a_role_only_after_confirming(new_page, app_server, api):
    base = app_server.url
    admin = api.login("admin", DEMO_PASSWORD)
    member = api.register("promoted")
    page = new_page()
    ui_login(page, base, admin)
    goto(page, f"{base}/admin")
    page.get_by_label("Search users", exact=True).fill(member.username)
    make = page.get_by_role("button", name=f"Make {member.username} an admin")
    dialog = page.get_by_role("alertdialog")
    make.click()
    expect(dialog).to_contain_text(f"Make {member.username} an admin?")
    _check(page, "admin/role-dialog/1280")
    _shot(page, "confirm-role-1280")
    page.keyboard.press("Escape")
    assert api.me(member)["role"] == "member"
    make.click()
    dialog.get_by_role("button", name="Make admin").click()
    demote = page.get_by_role("button", name=f"Remove the admin role of {member.username}")
    expect(demote).to_be_visible(timeout=UI_TIMEOUT)
    assert api.me(member)["role"] == "admin"
    demote.click()
    dialog.get_by_role("button", name="Remove admin role").click()
    expect(make).to_be_visible(timeout=UI_TIMEOUT)
    assert api.me(member)["role"] == "member"


def test_poll_filters_live_in_the_url_and_mark_polls_you_voted_in(new_page, app_server, api):
    base = app_server.url
    owner, viewer = api.register("filterowner"), api.register("filterviewer")
    voted = api.create_poll(owner, title="Filter voted in")
    api.create_poll(owner, title="Filter not voted")
    assert api.client.post("/votes/", json={"poll_id": voted["id"], "option_id": voted["options"][0]["id"]},
                           headers=viewer.headers).status_code == 201

    page = new_page()
    ui_login(page, base, viewer)
    goto(page, f"{base}/polls")
    page.get_by_placeholder("Search by title…").fill("Filter ")
    card = page.locator(".rt-Card").filter(has=page.get_by_role("heading", name="Filter voted in", exact=True))
    expect(card.locator(".you-voted")).to_have_text("You voted", timeout=UI_TIMEOUT)
    fresh_card = page.locator(".rt-Card").filter(has=page.get_by_role("heading", name="Filter not voted", exact=True))
    expect(fresh_card.locator(".you-voted")).to_have_count(0)
    _shot(page, "polls-you-voted-1280")

    page.get_by_role("navigation", name="Filter polls").get_by_role("link", name="Not voted yet").click()
    expect(page).to_have_url(at(base, "/polls", "?show=not_voted"), timeout=UI_TIMEOUT)
    expect(page.get_by_role("link", name="Not voted yet")).to_have_attribute("aria-current", "page")
    expect(page.get_by_role("heading", name="Filter not voted", exact=True)).to_be_visible(timeout=UI_TIMEOUT)
    expect(page.get_by_role("heading", name="Filter voted in", exact=True)).to_have_count(0)
    page.reload()  # the filter survives a reload
    expect(page.get_by_role("heading", name="Filter not voted", exact=True)).to_be_visible(timeout=UI_TIMEOUT)
    expect(page.get_by_role("heading", name="Filter voted in", exact=True)).to_have_count(0)
    _check(page, "polls/not-voted/desktop")
    _shot(page, "polls-filter-1280")
    page.set_viewport_size(PHONE)
    _check(page, "polls/not-voted/phone")
    _shot(page, "polls-filter-390")

    goto(page, f"{base}/polls?show=closed")
    expect(page.get_by_role("link", name="Closed")).to_have_attribute("aria-current", "page", timeout=UI_TIMEOUT)
    expect(page.get_by_role("heading", name="Filter not voted", exact=True)).to_have_count(0)
