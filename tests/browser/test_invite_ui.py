"""Invitations from the roll editor, in Chromium (issue 12, item 1): the creator adds voters by
email, sends invitations and reminders by hand, is told how many mails were queued (or why
none), and sees each invitation's delivery status; the mails reach a real SMTP server (aiosmtpd)
and a link opened in a fresh browser context votes."""

from __future__ import annotations

import secrets

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import UI_TIMEOUT, goto, ui_login
from tests.browser.test_guests import deliver, link_of, smtp, vote_in_fresh_browser  # noqa: F401 - smtp is a fixture

pytestmark = pytest.mark.browser


def test_creator_invites_and_reminds_from_the_roll_editor(new_page, app_server, api, smtp, monkeypatch):  # noqa: F811
    base = app_server.url
    owner = api.register("owner")
    poll = api.create_poll(owner, title=f"Picnic {secrets.token_hex(2)}", options=["Red", "Green"], visibility="private")
    pid = poll["id"]
    tag = secrets.token_hex(3)
    ann, bob = f"ann.{tag}@example.org", f"bob.{tag}@example.org"
    page = new_page()
    ui_login(page, base, owner)
    goto(page, f"{base}/polls/{pid}")
    editor = page.locator("#roll-editor")
    status = editor.locator("#roll-mail-status")

    # Nothing to invite yet: said so, nothing queued.
    editor.get_by_role("button", name="Send invitations").click()
    expect(status).to_contain_text("Nothing to send", timeout=UI_TIMEOUT)

    for address in (ann, bob):
        editor.get_by_label("Username or email", exact=True).fill(address)
        editor.get_by_role("button", name="Add voter").click()
        expect(editor.get_by_role("rowheader", name=address)).to_be_visible(timeout=UI_TIMEOUT)
        expect(editor.get_by_test_id(f"roll-invitation-{address}")).to_have_text("not invited")

    editor.get_by_role("button", name="Send invitations").click()
    expect(status).to_have_text("2 invitations queued for sending.", timeout=UI_TIMEOUT)
    for address in (ann, bob):
        expect(editor.get_by_test_id(f"roll-invitation-{address}")).to_have_text("queued")
    # A second click sends nothing again.
    editor.get_by_role("button", name="Send invitations").click()
    expect(status).to_contain_text("already been invited", timeout=UI_TIMEOUT)

    assert deliver(app_server, smtp, monkeypatch).sent == 2
    assert sorted(r for m in smtp.received for r in m.rcpt_tos) == sorted([ann, bob])  # one mail each
    links = {m.rcpt_tos[0]: link_of(m.text, base) for m in smtp.received}
    assert len(set(links.values())) == 2
    page.reload()
    for address in (ann, bob):
        expect(editor.get_by_test_id(f"roll-invitation-{address}")).to_have_text("sent", timeout=UI_TIMEOUT)

    vote_in_fresh_browser(new_page, links[ann], "Red")

    page.reload()
    expect(editor.get_by_test_id(f"roll-voted-{ann}")).to_have_text("voted", timeout=UI_TIMEOUT)
    editor.get_by_role("button", name="Send reminders").click()
    expect(status).to_have_text("1 reminder queued for sending.", timeout=UI_TIMEOUT)
    assert deliver(app_server, smtp, monkeypatch).sent == 1
    assert [m.rcpt_tos for m in smtp.received[2:]] == [[bob]]  # only the one who has not voted


def test_mail_buttons_refuse_readably_on_a_closed_poll(new_page, app_server, api):
    base = app_server.url
    owner = api.register("owner")
    poll = api.create_poll(owner, visibility="private")
    pid = poll["id"]
    assert api.client.put(f"/polls/{pid}/voters", headers=owner.headers,
                          json={"voters": [{"email": f"cal.{secrets.token_hex(3)}@example.org"}]}).status_code == 200
    closed = api.client.post(f"/polls/{pid}/close", headers=owner.headers)
    assert closed.status_code == 200, closed.text
    page = new_page()
    ui_login(page, base, owner)
    goto(page, f"{base}/polls/{pid}")
    editor = page.locator("#roll-editor")
    editor.get_by_role("button", name="Send invitations").click()
    expect(editor.locator("#roll-mail-error")).to_have_text(
        "This poll is closed: its links no longer work, so nothing is sent.", timeout=UI_TIMEOUT)
    assert api.get(f"/polls/{pid}/invitations", owner).json()["total"] == 0
