"""``/polls/[poll_id]/present``: the results projected in a room.

It follows the results page's rules for the presenter and, beyond them, the room's: whoever reads
a projector has neither voted nor manages the poll (``services.polls.room_refusal``). The attack
tests open the page as someone the results page refuses (hidden until closed, a private poll, an
anonymous poll below its threshold) and as an owner whose poll hides its results from voters, and
check that neither the page nor any socket message shows what it must not.
"""

from __future__ import annotations

import io
import re
import time
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser import a11y
from tests.browser.helpers import DESKTOP, PHONE, Api, User, goto, ui_login
from tests.browser.servers import ARTIFACTS

pytestmark = pytest.mark.browser

PROJECTOR = {"width": 1920, "height": 1080}
SHOTS = ARTIFACTS / "screenshots"
QUIET_SECONDS = 3.0  # the push window is 0.25 s: a push would be here by far


def _present(page: Page, base: str, poll: dict[str, Any]) -> None:
    goto(page, f"{base}/polls/{poll['id']}/present")


def _vote(api: Api, voter: User, poll: dict[str, Any], index: int = 0) -> None:
    response = api.client.post("/votes/", json={"poll_id": poll["id"], "option_id": poll["options"][index]["id"]},
                               headers=voter.headers)
    assert response.status_code == 201, response.text


def _patch(api: Api, owner: User, poll: dict[str, Any], **changes: Any) -> None:
    response = api.client.patch(f"/polls/{poll['id']}", json=changes, headers=owner.headers)
    assert response.status_code == 200, response.text


def _messages(page: Page, after: int = 0) -> list[str]:
    return page.evaluate("(after) => window.__e2e.messages.slice(after)", after)


def _tally_messages(page: Page, after: int = 0) -> list[str]:
    """Socket messages after ``after`` that carry a ballot count (a tally pushed or sent)."""
    return [m for m in _messages(page, after) if "total_ballots" in m and '"total_ballots_rx_state_":0' not in m]


def _decode_qr(page: Page) -> str:
    import zxingcpp
    from PIL import Image

    png = page.get_by_test_id("share-qr").screenshot()
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert found, "no QR code found on the presentation page"
    return found[0].text


def _shoot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("() => document.fonts.ready.then(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))))")
    page.screenshot(path=str(SHOTS / f"present-{name}.png"), full_page=True, animations="disabled")


def test_presenter_updates_live_shows_how_to_join_and_the_final_result(new_page, app_server, api):
    base = app_server.url
    owner, viewer, voter, other = api.register("owner"), api.register("viewer"), api.register("voter"), api.register("voter")
    poll = api.create_poll(owner, title="Which day suits the assembly?", options=["Tuesday", "Thursday", "Saturday"])
    page = new_page(PROJECTOR)
    ui_login(page, base, viewer)  # a voter who may see live results may project them
    _present(page, base, poll)
    expect(page.get_by_role("heading", level=1)).to_have_text("Which day suits the assembly?")
    expect(page.get_by_test_id("present-ballots")).to_have_text("0 ballots")

    link = f"{base}/polls/{poll['id']}"
    expect(page.get_by_test_id("share-link")).to_have_text(link)
    expect(page.get_by_test_id("join-code")).to_have_text(poll["join_code"])
    assert page.get_by_test_id("share-qr").evaluate("e => e.tagName") in ("IMG", "svg")
    assert _decode_qr(page) == link
    expect(page.get_by_text(f"Or go to {base}/join and enter the code")).to_be_visible()

    _vote(api, voter, poll, 1)  # another user votes: the screen follows without a reload
    expect(page.get_by_test_id("present-ballots")).to_have_text("1 ballot")
    expect(page.get_by_test_id(f"present-value-{poll['options'][1]['id']}")).to_have_text("1")
    expect(page.get_by_test_id("present-summary")).to_have_text("Thursday is leading with 1 of 1 ballot (100%) so far.")
    _vote(api, other, poll, 1)
    expect(page.get_by_test_id("present-ballots")).to_have_text("2 ballots")
    expect(page.get_by_test_id("present-final")).to_have_count(0)
    _shoot(page, "1920-projector")

    response = api.client.post(f"/polls/{poll['id']}/close", headers=owner.headers)
    assert response.status_code == 200, response.text
    expect(page.get_by_test_id("present-final")).to_have_text("Final result")
    expect(page.get_by_test_id("present-summary")).to_have_text("Final result: Thursday won with 2 of 2 ballots (100%).")
    expect(page.get_by_test_id("join-code")).to_have_count(0)  # nothing left to join
    _shoot(page, "1920-projector-final")


def test_results_page_and_dashboard_link_to_the_presentation(new_page, app_server, api):
    base = app_server.url
    owner = api.register("owner")
    poll = api.create_poll(owner)
    page = new_page()
    ui_login(page, base, owner)
    goto(page, f"{base}/polls/{poll['id']}/results")
    page.get_by_role("link", name="Present these results full screen").click()
    expect(page).to_have_url(re.compile(re.escape(f"{base}/polls/{poll['id']}/present")))
    expect(page.get_by_test_id("present-ballots")).to_have_text("0 ballots")
    page.get_by_role("link", name="Back").click()
    expect(page).to_have_url(re.compile(re.escape(f"{base}/polls/{poll['id']}/results")))
    goto(page, f"{base}/dashboard")
    card = page.locator(".rt-Card").filter(has_text=poll["title"])
    expect(card.get_by_role("link", name="Present")).to_have_attribute("href", f"/polls/{poll['id']}/present")


def test_full_screen_button_enters_full_screen_and_escape_leaves(new_page, app_server, api):
    base = app_server.url
    owner = api.register("owner")
    poll = api.create_poll(owner)
    page = new_page()
    ui_login(page, base, owner)
    _present(page, base, poll)
    page.get_by_role("button", name="Full screen").click()
    page.wait_for_function("() => document.fullscreenElement === document.documentElement")
    expect(page.get_by_role("button", name="Full screen")).to_be_hidden()  # no chrome on the projector
    page.keyboard.press("Escape")
    page.evaluate("() => document.fullscreenElement && document.exitFullscreen()")  # headless ignores the key
    page.wait_for_function("() => document.fullscreenElement === null")
    expect(page.get_by_role("button", name="Full screen")).to_be_visible()


def _refused_alike(new_page: Any, base: str, user: User, poll: dict[str, Any]) -> tuple[Page, str]:
    """The user's results page and presentation page: (the presentation page, its refusal)."""
    page = new_page()
    ui_login(page, base, user)
    goto(page, f"{base}/polls/{poll['id']}/results")
    hidden = page.locator("#results-hidden")
    expect(hidden).to_be_visible()
    said = hidden.inner_text().strip()
    _present(page, base, poll)
    expect(page.get_by_test_id("present-refusal")).to_have_text(said)
    return page, said


def test_attack_viewer_of_a_poll_hidden_until_closed_is_refused_as_on_the_results_page(new_page, app_server, api):
    base = app_server.url
    owner, viewer, voter = api.register("owner"), api.register("viewer"), api.register("voter")
    poll = api.create_poll(owner, options=["Yes", "No"], results_visibility="after_close")
    _vote(api, voter, poll)
    page, said = _refused_alike(new_page, base, viewer, poll)
    assert said == "Results are shown once the poll closes."
    after = len(_messages(page))
    _vote(api, viewer, poll)
    time.sleep(QUIET_SECONDS)
    expect(page.get_by_test_id("present-ballots")).to_have_count(0)
    assert not _tally_messages(page, after), "a tally reached a refused presentation page"


def test_attack_owner_cannot_project_what_the_poll_hides_from_its_voters(new_page, app_server, api):
    """The owner may see results hidden until the poll closes; a room may not: the projector
    refuses them until closing, then shows the final result by itself."""
    base = app_server.url
    owner, voter = api.register("owner"), api.register("voter")
    poll = api.create_poll(owner, options=["Yes", "No"], results_visibility="after_close")
    _vote(api, voter, poll)
    page = new_page()
    ui_login(page, base, owner)
    goto(page, f"{base}/polls/{poll['id']}/results")
    expect(page.get_by_test_id("total-ballots")).to_have_text("1")  # the owner's own right
    _present(page, base, poll)
    expect(page.get_by_test_id("present-refusal")).to_have_text("Results are shown once the poll closes.")
    expect(page.get_by_test_id("join-code")).to_have_text(poll["join_code"])  # the room may still join
    expect(page.get_by_test_id("present-ballots")).to_have_count(0)
    assert not _tally_messages(page), "the owner's tally reached the projected page"
    response = api.client.post(f"/polls/{poll['id']}/close", headers=owner.headers)
    assert response.status_code == 200, response.text
    # No reload: the projector asks again every few seconds and shows the final result.
    expect(page.get_by_test_id("present-final")).to_have_text("Final result")
    expect(page.get_by_test_id("present-ballots")).to_have_text("1 ballot")


@pytest.mark.parametrize("rule", ["after_vote", "creator"])
def test_attack_owner_and_voter_cannot_project_results_a_room_may_not_see(rule, new_page, app_server, api):
    base = app_server.url
    owner, voter = api.register("owner"), api.register("voter")
    poll = api.create_poll(owner, options=["Yes", "No"], results_visibility=rule)
    _vote(api, voter, poll)
    for who in (owner, voter):  # the owner always may, the voter has voted: neither may project
        page = new_page()
        ui_login(page, base, who)
        _present(page, base, poll)
        expect(page.get_by_test_id("present-refusal")).to_be_visible()
        expect(page.get_by_test_id("present-ballots")).to_have_count(0)
        assert not _tally_messages(page), f"{rule}: a tally reached the projected page"


def test_attack_owner_hiding_results_while_projecting_stops_the_projector(new_page, app_server, api):
    """The owner keeps the right to see results hidden from voters, so only the room's rule can
    take a projected page out of the live pushes when the results rule changes."""
    base = app_server.url
    owner, voters = api.register("owner"), [api.register("voter") for _ in range(2)]
    poll = api.create_poll(owner, options=["Yes", "No"])
    page = new_page()
    ui_login(page, base, owner)
    _present(page, base, poll)
    _vote(api, voters[0], poll)
    expect(page.get_by_test_id("present-ballots")).to_have_text("1 ballot")
    # After the first ballot the results rule is fixed: the ballot is retracted, so the owner may
    # change it again (the projector still receives pushes: it shows 0).
    response = api.client.delete(f"/polls/{poll['id']}/my-vote", headers=voters[0].headers)
    assert response.status_code == 204, response.text
    expect(page.get_by_test_id("present-ballots")).to_have_text("0 ballots")
    _patch(api, owner, poll, results_visibility="after_close")
    expect(page.get_by_test_id("present-refusal")).to_have_text("Results are shown once the poll closes.")
    after = len(_messages(page))
    _vote(api, voters[1], poll)
    time.sleep(QUIET_SECONDS)
    carried = [m for m in _messages(page, after) if '"total_ballots_rx_state_":1' in m]
    assert not carried, f"a push reached the projector after the results were hidden: {carried[0][:300]}"


def test_attack_outsider_of_a_private_poll_is_refused_as_on_the_results_page(new_page, app_server, api):
    base = app_server.url
    owner, outsider, member = api.register("owner"), api.register("outsider"), api.register("member")
    poll = api.create_poll(owner, title="Private board vote", options=["Yes", "No"], visibility="private")
    response = api.client.put(f"/polls/{poll['id']}/voters", json={"voters": [{"username": member.username}]},
                              headers=owner.headers)
    assert response.status_code == 200, response.text
    _vote(api, member, poll)
    page = new_page()
    ui_login(page, base, outsider)
    goto(page, f"{base}/polls/{poll['id']}/results")
    expect(page.get_by_text("Poll not found, or you may not see it.")).to_be_visible()
    _present(page, base, poll)
    expect(page.get_by_test_id("present-refusal")).to_have_text("Poll not found, or you may not see it.")
    body = page.locator("body").inner_text()
    assert "Private board vote" not in body and poll["join_code"] not in body
    assert not _tally_messages(page) and not [m for m in _messages(page) if poll["join_code"] in m]
    # A member on the roll may project it (its results are live).
    page = new_page()
    ui_login(page, base, member)
    _present(page, base, poll)
    expect(page.get_by_test_id("present-ballots")).to_have_text("1 ballot")


def test_attack_anonymous_poll_below_its_threshold_shows_no_ballot_on_the_projector(new_page, app_server, api):
    base = app_server.url
    owner = api.register("owner")
    voters = [api.register("voter") for _ in range(3)]
    poll = api.create_poll(owner, options=["Yes", "No"], anonymous=True, anonymity_threshold=3)
    page = new_page()
    ui_login(page, base, owner)  # even the owner: the room sees the snapshot, never a single ballot
    _present(page, base, poll)
    expect(page.get_by_test_id("present-summary")).to_have_text("No results yet")
    after = len(_messages(page))
    _vote(api, voters[0], poll, 0)
    _vote(api, voters[1], poll, 1)
    time.sleep(QUIET_SECONDS)
    expect(page.get_by_test_id("present-ballots")).to_have_text("0 ballots")
    moved = [m for m in _messages(page, after) if re.search(r'"total_ballots_rx_state_":[12]\b', m)]
    assert not moved, f"a ballot below the threshold reached the projector: {moved[0][:300]}"
    _present(page, base, poll)  # a reload shows no more than the pushes did
    expect(page.get_by_test_id("present-ballots")).to_have_text("0 ballots")
    _vote(api, voters[2], poll, 0)  # the threshold is reached: the next step shows all three
    expect(page.get_by_test_id("present-ballots")).to_have_text("3 ballots")


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_presentation_page_is_accessible(size, new_page, app_server, api):
    base = app_server.url
    owner, voter = api.register("owner"), api.register("voter")
    poll = api.create_poll(owner, title="Where should the next meeting be held?",
                           options=["The library", "The community hall", "Online"])
    _vote(api, voter, poll, 1)
    page = new_page(DESKTOP if size == "desktop" else PHONE)
    ui_login(page, base, owner)
    _present(page, base, poll)
    expect(page.get_by_test_id("present-ballots")).to_have_text("1 ballot")
    expect(page.get_by_test_id("share-qr")).to_be_visible()
    a11y.assert_no_violations(page, f"present/{size}")
    a11y.assert_tap_targets(page, f"present/{size}")
    too_wide = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert too_wide <= 0, f"the page is {too_wide}px wider than the window"
    _shoot(page, "1280" if size == "desktop" else "390")
    # The refusal state too.
    hidden = api.create_poll(owner, options=["Yes", "No"], results_visibility="after_close")
    _present(page, base, hidden)
    expect(page.get_by_test_id("present-refusal")).to_be_visible()
    a11y.assert_no_violations(page, f"present-refused/{size}")
    _shoot(page, ("1280" if size == "desktop" else "390") + "-refused")
