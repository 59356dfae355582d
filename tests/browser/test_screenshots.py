"""Screenshots of every page at desktop (1280x900) and phone (390x844) widths, saved to
``test-artifacts/screenshots/<width>-<page>.png`` (git-ignored) for people to look at.

Each page is shot once its content has loaded (not the spinner). The test also fails when a page
is wider than the phone's screen (a horizontal scrollbar), the one layout fault a machine can see.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from commons_app.cli import DEMO_PASSWORD
from tests.browser.helpers import DESKTOP, PHONE, UI_TIMEOUT, goto, ui_login
from tests.browser.servers import ARTIFACTS

pytestmark = pytest.mark.browser

SHOTS = ARTIFACTS / "screenshots"
DEMO_POLL = "Where should the spring retreat be held?"


def _no_spinner(page: Page) -> None:
    expect(page.get_by_role("status").filter(has_text="Loading…")).to_have_count(0, timeout=UI_TIMEOUT)


def _shoot(page: Page, width: str, slug: str, ready: Callable[[Page], None], overflow: list[str]) -> None:
    ready(page)
    _no_spinner(page)
    # fonts loaded and two frames painted: the picture shows the settled layout
    page.evaluate("() => document.fonts.ready.then(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))))")
    page.screenshot(path=str(SHOTS / f"{width}-{slug}.png"), full_page=True, animations="disabled")
    too_wide = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    if too_wide > 0:
        overflow.append(f"{width}-{slug}: {too_wide}px wider than the window")


@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_screenshots_of_every_page(width, new_page, app_server, api):
    SHOTS.mkdir(parents=True, exist_ok=True)
    base = app_server.url
    viewport = DESKTOP if width == "desktop" else PHONE
    overflow: list[str] = []
    admin = api.login("admin", DEMO_PASSWORD)
    poll = api.find_poll(admin, DEMO_POLL)
    pid = poll["id"]

    visitor = new_page(viewport)
    goto(visitor, base + "/")
    _shoot(visitor, width, "home", lambda p: expect(p.get_by_role("heading", name="Decide together.")).to_be_visible(),
           overflow)
    goto(visitor, base + "/login")
    _shoot(visitor, width, "login", lambda p: expect(p.get_by_role("button", name="Log in")).to_be_visible(), overflow)
    goto(visitor, base + "/register")
    _shoot(visitor, width, "register",
           lambda p: expect(p.get_by_role("button", name="Create account")).to_be_visible(), overflow)

    page = new_page(viewport)
    ui_login(page, base, admin)
    pages: list[tuple[str, str, Callable[[Page], None]]] = [
        ("polls", "/polls", lambda p: (
            expect(p.get_by_role("heading", level=2).first).to_be_visible(),
            expect(p.get_by_text("Page 1 of")).to_be_visible(),
        )),
        ("polls-new", "/polls/new", lambda p: expect(p.get_by_role("button", name="Create poll")).to_be_visible()),
        (f"poll-{pid}-vote", f"/polls/{pid}",
         lambda p: expect(p.get_by_role("button", name="Submit vote")).to_be_visible()),
        (f"poll-{pid}-results", f"/polls/{pid}/results", lambda p: (
            expect(p.get_by_test_id("total-ballots")).to_have_text("6"),
            expect(p.locator(".recharts-surface").first).to_be_visible(),
        )),
        ("dashboard", "/dashboard", lambda p: (
            expect(p.get_by_role("heading", name="Dashboard")).to_be_visible(),
            expect(p.locator(".dashboard-poll").filter(has_text="Board election 2026")).to_have_count(1),
        )),
        ("admin", "/admin", lambda p: (
            expect(p.get_by_role("columnheader", name="Username")).to_be_visible(),
            expect(p.get_by_role("heading", name="Audit log")).to_be_visible(),
        )),
        ("not-found", "/no/such/page", lambda p: expect(p.get_by_role("heading", name="Page not found")).to_be_visible()),
    ]
    for slug, path, ready in pages:
        goto(page, base + path)
        _shoot(page, width, slug, ready, overflow)
    if width == "phone":  # the navigation behind the menu button, opened
        goto(page, base + "/polls")
        page.get_by_role("button", name="Menu").click()
        _shoot(page, width, "menu-open", lambda p: expect(p.get_by_role("navigation", name="Main")).to_be_visible(),
               overflow)

    assert not overflow, "pages scroll sideways: " + "; ".join(overflow)
