"""Long lists in the browser are paged, and every row can be reached with Previous/Next: the
admin's users (with a search) and audit log, and the creator's dashboard. Screenshots of the paged
pages at desktop and phone widths go to ``test-artifacts/screenshots/paging-*.png``."""

from __future__ import annotations

import secrets

import pytest
from playwright.sync_api import Page, expect

from commons_app.pages.admin import EVENTS_PAGE_SIZE, USERS_PAGE_SIZE
from commons_app.pages.dashboard import PAGE_SIZE as DASHBOARD_PAGE_SIZE
from tests.browser.helpers import DESKTOP, PASSWORD, PHONE, goto, ui_login
from tests.browser.servers import ARTIFACTS

pytestmark = pytest.mark.browser

SHOTS = ARTIFACTS / "screenshots"


def _shoot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("() => window.scrollTo(0, 0)")  # else the sticky navigation bar lands mid-picture
    page.evaluate("() => document.fonts.ready.then(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))))")
    page.screenshot(path=str(SHOTS / f"paging-{name}.png"), full_page=True, animations="disabled")
    too_wide = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert too_wide <= 0, f"{name}: {too_wide}px wider than the window"


def _names_on_page(page: Page) -> list[str]:
    return page.locator("table").first.locator("tbody th").all_inner_texts()


@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_admin_pages_through_users_and_the_audit_log(width, new_page, app_server, api):
    base = app_server.url
    admin = api.login(*app_server.marker)
    prefix = f"pg{secrets.token_hex(3)}"
    count = USERS_PAGE_SIZE + 5
    made = []
    for i in range(count):
        username = f"{prefix}_{i:02d}"
        response = api.client.post("/users/", json={"username": username, "email": f"{username}@example.org", "password": PASSWORD})
        assert response.status_code == 201, response.text
        made.append(username)

    page = new_page(DESKTOP if width == "desktop" else PHONE)
    ui_login(page, base, admin)
    goto(page, base + "/admin")
    users = page.get_by_role("navigation", name="Users pages")
    audit = page.get_by_role("navigation", name="Audit log pages")
    expect(users).to_contain_text("Page 1 of")
    expect(audit).to_contain_text(f"Showing 1–{EVENTS_PAGE_SIZE} of")  # at least the registrations above

    page.get_by_label("Search users").fill(prefix)
    expect(users).to_contain_text(f"Showing 1–{USERS_PAGE_SIZE} of {count} users")
    expect(users).to_contain_text("Page 1 of 2")
    expect(users.get_by_role("button", name="Previous")).to_be_disabled()
    first = _names_on_page(page)
    assert len(first) == USERS_PAGE_SIZE
    _shoot(page, f"{width}-admin-users-1")

    users.get_by_role("button", name="Next").click()
    expect(users).to_contain_text(f"Showing {USERS_PAGE_SIZE + 1}–{count} of {count} users")
    expect(users).to_contain_text("Page 2 of 2")
    expect(users.get_by_role("button", name="Next")).to_be_disabled()
    expect(page.locator("table").first.locator("tbody tr")).to_have_count(count - USERS_PAGE_SIZE)
    second = _names_on_page(page)
    assert sorted(first + second) == made  # every user reached, none twice
    _shoot(page, f"{width}-admin-users-2")

    users.get_by_role("button", name="Previous").click()
    expect(users).to_contain_text("Page 1 of 2")
    assert _names_on_page(page) == first

    # The audit log: newest first, older entries one page on, named actors on every page.
    newest = page.locator("table").nth(1).locator("tbody tr").first.inner_text()
    assert "user.register" in newest and made[-1] in newest
    audit.get_by_role("button", name="Next").click()
    expect(audit).to_contain_text("Page 2 of")
    expect(audit).to_contain_text(f"Showing {EVENTS_PAGE_SIZE + 1}–")
    expect(page.locator("table").nth(1).locator("tbody tr").first).not_to_have_text(newest)
    # The registrations beyond the first page of the log still name their users.
    older = page.locator("table").nth(1).locator("tbody tr").filter(has_text=f"{prefix}_")
    if older.count():
        expect(older.first).to_contain_text("user.register")
    audit.get_by_role("button", name="Previous").click()
    expect(audit).to_contain_text("Page 1 of")
    expect(users).to_contain_text("Page 1 of 2")  # each list keeps its own page


@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_dashboard_pages_through_the_creators_polls(width, new_page, app_server, api):
    base = app_server.url
    owner = api.register("dash")
    count = DASHBOARD_PAGE_SIZE + 2
    titles = [api.create_poll(owner, title=f"Paged poll {i:02d} {owner.username}")["title"] for i in range(count)]

    page = new_page(DESKTOP if width == "desktop" else PHONE)
    ui_login(page, base, owner)
    goto(page, base + "/dashboard")
    polls = page.get_by_role("navigation", name="Polls pages")
    expect(polls).to_contain_text(f"Showing 1–{DASHBOARD_PAGE_SIZE} of {count} polls")
    expect(page.locator(".dashboard-poll")).to_have_count(DASHBOARD_PAGE_SIZE)
    expect(page.locator(".dashboard-poll").first).to_contain_text(titles[-1])  # newest first
    _shoot(page, f"{width}-dashboard-1")

    polls.get_by_role("button", name="Next").click()
    expect(polls).to_contain_text("Page 2 of 2")
    expect(page.locator(".dashboard-poll")).to_have_count(count - DASHBOARD_PAGE_SIZE)
    expect(page.locator(".dashboard-poll").last).to_contain_text(titles[0])
    _shoot(page, f"{width}-dashboard-2")

    # Deleting the only polls of the last page lands on the page before, not on an empty one.
    for left in range(count - DASHBOARD_PAGE_SIZE - 1, -1, -1):
        page.locator(".dashboard-poll").first.get_by_role("button", name="Delete", exact=True).click()
        page.get_by_role("button", name="Delete poll").click()
        expect(polls).to_contain_text(f" of {DASHBOARD_PAGE_SIZE + left} polls")
    expect(polls).to_contain_text(f"Showing 1–{DASHBOARD_PAGE_SIZE} of {DASHBOARD_PAGE_SIZE} polls")
    expect(polls.get_by_role("button", name="Next")).to_be_disabled()
    expect(page.locator(".dashboard-poll")).to_have_count(DASHBOARD_PAGE_SIZE)
