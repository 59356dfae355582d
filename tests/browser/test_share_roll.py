"""Reaching voters in the browser (issue 12, items 1 and 4): the creator builds a private poll's
roll (by username and by CSV, refusals shown beside the field with nothing saved), the share
panel (link, join code, a QR code that decodes to the link), ``/join``, and a shared link opened
by a visitor who is not signed in: the poll's title, then back to the poll after logging in or
registering; ``next`` never leads to another site."""

from __future__ import annotations

import io
import re
import secrets

import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import PASSWORD, UI_TIMEOUT, at, goto, ui_login

pytestmark = pytest.mark.browser


def _roll(api, owner, poll_id) -> dict[str, float]:
    response = api.get(f"/polls/{poll_id}/voters", owner)
    assert response.status_code == 200, response.text
    return {v["username"]: v["weight"] for v in response.json()["voters"]}


def _confirm_removal(page: Page, who: str) -> None:
    """Confirm a removal and wait for its outcome, the toast that comes only after the commit. The
    row's absence is no sign of it: while the confirmation is open, the page behind it is hidden
    from the accessibility tree, so its rows count as none before the removal has run."""
    page.get_by_role("alertdialog").get_by_role("button", name="Remove voter").click()
    expect(page.get_by_role("alertdialog")).to_have_count(0, timeout=UI_TIMEOUT)
    expect(page.get_by_text(f"{who} was removed.")).to_be_visible(timeout=UI_TIMEOUT)


def _add(page: Page, who: str, weight: str = "1") -> None:
    editor = page.locator("#roll-editor")
    editor.get_by_label("Username or email", exact=True).fill(who)
    editor.get_by_label("Weight", exact=True).fill(weight)
    editor.get_by_role("button", name="Add voter").click()


def test_creator_builds_a_private_roll_by_username_and_csv(new_page, app_server, api):
    base = app_server.url
    owner, ann, bob, cid = api.register("owner"), api.register("ann"), api.register("bob"), api.register("cid")
    poll = api.create_poll(owner, title=f"Board seat {secrets.token_hex(2)}", visibility="private")
    pid = poll["id"]
    page = new_page()
    ui_login(page, base, owner)
    goto(page, f"{base}/polls/{pid}")

    # Her own private poll: she sees it, is told how to take part, and has the roll editor.
    expect(page.get_by_role("heading", name=poll["title"], exact=True)).to_be_visible()
    expect(page.locator("#vote-closed-reason")).to_contain_text("add yourself below to vote")
    editor = page.locator("#roll-editor")
    expect(editor.get_by_text("Nobody is on the roll yet.")).to_be_visible()

    # By username, with a weight.
    _add(page, ann.username, "2")
    expect(editor.get_by_role("rowheader", name=ann.username)).to_be_visible(timeout=UI_TIMEOUT)
    assert _roll(api, owner, pid) == {ann.username: 2.0}

    # Unknown names and bad weights: the message beside the field, nothing saved.
    _add(page, "no_such_voter_zz", "1")
    expect(page.locator("#roll-voter-error")).to_have_text("No user is called 'no_such_voter_zz'.", timeout=UI_TIMEOUT)
    _add(page, bob.username, "-3")
    expect(page.locator("#roll-voter-error")).to_contain_text("must be a number greater than 0", timeout=UI_TIMEOUT)
    assert _roll(api, owner, pid) == {ann.username: 2.0}

    # By email: an invitation for an address without an account.
    _add(page, "zoe.invitee@example.org", "1")
    expect(editor.get_by_role("rowheader", name="zoe.invitee@example.org")).to_be_visible(timeout=UI_TIMEOUT)
    editor.get_by_role("button", name="Remove zoe.invitee@example.org").click()
    _confirm_removal(page, "zoe.invitee@example.org")
    expect(editor.get_by_role("rowheader", name="zoe.invitee@example.org")).to_have_count(0, timeout=UI_TIMEOUT)
    assert _roll(api, owner, pid) == {ann.username: 2.0}

    # Adding herself lets her vote on her own poll's page.
    _add(page, owner.username, "1")
    expect(page.get_by_role("button", name="Submit vote")).to_be_visible(timeout=UI_TIMEOUT)
    expect(page.locator("#vote-closed-reason")).to_have_count(0)

    # A CSV with bad lines: each named, nothing saved.
    bad = (
        "email,name,weight\n"
        f",{bob.username},1\n"
        ",ghost_voter_zz,1\n"
        f",{cid.username},heavy\n"
    )
    editor.get_by_label("Roll CSV", exact=True).fill(bad)
    editor.get_by_role("button", name="Import CSV").click()
    errors = page.locator("#roll-csv-error")
    expect(errors).to_contain_text("Nothing was imported", timeout=UI_TIMEOUT)
    expect(errors.get_by_role("listitem")).to_have_count(2)
    expect(errors.get_by_role("listitem").nth(0)).to_contain_text("Line 3: no user is called 'ghost_voter_zz'")
    expect(errors.get_by_role("listitem").nth(1)).to_contain_text("Line 4: weight 'heavy'")
    assert _roll(api, owner, pid) == {ann.username: 2.0, owner.username: 1.0}

    # The same file put right, chosen as a file, is taken whole.
    good = bad.replace(",ghost_voter_zz,1\n", "").replace("heavy", "3")
    editor.get_by_label("CSV file", exact=True).set_input_files(
        files=[{"name": "roll.csv", "mimeType": "text/csv", "buffer": good.encode()}]
    )
    expect(editor.get_by_label("Roll CSV", exact=True)).to_have_value(good)
    editor.get_by_role("button", name="Import CSV").click()
    expect(editor.get_by_role("rowheader", name=cid.username)).to_be_visible(timeout=UI_TIMEOUT)
    expect(errors).to_have_count(0)
    assert _roll(api, owner, pid) == {ann.username: 2.0, owner.username: 1.0, bob.username: 1.0, cid.username: 3.0}

    # Export: the roll as CSV (email,name,weight).
    with page.expect_download() as download:
        editor.get_by_role("button", name="Export CSV").click()
    exported = download.value.path().read_text()
    assert exported.splitlines()[0] == "email,name,weight"
    assert f",{cid.username},3" in exported.splitlines()

    # Weights and removal; who has voted; the sealing rule's refusal shown, nothing changed.
    editor.get_by_label(f"Weight of {bob.username}", exact=True).fill("4")
    editor.get_by_role("button", name=f"Set weight of {bob.username}").click()
    expect(page.get_by_text(f"Weight of {bob.username} saved.")).to_be_visible(timeout=UI_TIMEOUT)
    assert _roll(api, owner, pid)[bob.username] == 4.0
    option = poll["options"][0]["id"]
    cast = api.client.post("/votes/", json={"poll_id": pid, "option_id": option}, headers=ann.headers)
    assert cast.status_code == 201, cast.text
    goto(page, f"{base}/polls/{pid}")
    expect(page.get_by_test_id(f"roll-voted-{ann.username}")).to_have_text("voted")
    expect(page.get_by_test_id(f"roll-voted-{bob.username}")).to_have_text("not yet")
    page.locator("#roll-editor").get_by_role("button", name=f"Remove {ann.username}").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Remove voter").click()  # the confirmation
    expect(page.locator("#roll-voter-error")).to_contain_text("Voters who have voted keep their place", timeout=UI_TIMEOUT)
    page.locator("#roll-editor").get_by_role("button", name=f"Remove {cid.username}").click()
    _confirm_removal(page, cid.username)
    expect(page.locator("#roll-editor").get_by_role("rowheader", name=cid.username)).to_have_count(0, timeout=UI_TIMEOUT)
    assert _roll(api, owner, pid) == {ann.username: 2.0, owner.username: 1.0, bob.username: 4.0}

    # The dashboard opens the same editor.
    goto(page, f"{base}/dashboard")
    page.get_by_role("button", name=f"Voters of {poll['title']}").click()
    expect(page.locator("#roll-editor").get_by_role("rowheader", name=bob.username)).to_be_visible(timeout=UI_TIMEOUT)

    # A voter on the roll is not a manager: no editor on their page.
    voter_page = new_page()
    ui_login(voter_page, base, bob)
    goto(voter_page, f"{base}/polls/{pid}")
    expect(voter_page.get_by_role("button", name="Submit vote")).to_be_visible()
    expect(voter_page.locator("#roll-editor")).to_have_count(0)


def _decode_qr(page: Page, testid: str = "share-qr") -> str:
    import zxingcpp
    from PIL import Image

    png = page.get_by_test_id(testid).screenshot()
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert found, "no QR code found in the share panel's image"
    return found[0].text


def test_share_panel_qr_code_decodes_to_the_poll_link_and_join_takes_the_code(new_page, app_server, api):
    base = app_server.url
    owner, guest = api.register("owner"), api.register("guest")
    poll = api.create_poll(owner, title=f"Room vote {secrets.token_hex(2)}")
    link = f"{base}/polls/{poll['id']}"
    page = new_page()
    ui_login(page, base, owner)
    goto(page, link)
    expect(page.get_by_test_id("share-link")).to_have_text(link)
    assert page.get_by_test_id("share-qr").evaluate("e => e.tagName") in ("IMG", "svg")
    assert _decode_qr(page) == link
    code = page.get_by_test_id("join-code").inner_text().strip()
    assert re.fullmatch(r"[A-Za-z0-9]+", code)

    # The dashboard's share panel shows the same.
    goto(page, f"{base}/dashboard")
    page.get_by_role("button", name=f"Share {poll['title']}").click()
    expect(page.get_by_test_id("share-link")).to_have_text(link, timeout=UI_TIMEOUT)
    expect(page.get_by_test_id("join-code")).to_have_text(code)
    assert _decode_qr(page) == link

    # /join: an unknown code is refused readably; the code, in any case, leads to the poll.
    other = new_page()
    ui_login(other, base, guest)
    goto(other, f"{base}/join")
    other.get_by_label("Join code", exact=True).fill("ZZ9NOPE")
    other.get_by_role("button", name="Join").click()
    expect(other.get_by_role("alert")).to_have_text("No poll has this join code. Check it and try again.", timeout=UI_TIMEOUT)
    other.get_by_label("Join code", exact=True).fill(code.lower())
    other.get_by_role("button", name="Join").click()
    expect(other).to_have_url(at(base, f"/polls/{poll['id']}"), timeout=UI_TIMEOUT)
    expect(other.get_by_role("heading", name=poll["title"], exact=True)).to_be_visible()


def test_signed_out_visitor_of_a_link_comes_back_after_login_and_after_registering(new_page, app_server, api):
    base = app_server.url
    owner, voter = api.register("owner"), api.register("voter")
    poll = api.create_poll(owner, title=f"Street party {secrets.token_hex(2)}", options=["June", "July"])
    path = f"/polls/{poll['id']}"

    # Log in: the poll's title first, then back on the poll.
    page = new_page()
    goto(page, base + path)
    expect(page.get_by_role("heading", name=poll["title"], exact=True)).to_be_visible()
    expect(page.get_by_role("listitem").filter(has_text="June")).to_be_visible()
    page.get_by_role("link", name="Log in to vote").click()
    expect(page).to_have_url(at(base, "/login", f"?next={path}"), timeout=UI_TIMEOUT)
    page.get_by_label("Username", exact=True).fill(voter.username)
    page.get_by_label("Password", exact=True).fill(voter.password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(at(base, path), timeout=UI_TIMEOUT)
    expect(page.get_by_role("button", name="Submit vote")).to_be_visible()

    # Register, reached through the log-in page's "Create an account": back on the poll too.
    page = new_page()
    goto(page, base + path)
    page.get_by_role("link", name="Log in to vote").click()
    expect(page).to_have_url(at(base, "/login", f"?next={path}"), timeout=UI_TIMEOUT)
    create = page.get_by_role("link", name="Create an account")
    expect(create).to_have_attribute("href", f"/register?next={path}")  # kept by the link (it was dropped)
    create.click()
    expect(page).to_have_url(at(base, "/register", f"?next={path}"), timeout=UI_TIMEOUT)
    username = f"new_{secrets.token_hex(4)}"
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Email", exact=True).fill(f"{username}@example.org")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(at(base, path), timeout=UI_TIMEOUT)
    page.get_by_label("July", exact=True).check()
    page.get_by_role("button", name="Submit vote").click()
    expect(page.locator("#my-ballot")).to_have_text("Your ballot: July", timeout=UI_TIMEOUT)

    # A private poll's link tells a signed-out visitor nothing about it, only to sign in.
    secret = api.create_poll(owner, title=f"Secret ballot {secrets.token_hex(2)}", visibility="private")
    page = new_page()
    goto(page, f"{base}/polls/{secret['id']}")
    expect(page.get_by_role("heading", name="Sign in to see this poll")).to_be_visible()
    expect(page.get_by_text(secret["title"])).to_have_count(0)
    expect(page.get_by_role("link", name="Log in to vote")).to_have_attribute("href", f"/login?next=/polls/{secret['id']}")


@pytest.mark.parametrize("target", ["https://evil.example", "//evil.example", "/%09/evil.example"])
def test_next_to_another_site_is_refused(new_page, app_server, api, target):
    base = app_server.url
    user = api.register("user")
    page = new_page()
    goto(page, f"{base}/login?next={target}")
    # The link to the registration form does not carry it on either.
    expect(page.get_by_role("link", name="Create an account")).to_have_attribute("href", "/register")
    page.get_by_label("Username", exact=True).fill(user.username)
    page.get_by_label("Password", exact=True).fill(user.password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(at(base, "/polls"), timeout=UI_TIMEOUT)

    page = new_page()
    goto(page, f"{base}/register?next={target}")
    username = f"new_{secrets.token_hex(4)}"
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Email", exact=True).fill(f"{username}@example.org")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(at(base, "/polls"), timeout=UI_TIMEOUT)


@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_screenshots_of_the_share_panel_roll_editor_join_and_signed_out_pages(new_page, app_server, api, width):
    """Saved to ``test-artifacts/screenshots/<width>-share-*.png`` for people to look at; fails
    when a page is wider than the window (a sideways scrollbar on a phone)."""
    from tests.browser.helpers import DESKTOP, PHONE
    from tests.browser.servers import ARTIFACTS

    shots = ARTIFACTS / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    base = app_server.url
    viewport = DESKTOP if width == "desktop" else PHONE
    owner, ann, bob = api.register("owner"), api.register("annabelle_long_name"), api.register("bob")
    poll = api.create_poll(owner, title="Which charity gets this year's surplus?", visibility="private",
                           options=["Food bank", "Library fund", "Climbing wall"])
    api.client.put(f"/polls/{poll['id']}/voters", json={"voters": [{"username": ann.username, "weight": 2},
                                                                     {"username": bob.username}]}, headers=owner.headers)
    public = api.create_poll(owner, title="Street party: which month?", options=["June", "July"],
                             description="We close the street for one Saturday.")
    too_wide: list[str] = []

    def shoot(page: Page, slug: str) -> None:
        page.evaluate("() => window.scrollTo(0, 0)")  # the sticky navigation bar at the top of the picture
        page.evaluate("() => document.fonts.ready.then(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))))")
        page.screenshot(path=str(shots / f"{width}-share-{slug}.png"), full_page=True, animations="disabled")
        extra = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        if extra > 0:
            too_wide.append(f"{slug}: {extra}px")

    page = new_page(viewport)
    ui_login(page, base, owner)
    goto(page, f"{base}/polls/{poll['id']}")
    editor = page.locator("#roll-editor")
    expect(editor.get_by_role("rowheader", name=ann.username)).to_be_visible()
    _add(page, "no_such_voter_zz")
    expect(page.locator("#roll-voter-error")).to_be_visible()
    editor.get_by_label("Roll CSV", exact=True).fill("email,name,weight\n,ghost_one,1\n,ghost_two,x\n")
    editor.get_by_role("button", name="Import CSV").click()
    expect(page.locator("#roll-csv-error")).to_be_visible()
    shoot(page, "poll-owner")

    goto(page, f"{base}/dashboard")
    page.get_by_role("button", name=f"Share {poll['title']}").click()
    page.get_by_role("button", name=f"Voters of {poll['title']}").click()
    expect(page.locator("#roll-editor")).to_be_visible()
    expect(page.get_by_test_id("share-qr")).to_be_visible()
    shoot(page, "dashboard")

    goto(page, f"{base}/join")
    page.get_by_label("Join code", exact=True).fill("NOPE42X")
    page.get_by_role("button", name="Join").click()
    expect(page.get_by_role("alert")).to_be_visible()
    shoot(page, "join")

    visitor = new_page(viewport)
    goto(visitor, f"{base}/polls/{public['id']}")
    expect(visitor.get_by_role("link", name="Log in to vote")).to_be_visible()
    shoot(visitor, "signed-out-public")
    goto(visitor, f"{base}/polls/{poll['id']}")
    expect(visitor.get_by_role("heading", name="Sign in to see this poll")).to_be_visible()
    shoot(visitor, "signed-out-private")
    assert not too_wide, too_wide
