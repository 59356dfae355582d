"""Live access follows permission, and a Reflex client token is not a credential.

Each trigger test opens a poll's live results in a signed-in browser, proves that pushes arrive
(a first ballot shows), then changes who may see the results — the poll's visibility, its results
rule, its roll, the session (log-out in another tab, disabling, a password change, expiry) or the
tab's page (navigation) — and casts another ballot: no message carrying it may reach the tab.

The replay tests connect to ``/_event`` with a closed tab's client token, as an attacker who read
it from a log or the state store would, and ask for the victim's data with and without the
hydrate event. The scans look for the browser's raw credential in Reflex's state files and in
Redis.
"""

from __future__ import annotations

import concurrent.futures
import json
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import PASSWORD, Api, User, at, goto, ui_login

pytestmark = pytest.mark.browser

COOKIE = "commons_session"
QUIET_SECONDS = 3.0  # the push window is 0.25 s: a push of the second ballot would be here by far


def _key(name: str) -> str:
    from reflex_base.constants.state import FIELD_MARKER

    return f"{name}{FIELD_MARKER}"


def cast(api: Api, voter: User, poll: dict[str, Any]) -> None:
    response = api.client.post("/votes/", json={"poll_id": poll["id"], "option_id": poll["options"][0]["id"]},
                               headers=voter.headers)
    assert response.status_code == 201, response.text


def messages(page: Page, after: int = 0) -> list[str]:
    return page.evaluate("(after) => window.__e2e.messages.slice(after)", after)


def watching(new_page: Any, server: Any, api: Api, *, private: bool = False, **spec: Any
             ) -> tuple[Page, User, User, dict[str, Any], list[User]]:
    """A viewer's results tab receiving pushes: (page, viewer, owner, poll, two more voters)."""
    owner, viewer = api.register("owner"), api.register("viewer")
    voters = [api.register("voter"), api.register("voter")]
    poll = api.create_poll(owner, options=["Yes", "No"], visibility="private" if private else "public", **spec)
    if private:
        roll = [{"username": u.username} for u in (viewer, *voters)]
        response = api.client.put(f"/polls/{poll['id']}/voters", json={"voters": roll}, headers=owner.headers)
        assert response.status_code == 200, response.text
    page = new_page()
    ui_login(page, server.url, viewer)
    goto(page, f"{server.url}/polls/{poll['id']}/results")
    expect(page.get_by_test_id("total-ballots")).to_have_text("0")
    cast(api, voters[0], poll)
    expect(page.get_by_test_id("total-ballots")).to_have_text("1")  # pushes reach this tab
    return page, viewer, owner, poll, voters


def assert_no_push(page: Page, api: Api, poll: dict[str, Any], voter: User, after: int, *, total: int = 2) -> None:
    """Cast another ballot (making ``total``): nothing carrying it may reach the tab."""
    cast(api, voter, poll)
    time.sleep(QUIET_SECONDS)
    carried = [m for m in messages(page, after) if f'"{_key("total_ballots")}":{total}' in m]
    assert not carried, f"a push reached the tab after its access ended: {carried[0][:300]}"
    shown = page.get_by_test_id("total-ballots")
    assert shown.count() == 0 or shown.inner_text() != str(total)


def retract_first(page: Page, api: Api, poll: dict[str, Any], voter: User) -> int:
    """Once a poll has a ballot only its title, description and closing time may change: the
    first voter retracts (the tab sees 0 again) so the owner may change who sees the results.
    Returns the message count to look after."""
    response = api.client.delete(f"/polls/{poll['id']}/my-vote", headers=voter.headers)
    assert response.status_code == 204, response.text
    expect(page.get_by_test_id("total-ballots")).to_have_text("0")  # pushes still reach this tab
    return len(messages(page))


def _patch(api: Api, owner: User, poll: dict[str, Any], **changes: Any) -> None:
    response = api.client.patch(f"/polls/{poll['id']}", json=changes, headers=owner.headers)
    assert response.status_code == 200, response.text


def _expire_browser_sessions(server: Any, user_id: int) -> None:
    """Time passes: the user's browser sessions reach their absolute lifetime."""
    from sqlalchemy import update
    from sqlmodel import Session, create_engine

    from commons_app.models import AuthSession, utcnow

    engine = create_engine(server.database_url)
    try:
        with Session(engine) as session:
            session.execute(update(AuthSession).where(AuthSession.user_id == user_id)
                            .values(expires_at=utcnow() - timedelta(seconds=1)))
            session.commit()
    finally:
        engine.dispose()


TRIGGERS = ["visibility", "results_rule", "roll", "logout", "disabling", "password_change", "navigation", "expiry"]


@pytest.mark.parametrize("trigger", TRIGGERS)
def test_no_push_after_access_ends(trigger, app_server, api, new_page):
    page, viewer, owner, poll, voters = watching(new_page, app_server, api, private=trigger == "roll")
    after = len(messages(page))
    total = 2
    if trigger in ("visibility", "results_rule"):
        after, total = retract_first(page, api, poll, voters[0]), 1
    if trigger == "visibility":
        # The second voter may still vote once the poll is private; the viewer is not on its roll.
        response = api.client.put(f"/polls/{poll['id']}/voters", json={"voters": [{"username": voters[1].username}]},
                                  headers=owner.headers)
        assert response.status_code == 200, response.text
        expect(page.get_by_test_id("total-ballots")).to_have_text("0")  # a roll of a public poll: still shown
        _patch(api, owner, poll, visibility="private")
    elif trigger == "results_rule":
        _patch(api, owner, poll, results_visibility="creator")
    elif trigger == "roll":
        roll = [{"username": u.username} for u in voters]
        response = api.client.put(f"/polls/{poll['id']}/voters", json={"voters": roll}, headers=owner.headers)
        assert response.status_code == 200, response.text
    elif trigger == "logout":
        other = page.context.new_page()  # another tab of the same browser: the same session
        goto(other, f"{app_server.url}/polls")
        other.get_by_role("button", name="Log out").click()
        expect(other).to_have_url(at(app_server.url, "/login"), timeout=10_000)  # a full page load now
    elif trigger == "disabling":
        admin = api.login("admin", "commons-demo-2026")
        response = api.client.patch(f"/admin/users/{viewer.id}", json={"is_active": False}, headers=admin.headers)
        assert response.status_code == 200, response.text
    elif trigger == "password_change":
        response = api.client.post("/me/password", headers=viewer.headers,
                                   json={"current_password": PASSWORD, "new_password": "Another-long-passphrase-9"})
        assert response.status_code == 204, response.text
    elif trigger == "navigation":
        page.get_by_role("link", name="Polls", exact=True).first.click()
        expect(page).to_have_url(f"{app_server.url}/polls")
        expect(page.get_by_role("heading", name="Polls").first).to_be_visible()
    elif trigger == "expiry":
        _expire_browser_sessions(app_server, viewer.id)
        time.sleep(6)  # the sweep runs every SESSION_SWEEP_SECONDS (5)
    assert_no_push(page, api, poll, voters[1], after, total=total)
    if trigger != "navigation":  # and the page says why
        expect(page.locator("#results-withdrawn")).to_be_visible()


# --- a closed tab's client token ---------------------------------------------------------------------
def _names() -> dict[str, str]:
    from reflex.state import State

    from commons_app.pages.dashboard import DashboardState
    from commons_app.state.session import SessionState

    root = State.get_full_name()
    return {"root": root, "session": SessionState.get_full_name(), "dashboard": DashboardState.get_full_name()}


def replay(base_url: str, token: str, *, hydrate_path: str | None, events: list[str], path: str,
           cookie: str = "", until: str = "", wait: float = 3.0) -> list[dict]:
    """A Socket.IO connection to ``/_event`` claiming ``token`` (and presenting ``cookie``, if
    any), with the hydrate event in its CONNECT packet as the frontend sends it, or without; then
    ``events`` (full handler names) as from ``path``. Returns every update received within
    ``wait`` seconds (or until one holds ``until``)."""
    import asyncio
    import json

    import socketio

    async def run() -> list[dict]:
        received: list[dict] = []
        client = socketio.AsyncClient(reconnection=False)
        client.on("event", lambda update: received.append(update), namespace="/_event")
        auth = None
        if hydrate_path is not None:
            auth = {"event": {"name": f"{_names()['root']}.hydrate_and_load", "payload": {},
                              "router_data": {"pathname": hydrate_path, "asPath": hydrate_path}}}
        headers = {"Origin": base_url}
        if cookie:
            headers["Cookie"] = f"{COOKIE}={cookie}"
        await client.connect(f"{base_url}?token={token}", headers=headers, transports=["websocket"],
                             socketio_path="/_event", namespaces=["/_event"], auth=auth, wait_timeout=20)
        try:
            await asyncio.sleep(1)
            for name in events:
                await client.emit("event", {"name": name, "payload": {},
                                            "router_data": {"pathname": path, "asPath": path}}, namespace="/_event")
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and not (until and until in json.dumps(received)):
                await asyncio.sleep(0.2)
        finally:
            await client.disconnect()
        return received

    # Playwright's sync API runs a loop in this thread: the client gets a thread of its own.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run()).result()


def _victim_tab(new_page: Any, server: Any, api: Api) -> tuple[str, str, str, User]:
    """A victim who looked at their dashboard, then closed the tab: (token, cookie, poll title, user)."""
    victim = api.register("victim")
    title = f"Victim's secret poll {victim.username}"
    api.create_poll(victim, title=title, visibility="unlisted")
    page = new_page()
    ui_login(page, server.url, victim)
    goto(page, f"{server.url}/dashboard")
    expect(page.get_by_text(title).first).to_be_visible()
    token = page.evaluate("() => window.sessionStorage.getItem('token')")
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    page.context.close()
    time.sleep(1)  # the socket's disconnect frees the token
    return token, cookies.get(COOKIE, ""), title, victim


@pytest.mark.parametrize("hydrate", [False, True], ids=["without-hydrate", "with-hydrate"])
def test_a_replayed_client_token_acts_as_nobody(hydrate, app_server, api, new_page):
    token, _cookie, title, victim = _victim_tab(new_page, app_server, api)
    names = _names()
    received = replay(app_server.url, token, hydrate_path="/dashboard" if hydrate else None, path="/dashboard",
                      events=[f"{names['session']}.check_session", f"{names['dashboard']}.on_load"], wait=4)
    seen = json.dumps(received)
    assert received, "the server answered nothing at all"
    assert victim.username not in seen, "the replayed token acted as its user"
    assert title not in seen, "the replayed token showed the victim's private data"


def test_the_session_cookie_itself_still_works_over_a_socket(app_server, api, new_page):
    """The control: the same events with the browser's credential in the handshake do answer."""
    token, cookie, title, victim = _victim_tab(new_page, app_server, api)
    assert cookie, "log-in set no session cookie"
    names = _names()
    received = replay(app_server.url, token, hydrate_path=None, path="/dashboard", cookie=cookie, until=title,
                      events=[f"{names['session']}.check_session", f"{names['dashboard']}.on_load"], wait=10)
    seen = json.dumps(received)
    assert victim.username in seen and title in seen


def test_the_credential_is_an_http_only_cookie_not_in_local_storage(app_server, api, new_page):
    user = api.register("cookie")
    page = new_page()
    ui_login(page, app_server.url, user)
    cookie = next(c for c in page.context.cookies() if c["name"] == COOKIE)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert 0 < cookie["expires"] - time.time() <= 24 * 3600 + 60  # BROWSER_SESSION_MAX_HOURS, not 14 days
    stored = page.evaluate("() => JSON.stringify(Object.assign({}, window.localStorage, window.sessionStorage))")
    assert cookie["value"] not in stored
    assert cookie["value"] not in page.evaluate("() => document.cookie")


# --- scans of the state stores --------------------------------------------------------------------------
def test_no_raw_credential_in_the_state_files(app_server, api, new_page):
    user = api.register("scan")
    page = new_page()
    ui_login(page, app_server.url, user)
    for path in ("/polls", "/dashboard", "/polls"):
        goto(page, app_server.url + path)
    credential = next(c["value"] for c in page.context.cookies() if c["name"] == COOKIE)
    time.sleep(2)  # state is written after each event
    files = [p for p in Path(app_server.project).rglob("*") if ".states" in p.parts and p.is_file()]
    assert files, f"no Reflex state files under {app_server.project}"
    holding = [str(p) for p in files if credential.encode() in p.read_bytes()]
    assert not holding, f"the raw browser credential is in {holding}"


def test_no_raw_credential_in_redis(cluster, new_page):
    import redis

    user = cluster.api_a.register("scan")
    page = new_page()
    ui_login(page, cluster.a.url, user)
    for path in ("/polls", "/dashboard"):
        goto(page, cluster.a.url + path)
    credential = next(c["value"] for c in page.context.cookies() if c["name"] == COOKIE)
    time.sleep(2)
    client = redis.Redis.from_url(cluster.redis_url)
    try:
        keys = list(client.scan_iter(count=1000))
        assert keys, "Redis holds no state at all"
        holding = []
        for key in keys:
            kind = client.type(key)
            values: list[bytes] = []
            if kind == b"string":
                values = [client.get(key) or b""]
            elif kind == b"hash":
                values = list(client.hgetall(key).values())
            elif kind in (b"list",):
                values = client.lrange(key, 0, -1)
            elif kind == b"set":
                values = list(client.smembers(key))
            if any(credential.encode() in v for v in values) or credential.encode() in key:
                holding.append(key)
    finally:
        client.close()
    assert not holding, f"the raw browser credential is in Redis keys {holding[:5]}"


@pytest.mark.parametrize("trigger", ["logout", "visibility"])
def test_no_push_after_access_ends_across_instances(trigger, cluster, new_page):
    """The change happens on the other instance (its own workers): the tab still stops at once."""
    page, _viewer, owner, poll, voters = watching(new_page, cluster.a, cluster.api_a)
    after = len(messages(page))
    total = 2
    if trigger == "visibility":
        after, total = retract_first(page, cluster.api_a, poll, voters[0]), 1
    if trigger == "logout":
        other = page.context.new_page()  # cookies ignore ports: the same session on instance B
        goto(other, f"{cluster.b.url}/polls")
        other.get_by_role("button", name="Log out").click()
        expect(other).to_have_url(at(cluster.b.url, "/login"), timeout=10_000)
    else:
        response = cluster.api_b.client.put(f"/polls/{poll['id']}/voters", headers=owner.headers,
                                            json={"voters": [{"username": voters[1].username}]})
        assert response.status_code == 200, response.text
        _patch(cluster.api_b, owner, poll, visibility="private")
    assert_no_push(page, cluster.api_b, poll, voters[1], after, total=total)
    expect(page.locator("#results-withdrawn")).to_be_visible()
