"""Browser actions that the server sends back (toasts, copying a share link) must run.

Reflex delivers them as ``_call_function`` / ``_call_script`` events whose code arrives as text and
is run with ``eval()``: a Content-Security-Policy without ``'unsafe-eval'`` (set in
``commons_app/api/app.py``) made every one of them throw an EvalError, so no toast appeared and the
dashboard's "Share" copied nothing. This test keeps that from coming back.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import UI_TIMEOUT, goto, ui_login

pytestmark = pytest.mark.browser


def test_server_sent_toast_is_shown(new_page, app_server, api):
    owner, voter = api.register("owner"), api.register("voter")
    poll = api.create_poll(owner, options=["Left", "Right"])
    page = new_page()
    csp_errors: list[str] = []
    page.on("console", lambda m: "Content Security Policy" in m.text and csp_errors.append(m.text))
    ui_login(page, app_server.url, voter)
    goto(page, f"{app_server.url}/polls/{poll['id']}")
    page.get_by_label("Left", exact=True).check()
    page.get_by_role("button", name="Submit vote").click()
    expect(page.locator("#my-ballot")).to_have_text("Your ballot: Left", timeout=UI_TIMEOUT)
    expect(page.get_by_text("Your vote was recorded.")).to_be_visible(timeout=5000)
    assert not csp_errors, csp_errors
