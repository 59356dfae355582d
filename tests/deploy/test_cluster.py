"""The deploy topology, end to end: ``deploy/run-local.sh`` builds the page bundle once, starts two
app instances (backend only) on two ports with Debian's nginx in front (serving the bundle,
forwarding the API and the websocket), on a throwaway PostgreSQL database and a Redis database of
their own. The tests talk to the balancer, and to the instances directly only to tell the app's
own behaviour from nginx's.

What they prove:

* migrations ran exactly once, as a step before the instances started: one Alembic run in the
  script's migration log, none in the build's or either instance's log, and the database at the
  head revision;
* ``/api/health`` through the balancer reports the database and Redis ready, and the balancer
  spreads requests over both instances (the ``X-Upstream`` header nginx adds to what it proxies);
* ``/metrics`` is not served through the balancer (nginx answers 404 itself, token or not), and
  each instance serves it directly, with its ``METRICS_TOKEN`` only;
* the balancer forwards websockets (a raw ``/_event`` upgrade: 101, a valid accept key, the
  engine.io open packet) to both instances, and a foreign origin is refused;
* gzip and ``Cache-Control``: through nginx (a JS asset and the pages from the bundle, a large JSON
  API answer; immutable hashed assets, revalidated pages, unstored API answers; the pages carry the
  app's security headers) and from the app itself (the JSON answer straight from each instance; the
  real bundle served by Reflex's static files class inside ``wrap_with_guard``), never twice;
* two viewers of a poll's results page, opened through the balancer, hold their websockets on
  *different* instances (the websocket handshake's ``X-Upstream``, read over Chrome's DevTools
  protocol, then checked against nginx's access log); votes cast through the balancer, over the
  REST API (landing on each instance: their ``X-Request-ID`` is in that instance's log) and in a
  browser, reach both viewers live, without a reload;
* SIGTERM to the script stops both instances' process groups and nginx, and frees the ports;
* deploy/nginx.conf (compose) is valid nginx with the same site as the local one, and compose's
  services are wired as run-local.sh runs them (this one needs nginx only).

Needs Debian's nginx (``make test`` installs it), Chromium, PostgreSQL and Redis: skipped without
them, failed when ``CI=true``. Ports 3400-3499; Redis database ``DEPLOY_REDIS_DB`` (12).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from commons_app.api.app import SECURITY_HEADERS, cache_control_for, wrap_with_guard
from tests import aio
from tests.browser import helpers
from tests.browser.servers import free_port
from tests.conftest import (
    alembic_config,
    create_postgres_database,
    drop_postgres_database,
    flushed_redis_database,
    unavailable,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(1200)]

ROOT = Path(__file__).resolve().parents[2]
RUN_LOCAL = ROOT / "deploy" / "run-local.sh"
DEPLOY_REDIS_DB = int(os.environ.get("DEPLOY_REDIS_DB", "12"))
PORTS = range(3400, 3500)
START_TIMEOUT = 480  # s: for the build, then for the instances (~40 s and ~10 s on an idle machine)
LIVE_TIMEOUT = 20_000  # ms: a vote reaching a viewer (measured: well under 2 s)
REGISTER_LIMIT = 20
GZIP = {"Accept-Encoding": "gzip"}
IDENTITY = {"Accept-Encoding": "identity"}
# Never passed on to the script from the test process's environment (tests/conftest.py sets some).
DROP_ENV_PREFIXES = ("DATABASE_URL", "REDIS_URL", "COMMONS_", "RATELIMIT_", "GRANIAN_", "CORS_ORIGINS", "SECRET_KEY",
                     "PYTEST_", "REFLEX_", "LIVE_PUSH_INTERVAL", "TRUSTED_PROXIES", "PROMETHEUS_", "METRICS_TOKEN")


def nginx_binary() -> str | None:
    found = shutil.which("nginx")
    if found:
        return found
    return "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None


@dataclass
class Cluster:
    """A running ``deploy/run-local.sh``."""

    process: subprocess.Popen
    run_dir: Path
    output: Path
    lb_port: int
    ports: tuple[int, int]
    database_url: str
    redis_url: str
    metrics_token: str = ""
    started_in: float = 0.0
    api: helpers.Api = field(init=False)

    def __post_init__(self) -> None:
        self.api = helpers.Api(self.url)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.lb_port}"

    def instance_url(self, n: int) -> str:
        return f"http://127.0.0.1:{self.ports[n]}"

    def read(self, name: str) -> str:
        try:
            return (self.run_dir / name).read_text(errors="replace")
        except OSError:
            return ""

    def instance_log(self, port: int) -> str:
        return self.read(f"instance-{self.ports.index(port) + 1}.log")

    def pids(self) -> list[int]:
        """The instances' process-group ids and nginx's master pid, as the script recorded them."""
        found = []
        for name in ("instance-1.pid", "instance-2.pid", "nginx.pid"):
            text = self.read(name).strip()
            if text.isdigit():
                found.append(int(text))
        return found

    def diagnostics(self) -> str:
        parts = [f"--- run-local.sh output ---\n{tail(self.output.read_text(errors='replace'))}"]
        for name in ("migrate.log", "build.log", "instance-1.log", "instance-2.log", "nginx-error.log",
                     "nginx-access.log"):
            parts.append(f"--- {name} ---\n{tail(self.read(name))}")
        return "\n".join(parts)


def tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])


def upstream_port(response: httpx.Response) -> int:
    """The instance that answered through nginx (``X-Upstream: 127.0.0.1:<port>``)."""
    value = response.headers.get("x-upstream", "")
    assert re.fullmatch(r"127\.0\.0\.1:\d+", value), f"no single upstream in X-Upstream: {value!r}"
    return int(value.rsplit(":", 1)[1])


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop(cluster: Cluster, grace: float = 60.0) -> int | None:
    """SIGTERM to the script, which stops the rest; whatever outlives it is killed. Returns the
    script's exit code (None when it had to be killed)."""
    process = cluster.process
    groups = [int(text) for name in ("build.pid", "instance-1.pid", "instance-2.pid")
              if (text := cluster.read(name).strip()).isdigit()]
    nginx = cluster.read("nginx.pid").strip()
    code = process.poll()
    if code is None:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(grace)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the script and its nginx (start_new_session)
            process.wait(10)
    for pgid in groups:
        if group_alive(pgid):
            os.killpg(pgid, signal.SIGKILL)
    if nginx.isdigit() and pid_alive(int(nginx)):
        os.kill(int(nginx), signal.SIGKILL)
    return code


# --- the cluster ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def deploy_database() -> Iterator[str]:
    """A fresh ``commons_test_<hex>`` database on the target PostgreSQL server, unmigrated."""
    url = create_postgres_database("_deploy")
    try:
        yield url
    finally:
        drop_postgres_database(url)


@pytest.fixture(scope="module")
def deploy_redis() -> Iterator[str]:
    """Database ``DEPLOY_REDIS_DB`` (12) of the target Redis server, flushed before and after."""
    with flushed_redis_database(DEPLOY_REDIS_DB) as url:
        yield url


@pytest.fixture(scope="module")
def cluster(deploy_database: str, deploy_redis: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if nginx_binary() is None:
        unavailable("nginx is not installed (`make nginx` installs Debian's)")
    run_dir = tmp_path_factory.mktemp("deploy-cluster")
    output = run_dir / "run-local.out"
    lb_port, port1, port2 = free_port(PORTS), free_port(PORTS), free_port(PORTS)
    env = {k: v for k, v in os.environ.items() if not k.startswith(DROP_ENV_PREFIXES)}
    metrics_token = secrets.token_urlsafe(32)
    env.update(
        DATABASE_URL=deploy_database, REDIS_URL=deploy_redis, LB_PORT=str(lb_port), PORT1=str(port1),
        PORT2=str(port2), RUN_DIR=str(run_dir), START_TIMEOUT=str(START_TIMEOUT), WORKERS="2",
        METRICS_TOKEN=metrics_token,
        # The app's limits are on (the defaults), registration as it was before rooms were
        # allowed for, so that the proxy test below can fill one client's bucket quickly.
        RATELIMIT_REGISTER=f"{REGISTER_LIMIT}/hour",
    )
    started = time.monotonic()
    with output.open("w") as out:
        process = subprocess.Popen(
            ["bash", str(RUN_LOCAL)], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
    running = Cluster(process, run_dir, output, lb_port, (port1, port2), deploy_database, deploy_redis,
                      metrics_token=metrics_token)
    try:
        deadline = started + 2 * START_TIMEOUT + 60
        while "READY " not in output.read_text(errors="replace"):
            if process.poll() is not None:
                pytest.fail(f"deploy/run-local.sh exited with {process.returncode}:\n{running.diagnostics()}")
            if time.monotonic() > deadline:
                pytest.fail(f"deploy/run-local.sh not ready after {deadline - started:.0f} s:\n{running.diagnostics()}")
            time.sleep(0.5)
        running.started_in = time.monotonic() - started
        print(f"\ncluster ready behind {running.url} after {running.started_in:.0f} s (instances {port1}, {port2})")
        yield running
    finally:
        running.api.close()
        stop(running)


@pytest.fixture(autouse=True)
def _diagnostics_on_failure(request: pytest.FixtureRequest) -> Iterator[None]:
    """Print the cluster's logs after a failing test (the call's report is counted before teardown)."""
    failed_before = request.session.testsfailed
    yield
    running = request.node.funcargs.get("cluster")
    if request.session.testsfailed > failed_before and isinstance(running, Cluster):
        print(f"\n===== cluster logs ({running.run_dir}) =====\n{running.diagnostics()}")


# --- operations -----------------------------------------------------------------------------------
def test_migrations_ran_once_before_the_instances(cluster: Cluster):
    from alembic.script import ScriptDirectory
    from sqlalchemy import create_engine, text

    output = cluster.output.read_text()
    assert output.index("run-local: migrated") < output.index("run-local: instance 1"), output
    migrate_log = cluster.read("migrate.log")
    revisions = list(ScriptDirectory.from_config(alembic_config()).walk_revisions())
    assert migrate_log.count("Context impl PostgresqlImpl") == 1, migrate_log
    assert migrate_log.count("Running upgrade") == len(revisions), migrate_log
    assert "alembic" not in cluster.read("build.log").lower()
    for n in (1, 2):
        log = cluster.read(f"instance-{n}.log")
        assert "App running at" in log
        assert "alembic" not in log.lower(), f"instance {n} touched Alembic:\n{tail(log)}"

    engine = create_engine(cluster.database_url)
    try:
        with engine.connect() as conn:
            versions = [row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))]
    finally:
        engine.dispose()
    assert versions == [ScriptDirectory.from_config(alembic_config()).get_current_head()]


def test_health_through_the_balancer_from_both_instances(cluster: Cluster):
    answered_by = set()
    with httpx.Client(base_url=cluster.url, timeout=10) as client:
        for _ in range(6):
            response = client.get("/api/health")
            assert response.status_code == 200, response.text
            assert response.json() == {"status": "ok", "database": "ok", "redis": "ok"}
            assert response.headers["cache-control"] == "no-store"
            answered_by.add(upstream_port(response))
        assert client.get("/api/health/live").json() == {"status": "ok"}
    assert answered_by == set(cluster.ports)


def test_metrics_only_from_each_instance_with_the_token(cluster: Cluster):
    token = {"Authorization": f"Bearer {cluster.metrics_token}"}
    with httpx.Client(base_url=cluster.url, timeout=10) as client:
        for headers in ({}, token):
            hidden = client.get("/metrics", headers=headers)
            assert hidden.status_code == 404, hidden.text
            assert "x-upstream" not in hidden.headers  # nginx's own answer: never forwarded
            assert "commons_" not in hidden.text
    assert (cluster.run_dir / "metrics-token").read_text().strip() == cluster.metrics_token
    for n in (0, 1):
        with httpx.Client(base_url=cluster.instance_url(n), timeout=10) as client:
            refused = client.get("/metrics")
            assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
            assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
            scraped = client.get("/metrics", headers=token)
        assert scraped.status_code == 200, scraped.text
        assert scraped.headers["content-type"].startswith("text/plain")
        # run-local.sh polled each instance's /api/health before it printed READY.
        assert 'commons_http_requests_total{method="GET",route="/api/health",status="200"}' in scraped.text


def websocket_open(port: int, origin: str) -> tuple[socket.socket, int, dict[str, str], bytes]:
    """Open a raw websocket to ``/_event`` (Reflex's socket.io endpoint); returns the socket, the status,
    the response headers and whatever followed them."""
    key = base64.b64encode(secrets.token_bytes(16)).decode()
    sock = socket.create_connection(("127.0.0.1", port), timeout=15)
    sock.sendall(
        f"GET /_event/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: {origin}\r\n\r\n"
        .encode()
    )
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        assert chunk, f"connection closed during the handshake: {data!r}"
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    if status == 101:
        expected = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
        assert headers["sec-websocket-accept"] == expected.decode()
    return sock, status, headers, rest


def read_text_frame(sock: socket.socket, already: bytes) -> str:
    data = already
    while len(data) < 2:
        data += sock.recv(4096)
    opcode, length, offset = data[0] & 0x0F, data[1] & 0x7F, 2
    if length == 126:
        while len(data) < 4:
            data += sock.recv(4096)
        length, offset = int.from_bytes(data[2:4], "big"), 4
    while len(data) < offset + length:
        data += sock.recv(4096)
    assert opcode == 1, f"not a text frame: opcode {opcode}"
    return data[offset:offset + length].decode()


def test_the_balancer_forwards_websockets_to_both_instances(cluster: Cluster):
    sockets = []
    try:
        upstreams = set()
        for _ in range(2):  # both held open: least_conn sends the second to the other instance
            sock, status, headers, rest = websocket_open(cluster.lb_port, origin=cluster.url)
            sockets.append(sock)
            assert status == 101, headers
            assert headers["upgrade"].lower() == "websocket"
            upstreams.add(int(headers["x-upstream"].rsplit(":", 1)[1]))
            opened = read_text_frame(sock, rest)
            assert opened.startswith("0{") and '"sid"' in opened, opened  # engine.io's open packet
        assert upstreams == set(cluster.ports)

        sock, status, headers, _ = websocket_open(cluster.lb_port, origin="http://evil.example")
        sockets.append(sock)
        assert status != 101, f"a foreign origin got a websocket: {headers}"
    finally:
        for sock in sockets:
            sock.close()


IMMUTABLE = "public, max-age=31536000, immutable"


def test_pages_and_assets_through_the_balancer_are_compressed_and_cached(cluster: Cluster):
    with httpx.Client(base_url=cluster.url, timeout=20) as client:
        for path in ("/", "/login", "/polls/Vb2kQx7hN4mZ8sLw0eRt5A/results"):  # a prerendered page, and a dynamic route
            page = client.get(path, headers=GZIP)
            assert page.status_code == 200 and page.headers["content-type"].startswith("text/html"), path
            assert page.headers["content-encoding"] == "gzip", path
            assert page.headers["cache-control"] == "no-cache", path
            assert page.text.lstrip().lower().startswith("<!doctype html"), path  # one gzip layer, not two
            for name, value in SECURITY_HEADERS.items():
                assert page.headers.get(name) == value, (path, name)
            assert "x-upstream" not in page.headers  # from the bundle, not an instance

        page = client.get("/", headers=GZIP)
        scripts = sorted(set(re.findall(r'/assets/[^"\'\s]+\.js', page.text)))
        assert scripts, page.text[:2000]
        sizes = {path: len(client.get(path, headers=IDENTITY).content) for path in scripts}
        largest = max(sizes, key=sizes.get)
        assert sizes[largest] > 10_000, sizes
        asset = client.get(largest, headers=GZIP)
        assert asset.status_code == 200, largest
        assert asset.headers["content-encoding"] == "gzip", largest
        assert int(asset.headers["content-length"]) < sizes[largest] // 2
        assert not asset.content.startswith(b"\x1f\x8b") and len(asset.content) == sizes[largest]
        assert asset.headers["cache-control"] == IMMUTABLE, largest
        assert "accept-encoding" in asset.headers.get("vary", "").lower()
        assert asset.headers["x-content-type-options"] == "nosniff"

        revalidated = client.get(largest, headers={**GZIP, "If-None-Match": asset.headers["etag"]})
        assert revalidated.status_code == 304 and revalidated.headers["cache-control"] == IMMUTABLE
        missing = client.get("/assets/missing-Ab12Cd34.js", headers=GZIP)
        assert missing.status_code == 404 and "immutable" not in missing.headers.get("cache-control", "")


def test_api_answers_are_compressed_by_the_app_and_not_stored(cluster: Cluster):
    owner = cluster.api.register("gzip")
    options = [f"Option {i:02d}: a fairly long label so that the answer passes the threshold" for i in range(50)]
    poll = cluster.api.create_poll(owner, options=options)

    for base in (cluster.url, cluster.instance_url(0), cluster.instance_url(1)):
        with httpx.Client(base_url=base, timeout=20) as client:
            plain = client.get(f"/api/polls/{poll['id']}", headers={**owner.headers, **IDENTITY})
            answer = client.get(f"/api/polls/{poll['id']}", headers={**owner.headers, **GZIP})
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-encoding"] == "gzip", base
        assert "content-encoding" not in plain.headers
        assert answer.json() == plain.json() and len(answer.json()["options"]) == 50
        assert int(answer.headers["content-length"]) < len(plain.content) // 3
        assert answer.headers["cache-control"] == "no-store", base
        assert answer.headers["x-frame-options"] == "DENY"
        if base == cluster.url:
            assert upstream_port(answer) in cluster.ports
        else:
            assert "x-upstream" not in answer.headers  # straight from the instance: the app compressed it


def test_the_app_serves_the_real_bundle_with_caching_headers(cluster: Cluster):
    """What ``make run`` (one instance, --single-port) does with the same bundle: Reflex's static files
    class inside the app's own layers."""
    from fastapi.testclient import TestClient
    from reflex.utils.precompressed_staticfiles import PrecompressedStaticFiles
    from starlette.applications import Starlette
    from starlette.routing import Mount

    bundle = cluster.run_dir / "frontend" / ".web" / "build" / "client"
    names = sorted(p.name for p in (bundle / "assets").iterdir())
    assert len(names) > 20, names
    not_hashed = [n for n in names if cache_control_for(f"/assets/{n}", 200) != IMMUTABLE]
    assert not not_hashed, f"files of the build that the app would not cache for good: {not_hashed}"

    static = PrecompressedStaticFiles(directory=bundle, html=True, encodings=["gzip"])
    largest = max((n for n in names if n.endswith(".js")), key=lambda n: (bundle / "assets" / n).stat().st_size)
    with TestClient(wrap_with_guard(Starlette(routes=[Mount("/", app=static)]))) as client:
        asset = client.get(f"/assets/{largest}", headers=GZIP)
        page = client.get("/", headers=GZIP)
    assert asset.headers["cache-control"] == IMMUTABLE and asset.headers["content-encoding"] == "gzip"
    assert asset.content == (bundle / "assets" / largest).read_bytes()
    assert page.headers["cache-control"] == "no-cache" and page.headers["content-encoding"] == "gzip"
    assert page.headers["content-security-policy"] == SECURITY_HEADERS["content-security-policy"]


# --- live results across the instances, in a browser -------------------------------------------------
class SocketWatch:
    """The upstream (``X-Upstream`` of the handshake) of each ``/_event`` websocket a page opens,
    read over Chrome's DevTools protocol."""

    def __init__(self, context: Any, page: Any) -> None:
        self.urls: dict[str, str] = {}
        self.upstreams: list[int] = []
        self.cdp = context.new_cdp_session(page)
        self.cdp.on("Network.webSocketCreated", self._created)
        self.cdp.on("Network.webSocketHandshakeResponseReceived", self._handshake)
        self.cdp.send("Network.enable")

    def _created(self, event: dict[str, Any]) -> None:
        self.urls[event["requestId"]] = event["url"]

    def _handshake(self, event: dict[str, Any]) -> None:
        if "/_event" not in self.urls.get(event["requestId"], "/_event"):
            return
        headers = {k.lower(): v for k, v in event["response"].get("headers", {}).items()}
        if event["response"].get("status") == 101 and "x-upstream" in headers:
            self.upstreams.append(int(headers["x-upstream"].rsplit(":", 1)[1]))

    def after(self, page: Any, count: int, timeout: float = 10.0) -> int:
        """The upstream of the first websocket opened after ``count`` had been seen."""
        deadline = time.monotonic() + timeout
        while len(self.upstreams) <= count:
            assert time.monotonic() < deadline, "no websocket handshake seen"
            page.wait_for_timeout(50)  # lets Playwright deliver the DevTools events
        return self.upstreams[-1]


def open_page(browser: Any, label: str) -> tuple[Any, Any, SocketWatch]:
    # The label in the user agent tells this page's requests apart in nginx's access log.
    agent = f"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130 commons-e2e-{label}"
    context = browser.new_context(viewport=helpers.DESKTOP, user_agent=agent)
    context.set_default_timeout(helpers.UI_TIMEOUT)
    context.add_init_script(helpers.SOCKET_RECORDER)
    page = context.new_page()
    return context, page, SocketWatch(context, page)


def open_results(page: Any, watch: SocketWatch, url: str) -> int:
    """Load the results page (a new websocket); returns the instance its websocket reached."""
    from playwright.sync_api import expect

    seen = len(watch.upstreams)
    helpers.goto(page, url)
    expect(page.get_by_test_id("total-ballots")).to_be_visible(timeout=LIVE_TIMEOUT)
    return watch.after(page, seen)


def test_votes_through_the_balancer_reach_viewers_on_both_instances(cluster: Cluster, chromium_browser: Any):
    from playwright.sync_api import expect

    api = cluster.api
    owner = api.register("owner")
    poll = api.create_poll(owner, options=["Yes", "No"])
    poll_id, yes_id, no_id = poll["id"], poll["options"][0]["id"], poll["options"][1]["id"]
    results_url = f"{cluster.url}/polls/{poll_id}/results"
    contexts = []
    try:
        # Two viewers, each in its own browser context, through the balancer.
        viewers = []
        for label in ("viewer-1", "viewer-2"):
            context, page, watch = open_page(chromium_browser, label)
            contexts.append(context)
            helpers.ui_login(page, cluster.url, api.register(label.replace("-", "")))
            viewers.append((label, page, watch))
        where = {}
        for label, page, watch in viewers:
            for _ in range(8):
                where[label] = open_results(page, watch, results_url)
                if label == "viewer-1" or where[label] != where["viewer-1"]:
                    break
        assert set(where.values()) == set(cluster.ports), f"viewers' websockets: {where}"
        for _, page, _ in viewers:
            expect(page.get_by_test_id("total-ballots")).to_have_text("0")
            page.evaluate("window.__sameDocument = true")

        def seen_by_both(total: int) -> None:
            for label, page, _ in viewers:
                expect(page.get_by_test_id("total-ballots"), f"{label} on {where[label]}").to_have_text(
                    str(total), timeout=LIVE_TIMEOUT)

        # Votes over the REST API through the balancer, until each instance has taken at least one.
        voted_on: dict[int, int] = {}
        total = 0
        for i in range(6):
            voter = api.register(f"voter{i}")
            request_id = f"deploy-vote-{secrets.token_hex(6)}"
            response = api.client.post("/votes/", json={"poll_id": poll_id, "option_id": yes_id if i % 2 else no_id},
                                       headers={**voter.headers, "X-Request-ID": request_id})
            assert response.status_code == 201, response.text
            port = upstream_port(response)
            voted_on[port] = voted_on.get(port, 0) + 1
            total += 1
            seen_by_both(total)
            assert request_id in cluster.instance_log(port), f"vote {request_id} is not in the log of {port}"
            if set(voted_on) == set(cluster.ports):
                break
        assert set(voted_on) == set(cluster.ports), f"API votes by instance: {voted_on}"

        # And a vote in a browser, over its websocket through the balancer.
        context, voter_page, voter_watch = open_page(chromium_browser, "voter")
        contexts.append(context)
        helpers.ui_login(voter_page, cluster.url, api.register("browservoter"))
        seen = len(voter_watch.upstreams)
        helpers.goto(voter_page, f"{cluster.url}/polls/{poll_id}")
        voter_on = voter_watch.after(voter_page, seen)
        voter_page.get_by_label("Yes", exact=True).check()
        voter_page.get_by_role("button", name="Submit vote").click()
        total += 1
        seen_by_both(total)
        expect(voter_page.locator("#my-ballot")).to_contain_text("Yes")

        yes_votes = sum(1 for i in range(total - 1) if i % 2) + 1
        for label, page, _ in viewers:
            expect(page.get_by_test_id(f"result-weight-{yes_id}")).to_have_text(str(yes_votes))
            assert page.evaluate("window.__sameDocument === true"), f"{label}'s page was reloaded"
        print(f"\nviewers' websockets: {where}; API votes by instance: {voted_on}; browser voter on {voter_on}")
    finally:
        for context in contexts:
            context.close()

    # nginx logs a websocket when it closes: the viewers' sockets (told apart by their user agent)
    # went where the handshakes said.
    deadline = time.monotonic() + 15
    while True:
        log = cluster.read("nginx-access.log")
        logged = {}
        for label in ("viewer-1", "viewer-2"):
            hits = [line for line in log.splitlines()
                    if "/_event/" in line and '" 101 ' in line and line.endswith(f'commons-e2e-{label}"')]
            if hits:
                logged[label] = int(re.search(r"upstream=127\.0\.0\.1:(\d+)", hits[-1]).group(1))
        if logged == where or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    assert logged == where, f"nginx's log: {logged}, handshakes: {where}"


# --- limits behind the balancer ----------------------------------------------------------------------
# Several clients on one machine: each connects from its own loopback address (127.0.0.2, ...), so
# nginx sees them apart, as it would see clients on the internet, and adds each to X-Forwarded-For.
EVENT_PATH = "/_event"


class Tab:
    """A browser tab speaking Reflex's Socket.IO protocol (as bench/common.py's BrowserClient),
    connecting from the loopback address ``source``."""

    def __init__(self, base_url: str, source: str) -> None:
        import aiohttp
        import socketio

        self.base_url, self.source = base_url, source
        self.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(source, 0)))
        self.sio = socketio.AsyncClient(reconnection=False, http_session=self.http)
        self.updates: list[dict[str, Any]] = []
        self.token = secrets.token_hex(16)
        self.path = "/"
        self.sio.on("event", self.updates.append, namespace=EVENT_PATH)

    def event(self, name: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"name": name, "payload": payload or {}, "router_data": {"pathname": self.path, "asPath": self.path}}

    async def open(self, path: str) -> None:
        from reflex.state import State

        self.path = path
        await self.sio.connect(
            f"{self.base_url}?token={self.token}", headers={"Origin": self.base_url}, transports=["websocket"],
            socketio_path=EVENT_PATH, namespaces=[EVENT_PATH],
            auth={"event": self.event(f"{State.get_full_name()}.hydrate_and_load")}, wait_timeout=60,
        )

    async def emit(self, name: str, payload: dict[str, Any]) -> None:
        await self.sio.emit("event", self.event(name, payload), namespace=EVENT_PATH)

    async def post_form(self, path: str, form: dict[str, str]) -> str:
        """Send a log-in or registration form as the browser does (a plain HTML form post from
        the page's origin); returns "ok" (sent on into the app) or the sentence the form page
        shows for the refusal code the post answered with."""
        from urllib.parse import parse_qs, urlsplit

        from commons_app.routes import LOGIN_ERRORS, REGISTER_ERRORS

        async with self.http.post(f"{self.base_url}{path}", data=form, headers={"Origin": self.base_url},
                                  allow_redirects=False) as answer:
            assert answer.status == 303, (answer.status, await answer.text())
            location = urlsplit(answer.headers["Location"])
        if location.path not in ("/login", "/register"):
            return "ok"
        code = parse_qs(location.query).get("error", [""])[0]
        return (LOGIN_ERRORS if location.path == "/login" else REGISTER_ERRORS).get(code, f"unknown code {code!r}")

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.sio.disconnect()
        await self.http.close()


def run(coroutine: Any) -> Any:
    return aio.run(coroutine, timeout=None)


def test_browser_log_in_limits_count_each_client_behind_the_balancer(cluster: Cluster):
    """30 failed browser log-ins (the log-in form's post) from one client fill that client's bucket only: a second client
    logs in; a stranger guessing an account's password leaves its owner free to log in."""
    login = "/api/browser/login"
    owner = cluster.api.register("lockowner")
    member = cluster.api.register("lockmember")

    async def scenario() -> None:
        guesser, second, owner_tab = (Tab(cluster.url, f"127.0.0.{n}") for n in (2, 3, 4))
        try:
            for i in range(30):  # 30 names that exist nowhere: each a failed log-in of this client
                answer = await guesser.post_form(login, {"username": f"nobody{i}x", "password": "wrong-guess-1"})
                assert answer == "Incorrect username or password.", (i, answer)
            refused = await guesser.post_form(login, {"username": "nobody99x", "password": "wrong-guess-1"})
            assert "from this address" in refused, refused
            assert await second.post_form(login, {"username": member.username, "password": member.password}) == "ok"

            # A stranger guessing the owner's password (by username and by email) ...
            answers = [await second.post_form(login, {"username": name, "password": f"guess-{i}-wrong"})
                       for i, name in enumerate([owner.username, owner.email] * 6)]
            assert answers.count("Incorrect username or password.") == 10, answers
            assert all("for this account" in a for a in answers[10:]), answers
            # ... and the owner, from their own address, in the middle of it.
            assert await owner_tab.post_form(login, {"username": owner.email, "password": owner.password}) == "ok"
        finally:
            for tab in (guesser, second, owner_tab):
                await tab.close()

    run(scenario())


def test_browser_registrations_are_counted_per_client_behind_the_balancer(cluster: Cluster):
    """Registration is limited per client address, not for the whole site behind nginx."""
    register = "/api/browser/register"
    async def scenario() -> None:
        busy, other = Tab(cluster.url, "127.0.0.5"), Tab(cluster.url, "127.0.0.6")
        try:
            for i in range(REGISTER_LIMIT + 1):
                name = f"reg{secrets.token_hex(4)}x"
                answer = await busy.post_form(register, {"username": name, "email": f"{name}@example.org",
                                                           "password": "a-room-passphrase"})
                if i < REGISTER_LIMIT:
                    assert answer == "ok", (i, answer)
                else:
                    assert "Too many accounts" in answer, answer
            name = f"reg{secrets.token_hex(4)}y"
            assert await other.post_form(register, {"username": name, "email": f"{name}@example.org",
                                                      "password": "a-room-passphrase"}) == "ok"
        finally:
            await busy.close()
            await other.close()

    run(scenario())


def test_websocket_events_are_throttled_per_connection(cluster: Cluster):
    """200 events at once from one socket: at most the limit (100 in 10 s) are handled, the tab is
    told once, the connection stays open and is served again later; another tab is not slowed."""
    from reflex_base.constants.state import FIELD_MARKER

    from commons_app.pages.join import JoinState
    from commons_app.services.ratelimit import MESSAGES

    name = f"{JoinState.get_full_name()}.submit"
    # Two forms the handler refuses with two different messages: every handled event changes
    # the error shown, so every handled event sends a delta.
    # (The join form: log-in and registration are HTTP form posts now, not websocket events.)
    forms = [{"code": ""}, {"code": "no-such-code"}]

    def handled(tab: Tab) -> int:
        return sum(1 for u in tab.updates
                   if ((u.get("delta") or {}).get(JoinState.get_full_name()) or {}).get(f"error{FIELD_MARKER}"))

    def notices(tab: Tab) -> int:
        return sum(1 for u in tab.updates for e in u.get("events") or [] if MESSAGES["ws_event"] in json_text(e))

    async def scenario() -> None:
        import asyncio

        flooder, bystander = Tab(cluster.url, "127.0.0.7"), Tab(cluster.url, "127.0.0.8")
        try:
            await flooder.open("/join")
            await bystander.open("/join")
            started = time.monotonic()
            for i in range(200):
                await flooder.emit(name, {"form": forms[i % 2]})
            sent_in = time.monotonic() - started
            await asyncio.sleep(5)
            first = handled(flooder)
            print(f"\n200 events sent in {sent_in:.2f} s: {first} handled, {notices(flooder)} notice(s)")
            assert 50 <= first <= 100, first
            assert notices(flooder) == 1
            assert flooder.sio.connected
            # Another connection is not held back meanwhile.
            await bystander.emit(name, {"form": forms[0]})
            await asyncio.sleep(2)
            assert handled(bystander) == 1
            # The window frees up: the same connection is served again.
            await asyncio.sleep(11)
            shown = [error for u in flooder.updates
                     if (error := ((u.get("delta") or {}).get(JoinState.get_full_name()) or {}).get(f"error{FIELD_MARKER}"))]
            # The form refused with the other message than the last one shown: a delta again.
            await flooder.emit(name, {"form": forms[1] if "Enter the join code" in shown[-1] else forms[0]})
            await asyncio.sleep(2)
            assert handled(flooder) == first + 1 and flooder.sio.connected
        finally:
            await flooder.close()
            await bystander.close()

    run(scenario())


def json_text(value: Any) -> str:
    import json

    return json.dumps(value)


# Ways a client might spell /metrics so that a balancer forwards it while the app still routes it
# there (raw request lines: an HTTP client library would normalise most of them away).
METRICS_SPELLINGS = [
    "/metrics", "//metrics", "/./metrics", "/metrics?x=1", "/metrics#x", "/api/../metrics", "/api/%2e%2e/metrics",
    "/api/%2E%2E/metrics", "/_event/../metrics", "/_event/..%2fmetrics", "/api/..%2fmetrics", "/%6detrics",
    "/%6D%65%74%72%69%63%73", "/api/..;/metrics", "/api%2f..%2fmetrics", "/_event/%2e%2e/metrics", "/metrics/",
    "/metrics%20", "/metrics.", "http://127.0.0.1/metrics", "/api/../../metrics", "/ping/../metrics",
]


def raw_get(port: int, target: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 GET with the request target exactly as given."""
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        lines = [f"GET {target} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close",
                 *(f"{k}: {v}" for k, v in headers.items())]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    found = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
    return int(status_line.split()[1]), found, body


def test_metrics_is_never_forwarded_however_it_is_spelled(cluster: Cluster):
    token = {"Authorization": f"Bearer {cluster.metrics_token}"}
    # The instances do answer these with the token when asked directly (so the check means something).
    status, _, body = raw_get(cluster.ports[0], "/metrics", token)
    assert status == 200 and b"commons_" in body
    leaked = {}
    for target in METRICS_SPELLINGS:
        status, headers, body = raw_get(cluster.lb_port, target, token)
        if b"commons_" in body or b"# TYPE" in body or b"# HELP" in body:
            leaked[target] = (status, headers.get("x-upstream"))
    assert not leaked, f"metrics reached through nginx: {leaked}"


# --- stopping ---------------------------------------------------------------------------------------
def test_sigterm_stops_both_instances_and_nginx(cluster: Cluster):
    pids = cluster.pids()
    assert len(pids) == 3, pids
    *groups, nginx = pids
    assert all(group_alive(g) for g in groups) and pid_alive(nginx)

    started = time.monotonic()
    code = stop(cluster)
    took = time.monotonic() - started

    assert code == 143, f"run-local.sh exited with {code}"
    assert not any(group_alive(g) for g in groups), "an instance's process group outlived the script"
    assert not pid_alive(nginx), "nginx outlived the script"
    for port in (cluster.lb_port, *cluster.ports):
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still answers"
    assert "run-local: stopped" in cluster.output.read_text()
    print(f"\nstopped in {took:.1f} s")


# --- compose ----------------------------------------------------------------------------------------
def compose_balancer(nginx: str, tmp_path: Path) -> tuple[Path, tuple[int, int]]:
    """deploy/nginx.conf as the compose balancer loads it, its hosts, paths and ports swapped for
    local ones (the instances: closed ports; a self-signed pair where compose mounts deploy/tls/),
    checked with ``nginx -t``. Returns the main config file and the (HTTP, HTTPS) ports."""
    deploy = ROOT / "deploy"
    (tmp_path / "html").mkdir()
    (tmp_path / "html" / "index.html").write_text("<!doctype html><title>bundle</title>")
    tls = tmp_path / "tls"
    tls.mkdir()
    made = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                           "-keyout", str(tls / "privkey.pem"), "-out", str(tls / "fullchain.pem")],
                          capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    http_port, https_port = free_port(PORTS), free_port(PORTS)
    conf = ((deploy / "nginx.conf").read_text().replace("app1:3000", "127.0.0.1:1").replace("app2:3000", "127.0.0.1:2")
            .replace("/etc/nginx/commons/site.conf", str(deploy / "nginx-site.conf"))
            .replace("/usr/share/nginx/html", str(tmp_path / "html"))
            .replace("/etc/nginx/tls", str(tls))
            .replace("https://$host:8443", f"https://$host:{https_port}")
            .replace("listen 8080;", f"listen 127.0.0.1:{http_port};")
            .replace("listen 8443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;"))
    (tmp_path / "default.conf").write_text(conf)
    main = tmp_path / "nginx.conf"
    main.write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n include /etc/nginx/mime.types;\n access_log off;\n client_body_temp_path {tmp_path}/body;\n"
        f" proxy_temp_path {tmp_path}/proxy;\n fastcgi_temp_path {tmp_path}/fastcgi;\n"
        f" uwsgi_temp_path {tmp_path}/uwsgi;\n scgi_temp_path {tmp_path}/scgi;\n include {tmp_path}/default.conf;\n}}\n"
    )
    checked = subprocess.run([nginx, "-t", "-c", str(main), "-p", str(tmp_path), "-e", str(tmp_path / "error.log")],
                             capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr
    return main, (http_port, https_port)


def test_the_compose_balancer_ends_tls_with_hsts_limits_and_timeouts(tmp_path: Path):
    """The compose balancer, run: plain HTTP only redirects to HTTPS; HTTPS answers carry HSTS
    (pages and proxied paths alike); a burst of API requests from one address past limit_req's
    allowance gets 429 from nginx; idle sockets have timeouts; /metrics is nginx's own 404."""
    nginx = nginx_binary()
    if nginx is None:
        unavailable("nginx is not installed (`make nginx` installs Debian's)")
    site = (ROOT / "deploy" / "nginx-site.conf").read_text()
    for directive in ("client_header_timeout", "client_body_timeout", "keepalive_timeout", "send_timeout",
                      "proxy_read_timeout 120s", "limit_conn commons_conn", "limit_req zone=commons_ws",
                      "limit_req zone=commons_api"):
        assert directive in site, directive
    main, (http_port, https_port) = compose_balancer(nginx, tmp_path)
    process = subprocess.Popen([nginx, "-c", str(main), "-p", str(tmp_path), "-e", str(tmp_path / "error.log"),
                                "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", https_port)) == 0:
                    break
            assert time.monotonic() < deadline and process.poll() is None, (tmp_path / "error.log").read_text()
            time.sleep(0.1)
        with httpx.Client(timeout=10) as plain:
            moved = plain.get(f"http://127.0.0.1:{http_port}/polls?x=1")
            assert moved.status_code == 301
            assert moved.headers["location"] == f"https://127.0.0.1:{https_port}/polls?x=1"
            assert "strict-transport-security" not in moved.headers
        with httpx.Client(base_url=f"https://127.0.0.1:{https_port}", verify=False, timeout=10) as client:
            for path in ("/", "/api/health", "/metrics"):
                answer = client.get(path)
                assert answer.headers.get("strict-transport-security") == "max-age=63072000; includeSubDomains", path
            assert client.get("/metrics").status_code == 404
            statuses = [client.get("/api/health").status_code for _ in range(400)]
        # The instances are closed ports (502); past the burst, nginx refuses by itself.
        assert 429 in statuses and statuses[0] == 502, sorted(set(statuses))
    finally:
        process.terminate()
        process.wait(10)


def test_the_compose_balancer_config_is_valid_and_shares_the_local_site(tmp_path: Path):
    """deploy/nginx.conf as the compose balancer loads it (its hosts and paths swapped for local ones),
    checked by the local nginx; both topologies include deploy/nginx-site.conf; compose runs the
    migration once before the instances, and the instances as run-local.sh does."""
    nginx = nginx_binary()
    if nginx is None:
        unavailable("nginx is not installed (`make nginx` installs Debian's)")
    deploy = ROOT / "deploy"
    compose_conf = (deploy / "nginx.conf").read_text()
    local_conf = (deploy / "nginx-local.conf.in").read_text()
    dockerfile = (deploy / "Dockerfile").read_text()
    assert "include /etc/nginx/commons/site.conf;" in compose_conf
    assert "COPY deploy/nginx-site.conf /etc/nginx/commons/site.conf" in dockerfile
    assert "COPY deploy/nginx.conf /etc/nginx/conf.d/default.conf" in dockerfile
    assert "COPY --from=app /app/.web/build/client /usr/share/nginx/html" in dockerfile
    assert "root /usr/share/nginx/html;" in compose_conf
    assert "include @SITE@;" in local_conf and "root @STATIC@;" in local_conf
    site = (deploy / "nginx-site.conf").read_text()
    assert re.search(r"location = /metrics \{\s*return 404;\s*\}", site), "nginx must not forward /metrics"

    _conf, _ports = compose_balancer(nginx, tmp_path)

    yaml = pytest.importorskip("yaml")
    services = yaml.safe_load((deploy / "compose.yaml").read_text())["services"]
    for name in ("app1", "app2"):
        app = services[name]
        assert app["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
        assert app["build"]["target"] == "app" and "command" not in app  # the image's CMD
        assert app["environment"]["METRICS_TOKEN"] == "${METRICS_TOKEN:-}"  # empty: /metrics off
        assert app["environment"]["COMMONS_ENV"] == "production"
    assert services["migrate"]["command"] == ["python", "-m", "commons_app", "migrate"]
    assert services["nginx"]["build"]["target"] == "balancer"
    assert set(services["nginx"]["depends_on"]) == {"app1", "app2"}
    cmd = re.search(r"^CMD (.*)$", dockerfile, re.MULTILINE).group(1)
    assert "--backend-only" in cmd and "migrate" not in cmd
    assert "--backend-only" in (deploy / "run-local.sh").read_text()
