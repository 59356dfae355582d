"""axe-core on every page and state at 1280 px and 390 px (WCAG 2.0/2.1 A+AA and 2.2 AA), and the
44 × 44 px tap targets of the shared chrome on a phone. Any violation fails the test.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from commons_app.cli import DEMO_PASSWORD
from tests.browser import a11y
from tests.browser.helpers import DESKTOP, PHONE, SOCKET_RECORDER, UI_TIMEOUT, goto, ui_login

pytestmark = pytest.mark.browser

METHODS = ["single", "approval", "irv", "schulze", "borda", "score", "star", "stv"]
OPTIONS = ["Tomatoes", "Beans", "Squash"]
WIDTHS = {"desktop": DESKTOP, "phone": PHONE}


def _ballot(method: str, ids: dict[str, int]) -> dict[str, Any]:
    if method == "single":
        return {"option_id": ids["Beans"]}
    if method == "approval":
        return {"option_ids": [ids["Beans"], ids["Tomatoes"]]}
    if method in ("irv", "schulze", "borda", "stv"):
        return {"ranking": [ids["Beans"], ids["Tomatoes"]]}
    return {"scores": {str(ids["Tomatoes"]): 5, str(ids["Beans"]): 2}}


def _invitation_link(api, owner, admin) -> str:
    """A private poll with one invited address; the personal link read from the outbox (no SMTP)."""
    poll = api.create_poll(owner, title="Invited crop poll", options=OPTIONS, visibility="private")
    address = f"guest.{secrets.token_hex(3)}@example.org"
    response = api.client.put(f"/polls/{poll['id']}/voters", headers=owner.headers, json={"voters": [{"email": address}]})
    assert response.status_code == 200, response.text
    response = api.client.post(f"/polls/{poll['id']}/invitations", headers=owner.headers)
    assert response.status_code == 202, response.text
    mails = api.client.get("/admin/outbox", headers=admin.headers, params={"limit": 100}).json()["items"]
    [body] = [m["body"] for m in mails if m["to_address"] == address]
    [link] = re.findall(r"https?://\S+(/v/[A-Za-z0-9_-]+)", body)
    return link


@pytest.fixture(scope="module")
def world(app_server, api, browser) -> dict[str, Any]:
    """Users signed in once (their browser storage kept), one poll per method that the voter has
    voted in, and a personal invitation link."""
    base = app_server.url
    member, voter = api.register("a11y"), api.register("a11yvoter")
    admin = api.login("admin", DEMO_PASSWORD)
    polls = {}
    for method in METHODS:
        spec = {"seats": 2} if method == "stv" else {}
        poll = api.create_poll(member, title=f"Which crop ({method})?", options=OPTIONS, method=method, **spec)
        ids = {o["text"]: o["id"] for o in poll["options"]}
        response = api.client.post("/votes/", json={"poll_id": poll["id"], **_ballot(method, ids)},
                                   headers=voter.headers)
        assert response.status_code in (200, 201), response.text
        polls[method] = poll
    invitation = _invitation_link(api, member, admin)
    storage = {}
    for name, user in (("member", member), ("voter", voter), ("admin", admin)):
        context = browser.new_context(viewport=DESKTOP)
        context.set_default_timeout(UI_TIMEOUT)
        context.add_init_script(SOCKET_RECORDER)
        page = context.new_page()
        ui_login(page, base, user)
        storage[name] = context.storage_state()
        context.close()
    return {"base": base, "polls": polls, "storage": storage, "invitation": invitation}


# A11Y_SHOTS=<folder>: also save a full-page screenshot of every state checked (for people).
SHOTS = os.environ.get("A11Y_SHOTS", "")


def _check(page: Page, state: str, width: str) -> None:
    assert page.viewport_size == WIDTHS[width]
    if SHOTS:
        a11y.settled(page)
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{width}-{state}.png"), full_page=True, animations="disabled")
    a11y.audit(page, state)


def _open(new_page: Callable[..., Page], world: dict[str, Any], width: str, who: str | None) -> Page:
    options = {"storage_state": world["storage"][who]} if who else {}
    return new_page(WIDTHS[width], **options)


# name -> (who is signed in: None, "member" (owns every poll), "voter" (voted in each) or "admin",
# and how to bring the page into that state). Each runs at 1280 and 390 px.
STATES: dict[str, tuple[str | None, Callable[[Page, dict[str, Any]], None]]] = {}


def state(name: str, who: str | None = None):
    """Join the matrix: ``@state("present", who="member")`` over a function ``(page, world)``
    that opens the page and waits until it shows the state; the test runs axe on it at both widths."""
    def register(fn: Callable[[Page, dict[str, Any]], None]):
        assert name not in STATES, f"state {name!r} registered twice"
        STATES[name] = (who, fn)
        return fn
    return register


@state("home")
def _home(page, w):
    goto(page, w["base"] + "/")
    expect(page.get_by_role("heading", level=1)).to_be_visible()


@state("home-signed-in", who="member")
def _home_signed_in(page, w):
    goto(page, w["base"] + "/")
    expect(page.get_by_role("heading", level=1)).to_be_visible()


@state("login")
def _login(page, w):
    goto(page, w["base"] + "/login")
    expect(page.get_by_role("button", name="Log in")).to_be_visible()


@state("login-error")
def _login_error(page, w):
    goto(page, w["base"] + "/login")
    page.get_by_label("Username", exact=True).fill("nobody_here")
    page.get_by_label("Password", exact=True).fill("wrong-password-1")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_be_visible()


@state("register")
def _register(page, w):
    goto(page, w["base"] + "/register")
    expect(page.get_by_role("button", name="Create account")).to_be_visible()


@state("register-errors")
def _register_errors(page, w):
    goto(page, w["base"] + "/register")
    page.get_by_label("Username", exact=True).fill("x")
    page.get_by_label("Email", exact=True).fill("x@example.org")
    page.get_by_label("Password", exact=True).fill("short")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("alert")).to_be_visible()


@state("polls", who="member")
def _polls(page, w):
    goto(page, w["base"] + "/polls")
    expect(page.get_by_role("heading", level=1)).to_be_visible()


@state("polls-signed-out")
def _polls_signed_out(page, w):
    goto(page, w["base"] + "/polls")
    expect(page.get_by_role("heading", level=1)).to_be_visible()


@state("new-poll", who="member")
def _new_poll(page, w):
    goto(page, w["base"] + "/polls/new")
    expect(page.get_by_role("button", name="Create poll")).to_be_visible()


@state("new-poll-errors", who="member")
def _new_poll_errors(page, w):
    goto(page, w["base"] + "/polls/new")
    page.get_by_role("button", name="Create poll").click()
    expect(page.locator("#title-error")).to_be_visible()


for _method in METHODS:
    def _ballot_page(page, w, method=_method):
        goto(page, f"{w['base']}/polls/{w['polls'][method]['id']}")
        expect(page.get_by_role("button", name="Submit vote")).to_be_visible()
        expect(page.locator("#roll-editor")).to_be_visible()  # the owner's roll editor, below the ballot

    def _voted_page(page, w, method=_method):
        goto(page, f"{w['base']}/polls/{w['polls'][method]['id']}")
        expect(page.get_by_role("button", name="Change vote")).to_be_visible()
        expect(page.get_by_test_id("ballot-receipt")).to_be_visible()

    def _results_page(page, w, method=_method):
        goto(page, f"{w['base']}/polls/{w['polls'][method]['id']}/results")
        expect(page.get_by_test_id("total-ballots")).to_have_text("1", timeout=UI_TIMEOUT)
        expect(page.get_by_test_id("result-summary")).not_to_be_empty()

    state(f"ballot-{_method}", who="member")(_ballot_page)
    state(f"ballot-{_method}-voted", who="voter")(_voted_page)
    state(f"results-{_method}", who="member")(_results_page)


@state("ballot-errors", who="member")
def _ballot_errors(page, w):
    goto(page, f"{w['base']}/polls/{w['polls']['irv']['id']}")
    page.get_by_role("button", name="Submit vote").click()  # nothing ranked
    expect(page.get_by_role("alert")).to_be_visible()


@state("roll-editor-errors", who="member")
def _roll_errors(page, w):
    goto(page, f"{w['base']}/polls/{w['polls']['single']['id']}")
    editor = page.locator("#roll-editor")
    editor.get_by_label("Username or email").fill("no_such_user_here")
    editor.get_by_role("button", name="Add voter").click()
    expect(editor.locator("#roll-voter-error")).to_be_visible()


@state("vote-preview-signed-out")
def _preview(page, w):
    goto(page, f"{w['base']}/polls/{w['polls']['single']['id']}")
    expect(page.locator("#sign-in-to-vote")).to_be_visible()


@state("invitation-ballot")
def _invitation(page, w):
    goto(page, w["base"] + w["invitation"])
    expect(page).to_have_url(re.compile(r"/polls/[A-Za-z0-9_-]+/?$"), timeout=UI_TIMEOUT)
    expect(page.locator("#guest-note")).to_be_visible()


@state("invitation-error")
def _invitation_error(page, w):
    goto(page, w["base"] + "/v/not-a-real-token")
    expect(page.locator("#invitation-error")).to_be_visible()


@state("join")
def _join(page, w):
    goto(page, w["base"] + "/join")
    expect(page.get_by_role("button", name="Join")).to_be_visible()


@state("join-error")
def _join_error(page, w):
    goto(page, w["base"] + "/join")
    page.get_by_label("Join code").fill("NOSUCHCODE")
    page.get_by_role("button", name="Join").click()
    expect(page.locator("#join-error")).to_be_visible()


@state("dashboard", who="member")
def _dashboard(page, w):
    goto(page, w["base"] + "/dashboard")
    expect(page.get_by_role("heading", level=1)).to_be_visible()


@state("admin", who="admin")
def _admin(page, w):
    goto(page, w["base"] + "/admin")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    expect(page.get_by_role("switch").first).to_be_visible()


@state("admin-outbox", who="admin")
def _admin_outbox(page, w):
    goto(page, w["base"] + "/admin")
    outbox = page.locator("#admin-outbox")
    outbox.scroll_into_view_if_needed()
    expect(outbox.get_by_test_id("outbox-body").first).to_be_visible()  # the invitation mail, opened


@state("not-found")
def _not_found(page, w):
    goto(page, w["base"] + "/no/such/page")
    expect(page.get_by_role("heading", level=1)).to_contain_text(re.compile("not found", re.I))


@pytest.mark.parametrize("width", list(WIDTHS))
@pytest.mark.parametrize("name", list(STATES))
def test_page_has_no_accessibility_violations(name, width, new_page, world):
    who, visit = STATES[name]
    page = _open(new_page, world, width, who)
    visit(page, world)
    _check(page, name, width)


# --- the shared chrome: what axe cannot see --------------------------------------------------------
def test_skip_link_is_the_first_tab_stop_and_moves_focus_to_main(new_page, world):
    page = _open(new_page, world, "desktop", "member")
    goto(page, world["base"] + "/polls")
    assert page.evaluate("() => document.documentElement.lang") == "en"
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).not_to_be_in_viewport()  # off screen until focused
    page.keyboard.press("Tab")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page.get_by_role("main")).to_be_focused()
    # landmarks: one banner, one main navigation, one main
    expect(page.get_by_role("banner")).to_have_count(1)
    expect(page.get_by_role("navigation", name="Main")).to_have_count(1)
    expect(page.get_by_role("main")).to_have_count(1)


def test_focus_ring_has_3_to_1_contrast_with_the_page(new_page, world):
    page = _open(new_page, world, "desktop", None)
    goto(page, world["base"] + "/login")
    button = page.get_by_role("button", name="Log in")
    button.focus()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")  # keyboard focus, so :focus-visible applies
    expect(button).to_be_focused()
    ring = button.evaluate("(el) => { const s = getComputedStyle(el); return [s.outlineStyle, s.outlineWidth, s.outlineColor]; }")
    assert ring[0] == "solid" and float(ring[1].rstrip("px")) >= 2, ring
    page_bg = page.evaluate("() => getComputedStyle(document.querySelector('.radix-themes')).backgroundColor")
    assert _contrast(ring[2], page_bg) >= 3, (ring, page_bg)


def _rgb(css: str) -> tuple[float, ...]:
    return tuple(float(x) for x in re.findall(r"[\d.]+", css)[:3])


def _contrast(a: str, b: str) -> float:
    def lum(rgb: tuple[float, ...]) -> float:
        c = [v / 255 for v in rgb]
        c = [v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4 for v in c]
        return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]
    hi, lo = sorted([lum(_rgb(a)), lum(_rgb(b))], reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_phone_navigation_is_one_row_behind_a_menu_button(new_page, world):
    page = _open(new_page, world, "phone", "member")
    goto(page, world["base"] + "/polls")
    header = page.get_by_role("banner")
    height = header.evaluate("(el) => el.getBoundingClientRect().height")
    assert height <= 70, f"the sticky header takes {height}px of the phone's 844px"
    expect(page.get_by_role("link", name="Dashboard")).to_have_count(0)  # behind the menu
    menu = page.get_by_role("button", name="Menu")
    expect(menu).to_have_attribute("aria-expanded", "false")
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Dashboard")).to_be_visible()
    expect(nav.get_by_role("button", name="Log out")).to_be_visible()
    a11y.assert_tap_targets(page, "the open phone menu", root=".site-menu")
    _check(page, "phone-menu-open", "phone")
    page.keyboard.press("Escape")
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(menu).to_be_focused()


def test_print_hides_navigation_and_buttons(new_page, world):
    page = _open(new_page, world, "desktop", "member")
    goto(page, f"{world['base']}/polls/{world['polls']['single']['id']}/results")
    expect(page.get_by_test_id("total-ballots")).to_have_text("1", timeout=UI_TIMEOUT)
    page.emulate_media(media="print")
    expect(page.get_by_role("banner")).to_be_hidden()
    expect(page.locator("main button:visible")).to_have_count(0)
    expect(page.get_by_test_id("total-ballots")).to_be_visible()
