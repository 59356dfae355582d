"""Helpers of the browser suite: REST set-up calls, signing in through the UI, and sending a
Reflex event through the page's own websocket."""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from typing import Any

import httpx
from playwright.sync_api import Page, expect

# Filled by the live-update tests, printed in the terminal summary and test-artifacts/latency.json.
LATENCIES: dict[str, dict[str, Any]] = {}

PASSWORD = "e2e-Correct-Horse-42"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
UI_TIMEOUT = 15_000  # ms: generous for a loaded 2-core machine; assertions on latency are separate

# Recorded in every page before the app's scripts run: the /_event websockets and what they receive.
SOCKET_RECORDER = """
(() => {
  if (window.__e2e) return;
  const Native = window.WebSocket;
  const rec = (window.__e2e = { sockets: [], messages: [] });
  class RecordedWebSocket extends Native {
    constructor(...args) {
      super(...args);
      if (String(args[0]).includes("/_event")) {
        rec.sockets.push(this);
        this.addEventListener("message", (ev) => {
          if (typeof ev.data === "string") rec.messages.push(ev.data);
        });
      }
    }
  }
  window.WebSocket = RecordedWebSocket;
})();
"""


@dataclass
class User:
    id: int
    username: str
    email: str
    password: str
    token: str
    role: str = "member"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class Api:
    """The app's REST API on one server (same port as the pages)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.client = httpx.Client(base_url=base_url + "/api", timeout=20)

    def close(self) -> None:
        self.client.close()

    def token(self, username: str, password: str) -> str:
        response = self.client.post("/token", data={"username": username, "password": password})
        assert response.status_code == 200, response.text
        return response.json()["access_token"]

    def register(self, prefix: str = "e2e") -> User:
        username = f"{prefix}_{secrets.token_hex(4)}"
        email = f"{username}@example.org"
        response = self.client.post("/users/", json={"username": username, "email": email, "password": PASSWORD})
        assert response.status_code == 201, response.text
        body = response.json()
        return User(id=body["id"], username=username, email=email, password=PASSWORD,
                    token=self.token(username, PASSWORD), role=body["role"])

    def login(self, username: str, password: str) -> User:
        token = self.token(username, password)
        me = self.client.get("/me", headers={"Authorization": f"Bearer {token}"}).json()
        return User(id=me["id"], username=me["username"], email=me["email"], password=password, token=token,
                    role=me["role"])

    def create_poll(self, owner: User, title: str | None = None, options: list[str] | None = None,
                    **spec: Any) -> dict[str, Any]:
        body = {"title": title or f"E2E poll {secrets.token_hex(3)}", "options": options or ["Red", "Green", "Blue"],
                **spec}
        response = self.client.post("/polls/", json=body, headers=owner.headers)
        assert response.status_code == 201, response.text
        return response.json()

    def get(self, path: str, user: User) -> httpx.Response:
        return self.client.get(path, headers=user.headers)

    def me(self, user: User) -> dict[str, Any]:
        response = self.get("/me", user)
        assert response.status_code == 200, response.text
        return response.json()

    def my_polls(self, user: User) -> list[dict[str, Any]]:
        response = self.client.get("/polls/", params={"limit": 100}, headers=user.headers)
        assert response.status_code == 200, response.text
        return [p for p in response.json()["items"] if p["created_by"] == user.id]

    def find_poll(self, user: User, title: str) -> dict[str, Any]:
        # searched by title: the shared server holds more than a page of polls made by other tests
        response = self.client.get("/polls/", params={"limit": 100, "search": title}, headers=user.headers)
        assert response.status_code == 200, response.text
        matches = [p for p in response.json()["items"] if p["title"] == title]
        assert matches, f"no poll titled {title!r}"
        return matches[0]


def at(base: str, path: str, query: str = "") -> re.Pattern[str]:
    """The URL ``base + path`` (+ ``query``), with or without the trailing slash that the static
    server adds on a full page load (``/login`` answers 307 to ``/login/``)."""
    return re.compile("^" + re.escape(base + path.rstrip("/")) + "/?" + re.escape(query) + "$")


# --- pages ---------------------------------------------------------------------------------------
def wait_connected(page: Page, timeout: float = UI_TIMEOUT) -> None:
    """Wait until the app's websocket is up and has delivered the first state (hydrated)."""
    page.wait_for_function(
        "() => !!window.__e2e && window.__e2e.messages.some(m => m.startsWith('42/_event,'))", timeout=timeout
    )


def goto(page: Page, url: str) -> None:
    """Open a URL with a full page load and wait for the app to connect."""
    page.goto(url)
    wait_connected(page)


def ui_login(page: Page, base_url: str, user: User, *, path: str = "/login") -> None:
    """Sign in through the login form (``path`` may carry ``?next=``)."""
    goto(page, base_url + path)
    page.get_by_label("Username", exact=True).fill(user.username)
    page.get_by_label("Password", exact=True).fill(user.password)
    page.get_by_role("button", name="Log in").click()
    # On a phone the button sits in the closed menu: present, not visible.
    expect(page.get_by_role("button", name="Log out", include_hidden=True).first).to_be_attached(timeout=UI_TIMEOUT)
    expect(page).not_to_have_url(re.compile(re.escape(base_url) + "/login"), timeout=UI_TIMEOUT)


def socket_message_count(page: Page) -> int:
    return page.evaluate("() => window.__e2e.messages.length")


def send_event(page: Page, name: str, payload: dict[str, Any]) -> int:
    """Send one Reflex event through the page's own websocket, as the frontend would.

    The socket is the page's: the server knows it by the tab's token, and the handler runs with
    the state (and credential) of that tab. Returns how many messages had arrived before.
    """
    return page.evaluate(
        """([name, payload]) => {
            const open = window.__e2e.sockets.filter((s) => s.readyState === 1);
            if (!open.length) throw new Error("no open /_event websocket");
            const before = window.__e2e.messages.length;
            const path = window.location.pathname;
            const event = { name, payload, router_data: { pathname: path, asPath: path + window.location.search } };
            open[open.length - 1].send("42/_event," + JSON.stringify(["event", event]));
            return before;
        }""",
        [name, payload],
    )


def wait_for_message(page: Page, after: int, text: str, timeout: float = UI_TIMEOUT) -> str:
    """Wait for a websocket message (received after index ``after``) that contains ``text``."""
    handle = page.wait_for_function(
        """([after, text]) => window.__e2e.messages.slice(after).find((m) => m.includes(text)) || null""",
        arg=[after, json.dumps(text)[1:-1]],
        timeout=timeout,
    )
    return handle.json_value()
