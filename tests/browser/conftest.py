"""Fixtures of the end-to-end browser suite (Playwright for Python driving Debian's Chromium).

Servers (each a real ``reflex run --env prod --single-port`` in a private copy of the project,
see ``servers.py``), shared per session:

* ``app_server``: the embedded default — SQLite, no Redis, one worker — with the demo data.
* ``cluster``: two instances on two ports sharing one fresh PostgreSQL database
  (``commons_e2e_<hex>``, dropped at the end) and Redis (db 14 of the target server, flushed),
  each with two granian workers. Built from ``app_server``'s directory, so only recompiled.

The PostgreSQL and Redis servers are the ones named by ``DATABASE_URL`` / ``REDIS_URL`` when
pytest started (``tests/conftest.py`` removes them from the environment and keeps them as
``TARGET_DATABASE_URL`` / ``TARGET_REDIS_URL``; read there, or from the environment when this
suite runs without it). With ``CI=true`` a missing Chromium, PostgreSQL or Redis fails the
tests that need it; elsewhere they are skipped with the reason.

Logs: ``test-artifacts/logs/server-<name>-<port>.log``; on failure the tails are printed and every open page
is screenshotted to ``test-artifacts/failures/``.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.browser import helpers
from tests.browser.servers import ARTIFACTS, AppServer, free_port, prepare_project

# Read at import too: if this suite ever runs without tests/conftest.py, the environment still has them.
_ENV_DATABASE_URL = os.environ.get("DATABASE_URL") or None
_ENV_REDIS_URL = os.environ.get("REDIS_URL") or None
IN_CI = os.environ.get("CI", "").strip().lower() == "true"
E2E_REDIS_DB = int(os.environ.get("E2E_REDIS_DB", "14"))

_servers: list[AppServer] = []


def pytest_configure(config: pytest.Config) -> None:
    try:
        from playwright.sync_api import expect
    except ImportError:  # reported by the ``browser`` fixture
        return
    expect.set_options(timeout=helpers.UI_TIMEOUT)  # a loaded CI machine is slower than 5 s sometimes


def target_urls() -> tuple[str | None, str | None]:
    """The PostgreSQL and Redis servers given to pytest (``DATABASE_URL`` / ``REDIS_URL``)."""
    root = sys.modules.get("tests.conftest")
    if root is not None and hasattr(root, "TARGET_DATABASE_URL"):
        return root.TARGET_DATABASE_URL, getattr(root, "TARGET_REDIS_URL", None)
    return _ENV_DATABASE_URL, _ENV_REDIS_URL


def unavailable(reason: str) -> None:
    """Something the test needs is missing: a failure in CI, a skip elsewhere."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: the browser tests' servers and Chromium must be available)", pytrace=False)
    pytest.skip(reason)


# --- reporting ------------------------------------------------------------------------------------
@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not helpers.LATENCIES:
        return
    terminalreporter.section("live results: vote in one browser -> seen in the other")
    for key, value in sorted(helpers.LATENCIES.items()):
        terminalreporter.write_line(f"{key}: {value['latency_ms']:.0f} ms  ({value['detail']})")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "latency.json").write_text(json.dumps(helpers.LATENCIES, indent=2))


def _failed(item: pytest.Item) -> bool:
    return any(getattr(getattr(item, f"rep_{w}", None), "failed", False) for w in ("setup", "call"))


@pytest.fixture(autouse=True)
def _server_logs_on_failure(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if _failed(request.node):
        for server in _servers:
            print(f"\n===== tail of {server.log_path} ({server.name}, {server.url}) =====\n{server.tail()}")


# --- browser ----------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def browser(chromium_browser: Any) -> Any:
    """The session's Chromium (one Playwright driver per process, see tests/conftest.py)."""
    return chromium_browser


@pytest.fixture
def new_page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    """``new_page(viewport=DESKTOP, **context_options)`` -> a page in a fresh browser context (its own
    storage, so its own signed-in user)."""
    contexts: list[Any] = []

    def make(viewport: dict[str, int] | None = None, **options: Any) -> Any:
        context = browser.new_context(viewport=viewport or helpers.DESKTOP, **options)
        context.set_default_timeout(helpers.UI_TIMEOUT)
        context.add_init_script(helpers.SOCKET_RECORDER)
        contexts.append(context)
        return context.new_page()

    yield make
    if _failed(request.node):
        folder = ARTIFACTS / "failures"
        folder.mkdir(parents=True, exist_ok=True)
        for i, context in enumerate(contexts):
            for j, page in enumerate(context.pages):
                try:
                    page.screenshot(path=str(folder / f"{request.node.name}-{i}-{j}.png"), full_page=True)
                except Exception:  # noqa: BLE001 - best effort diagnostics
                    pass
    for context in contexts:
        context.close()


# --- servers ----------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """The embedded default: SQLite, no Redis, one worker, seeded with the demo data."""
    workdir = tmp_path_factory.mktemp("e2e-sqlite")
    project = prepare_project(workdir / "project")
    server = AppServer("sqlite", project, free_port(), f"sqlite:///{workdir / 'commons.db'}")
    server.log_path.write_text("")
    _servers.append(server)
    try:
        server.cli("migrate")
        server.cli("seed-demo", environment="development")  # it refuses production (the demo admin)
        server.mark()
        server.start()
        server.wait_ready()
        print(f"server {server.name} ready on {server.url} after {server.ready_after:.1f} s")
        yield server
    finally:
        server.stop()
        _servers.remove(server)


@pytest.fixture(scope="session")
def api(app_server: AppServer) -> Iterator[helpers.Api]:
    client = helpers.Api(app_server.url)
    yield client
    client.close()


def _postgres_admin_url(url: str) -> str:
    """A libpq URL for psycopg (without SQLAlchemy's ``+driver``)."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+")[0]
    return urlunsplit(("postgresql" if scheme == "postgres" else scheme, parts.netloc, parts.path, parts.query, ""))


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


@dataclass
class Cluster:
    """Two instances sharing PostgreSQL and Redis; ``a`` and ``b`` each run two workers."""

    a: AppServer
    b: AppServer
    database_url: str
    redis_url: str
    api_a: helpers.Api
    api_b: helpers.Api


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh ``commons_e2e_<hex>`` database on the target PostgreSQL server."""
    target, _ = target_urls()
    if not target or not target.startswith(("postgres://", "postgresql")):
        unavailable("no PostgreSQL server: DATABASE_URL is not a postgresql:// URL")
    import psycopg

    admin_url = _postgres_admin_url(target)
    name = f"commons_e2e_{secrets.token_hex(5)}"
    try:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        unavailable(f"PostgreSQL at {urlsplit(admin_url).hostname} is unusable: {type(exc).__name__}: {exc}")
    try:
        yield _with_database(admin_url, name)
    finally:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def redis_database() -> Iterator[str]:
    """Database ``E2E_REDIS_DB`` (14) of the target Redis server, flushed before and after."""
    from tests.conftest import flushed_redis_database

    with flushed_redis_database(E2E_REDIS_DB) as url:
        yield url


@pytest.fixture(scope="session")
def cluster(postgres_database: str, redis_database: str, app_server: AppServer,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Two app instances (ports P and Q, two workers each) on one PostgreSQL database and one Redis."""
    servers: list[AppServer] = []
    try:
        for name in ("cluster-a", "cluster-b"):
            project = prepare_project(tmp_path_factory.mktemp(f"e2e-{name}") / "project", template=app_server.project)
            server = AppServer(name, project, free_port(), postgres_database, redis_url=redis_database, workers=2)
            server.log_path.write_text("")
            servers.append(server)
            _servers.append(server)
        servers[0].cli("migrate")
        marker = servers[0].mark()
        servers[1].marker = marker
        started = time.monotonic()
        for server in servers:
            server.start()
        for server in servers:
            server.wait_ready()
        print(f"cluster ready after {time.monotonic() - started:.1f} s: {[s.url for s in servers]}")
        cluster = Cluster(servers[0], servers[1], postgres_database, redis_database,
                          helpers.Api(servers[0].url), helpers.Api(servers[1].url))
        yield cluster
        cluster.api_a.close()
        cluster.api_b.close()
    finally:
        for server in servers:
            server.stop()
            _servers.remove(server)
