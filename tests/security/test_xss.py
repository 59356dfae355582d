"""Stored XSS: well-known payloads as poll titles, descriptions, option texts and usernames, opened
in Chromium on the vote, results, polls list, dashboard and admin pages of the real app.

Every page must show each payload as literal text, run none of it (``window.__xss`` stays
undefined, no dialog opens, no ``<img src=x>`` / ``<svg onload>`` / ``<iframe srcdoc>`` element
appears) and carry the security headers (CSP with ``frame-ancestors 'none'``).

Usernames cannot hold these payloads through the app (registration refuses them: asserted), so
they are written straight into the database, as data imported from elsewhere might be: output
encoding must hold even for values the app would never accept. The signed-in user is one of them,
so the navigation bar shows a payload on every page too.

The server is a real ``reflex run --env prod`` in a private copy of the project, started the way
the browser suite does it (``tests/browser/servers.py``), on its own SQLite database.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.browser.helpers import DESKTOP, PASSWORD, SOCKET_RECORDER, UI_TIMEOUT, Api, User, goto, ui_login
from tests.browser.servers import AppServer, free_port, prepare_project
from tests.security.conftest import REPORT

pytestmark = pytest.mark.browser

PAYLOADS = [
    "<script>window.__xss=1</script>",
    '<img src=x onerror="window.__xss=1">',
    '"><svg onload=window.__xss=1>',
    "javascript:window.__xss=1",
    "{{7*7}}",
    "</textarea><script>window.__xss=1</script>",
    "<iframe srcdoc=\"<script>parent.__xss=1</script>\"></iframe>",
    "${7*7} #{7*7} <%= 7*7 %>",
    "<a href=\"javascript:window.__xss=1\">click</a>",
]
INJECTED = "img[src='x'], svg[onload], iframe[srcdoc], a[href^='javascript:'], [onerror], [onload]"


@dataclass
class XssWorld:
    server: AppServer
    api: Api
    author: User
    usernames: list[str]
    polls: list[dict[str, Any]] = field(default_factory=list)


def _sqlite_path(url: str) -> Path:
    assert url.startswith("sqlite:///"), url
    return Path(url[len("sqlite:///"):])


@pytest.fixture(scope="module")
def xss_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[XssWorld]:
    workdir = tmp_path_factory.mktemp("xss")
    project = prepare_project(workdir / "project")
    # Not in the browser suite's 3101-3199: a browser of a suite running at the same time on this
    # machine must never mistake this server for one of its own.
    server = AppServer("security-xss", project, free_port(range(3301, 3400)), f"sqlite:///{workdir / 'commons.db'}")
    server.log_path.write_text("")
    try:
        server.cli("migrate")
        server.start()
        server.wait_ready()
        api = Api(server.url)
        try:
            yield build_world(server, api)
        finally:
            api.close()
    except Exception:
        print(f"===== tail of {server.log_path} =====\n{server.tail()}")
        raise
    finally:
        server.stop()


def build_world(server: AppServer, api: Api) -> XssWorld:
    # Registration refuses every payload as a username.
    for payload in PAYLOADS:
        response = api.client.post("/users/", json={"username": payload, "email": f"x{secrets.token_hex(4)}@example.org",
                                                    "password": PASSWORD})
        assert response.status_code == 422, (payload, response.status_code, response.text)
    author = api.register("xssauthor")
    others = [api.register("xssvictim") for _ in PAYLOADS]
    # The author is shown as a payload (and made an admin, to open /admin); so is everyone else.
    shown = "<img src=x onerror=window.__xss=1><script>window.__xss=1</script>"
    with sqlite3.connect(_sqlite_path(server.database_url)) as db:
        db.execute("UPDATE users SET username = ?, role = 'admin' WHERE id = ?", (shown, author.id))
        for other, payload in zip(others, PAYLOADS, strict=True):
            db.execute("UPDATE users SET username = ? WHERE id = ?", (payload, other.id))
    author.role = "admin"
    world = XssWorld(server, api, author, [shown, *PAYLOADS])
    for i, payload in enumerate(PAYLOADS):
        options = [payload, PAYLOADS[(i + 1) % len(PAYLOADS)], f"plain option {i}"]
        world.polls.append(api.create_poll(
            author, title=payload, options=options, description=PAYLOADS[(i + 2) % len(PAYLOADS)]
        ))
    # One ballot each, so the results page has bars and numbers to draw.
    for poll in world.polls:
        response = api.client.post("/votes/", json={"poll_id": poll["id"], "option_id": poll["options"][0]["id"]},
                                   headers=others[0].headers)
        assert response.status_code == 201, response.text
    return world


@pytest.fixture(scope="module")
def chromium(chromium_browser: Any) -> Any:
    """The session's Chromium (one Playwright driver per process, see tests/conftest.py)."""
    return chromium_browser


@pytest.fixture(scope="module")
def signed_in(chromium: Any, xss_world: XssWorld) -> Iterator[tuple[Any, list[str]]]:
    """One tab, signed in as the payload-named admin who wrote the polls; records any dialog."""
    context = chromium.new_context(viewport=DESKTOP)
    context.set_default_timeout(UI_TIMEOUT)
    context.add_init_script(SOCKET_RECORDER)
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("console", lambda message: print(f"console {message.type}: {message.text[:300]}")
            if message.type in {"error", "warning"} else None)
    login_as = User(id=xss_world.author.id, username=xss_world.author.username, email=xss_world.author.email,
                    password=PASSWORD, token=xss_world.author.token, role="admin")
    ui_login(page, xss_world.server.url, login_as)
    yield page, dialogs
    context.close()


def open_page(page: Any, url: str) -> None:
    response = page.goto(url)
    assert response is not None
    headers = response.headers
    assert "frame-ancestors 'none'" in headers.get("content-security-policy", ""), headers
    assert headers.get("x-content-type-options") == "nosniff"
    goto(page, url)  # wait for the websocket to deliver the state


def assert_inert(page: Any, dialogs: list[str], texts: list[str], where: str) -> None:
    from playwright.sync_api import expect

    for text in texts:
        expect(page.get_by_text(text, exact=True).first).to_be_visible(timeout=UI_TIMEOUT)
    page.wait_for_timeout(300)  # give an injected handler (onerror, onload) the chance to run
    assert page.evaluate("typeof window.__xss") == "undefined", f"payload ran on {where}"
    injected = page.evaluate(f"document.querySelectorAll({INJECTED!r}).length")
    scripts = page.evaluate(
        "[...document.querySelectorAll('script:not([src])')].filter(s => s.textContent.includes('__xss')).length"
    )
    assert scripts == 0, f"an inline script with a payload on {where}"
    assert injected == 0, f"injected markup on {where}"
    assert not dialogs, f"a dialog opened on {where}: {dialogs}"
    REPORT["XSS page checks"] += 1


def test_payloads_stay_text_on_every_page(signed_in, xss_world):
    page, dialogs = signed_in
    base = xss_world.server.url

    open_page(page, base + "/polls")
    assert_inert(page, dialogs, [*PAYLOADS, xss_world.usernames[0]], "the polls list")

    open_page(page, base + "/dashboard")
    assert_inert(page, dialogs, PAYLOADS, "the dashboard")

    open_page(page, base + "/admin")
    assert_inert(page, dialogs, xss_world.usernames, "the admin page")

    for poll in xss_world.polls:
        texts = [poll["title"], poll["description"], *(o["text"] for o in poll["options"])]
        open_page(page, f"{base}/polls/{poll['id']}")
        assert_inert(page, dialogs, list(dict.fromkeys(texts)), f"the vote page of poll {poll['id']}")
        open_page(page, f"{base}/polls/{poll['id']}/results")
        assert_inert(page, dialogs, list(dict.fromkeys([poll["title"], *(o["text"] for o in poll["options"])])),
                     f"the results page of poll {poll['id']}")
