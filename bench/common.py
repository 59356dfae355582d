"""Shared pieces of the websocket benchmarks (``ws_ballots.py``, ``fanout.py``).

* :func:`bench_server`: a fresh PostgreSQL database, migrated, and the app started in production
  mode (``reflex run --env prod --single-port``, granian workers, Redis state manager) on a port
  of 3300-3399; everything is stopped and dropped on exit. Database helpers come from
  ``rest_ballots.py``.
* :class:`BrowserClient`: one browser tab speaking Reflex's Socket.IO protocol (path ``/_event``,
  the client token in the query string, the ``hydrate_and_load`` boot event in the CONNECT auth
  packet, ``event`` messages both ways), as ``reflex_base/.templates/web/utils/state.js`` does.
* Seeding of voters with a known password, browser credentials (the value of the HttpOnly session
  cookie a browser gets when it logs in) and API access tokens.
* Process-group CPU / RSS sampling of the server, Redis memory, and the Prometheus counters.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Importing rest_ballots sets SECRET_KEY / COMMONS_ENV for the services used to seed, as it needs.
import httpx  # noqa: E402
import psutil  # noqa: E402
import redis  # noqa: E402
from sqlmodel import Session  # noqa: E402

from bench.rest_ballots import drop_database, make_database, new_poll, percentile, stored  # noqa: E402
from commons_app.config import get_settings  # noqa: E402
from commons_app.db import make_engine  # noqa: E402
from commons_app.models import User  # noqa: E402
from commons_app.services import auth  # noqa: E402
from tests.browser.servers import METRICS_HEADERS, AppServer, free_port, prepare_project  # noqa: E402

__all__ = [
    "NAMES", "PASSWORD", "REDIS_POOL_ENV", "Bench", "BrowserClient", "Frontend", "Names", "Person", "ServerProbe",
    "bench_server", "drop_database", "load_average", "make_database", "metric_value", "new_poll", "percentile",
    "redis_memory", "seed_people", "source_version", "start_py_spy", "state_delta", "stop_py_spy", "stored",
    "summarize_profile", "var",
]

BENCH_PORTS = range(3300, 3400)
# Reflex's async Redis client has no pool limit by default: under a fan-out every waiting task opens
# its own connection, and 200 viewers were enough to reach the Redis server's 10,000 clients (which
# the machine's other users share). The benchmarks cap each worker's pool; see docs/BENCHMARKS.md.
REDIS_POOL_ENV = {"REFLEX_REDIS_MAX_CONNECTIONS": "100", "REFLEX_REDIS_POOL_TIMEOUT": "5"}
# Socket.IO path and namespace of Reflex's event endpoint (``constants.Endpoint.EVENT``).
EVENT_NAMESPACE = "/_event"
PASSWORD = "bench-password-7Qx!"

@dataclass(frozen=True)
class Names:
    """Reflex's fully qualified state and event names, as the compiled frontend sends them."""

    root: str
    session: str
    hydrate_and_load: str
    update_vars_internal: str
    on_load_internal: str
    login_state: str
    vote_state: str
    results_state: str
    live_state: str


def _names() -> Names:
    from reflex.state import OnLoadInternalState, State, UpdateVarsInternalState

    from commons_app.pages.auth import LoginState
    from commons_app.pages.results import ResultsState
    from commons_app.pages.vote import VoteState
    from commons_app.state.live import LiveResults
    from commons_app.state.session import SessionState

    root = State.get_full_name()
    return Names(
        root=root,
        session=SessionState.get_full_name(),
        hydrate_and_load=f"{root}.hydrate_and_load",
        update_vars_internal=f"{UpdateVarsInternalState.get_full_name()}.update_vars_internal",
        on_load_internal=f"{OnLoadInternalState.get_full_name()}.on_load_internal",
        login_state=LoginState.get_full_name(),
        vote_state=VoteState.get_full_name(),
        results_state=ResultsState.get_full_name(),
        live_state=LiveResults.get_full_name(),
    )


NAMES = _names()


def var(name: str) -> str:
    """A var's key in a delta (``total_ballots`` -> ``total_ballots_rx_state_``)."""
    from reflex_base.constants.state import FIELD_MARKER

    return f"{name}{FIELD_MARKER}"


# The HttpOnly cookie a browser's websocket handshake presents (see commons_app.state.connections).
SESSION_COOKIE = "commons_session"


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


# --- seeding -----------------------------------------------------------------------------------
@dataclass
class Person:
    username: str
    user_id: int
    credential: str = ""  # the browser's session cookie (a browser session)
    access_token: str = ""  # an API bearer token


def seed_people(url: str, count: int, *, prefix: str, browser: bool = False, api: bool = False) -> tuple[list[Person], User]:
    """``count`` members (password :data:`PASSWORD`, one shared argon2 hash) and an owner, with a
    browser credential and/or an API token each when asked."""
    engine = make_engine(url)
    shared_hash = auth.hash_password(PASSWORD)
    with Session(engine, expire_on_commit=False) as session:
        owner = User(username=f"{prefix}owner", username_key=f"{prefix}owner", email=f"{prefix}owner@x.org",
                     email_key=f"{prefix}owner@x.org", password_hash=shared_hash)
        session.add(owner)
        users = [
            User(username=f"{prefix}{i}", username_key=f"{prefix}{i}", email=f"{prefix}{i}@x.org",
                 email_key=f"{prefix}{i}@x.org", password_hash=shared_hash)
            for i in range(count)
        ]
        session.add_all(users)
        session.commit()
        people = [Person(username=u.username, user_id=int(u.id)) for u in users]  # type: ignore[arg-type]
        for person, user in zip(people, users, strict=True):
            if browser:
                _sid, person.credential = auth.start_browser_session(session=session, user=user)
            if api:
                person.access_token = auth.start_session(session=session, user=user).access_token
    engine.dispose()
    return people, owner


# --- the server --------------------------------------------------------------------------------
class BenchAppServer(AppServer):
    """AppServer plus a few settings the benchmarks need in the server's environment."""

    extra_env: dict[str, str]

    def env(self) -> dict[str, str]:
        env = super().env()
        env.update(self.extra_env)
        return env


@dataclass
class Bench:
    server: BenchAppServer
    database_url: str
    redis_url: str
    frontend: Frontend


    @property
    def url(self) -> str:
        return self.server.url


@dataclass(frozen=True)
class Frontend:
    """What the compiled frontend sends on its first connect besides the event: the hashes of
    the initial state it was built with (so the server sends only what differs) and the hash of
    its state tree (``utils/context.jsx`` of the built project)."""

    hashes: list[str]
    schema: str

    @classmethod
    def read(cls, project: Path) -> Frontend:
        text = (project / ".web" / "utils" / "context.jsx").read_text()
        hashes = re.search(r"export const initialStateHashes = (\[.*?\])", text)
        schema = re.search(r'export const stateSchema = "([0-9a-f]+)"', text)
        if hashes is None or schema is None:
            raise RuntimeError("the compiled frontend has no initialStateHashes / stateSchema")
        return cls(hashes=json.loads(hashes.group(1)), schema=schema.group(1))


def _migrate(url: str) -> None:
    from alembic.config import Config

    from alembic import command

    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.attributes["database_url"] = url
    cfg.attributes["configure_logging"] = False
    command.upgrade(cfg, "head")


def source_version() -> str:
    """The commit the benchmark runs on, and whether the working tree differs from it."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                                check=True).stdout.strip()
        changed = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                                 capture_output=True, text=True, check=True).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (no git)"
    return f"{commit}" + (f" + uncommitted changes in {len(changed)} files" if changed else "")


@contextlib.contextmanager
def bench_server(*, database: str, redis_url: str, workers: int | None, name: str,
                 before_start: Callable[[str], None] | None = None,
                 extra_env: dict[str, str] | None = None, app_source: Path | None = None) -> Iterator[Bench]:
    """A migrated throwaway database and the app in production mode on it (stopped on exit).

    ``before_start(database_url)`` runs after the migration, before the server starts (seeding).
    ``app_source``: a directory holding another ``commons_app`` package to serve instead of the
    checkout's (to measure a candidate change without touching the working tree); the database
    schema and the seeding still come from the checkout.
    """
    print(f"code: {source_version()}" + (f"; app package from {app_source}" if app_source else ""), flush=True)
    get_settings.cache_clear()
    url = make_database(database)
    server: BenchAppServer | None = None
    metrics_dir = tempfile.mkdtemp(prefix="commons-bench-metrics-")
    try:
        _migrate(url)
        if before_start is not None:
            before_start(url)
        project = prepare_project(Path(tempfile.mkdtemp(prefix=f"commons-bench-{name}-")) / "app")
        if app_source is not None:
            shutil.rmtree(project / "commons_app")
            shutil.copytree(app_source / "commons_app", project / "commons_app",
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        server = BenchAppServer(name, project, free_port(BENCH_PORTS), url, redis_url=redis_url, workers=workers)
        # /metrics sums every worker's counters only with a multiprocess directory.
        server.extra_env = {"PROMETHEUS_MULTIPROC_DIR": metrics_dir, **REDIS_POOL_ENV, **(extra_env or {})}
        print(f"starting the app (prod, Redis {redis_url}) on {server.url}; log {server.log_path}", flush=True)
        server.start()
        server.wait_ready(timeout=400)
        print(f"ready after {server.ready_after:.0f} s; server processes: {len(ServerProbe(server).processes())}", flush=True)
        yield Bench(server=server, database_url=url, redis_url=redis_url, frontend=Frontend.read(project))
    finally:
        if server is not None:
            server.stop()
            shutil.rmtree(server.project.parent, ignore_errors=True)
        drop_database(database, url)
        shutil.rmtree(metrics_dir, ignore_errors=True)


class ServerProbe:
    """CPU seconds and RSS of the server's process group (reflex, granian and its workers)."""

    def __init__(self, server: AppServer) -> None:
        assert server.process is not None
        self.pgid = server.process.pid

    def processes(self) -> list[psutil.Process]:
        found = []
        for proc in psutil.process_iter(["pid"]):
            try:
                if os.getpgid(proc.pid) == self.pgid:
                    found.append(proc)
            except (ProcessLookupError, psutil.Error):
                continue
        return found

    def sample(self) -> dict[str, float]:
        cpu = rss = 0.0
        for proc in self.processes():
            try:
                with proc.oneshot():
                    times = proc.cpu_times()
                    cpu += times.user + times.system
                    rss += proc.memory_info().rss
            except psutil.Error:
                continue
        return {"cpu": cpu, "rss": rss, "at": time.monotonic()}


def redis_memory(redis_url: str) -> int:
    client = redis.Redis.from_url(redis_url)
    try:
        return int(client.info("memory")["used_memory"])
    finally:
        client.close()


def metric_value(base_url: str, name: str, labels: str = "") -> float:
    """Sum of a Prometheus sample (``name`` with ``labels`` text inside the braces, if given); NaN
    when /metrics does not answer within a minute (a server starved by the benchmark)."""
    try:
        # The bench servers are AppServers: their METRICS_TOKEN is the browser suite's.
        body = httpx.get(f"{base_url}/metrics", headers=METRICS_HEADERS, timeout=60).text
    except httpx.HTTPError:
        return float("nan")
    total = 0.0
    pattern = re.compile(rf"^{re.escape(name)}(\{{[^}}]*\}})?\s+([0-9.eE+-]+)$", re.M)
    for match in pattern.finditer(body):
        if labels and labels not in (match.group(1) or ""):
            continue
        total += float(match.group(2))
    return total


def start_py_spy(pid: int, seconds: float | None, out: Path, rate: int = 50) -> subprocess.Popen:
    """Sample the server (``pid`` and its subprocesses) with py-spy, as collapsed stacks
    (``--format raw``) in ``out``: for ``seconds``, or until :func:`stop_py_spy`."""
    duration = ["--duration", str(max(1, round(seconds)))] if seconds else []
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(pid), "--subprocesses", "--nonblocking",
         "--format", "raw", "--rate", str(rate), *duration, "--output", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def stop_py_spy(spy: subprocess.Popen) -> None:
    """Stop a recording (py-spy writes its output on SIGINT)."""
    if spy.poll() is None:
        spy.send_signal(signal.SIGINT)
    try:
        spy.wait(timeout=120)
    except subprocess.TimeoutExpired:
        spy.kill()


_TASK_ROOTS = ("Handle._run (asyncio/events.py", "_worker (concurrent/futures/thread.py")


def summarize_profile(path: Path, top: int = 25) -> str:
    """Where the server's samples went, from py-spy's collapsed stacks.

    Each stack is cut below the event loop's callback runner (``Handle._run``) or a worker thread's
    loop, so that the process start-up frames every stack shares drop out; stacks with neither are
    the event loop waiting (``select``) or idle threads. Inclusive: the share of all samples in
    which a function is on the (cut) stack; self: on top of it."""
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    total = idle = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";")
        cut = max((i for i, f in enumerate(frames) if f.startswith(_TASK_ROOTS)), default=-1)
        if cut < 0 or cut == len(frames) - 1:
            idle += count
            continue
        frames = frames[cut + 1:]
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + count
        own[frames[-1]] = own.get(frames[-1], 0) + count
    share = 100 / max(total, 1)
    lines = [f"{total} samples over all server processes; {idle * share:.1f}% waiting (event loop select, idle threads)",
             "inclusive:"]
    lines += [f"  {n * share:5.1f}%  {f}" for f, n in sorted(inclusive.items(), key=lambda kv: -kv[1])[:top]]
    lines.append("self:")
    lines += [f"  {n * share:5.1f}%  {f}" for f, n in sorted(own.items(), key=lambda kv: -kv[1])[:top]]
    return "\n".join(lines)


# --- a browser tab over Socket.IO ----------------------------------------------------------------
def _router_data(path: str, params: dict[str, str] | None = None) -> dict[str, Any]:
    """What ``withRouterData`` in state.js adds to every event: the page's path and query (the
    route's dynamic parameters are merged into the query)."""
    base, _, search = path.partition("?")
    data: dict[str, Any] = {"pathname": base, "asPath": path}
    query = dict(p.split("=", 1) if "=" in p else (p, "") for p in search.split("&") if p)
    query.update(params or {})
    if query:
        data["query"] = query
    return data


@dataclass
class BrowserClient:
    """One browser tab: a Socket.IO connection with its own client token, presenting the browser's
    session cookie (``credential``) in its handshake as a browser does.

    Every ``event`` message from the server is kept (arrival time and delta); ``watch`` callbacks
    see each one as it arrives.
    """

    base_url: str
    frontend: Frontend | None = None
    credential: str = ""
    token: str = field(default_factory=lambda: str(uuid.uuid4()))
    path: str = "/"
    params: dict[str, str] = field(default_factory=dict)
    http_session: Any = None
    updates: list[tuple[float, dict]] = field(default_factory=list)
    watchers: list[Callable[[float, dict], None]] = field(default_factory=list)
    keep_updates: bool = True

    def __post_init__(self) -> None:
        self._arrived = asyncio.Event()
        self.sio = self._new_socket()

    def _new_socket(self) -> Any:
        """A Socket.IO client whose handshake carries the session cookie, if any. (Given as a
        header, python-engineio would move the cookie into the shared HTTP session's jar, i.e. to
        every voter's socket; the websocket's own headers reach only this one.)"""
        import socketio

        kwargs: dict[str, Any] = {"reconnection": False}
        if self.http_session is not None:
            kwargs["http_session"] = self.http_session
        if self.credential:
            kwargs["websocket_extra_options"] = {"headers": {"Cookie": f"{SESSION_COOKIE}={self.credential}"}}
        sio = socketio.AsyncClient(**kwargs)
        sio.on("event", self._on_event, namespace=EVENT_NAMESPACE)
        return sio

    async def _on_event(self, update: dict) -> None:
        now = time.monotonic()
        for ev in update.get("events") or []:
            if ev.get("name") == "_redirect":
                self.path = ev.get("payload", {}).get("path") or self.path
        if self.keep_updates:
            self.updates.append((now, update))
        for watch in self.watchers:
            watch(now, update)
        self._arrived.set()

    def event(self, name: str, payload: dict | None = None) -> dict[str, Any]:
        return {"name": name, "payload": payload or {}, "router_data": _router_data(self.path, self.params)}

    async def log_in(self, username: str, password: str, params: dict[str, str] | None = None) -> None:
        """The login form's post (``/api/browser/login``): keep the session cookie it sets, as the
        browser does, and follow its 303 with a full page load (a new socket presenting it;
        ``params``: the target route's dynamic parameters)."""
        response = await self.http_session.post(
            f"{self.base_url}/api/browser/login", allow_redirects=False,
            data={"username": username, "password": password, "next": self.path},
            headers={"Origin": self.base_url},
        )
        async with response:
            morsel = response.cookies.get(SESSION_COOKIE)
            target = response.headers.get("location", "")
        if response.status != 303 or morsel is None:
            raise RuntimeError(f"login refused: {response.status} {target}")
        self.credential = morsel.value
        await self.close()
        await self.connect(target, params)

    async def sign_in_by_post(self, route: str, data: dict[str, str], params: dict[str, str] | None = None) -> None:
        """A form post that hands the browser a session cookie (``/api/browser/link-guest``,
        ``/api/browser/invitation``): keep the cookie, as the browser does, and follow the 303
        with a full page load (a new socket presenting it)."""
        response = await self.http_session.post(
            f"{self.base_url}{route}", allow_redirects=False, data=data, headers={"Origin": self.base_url},
        )
        async with response:
            morsel = response.cookies.get(SESSION_COOKIE)
            target = response.headers.get("location", "")
        if response.status != 303 or morsel is None:
            raise RuntimeError(f"{route} refused: {response.status} {target}")
        self.credential = morsel.value
        await self.close()
        await self.connect(target, params)

    async def connect(self, path: str, params: dict[str, str] | None = None, timeout: float = 60) -> None:
        """Open the page: connect with the ``hydrate_and_load`` boot event in the CONNECT packet."""
        self.path, self.params = path, params or {}
        payload: dict[str, Any] = {}
        if self.frontend is not None:
            payload["hashes"] = self.frontend.hashes
        auth_packet: dict[str, Any] = {"event": self.event(NAMES.hydrate_and_load, payload)}
        if self.frontend is not None:
            auth_packet["state_schema"] = self.frontend.schema
        self.sio = self._new_socket()
        await self.sio.connect(
            f"{self.base_url}?token={self.token}",
            headers={"Origin": self.base_url},
            transports=["websocket"],
            socketio_path=EVENT_NAMESPACE,
            namespaces=[EVENT_NAMESPACE],
            auth=auth_packet,
            wait_timeout=timeout,
        )

    async def navigate(self, path: str, params: dict[str, str] | None = None) -> None:
        """A client-side navigation: the page's ``onLoadInternalEvent`` (on_load)."""
        self.path, self.params = path, params or {}
        await self.emit(NAMES.on_load_internal)

    async def emit(self, name: str, payload: dict | None = None) -> None:
        await self.sio.emit("event", self.event(name, payload), namespace=EVENT_NAMESPACE)

    async def wait_for(self, predicate: Callable[[dict], bool], timeout: float, start: int = 0) -> tuple[float, dict]:
        """The first update from index ``start`` on that satisfies ``predicate``."""
        deadline = time.monotonic() + timeout
        index = start
        while True:
            while index < len(self.updates):
                at, update = self.updates[index]
                index += 1
                if predicate(update):
                    return at, update
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no matching update within {timeout} s")
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), remaining)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.sio.disconnect()


def state_delta(update: dict, state: str) -> dict[str, Any]:
    return (update.get("delta") or {}).get(state) or {}

