"""Creating a poll through /polls/new: refusals beside the field save nothing; a good poll is listed."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import UI_TIMEOUT, at, goto, ui_login

pytestmark = pytest.mark.browser


def test_create_poll_form_refuses_bad_input_and_lists_the_poll(new_page, app_server, api):
    base = app_server.url
    creator = api.register("creator")
    page = new_page()
    ui_login(page, base, creator)
    goto(page, base + "/polls/new")
    expect(page.get_by_role("heading", name="New poll")).to_be_visible()

    title = page.get_by_label("Title", exact=True)
    option1 = page.get_by_label("Option 1", exact=True)
    option2 = page.get_by_label("Option 2", exact=True)
    create = page.get_by_role("button", name="Create poll")

    # An empty title: refused beside the title field.
    option1.fill("Tea")
    option2.fill("Coffee")
    create.click()
    expect(page.locator("#title-error")).to_have_text("Title must not be empty.", timeout=UI_TIMEOUT)
    expect(page).to_have_url(at(base, "/polls/new"))

    # Duplicate options (case does not make them different): refused beside the options.
    poll_title = f"Morning drink {secrets.token_hex(3)}"
    title.fill(poll_title)
    option2.fill("tea")
    create.click()
    expect(page.locator("#options-error")).to_contain_text("Options must be distinct", timeout=UI_TIMEOUT)
    expect(page.locator("#title-error")).to_have_count(0)
    expect(page).to_have_url(at(base, "/polls/new"))

    # Nothing was saved by either attempt.
    assert api.my_polls(creator) == []

    # Fix it, add a third option, and create: the browser lands on the new poll's ballot.
    option2.fill("Coffee")
    page.get_by_role("button", name="Add option").click()
    page.get_by_label("Option 3", exact=True).fill("Cocoa")
    create.click()
    expect(page).to_have_url(re.compile(re.escape(base) + r"/polls/[A-Za-z0-9_-]{22,}$"), timeout=UI_TIMEOUT)
    poll_id = page.url.rstrip("/").rsplit("/", 1)[1]
    expect(page.get_by_role("heading", name=poll_title, exact=True)).to_be_visible()
    for text in ("Tea", "Coffee", "Cocoa"):
        expect(page.get_by_label(text, exact=True)).to_be_visible()

    # Exactly one poll was saved, as typed.
    saved = api.my_polls(creator)
    assert [p["id"] for p in saved] == [poll_id]
    assert saved[0]["title"] == poll_title
    assert [o["text"] for o in saved[0]["options"]] == ["Tea", "Coffee", "Cocoa"]
    assert saved[0]["status"] == "open" and saved[0]["method"] == "single"

    # It is listed on /polls (found by its title) ...
    page.get_by_role("navigation").get_by_role("link", name="Polls").click()
    expect(page).to_have_url(at(base, "/polls"), timeout=UI_TIMEOUT)
    page.get_by_placeholder("Search by title…").fill(poll_title)
    expect(page.get_by_role("heading", name=poll_title, exact=True)).to_be_visible()
    expect(page.get_by_role("heading", level=2)).to_have_count(1)

    # ... and on the creator's dashboard, with its turnout.
    page.get_by_role("navigation").get_by_role("link", name="Dashboard").click()
    expect(page).to_have_url(at(base, "/dashboard"), timeout=UI_TIMEOUT)
    expect(page.locator(".dashboard-poll").filter(has_text=poll_title)).to_have_count(1)
    expect(page.get_by_test_id(f"dashboard-ballots-{poll_id}")).to_have_text("0 ballots")


def test_poll_times_are_read_in_the_browsers_time_zone(new_page, app_server, api):
    """A time typed into the form means the browser's wall-clock time, not UTC."""
    base = app_server.url
    creator = api.register("tz")
    page = new_page(timezone_id="Asia/Tokyo")  # UTC+9 all year
    ui_login(page, base, creator)
    goto(page, base + "/polls/new")
    expect(page.get_by_text("Times are in your time zone: Asia/Tokyo")).to_be_visible(timeout=UI_TIMEOUT)

    title = f"Scheduled {secrets.token_hex(3)}"
    page.get_by_label("Title", exact=True).fill(title)
    page.get_by_label("Option 1", exact=True).fill("Early")
    page.get_by_label("Option 2", exact=True).fill("Late")
    page.get_by_label("Opens at", exact=True).fill("2030-01-15T10:00")
    page.get_by_label("Closes at", exact=True).fill("2030-01-16T10:00")
    page.get_by_role("button", name="Create poll").click()
    expect(page).to_have_url(re.compile(re.escape(base) + r"/polls/[A-Za-z0-9_-]{22,}$"), timeout=UI_TIMEOUT)
    expect(page.locator("#vote-closed-reason")).to_have_text("This poll is not open yet.")

    (saved,) = api.my_polls(creator)
    assert saved["title"] == title and saved["status"] == "scheduled"
    assert datetime.fromisoformat(saved["opens_at"]) == datetime(2030, 1, 15, 1, 0, tzinfo=UTC)
    assert datetime.fromisoformat(saved["closes_at"]) == datetime(2030, 1, 16, 1, 0, tzinfo=UTC)


def test_an_anonymous_poll_takes_its_threshold_from_the_form(new_page, app_server, api):
    base = app_server.url
    creator = api.register("secret")
    page = new_page()
    ui_login(page, base, creator)
    goto(page, base + "/polls/new")
    poll_title = f"Secret ballot {secrets.token_hex(3)}"
    page.get_by_label("Title", exact=True).fill(poll_title)
    page.get_by_label("Option 1", exact=True).fill("Yes")
    page.get_by_label("Option 2", exact=True).fill("No")
    expect(page.get_by_label("Anonymity threshold")).to_have_count(0)  # only for anonymous polls
    page.locator("#anonymous").click()
    threshold = page.get_by_label("Anonymity threshold")
    expect(threshold).to_have_value("5")
    threshold.fill("1")  # below the minimum: refused beside the field, nothing saved
    page.get_by_role("button", name="Create poll").click()
    expect(page.locator("#anonymity_threshold-error")).to_contain_text("from 2 to 1000", timeout=UI_TIMEOUT)
    assert api.my_polls(creator) == []
    threshold.fill("7")
    page.get_by_role("button", name="Create poll").click()
    expect(page).to_have_url(re.compile(re.escape(base) + r"/polls/[A-Za-z0-9_-]{22,}$"), timeout=UI_TIMEOUT)
    (saved,) = api.my_polls(creator)
    assert saved["title"] == poll_title and saved["anonymous"] and saved["anonymity_threshold"] == 7
