"""The ranked ballot by drag and drop (components/ranking.py, assets/ranking.jsx): keyboard,
mouse, touch and the move buttons reorder it, screen readers hear each move, the order is what
the server stores, and the rank menus remain as a fallback."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser import a11y
from tests.browser.helpers import DESKTOP, PHONE, UI_TIMEOUT, goto, ui_login
from tests.browser.servers import ARTIFACTS

pytestmark = pytest.mark.browser

OPTIONS = ["Tomatoes", "Beans", "Squash"]


def _open_ballot(new_page, app_server, api, method: str = "irv", **context: Any) -> tuple[Page, Any, dict, dict]:
    owner, voter = api.register("owner"), api.register("voter")
    poll = api.create_poll(owner, options=OPTIONS, method=method)
    page = new_page(**context)
    ui_login(page, app_server.url, voter)
    goto(page, f"{app_server.url}/polls/{poll['id']}")
    expect(page.locator(".commons-rank-list")).to_be_visible(timeout=UI_TIMEOUT)
    # The list is drawn before the page's state has arrived; a keyboard drag begun in that moment
    # was lost on a loaded machine (the re-render on hydration), so start once it has arrived.
    page.wait_for_function(
        """() => window.__e2e.messages.some((m) => m.includes('"is_hydrated_rx_state_":true'))""",
        timeout=UI_TIMEOUT,
    )
    return page, voter, poll, {o["text"]: o["id"] for o in poll["options"]}


def _picked_up(page: Page, live: Locator, text: str) -> None:
    """Wait for the pick-up announcement, then for the page's pending timers: dnd-kit starts
    listening for the next key in a timer set at the pick-up (a key sent before it is lost, which
    a person, who hears the announcement first, never meets)."""
    expect(live).to_have_text(text)
    page.evaluate("() => new Promise((resolve) => setTimeout(resolve, 50))")


def _handle(page: Page, option: str) -> Locator:
    return page.locator(".commons-rank-handle", has_text=option)


def _order(page: Page) -> list[str]:
    """The list top to bottom: option texts, and "|" for the line between ranked and unranked."""
    return page.locator(".commons-rank-list > li").evaluate_all(
        "els => els.map(e => e.id === 'unranked-line' ? '|' : e.querySelector('.commons-rank-handle > span').textContent)"
    )


def _hidden_ranks(page: Page, ids: dict[str, int]) -> dict[str, str]:
    return {text: page.locator(f'input[type=hidden][name="rank-{oid}"]').input_value() for text, oid in ids.items()}


def _stored_ranking(api, poll: dict, voter) -> list[int]:
    mine = api.get(f"/polls/{poll['id']}/my-vote", voter)
    assert mine.status_code == 200, mine.text
    return mine.json()["ranking"]


def _shoot(page: Page, slug: str) -> None:
    """A picture for people (test-artifacts/screenshots, git-ignored); fails if a phone must scroll sideways."""
    page.evaluate("() => document.fonts.ready.then(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))))")
    (ARTIFACTS / "screenshots").mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "screenshots" / f"{slug}.png"), full_page=True, animations="disabled")
    assert page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth") <= 0, f"{slug}: too wide"


def _drag(page: Page, source: Locator, target: Locator) -> None:
    """Mouse drag of ``source``'s handle until its row's centre is over ``target``'s, in steps."""
    row = page.locator("li", has=source)
    start, box, end = source.bounding_box(), row.bounding_box(), target.bounding_box()
    assert start and box and end
    x, y = start["x"] + 20, start["y"] + start["height"] / 2
    shift = (end["y"] + end["height"] / 2) - (box["y"] + box["height"] / 2)
    page.mouse.move(x, y)
    page.mouse.down()
    for i in range(1, 13):
        page.mouse.move(x, y + shift * i / 12)
        page.wait_for_timeout(16)
    page.mouse.up()


def test_keyboard_and_move_buttons_rank_and_the_moves_are_announced(new_page, app_server, api):
    page, voter, poll, ids = _open_ballot(new_page, app_server, api)
    # A new ballot ranks nothing: every option waits below the line.
    assert _order(page) == ["|", *OPTIONS]
    assert set(_hidden_ranks(page, ids).values()) == {""}
    live = page.locator("[id^='DndLiveRegion']")

    # Keyboard only: pick Beans up, two steps up (past Tomatoes, past the line), drop.
    beans = _handle(page, "Beans")
    beans.focus()
    page.keyboard.press("Space")
    _picked_up(page, live, "Picked up Beans, not ranked.")
    page.keyboard.press("ArrowUp")
    expect(live).to_have_text("Beans moved: not ranked.")
    page.keyboard.press("ArrowUp")
    expect(live).to_have_text("Beans moved: rank 1 of 1.")
    page.keyboard.press("Space")
    expect(live).to_have_text("Beans dropped: rank 1 of 1.")
    assert _order(page) == ["Beans", "|", "Tomatoes", "Squash"]

    # The buttons: Tomatoes up crosses the line (rank 2), and says so in the page's status region.
    page.get_by_role("button", name="Move Tomatoes up").click()
    assert _order(page) == ["Beans", "Tomatoes", "|", "Squash"]
    expect(page.locator("#ranking-status")).to_have_text("Tomatoes moved: rank 2 of 2.")
    # The first option cannot go higher: the button says so and does nothing.
    up = page.get_by_role("button", name="Move Beans up")
    expect(up).to_have_attribute("aria-disabled", "true")
    up.dispatch_event("click")
    assert _order(page) == ["Beans", "Tomatoes", "|", "Squash"]

    # The brief's sequence: focus a handle, Space, ArrowDown, Space.
    beans.focus()
    page.keyboard.press("Space")
    _picked_up(page, live, "Picked up Beans, rank 1 of 2.")
    page.keyboard.press("ArrowDown")
    expect(live).to_have_text("Beans moved: rank 2 of 2.")
    page.keyboard.press("Space")
    expect(live).to_have_text("Beans dropped: rank 2 of 2.")
    assert _order(page) == ["Tomatoes", "Beans", "|", "Squash"]
    assert _hidden_ranks(page, ids) == {"Tomatoes": "1", "Beans": "2", "Squash": ""}
    expect(beans).to_be_focused()

    # Escape cancels a move.
    # (each key after the announcement of the one before, as a person hears it: dnd-kit listens
    # for the next key only from a moment after the pick-up)
    _handle(page, "Squash").focus()
    page.keyboard.press("Space")
    _picked_up(page, live, "Picked up Squash, not ranked.")
    page.keyboard.press("ArrowUp")
    expect(live).to_have_text("Squash moved: rank 3 of 3.")  # over the line
    page.keyboard.press("Escape")
    expect(live).to_have_text("Moving Squash was cancelled: not ranked.")
    assert _order(page) == ["Tomatoes", "Beans", "|", "Squash"]

    page.get_by_role("button", name="Submit vote").click()
    expect(page.locator("#my-ballot")).to_have_text("Your ballot: Tomatoes > Beans", timeout=UI_TIMEOUT)
    assert _stored_ranking(api, poll, voter) == [ids["Tomatoes"], ids["Beans"]]
    # The page comes back with the stored ranking.
    assert _order(page) == ["Tomatoes", "Beans", "|", "Squash"]

    # Move Beans down twice: below the line (unranked again), then the change is stored.
    page.get_by_role("button", name="Move Beans down").click()
    expect(page.locator("#ranking-status")).to_have_text("Beans moved: not ranked.")
    page.get_by_role("button", name="Change vote").click()
    expect(page.locator("#my-ballot")).to_have_text("Your ballot: Tomatoes", timeout=UI_TIMEOUT)
    assert _stored_ranking(api, poll, voter) == [ids["Tomatoes"]]


def test_mouse_drag_reorders_and_submits(new_page, app_server, api):
    page, voter, poll, ids = _open_ballot(new_page, app_server, api, method="borda")
    # Squash onto the line's upper edge: ranked first.
    _drag(page, _handle(page, "Squash"), page.locator("#unranked-line"))
    expect(page.locator("li[data-rank='1']")).to_contain_text("Squash")
    assert _order(page) == ["Squash", "|", "Tomatoes", "Beans"]
    # Beans to the top, onto Squash.
    _drag(page, _handle(page, "Beans"), page.locator("li", has=_handle(page, "Squash")))
    expect(page.locator("li[data-rank='1']")).to_contain_text("Beans")
    assert _order(page) == ["Beans", "Squash", "|", "Tomatoes"]
    page.get_by_role("button", name="Submit vote").click()
    expect(page.locator("#my-ballot")).to_have_text("Your ballot: Beans > Squash", timeout=UI_TIMEOUT)
    assert _stored_ranking(api, poll, voter) == [ids["Beans"], ids["Squash"]]


def test_touch_drag_on_a_phone(new_page, app_server, api):
    page, voter, poll, ids = _open_ballot(new_page, app_server, api, viewport=PHONE, has_touch=True, is_mobile=True)
    cdp = page.context.new_cdp_session(page)
    box = _handle(page, "Beans").bounding_box()
    line = page.locator("#unranked-line").bounding_box()
    assert box and line
    x, y = box["x"] + 20, box["y"] + box["height"] / 2

    def touch(kind: str, ty: float) -> None:
        points = [] if kind == "touchEnd" else [{"x": x, "y": ty}]
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    touch("touchStart", y)
    target = line["y"] + 2
    for i in range(1, 16):
        touch("touchMove", y + (target - y) * i / 15)
        page.wait_for_timeout(20)
    touch("touchEnd", target)
    expect(page.locator("li[data-rank='1']")).to_contain_text("Beans")
    assert _order(page) == ["Beans", "|", "Tomatoes", "Squash"]
    page.get_by_role("button", name="Submit vote").click()
    expect(page.locator("#my-ballot")).to_have_text("Your ballot: Beans", timeout=UI_TIMEOUT)
    assert _stored_ranking(api, poll, voter) == [ids["Beans"]]


def test_the_rank_menus_remain_as_a_fallback(new_page, app_server, api):
    page, voter, poll, ids = _open_ballot(new_page, app_server, api, method="schulze")
    page.get_by_role("button", name="Move Tomatoes up").click()
    page.get_by_role("button", name="Use menus instead").click()
    expect(page.locator(".commons-rank-list")).to_have_count(0)
    # The unsaved order comes along into the menus.
    expect(page.get_by_label("Tomatoes", exact=True)).to_have_value("1")
    expect(page.get_by_label("Squash", exact=True)).to_have_value("")
    page.get_by_label("Squash", exact=True).select_option("1")
    page.get_by_label("Tomatoes", exact=True).select_option("2")
    page.get_by_role("button", name="Submit vote").click()
    expect(page.locator("#my-ballot")).to_have_text("Your ballot: Squash > Tomatoes", timeout=UI_TIMEOUT)
    assert _stored_ranking(api, poll, voter) == [ids["Squash"], ids["Tomatoes"]]
    # The choice of menus is remembered; and back: the list shows the stored ranking.
    page.get_by_label("Beans", exact=True).select_option("3")
    page.get_by_role("button", name="Use drag and drop instead").click()
    assert _order(page) == ["Squash", "Tomatoes", "Beans", "|"]


def test_tampered_hidden_ranks_are_refused_by_the_server(new_page, app_server, api):
    """The list decides nothing: a page script that gives two options rank 1 gets the server's
    message and no ballot."""
    page, voter, poll, ids = _open_ballot(new_page, app_server, api)
    page.get_by_role("button", name="Move Tomatoes up").click()
    page.evaluate(
        "ids => ids.forEach(id => { document.querySelector(`input[name='rank-${id}']`).value = '1'; })",
        [ids["Tomatoes"], ids["Beans"]],
    )
    page.get_by_role("button", name="Submit vote").click()
    expect(page.get_by_role("alert")).to_contain_text("Each rank can be given to one option only.", timeout=UI_TIMEOUT)
    assert api.get(f"/polls/{poll['id']}/my-vote", voter).status_code == 404


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "390"])
def test_ranked_ballot_accessibility(new_page, app_server, api, viewport):
    page, _voter, _poll, _ids = _open_ballot(new_page, app_server, api, viewport=viewport)
    for _ in range(3):  # past Beans, Tomatoes and the line
        page.get_by_role("button", name="Move Squash up").click()
    expect(page.locator("li[data-rank='1']")).to_contain_text("Squash")
    _shoot(page, f"ranking-{viewport['width']}")
    a11y.assert_no_violations(page, f"ranked ballot at {viewport['width']} px")
    if viewport == PHONE:
        a11y.assert_tap_targets(page, "ranked ballot on a phone", root=".commons-ranking")
    page.get_by_role("button", name="Use menus instead").click()
    expect(page.get_by_label("Squash", exact=True)).to_be_visible()
    _shoot(page, f"ranking-menus-{viewport['width']}")
    a11y.assert_no_violations(page, f"rank menus at {viewport['width']} px")
    if viewport == PHONE:
        a11y.assert_tap_targets(page, "rank menus on a phone", root=".commons-ranking")
