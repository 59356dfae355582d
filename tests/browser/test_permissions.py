"""A member cannot reach admin actions, nor close or delete another user's poll — neither through
the UI nor by sending the Reflex events (``DashboardState.close_poll`` / ``delete_poll``,
``AdminState.set_role``) straight down the page's own websocket, as a tampering user could."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from commons_app.pages.admin import AdminState
from commons_app.pages.dashboard import DashboardState
from tests.browser.helpers import UI_TIMEOUT, goto, send_event, ui_login, wait_for_message

pytestmark = pytest.mark.browser

NOT_MANAGER = "Only the poll's owner or an administrator may do this."
NOT_ADMIN = "Only administrators may do this."


def handler(state: type, name: str) -> str:
    """The event name the frontend would send for ``state.name``."""
    assert callable(getattr(state, name)), name
    return f"{state.get_full_name()}.{name}"


def test_member_cannot_manage_others_polls_or_reach_admin(new_page, app_server, api):
    base = app_server.url
    owner, member = api.register("owner"), api.register("member")
    victim = api.create_poll(owner, title=f"Owner's poll {owner.username}")
    own = api.create_poll(member, title=f"Member's poll {member.username}")

    page = new_page()
    ui_login(page, base, member)

    # No admin link, and /admin shows a refusal and no user list.
    expect(page.get_by_role("navigation").get_by_role("link", name="Admin")).to_have_count(0)
    goto(page, base + "/admin")
    expect(page.locator("#admin-refused")).to_have_text(NOT_ADMIN, timeout=UI_TIMEOUT)
    expect(page.get_by_role("table")).to_have_count(0)
    expect(page.get_by_text(owner.username)).to_have_count(0)
    expect(page.get_by_role("searchbox")).to_have_count(0)

    # The dashboard lists only the member's own poll: nothing to close or delete of the owner's.
    goto(page, base + "/dashboard")
    expect(page.locator(".dashboard-poll").filter(has_text=own["title"])).to_have_count(1, timeout=UI_TIMEOUT)
    expect(page.get_by_text(victim["title"])).to_have_count(0)
    # The owner's ballot page offers no management either.
    goto(page, f"{base}/polls/{victim['id']}")
    expect(page.get_by_role("heading", name=victim["title"], exact=True)).to_be_visible()
    for name in ("Close", "Delete", "Delete poll"):
        expect(page.get_by_role("button", name=name, exact=True)).to_have_count(0)

    # Crafted events, sent through the member's own websocket from the dashboard.
    goto(page, base + "/dashboard")
    expect(page.locator(".dashboard-poll").filter(has_text=own["title"])).to_have_count(1, timeout=UI_TIMEOUT)
    before = send_event(page, handler(DashboardState, "close_poll"), {"poll_id": victim["id"]})
    wait_for_message(page, before, NOT_MANAGER)
    expect(page.locator("main").get_by_role("alert")).to_have_text(NOT_MANAGER)
    before = send_event(page, handler(DashboardState, "delete_poll"), {"poll_id": victim["id"]})
    wait_for_message(page, before, NOT_MANAGER)
    # The poll is still there, still open, and its owner still sees it.
    response = api.get(f"/polls/{victim['id']}", owner)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "open"
    assert victim["id"] in [p["id"] for p in api.my_polls(owner)]

    # An admin handler called as a member: promoting oneself changes nothing.
    goto(page, base + "/admin")
    expect(page.locator("#admin-refused")).to_be_visible(timeout=UI_TIMEOUT)
    before = send_event(page, handler(AdminState, "set_role"), {"user_id": member.id, "role": "admin"})
    wait_for_message(page, before, NOT_ADMIN)
    before = send_event(page, handler(AdminState, "set_role"), {"user_id": owner.id, "role": "admin"})
    wait_for_message(page, before, NOT_ADMIN)
    assert api.me(member)["role"] == "member"
    assert api.me(owner)["role"] == "member"
    expect(page.get_by_role("table")).to_have_count(0)

    # The same handlers do work for the owner: the crafted path is the real one, merely refused.
    owner_page = new_page()
    ui_login(owner_page, base, owner)
    goto(owner_page, base + "/dashboard")
    expect(owner_page.locator(".dashboard-poll").filter(has_text=victim["title"])).to_have_count(1, timeout=UI_TIMEOUT)
    send_event(owner_page, handler(DashboardState, "close_poll"), {"poll_id": victim["id"]})
    expect(owner_page.locator(".dashboard-poll").filter(has_text=victim["title"]).get_by_text("closed", exact=True)).to_be_visible()
    assert api.get(f"/polls/{victim['id']}", owner).json()["status"] == "closed"
