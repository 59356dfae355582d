"""Without SMTP_URL (the embedded default) mails stay in the outbox: the server log prints each one
with its link, and an admin reads them on /admin."""

from __future__ import annotations

import secrets
import time

from playwright.sync_api import expect
from sqlmodel import Session

from commons_app.db import make_engine
from commons_app.services import outbox
from tests.browser.helpers import UI_TIMEOUT, goto, ui_login

DEMO_PASSWORD = "commons-demo-2026"


def test_an_admin_reads_unsent_mails_in_the_browser_and_the_log_prints_them(new_page, app_server, api):
    link = f"{app_server.url}/v/{secrets.token_urlsafe(16)}"
    to = f"invitee-{secrets.token_hex(4)}@example.org"
    engine = make_engine(app_server.database_url)
    try:
        with Session(engine) as session:
            outbox.queue_mail(session=session, to=to, subject="You are invited to vote",
                              text=f"Hello,\n\nyour personal voting link:\n{link}\n", kind="invitation")
            session.commit()
    finally:
        engine.dispose()
    # The app's in-process worker notices it (the periodic sweep; no kick reached it) and logs it.
    deadline = time.monotonic() + 20
    while link not in app_server.log_path.read_text():
        assert time.monotonic() < deadline, "the server log never printed the mail"
        time.sleep(0.2)

    page = new_page()
    ui_login(page, app_server.url, api.login("admin", DEMO_PASSWORD))
    goto(page, app_server.url + "/admin")
    row = page.get_by_test_id("outbox-mail").filter(has_text=to)
    expect(row).to_have_count(1, timeout=UI_TIMEOUT)
    expect(row.get_by_test_id("outbox-subject")).to_have_text("You are invited to vote")
    expect(row.get_by_test_id("outbox-status")).to_have_text("queued")
    expect(row.get_by_test_id("outbox-body")).to_contain_text(link)
    expect(row.get_by_test_id("outbox-last-error")).to_contain_text("SMTP_URL is not set")

    # A member gets the refusal and no mail.
    member = api.register("outboxmember")
    other = new_page()
    ui_login(other, app_server.url, member)
    goto(other, app_server.url + "/admin")
    expect(other.locator("#admin-refused")).to_be_visible(timeout=UI_TIMEOUT)
    expect(other.get_by_test_id("outbox-mail")).to_have_count(0)
    assert to not in other.content()
