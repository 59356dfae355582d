"""Accounts in the browser: register, log out, a wrong password, and the /dashboard guard."""

from __future__ import annotations

import secrets

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import PASSWORD, UI_TIMEOUT, at, goto

pytestmark = pytest.mark.browser


def test_register_logout_wrong_password_and_guarded_page(new_page, app_server, api):
    base = app_server.url
    page = new_page()
    username = f"reg_{secrets.token_hex(4)}"

    # Register through the form: signed in at once, sent on to /polls.
    goto(page, base + "/register")
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Email", exact=True).fill(f"{username}@example.org")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(at(base, "/polls"), timeout=UI_TIMEOUT)
    expect(page.get_by_role("navigation").get_by_text(username)).to_be_visible()
    # The account is real: the API accepts its credentials and calls it a member.
    me = api.login(username, PASSWORD)
    assert me.username == username and me.role == "member"

    # Log out: back on /login, the navigation offers signing in again.
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(at(base, "/login"), timeout=UI_TIMEOUT)
    expect(page.get_by_role("navigation").get_by_role("link", name="Sign in")).to_be_visible()
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)

    # A guarded page sends the signed-out visitor to the login page, remembering where to go back.
    goto(page, base + "/dashboard")
    expect(page).to_have_url(at(base, "/login", "?next=/dashboard"), timeout=UI_TIMEOUT)

    # A wrong password is refused with a visible error, and nobody is signed in.
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill("not-the-password-1")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_have_text("Incorrect username or password.", timeout=UI_TIMEOUT)
    # (The form posts to /api/browser/login, which answers with the refusal's code.)
    expect(page).to_have_url(at(base, "/login", f"?error=invalid&next=/dashboard&username={username}"))
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)

    # The right password signs in and comes back to /dashboard.
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(at(base, "/dashboard"), timeout=UI_TIMEOUT)
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.get_by_text("You have not created any polls yet.")).to_be_visible()

    # After logging out the guard applies again (the old browser session is dead on the server).
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(at(base, "/login"), timeout=UI_TIMEOUT)
    goto(page, base + "/dashboard")
    expect(page).to_have_url(at(base, "/login", "?next=/dashboard"), timeout=UI_TIMEOUT)
