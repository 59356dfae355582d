"""Ballot receipts in the browser: shown after casting, kept in localStorage, found in the
published record once the poll closes; and an anonymous ballot's receipt never enters the state
Reflex stores beside the user's session (``.states`` files without Redis, Redis keys with it)."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import UI_TIMEOUT, goto, ui_login
from tests.browser.servers import PROJECT_ROOT

pytestmark = pytest.mark.browser

RECEIPT_SHAPE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
EXPLANATION = "Keep this code: it names your ballot in the published record when the poll closes"
MISSING = "This browser does not hold your ballot's receipt; paste it here to change or retract your ballot."


def stored_receipt(page, poll_id: str) -> str | None:
    return page.evaluate("(key) => window.localStorage.getItem(key)", f"commons:receipt:{poll_id}")


def shown_receipt(page) -> str:
    """The receipt in ``ballot-receipt``, once it shows one."""
    element = page.get_by_test_id("ballot-receipt")
    expect(element).to_have_text(RECEIPT_SHAPE, timeout=UI_TIMEOUT)
    return element.inner_text().strip()


def vote(page, option: str, button: str = "Submit vote") -> None:
    page.get_by_label(option, exact=True).check()
    page.get_by_role("button", name=button).click()


def close(api, owner, poll_id: str) -> str:
    """Close the poll through the API; its record's SHA-256 from the results."""
    closed = api.client.post(f"/polls/{poll_id}/close", headers=owner.headers)
    assert closed.status_code == 200, closed.text
    results = api.get(f"/polls/{poll_id}/results", owner)
    assert results.status_code == 200, results.text
    digest = results.json()["record_sha256"]
    assert re.fullmatch(r"[0-9a-f]{64}", digest), digest
    return digest


def check_receipt(page, receipt: str) -> None:
    page.get_by_label("Check your receipt").fill(receipt)
    page.get_by_role("button", name="Check receipt").click()


def my_vote(api, user, poll_id: str, receipt: str | None = None):
    headers = dict(user.headers) | ({"X-Ballot-Receipt": receipt} if receipt else {})
    return api.client.get(f"/polls/{poll_id}/my-vote", headers=headers)


# --- the stores of Reflex state ---------------------------------------------------------------------
def disk_state_blobs(project: Path) -> list[bytes]:
    """Every file of the server's ``.states`` directory (the disk state manager's pickles)."""
    folder = project / ".states"
    return [path.read_bytes() for path in folder.rglob("*") if path.is_file()] if folder.is_dir() else []


def redis_blobs(url: str) -> list[bytes]:
    """Every key and value of the server's Redis database, whatever the key's type."""
    import redis

    client = redis.Redis.from_url(url, socket_timeout=5)
    blobs: list[bytes] = []
    try:
        for key in client.scan_iter(count=500):
            blobs.append(key)
            kind = client.type(key)
            if kind == b"string":
                blobs.append(client.get(key) or b"")
            elif kind == b"hash":
                blobs.extend(k + b"\0" + v for k, v in client.hgetall(key).items())
            elif kind == b"list":
                blobs.extend(client.lrange(key, 0, -1))
            elif kind == b"set":
                blobs.extend(client.smembers(key))
            elif kind == b"zset":
                blobs.extend(member for member, _score in client.zrange(key, 0, -1, withscores=True))
            elif kind == b"stream":
                for _id, fields in client.xrange(key):
                    blobs.extend(k + b"\0" + v for k, v in fields.items())
    finally:
        client.close()
    return blobs


def wait_for_stored_state(read, marker: str, timeout: float = 20.0) -> list[bytes]:
    """The store's contents once they hold ``marker`` (a value the page's state is known to keep):
    proof that the scan sees the states this browser's events wrote, so that not finding a
    receipt there means something."""
    deadline = time.monotonic() + timeout
    while True:
        blobs = read()
        if any(marker.encode() in blob for blob in blobs):
            return blobs
        if time.monotonic() > deadline:
            raise AssertionError(f"the state store never held {marker!r} ({len(blobs)} entries)")
        time.sleep(0.5)


def assert_never_stored(read, marker: str, *receipts: str, watch: float = 4.0) -> None:
    """No receipt in the stored states, read again and again for ``watch`` seconds: longer than
    the disk manager's write debounce (2 s), so the states of the events just handled are
    written by then (Redis gets them at the end of each event)."""
    deadline = time.monotonic() + watch
    blobs = wait_for_stored_state(read, marker)
    while True:
        for receipt in receipts:
            holders = [blob[:120] for blob in blobs if receipt.encode() in blob]
            assert not holders, f"receipt {receipt!r} found in Reflex's stored state: {holders}"
        if time.monotonic() > deadline:
            return
        time.sleep(0.25)
        blobs = read()


# --- tests ------------------------------------------------------------------------------------------
def test_named_ballot_receipt_is_shown_kept_and_found_in_the_record(new_page, app_server, api, tmp_path):
    base = app_server.url
    owner, voter = api.register("owner"), api.register("voter")
    poll = api.create_poll(owner, options=["Red", "Green", "Blue"])
    poll_id = poll["id"]

    page = new_page(permissions=["clipboard-read", "clipboard-write"])
    ui_login(page, base, voter)
    goto(page, f"{base}/polls/{poll_id}")
    expect(page.get_by_test_id("ballot-receipt")).to_have_count(0)
    vote(page, "Red")
    expect(page.locator("#my-ballot")).to_have_text("Your ballot: Red", timeout=UI_TIMEOUT)
    receipt = shown_receipt(page)
    expect(page.get_by_text(EXPLANATION)).to_be_visible()
    mine = my_vote(api, voter, poll_id)
    assert mine.status_code == 200 and mine.json()["receipt"] == receipt, mine.text
    assert stored_receipt(page, poll_id) == receipt

    page.get_by_role("button", name="Copy the receipt").click()
    page.wait_for_function("(r) => navigator.clipboard.readText().then((t) => t === r)", arg=receipt)

    # A reload shows it again.
    goto(page, f"{base}/polls/{poll_id}")
    expect(page.get_by_test_id("ballot-receipt")).to_have_text(receipt, timeout=UI_TIMEOUT)

    digest = close(api, owner, poll_id)
    goto(page, f"{base}/polls/{poll_id}/results")
    expect(page.get_by_test_id("record-sha256")).to_have_text(digest, timeout=UI_TIMEOUT)
    expect(page.get_by_label("Check your receipt")).to_have_value(receipt)
    page.get_by_role("button", name="Check receipt").click()
    expect(page.get_by_test_id("receipt-check")).to_have_text(
        "Counted: this receipt names a ballot in the record — weight 1, choice: Red.", timeout=UI_TIMEOUT
    )
    check_receipt(page, "not-a-receipt-of-this-poll")
    expect(page.get_by_test_id("receipt-check")).to_contain_text("Not in the record", timeout=UI_TIMEOUT)
    expect(page.get_by_text("python -m commons_app recount", exact=False)).to_be_visible()

    # The downloads are the published bytes, and the recount agrees with the results.
    files = {}
    for name in ("record.jsonl", "results.json"):
        with page.expect_download() as download:
            page.get_by_role("button", name=name).click()
        files[name] = tmp_path / download.value.suggested_filename
        download.value.save_as(files[name])
    assert files["record.jsonl"].name == f"poll-{poll_id}-record.jsonl"
    assert hashlib.sha256(files["record.jsonl"].read_bytes()).hexdigest() == digest
    assert json.loads(files["results.json"].read_text())["record_sha256"] == digest
    recount = subprocess.run(
        [sys.executable, "-m", "commons_app", "recount", str(files["record.jsonl"]), "--results", str(files["results.json"])],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60,
    )
    assert recount.returncode == 0, recount.stdout + recount.stderr


@pytest.mark.parametrize("store", ["states-files", "redis"])
def test_anonymous_receipt_lives_only_in_the_browser(store, request, new_page):
    if store == "states-files":
        server, api = request.getfixturevalue("app_server"), request.getfixturevalue("api")

        def read() -> list[bytes]:
            return disk_state_blobs(server.project)
    else:
        cluster = request.getfixturevalue("cluster")
        server, api = cluster.a, cluster.api_a

        def read() -> list[bytes]:
            return redis_blobs(cluster.redis_url)

    base = server.url
    owner, voter = api.register("owner"), api.register("voter")
    poll = api.create_poll(owner, options=["Red", "Green", "Blue"], anonymous=True)
    poll_id = poll["id"]

    page = new_page()
    ui_login(page, base, voter)
    goto(page, f"{base}/polls/{poll_id}")
    vote(page, "Red")
    expect(page.locator("#my-ballot")).to_contain_text("You have voted", timeout=UI_TIMEOUT)
    first = shown_receipt(page)
    assert stored_receipt(page, poll_id) == first
    # Not in the stored states, which do hold this page's poll (its title).
    assert_never_stored(read, poll["title"], first)
    # The server links the voter to no ballot: without the receipt there is none to show.
    assert my_vote(api, voter, poll_id).status_code == 404
    assert my_vote(api, voter, poll_id, first).json()["option_id"] == poll["options"][0]["id"]
    # ... and the page keeps no choice: the ballot form starts blank.
    expect(page.get_by_label("Red", exact=True)).not_to_be_checked()
    expect(page.locator("#my-ballot")).not_to_contain_text("Red")

    # Change in the browser: the form sends the stored receipt; a new one replaces it.
    vote(page, "Green", button="Change vote")
    expect(page.get_by_test_id("ballot-receipt")).not_to_have_text(first, timeout=UI_TIMEOUT)
    second = shown_receipt(page)
    assert second != first and stored_receipt(page, poll_id) == second
    assert my_vote(api, voter, poll_id, first).status_code == 404
    assert my_vote(api, voter, poll_id, second).json()["option_id"] == poll["options"][1]["id"]
    assert_never_stored(read, poll["title"], first, second)

    # A reload shows the receipt from this browser's storage.
    goto(page, f"{base}/polls/{poll_id}")
    expect(page.get_by_test_id("ballot-receipt")).to_have_text(second, timeout=UI_TIMEOUT)

    assert_never_stored(read, poll["title"], first, second)

    digest = close(api, owner, poll_id)
    goto(page, f"{base}/polls/{poll_id}/results")
    expect(page.get_by_test_id("record-sha256")).to_have_text(digest, timeout=UI_TIMEOUT)
    expect(page.get_by_label("Check your receipt")).to_have_value(second)
    page.get_by_role("button", name="Check receipt").click()
    expect(page.get_by_test_id("receipt-check")).to_have_text(
        "Counted: this receipt names a ballot in the record — weight 1, choice: Green.", timeout=UI_TIMEOUT
    )
    check_receipt(page, first)
    expect(page.get_by_test_id("receipt-check")).to_contain_text("Not in the record", timeout=UI_TIMEOUT)
    record = api.get(f"/polls/{poll_id}/record.jsonl", owner).text
    assert second in record and first not in record

    # Checking sent both receipts through the results page's handler: still none stored.
    assert_never_stored(read, poll["title"], first, second)


def test_anonymous_retract_with_the_stored_or_a_pasted_receipt(new_page, app_server, api):
    base = app_server.url
    owner, voter = api.register("owner"), api.register("voter")
    poll = api.create_poll(owner, options=["Red", "Green", "Blue"], anonymous=True)
    poll_id = poll["id"]

    page = new_page()
    ui_login(page, base, voter)
    goto(page, f"{base}/polls/{poll_id}")
    vote(page, "Blue")
    receipt = shown_receipt(page)

    # Retract here: the button sends the receipt this browser holds, which is then dropped.
    page.get_by_role("button", name="Retract vote").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Retract my vote").click()  # the confirmation
    expect(page.get_by_role("button", name="Submit vote")).to_be_visible(timeout=UI_TIMEOUT)
    expect(page.get_by_test_id("ballot-receipt")).to_have_count(0)
    assert stored_receipt(page, poll_id) is None
    assert my_vote(api, voter, poll_id, receipt).status_code == 404
    goto(page, f"{base}/polls/{poll_id}")
    expect(page.get_by_role("button", name="Submit vote")).to_be_visible(timeout=UI_TIMEOUT)

    # Vote again, then retract from another browser, which does not hold the receipt: it asks
    # for it, and the pasted one works.
    vote(page, "Red")
    receipt = shown_receipt(page)
    other = new_page()
    ui_login(other, base, voter)
    goto(other, f"{base}/polls/{poll_id}")
    expect(other.locator("#receipt-missing")).to_have_text(MISSING, timeout=UI_TIMEOUT)
    expect(other.get_by_test_id("ballot-receipt")).to_have_count(0)
    other.get_by_role("button", name="Retract vote").click()
    other.get_by_role("alertdialog").get_by_role("button", name="Retract my vote").click()  # the confirmation
    expect(other.get_by_role("alert")).to_contain_text(MISSING, timeout=UI_TIMEOUT)
    other.get_by_label("Receipt", exact=True).fill("not-my-receipt")
    other.get_by_role("button", name="Retract vote").click()
    other.get_by_role("alertdialog").get_by_role("button", name="Retract my vote").click()  # the confirmation
    expect(other.get_by_role("alert")).to_contain_text("No ballot of yours has this receipt", timeout=UI_TIMEOUT)
    assert my_vote(api, voter, poll_id, receipt).status_code == 200
    other.get_by_label("Receipt", exact=True).fill(receipt)
    other.get_by_role("button", name="Retract vote").click()
    other.get_by_role("alertdialog").get_by_role("button", name="Retract my vote").click()  # the confirmation
    expect(other.get_by_role("button", name="Submit vote")).to_be_visible(timeout=UI_TIMEOUT)
    assert my_vote(api, voter, poll_id, receipt).status_code == 404
