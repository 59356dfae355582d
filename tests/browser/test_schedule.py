"""Schedules in the browser: opening and closing times in the viewer's time zone, the countdown,
pages that change state when a poll opens or closes (without a reload), the server refusing a
ballot sent after the close, and axe on every page that shows a schedule."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from tests.browser import a11y
from tests.browser.helpers import DESKTOP, PHONE, UI_TIMEOUT, goto, ui_login
from tests.browser.servers import ARTIFACTS

# The first test here may also wait for the app server to build (minutes on a loaded machine).
pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

# Screenshots of the pages with a schedule (test-artifacts/ is not tracked).
SHOTS = Path(os.environ.get("SCHEDULE_SHOTS", str(ARTIFACTS / "schedule")))
# Long enough for the pages to load on a loaded 2-core machine before the poll opens or closes
# (the closing test signs in three browsers and votes first).
OPEN_LEAD = timedelta(seconds=20)
CLOSE_LEAD = timedelta(seconds=45)
CROSSING_TIMEOUT = 60_000  # ms: the lead, plus the server's read of the poll, on a loaded machine


def _text(locator) -> str:
    # ICU puts narrow / no-break spaces around "AM"; compare with plain spaces.
    return re.sub(r"[\u202f\u00a0]", " ", locator.inner_text())


def _expected(when: datetime, zone: str) -> str:
    """How Chromium's en-US Intl.DateTimeFormat writes ``when`` in ``zone`` (without the zone name)."""
    local = when.astimezone(ZoneInfo(zone))
    hour = local.hour % 12 or 12
    return f"{local:%b} {local.day}, {local.year}, {hour}:{local:%M} {'AM' if local.hour < 12 else 'PM'}"


def _at(days: int, hour: int, minute: int) -> datetime:
    base = (datetime.now(UTC) + timedelta(days=days)).replace(hour=hour, minute=minute, second=0, microsecond=0)
    return base


def _no_reload_marker(page: Page) -> None:
    page.evaluate("() => { window.__sameDocument = true; }")


def _same_document(page: Page) -> bool:
    return page.evaluate("() => window.__sameDocument === true")


@pytest.mark.parametrize(
    ("zone", "zone_name"), [("America/New_York", re.compile(r"E[SD]T")), ("Asia/Tokyo", re.compile(r"GMT\+9"))]
)
def test_times_are_shown_in_the_viewers_time_zone(zone, zone_name, new_page, app_server, api):
    base = app_server.url
    owner = api.register("sched")
    # 15:30 / 21:45 UTC: a different calendar day in Tokyo than in New York.
    opens, closes = _at(2, 15, 30), _at(3, 21, 45)
    poll = api.create_poll(owner, opens_at=opens.isoformat(), closes_at=closes.isoformat())
    page = new_page(timezone_id=zone, locale="en-US")
    ui_login(page, base, owner)

    for path in (f"/polls/{poll['id']}", f"/polls/{poll['id']}/results"):
        goto(page, base + path)
        schedule = page.get_by_test_id("poll-schedule")
        expect(schedule).to_be_visible()
        expect(schedule).to_have_attribute("data-phase", "scheduled")
        shown_opens, shown_closes = _text(page.get_by_test_id("poll-opens")), _text(page.get_by_test_id("poll-closes"))
        assert shown_opens.startswith("Opens " + _expected(opens, zone)), (path, shown_opens)
        assert shown_closes.startswith("Closes " + _expected(closes, zone)), (path, shown_closes)
        assert zone_name.search(shown_opens), shown_opens
        # Two days out: the exact time says more than a countdown.
        expect(page.get_by_test_id("poll-countdown")).to_have_count(0)
    # The machine-readable instant is the same in every zone.
    assert page.locator("[data-testid=poll-opens] time").get_attribute("datetime") == opens.isoformat()


def test_a_poll_opening_while_shown_offers_its_ballot_without_a_reload(new_page, app_server, api):
    base = app_server.url
    owner, voter = api.register("opener"), api.register("early")
    opens = datetime.now(UTC) + OPEN_LEAD
    poll = api.create_poll(owner, opens_at=opens.isoformat(), closes_at=(opens + timedelta(hours=2)).isoformat())
    page = new_page()
    ui_login(page, base, voter)
    goto(page, f"{base}/polls/{poll['id']}")

    expect(page.locator("#vote-closed-reason")).to_have_text("This poll is not open yet.")
    expect(page.get_by_role("button", name="Submit vote")).to_have_count(0)
    countdown = page.get_by_test_id("poll-countdown")
    expect(countdown).to_contain_text(re.compile(r"opens in \d+ s"))
    # The ticking text is not a live region (it would talk every second).
    assert page.evaluate(
        "() => !document.querySelector('[data-testid=poll-countdown]').closest('[aria-live], [role=status]')"
    )
    _no_reload_marker(page)

    expect(page.get_by_role("button", name="Submit vote")).to_be_visible(timeout=CROSSING_TIMEOUT)
    assert datetime.now(UTC) >= opens - timedelta(seconds=1), "the ballot showed before the poll opened"
    assert _same_document(page), "the page was reloaded"
    expect(page.locator("#vote-closed-reason")).to_have_count(0)
    expect(page.get_by_test_id("poll-schedule")).to_have_attribute("data-phase", "open")
    expect(page.get_by_test_id("poll-schedule").get_by_role("status")).to_have_text("This poll is now open.")
    expect(page.get_by_test_id("poll-countdown")).to_contain_text(re.compile(r"closes in 1 h 59 min|closes in 2 h 0 min"))

    # The ballot works.
    page.get_by_label("Red", exact=True).check()
    page.get_by_role("button", name="Submit vote").click()
    expect(page.locator("#my-ballot")).to_have_text("Your ballot: Red", timeout=UI_TIMEOUT)


def test_a_poll_closing_while_shown_closes_its_pages_and_refuses_a_late_ballot(new_page, app_server, api):
    base = app_server.url
    owner, voter, late = api.register("closer"), api.register("ontime"), api.register("late")
    closes = datetime.now(UTC) + CLOSE_LEAD
    poll = api.create_poll(owner, closes_at=closes.isoformat())
    poll_id = poll["id"]

    ballot = new_page()
    ui_login(ballot, base, voter)
    goto(ballot, f"{base}/polls/{poll_id}")
    ballot.get_by_label("Green", exact=True).check()
    ballot.get_by_role("button", name="Submit vote").click()
    expect(ballot.locator("#my-ballot")).to_have_text("Your ballot: Green", timeout=UI_TIMEOUT)
    expect(ballot.get_by_test_id("poll-countdown")).to_contain_text(re.compile(r"closes in \d+ s"))

    results = new_page()
    ui_login(results, base, voter)
    goto(results, f"{base}/polls/{poll_id}/results")
    expect(results.get_by_test_id("winners")).to_have_text("Leading: Green", timeout=UI_TIMEOUT)

    # A browser whose clock is an hour behind: its page never sees the close by itself, so its
    # ballot reaches the server after the close.
    stale = new_page()
    stale.clock.install(time=datetime.now(UTC) - timedelta(hours=1))
    ui_login(stale, base, late)
    goto(stale, f"{base}/polls/{poll_id}")
    expect(stale.get_by_role("button", name="Submit vote")).to_be_visible()
    for page in (ballot, results, stale):
        _no_reload_marker(page)

    expect(ballot.locator("#vote-closed-reason")).to_have_text("This poll is closed.", timeout=CROSSING_TIMEOUT)
    assert datetime.now(UTC) >= closes - timedelta(seconds=1), "the ballot closed before its time"
    expect(ballot.get_by_role("button", name="Change vote")).to_have_count(0)
    expect(ballot.get_by_test_id("poll-schedule")).to_have_attribute("data-phase", "closed")
    expect(ballot.get_by_test_id("poll-closes")).to_contain_text("Closed ")
    expect(ballot.get_by_test_id("poll-schedule").get_by_role("status")).to_have_text("This poll is now closed.")
    # The results say final (the live push of the sealed poll).
    expect(results.get_by_test_id("winners")).to_have_text("Winner: Green", timeout=CROSSING_TIMEOUT)
    expect(results.get_by_test_id("poll-schedule")).to_have_attribute("data-phase", "closed")

    # The late browser still shows the ballot; the server refuses it, readably, and nothing is counted.
    expect(stale.get_by_test_id("poll-schedule")).to_have_attribute("data-phase", "open")
    stale.get_by_label("Red", exact=True).check()
    stale.get_by_role("button", name="Submit vote").click()
    expect(stale.get_by_role("alert")).to_contain_text("This poll is closed.", timeout=UI_TIMEOUT)
    expect(stale.locator("#vote-closed-reason")).to_have_text("This poll is closed.")
    assert api.get(f"/polls/{poll_id}/my-vote", late).status_code == 404
    body = api.get(f"/polls/{poll_id}/results", owner).json()
    assert body["total_ballots"] == 1, body
    for page in (ballot, results, stale):
        assert _same_document(page), "a page was reloaded"


def test_schedule_on_the_list_and_the_dashboard_and_no_axe_violations(new_page, app_server, api):
    base = app_server.url
    owner = api.register("schedlist")
    soon = datetime.now(UTC) + timedelta(hours=2, minutes=14, seconds=30)
    poll = api.create_poll(owner, opens_at=soon.isoformat(), closes_at=(soon + timedelta(days=5)).isoformat())
    SHOTS.mkdir(parents=True, exist_ok=True)
    running = api.create_poll(owner, closes_at=(datetime.now(UTC) + timedelta(minutes=30)).isoformat())

    for viewport, width in ((DESKTOP, "1280"), (PHONE, "390")):
        page = new_page(viewport, timezone_id="Europe/Berlin")
        ui_login(page, base, owner)

        goto(page, base + "/dashboard")
        card = page.get_by_role("heading", name=poll["title"], exact=True).locator("xpath=ancestor::*[contains(@class,'rt-Card')][1]")
        expect(card.get_by_test_id("poll-countdown")).to_have_text(re.compile(r"· opens in 2 h 1[34] min"))
        expect(card.get_by_test_id("poll-opens")).to_contain_text(_expected(soon, "Europe/Berlin").split(",")[0])
        _check(page, f"dashboard/{width}")

        goto(page, base + "/polls")
        page.get_by_label("Search polls").fill(poll["title"])
        card = page.get_by_role("heading", name=poll["title"], exact=True).locator("xpath=ancestor::*[contains(@class,'rt-Card')][1]")
        expect(card.get_by_test_id("poll-schedule")).to_be_visible()
        expect(card.get_by_test_id("poll-countdown")).to_contain_text("opens in 2 h")
        _check(page, f"polls/{width}")
        page.screenshot(path=f"{SHOTS}/polls-{width}.png", full_page=True)

        goto(page, f"{base}/polls/{poll['id']}")
        expect(page.get_by_test_id("poll-countdown")).to_contain_text("opens in 2 h")
        _check(page, f"vote-scheduled/{width}")
        page.screenshot(path=f"{SHOTS}/vote-scheduled-{width}.png", full_page=True)

        goto(page, f"{base}/polls/{running['id']}")
        expect(page.get_by_test_id("poll-countdown")).to_contain_text(re.compile(r"closes in (29|30) min"))
        _check(page, f"vote-open/{width}")
        page.screenshot(path=f"{SHOTS}/vote-open-{width}.png", full_page=True)

        goto(page, f"{base}/polls/{running['id']}/results")
        expect(page.get_by_test_id("poll-schedule")).to_be_visible()
        _check(page, f"results/{width}")
        page.screenshot(path=f"{SHOTS}/results-{width}.png", full_page=True)

        goto(page, base + "/dashboard")
        expect(page.get_by_test_id("poll-schedule").first).to_be_visible()
        page.screenshot(path=f"{SHOTS}/dashboard-{width}.png", full_page=True)


def _check(page: Page, context: str) -> None:
    expect(page.get_by_role("status").filter(has_text="Loading…")).to_have_count(0, timeout=UI_TIMEOUT)
    page.evaluate("() => document.fonts.ready")
    a11y.assert_no_violations(page, context)
    if context.endswith("/390"):
        assert not a11y.small_targets(page, root="main"), a11y.small_targets(page, root="main")
