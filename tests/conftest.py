"""Shared fixtures of the test suite: isolated databases on every backend, a client, factories.

How it works (others build on this, keep it in mind):

* At import, before the app is imported, the environment is made safe: ``COMMONS_ENV=test``,
  a fixed ``SECRET_KEY``, a fixed ``METRICS_TOKEN`` (send :data:`METRICS_HEADERS` to read
  ``/metrics``), rate limiting off, a random ``RATELIMIT_PREFIX``. The developer's
  ``DATABASE_URL`` and ``REDIS_URL`` are remembered as the *servers to test against*
  (:data:`TARGET_DATABASE_URL`, :data:`TARGET_REDIS_URL`) and removed from ``os.environ``, so
  the code under test can only reach them through the fixtures below.
* Until a test asks for ``engine``, the process-wide engine is a blank in-memory SQLite
  database: a test that forgets the fixture fails on a missing table instead of writing to
  ``commons.db``.
* ``backend`` is ``sqlite`` always, plus ``postgresql`` when ``DATABASE_URL`` named a PostgreSQL
  server (or ``CI=true``, where a missing or unreachable server is an error, not a skip). Each
  backend gets one fresh database per session (SQLite: a temp file; PostgreSQL: a new
  ``commons_test_<hex>`` database on that server, dropped at the end), migrated once with
  Alembic. After every test each table is emptied.
* ``redis_url`` gives the Redis server to test against, with the same skip/fail rule.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

# --- environment: before anything from the app is imported --------------------------------------
TEST_SECRET_KEY = "commons-test-secret-key-not-for-production-00000"
assert len(TEST_SECRET_KEY) == 48
TEST_METRICS_TOKEN = "commons-test-metrics-token-not-for-production-0"
assert len(TEST_METRICS_TOKEN) >= 32
METRICS_HEADERS = {"Authorization": f"Bearer {TEST_METRICS_TOKEN}"}
for _name in [name for name in os.environ if name.startswith("RATELIMIT_")]:
    del os.environ[_name]  # a developer's limit overrides must not change what the tests see
os.environ["COMMONS_ENV"] = "test"
os.environ["SECRET_KEY"] = TEST_SECRET_KEY
os.environ["RATELIMIT_ENABLED"] = "0"
os.environ["RATELIMIT_PREFIX"] = f"commons-test-{secrets.token_hex(6)}"
# /metrics is served only with this token (tests of the unset case delete it with monkeypatch).
os.environ["METRICS_TOKEN"] = TEST_METRICS_TOKEN
TARGET_DATABASE_URL: str | None = os.environ.pop("DATABASE_URL", None) or None
TARGET_REDIS_URL: str | None = os.environ.pop("REDIS_URL", None) or None
IN_CI = os.environ.get("CI", "").strip().lower() == "true"

import pytest  # noqa: E402
from alembic.config import Config  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import Engine, make_url  # noqa: E402
from sqlalchemy.pool import NullPool  # noqa: E402
from sqlmodel import Session, SQLModel  # noqa: E402

import commons_app.models  # noqa: E402,F401 - every table on SQLModel.metadata
from alembic import command  # noqa: E402
from commons_app import db as db_module  # noqa: E402
from commons_app import redis_client  # noqa: E402
from commons_app.api.app import create_api, with_hot_paths, wrap_with_guard  # noqa: E402
from commons_app.config import PROJECT_ROOT, get_settings, normalize_database_url  # noqa: E402
from commons_app.models import User  # noqa: E402
from commons_app.services import ratelimit  # noqa: E402
from tests import factories  # noqa: E402

get_settings.cache_clear()

POSTGRES_URL: str | None = (
    normalize_database_url(TARGET_DATABASE_URL)
    if TARGET_DATABASE_URL and TARGET_DATABASE_URL.startswith(("postgres://", "postgresql"))
    else None
)


def unavailable(reason: str) -> None:
    """A backing server the test needs is missing: an error in CI, a skip elsewhere."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: the test servers must be available)", pytrace=False)
    pytest.skip(reason)


def make_url_safe(url: str) -> str:
    """A URL without its password, for messages."""
    return make_url(url).render_as_string(hide_password=True)


def clear_caches() -> None:
    """Forget every cached setting, limiter and Redis client (after changing the environment)."""
    get_settings.cache_clear()
    ratelimit._limiter.cache_clear()
    ratelimit.limit_for.cache_clear()
    redis_client.get_redis.cache_clear()
    redis_client.get_async_redis.cache_clear()


def alembic_config(*, url: str | None = None, connection: Any = None) -> Config:
    """An Alembic configuration aimed at ``url`` (or an open connection), leaving logging alone."""
    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    cfg.attributes["configure_logging"] = False
    if url is not None:
        cfg.attributes["database_url"] = url
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


@contextmanager
def flushed_redis_database(number: int) -> Iterator[str]:
    """Database ``number`` of the target Redis server for a suite of its own (its URL), flushed
    before and after."""
    if not TARGET_REDIS_URL:
        unavailable("no Redis server: REDIS_URL is not set")
    import redis

    parts = urlsplit(TARGET_REDIS_URL)
    url = urlunsplit((parts.scheme, parts.netloc, f"/{number}", parts.query, parts.fragment))
    client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    try:
        client.ping()
        client.flushdb()
    except redis.RedisError as exc:
        client.close()
        unavailable(f"Redis at {parts.hostname}:{parts.port} is unusable: {type(exc).__name__}: {exc}")
    try:
        yield url
    finally:
        try:
            client.flushdb()
        finally:
            client.close()


# --- PostgreSQL: throwaway databases on the target server -----------------------------------------
def _postgres_admin_engine() -> Engine:
    assert POSTGRES_URL is not None
    return create_engine(
        POSTGRES_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool, connect_args={"connect_timeout": 5}
    )


_postgres_error: list[str] = []


def postgres_server_url() -> str:
    """The URL of the PostgreSQL server to test against (skip or fail when there is none)."""
    if POSTGRES_URL is None:
        unavailable("no PostgreSQL server: DATABASE_URL is not a postgresql:// URL")
    assert POSTGRES_URL is not None
    if not _postgres_error:
        try:
            admin = _postgres_admin_engine()
            with admin.connect() as conn:
                conn.execute(text("SELECT 1"))
            admin.dispose()
            _postgres_error.append("")
        except Exception as exc:  # noqa: BLE001 - any failure means unreachable
            first_line = (str(exc).strip().splitlines() or [""])[0]
            _postgres_error.append(
                f"PostgreSQL at {make_url(POSTGRES_URL).render_as_string()} is unreachable: "
                f"{type(exc).__name__}: {first_line}"
            )
    if _postgres_error[0]:
        unavailable(_postgres_error[0])
    return POSTGRES_URL


def create_postgres_database(suffix: str = "") -> str:
    """Create ``commons_test_<hex>`` on the target server; returns its URL."""
    server = postgres_server_url()
    name = f"commons_test_{secrets.token_hex(6)}{suffix}"
    admin = _postgres_admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(server).set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(url: str) -> None:
    """Drop a database made by :func:`create_postgres_database` (closing its connections)."""
    name = make_url(url).database
    assert name and name.startswith("commons_test_"), name
    admin = _postgres_admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


# --- test databases ---------------------------------------------------------------------------------
@dataclass
class PreparedDatabase:
    """One migrated database of one backend, reused by every test of the session."""

    backend: str
    url: str
    engine: Engine
    tables: list[str] = field(default_factory=lambda: [t.name for t in SQLModel.metadata.sorted_tables])

    def clean(self) -> None:
        """Empty every table (not ``alembic_version``)."""
        with self.engine.begin() as conn:
            if self.backend == "postgresql":
                conn.execute(text(f"TRUNCATE {', '.join(self.tables)} RESTART IDENTITY CASCADE"))
            else:
                for table in reversed(SQLModel.metadata.sorted_tables):
                    conn.execute(table.delete())


class DatabaseRegistry:
    """Creates each backend's database on first use and removes them all at the end."""

    def __init__(self, tmp_dir: Path) -> None:
        self.tmp_dir = tmp_dir
        self.databases: dict[str, PreparedDatabase] = {}
        self.postgres_urls: list[str] = []

    def get(self, backend: str) -> PreparedDatabase:
        if backend not in self.databases:
            if backend == "sqlite":
                url = f"sqlite:///{self.tmp_dir / 'commons-test.db'}"
            else:
                url = create_postgres_database()
                self.postgres_urls.append(url)
            command.upgrade(alembic_config(url=url), "head")
            engine = db_module.make_engine(url, pool_size=5, max_overflow=10)
            database = PreparedDatabase(backend=backend, url=url, engine=engine)
            database.clean()
            self.databases[backend] = database
        return self.databases[backend]

    def close(self) -> None:
        for database in self.databases.values():
            database.engine.dispose()
        for url in self.postgres_urls:
            drop_postgres_database(url)


BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL or IN_CI else [])


@pytest.fixture(scope="session")
def _databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseRegistry]:
    registry = DatabaseRegistry(tmp_path_factory.mktemp("db"))
    yield registry
    registry.close()


@pytest.fixture(scope="session", autouse=True)
def _sandbox_engine() -> Iterator[None]:
    """Until a test asks for ``engine``, the app's engine is a blank in-memory database."""
    sandbox = db_module.make_engine("sqlite://")
    db_module.set_engine(sandbox)
    yield
    db_module.set_engine(None)
    sandbox.dispose()


@pytest.fixture(scope="session")
def _redis_cleanup() -> Iterator[list[str]]:
    """Delete this session's rate-limit keys from the target Redis at the end."""
    used: list[str] = []
    yield used
    if used:
        import redis

        client = redis.Redis.from_url(used[0], socket_timeout=2, socket_connect_timeout=2)
        try:
            pattern = f"*{os.environ['RATELIMIT_PREFIX']}*"
            for key in client.scan_iter(match=pattern, count=500):
                client.delete(key)
        finally:
            client.close()


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    """Every test starts and ends with no cached settings, limiter or Redis client."""
    clear_caches()
    yield
    clear_caches()


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The database backend under test: ``sqlite``, and ``postgresql`` when one is configured."""
    return request.param


@pytest.fixture
def database(backend: str, _databases: DatabaseRegistry) -> PreparedDatabase:
    """The migrated database of ``backend`` (skips or fails when its server is missing)."""
    return _databases.get(backend)


@pytest.fixture
def engine(database: PreparedDatabase) -> Iterator[Engine]:
    """The test database's engine, installed as the app's engine; every table is emptied after."""
    previous = db_module._engine
    db_module.set_engine(database.engine)
    try:
        yield database.engine
    finally:
        db_module.set_engine(previous)
        database.clean()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session on the test database (``expire_on_commit=False``, like the app's)."""
    with Session(engine, expire_on_commit=False) as db_session:
        yield db_session


@pytest.fixture(scope="session")
def api_app() -> Any:
    """The API wrapped in the request guard and behind the hot paths, as the server runs it
    (stateless, so shared)."""
    return with_hot_paths(wrap_with_guard(create_api()))


@pytest.fixture
def client(engine: Engine, api_app: Any) -> Iterator[TestClient]:
    """An HTTP client for the API on the test database."""
    with TestClient(api_app) as test_client:
        yield test_client


@pytest.fixture
def redis_url(_redis_cleanup: list[str]) -> str:
    """The Redis server to test against (skip, or fail in CI, when there is none)."""
    if not TARGET_REDIS_URL:
        unavailable("no Redis server: REDIS_URL is not set")
    assert TARGET_REDIS_URL is not None
    import redis

    client = redis.Redis.from_url(TARGET_REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    except Exception as exc:  # noqa: BLE001
        unavailable(f"Redis at {make_url_safe(TARGET_REDIS_URL)} is unreachable: {type(exc).__name__}: {exc}")
    finally:
        client.close()
    if TARGET_REDIS_URL not in _redis_cleanup:
        _redis_cleanup.append(TARGET_REDIS_URL)
    return TARGET_REDIS_URL


@pytest.fixture
def rate_limits(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Turn rate limiting on for this test: ``rate_limits(login_account="3/minute", redis_url=...)``."""

    def enable(*, redis_url: str | None = None, **limits: str) -> None:
        monkeypatch.setenv("RATELIMIT_ENABLED", "1")
        monkeypatch.setenv("RATELIMIT_PREFIX", f"{os.environ['RATELIMIT_PREFIX']}-{secrets.token_hex(4)}")
        for name, value in limits.items():
            monkeypatch.setenv(f"RATELIMIT_{name.upper()}", value)
        if redis_url:
            monkeypatch.setenv("REDIS_URL", redis_url)
        else:
            monkeypatch.delenv("REDIS_URL", raising=False)
        clear_caches()

    return enable


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Undo what Alembic's fileConfig does to logging (the CLI's migrate calls it)."""
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    named = {name: (logging.getLogger(name).level, list(logging.getLogger(name).handlers))
             for name in ("alembic", "sqlalchemy", "sqlalchemy.engine")}
    yield
    root.setLevel(saved[0])
    root.handlers[:] = saved[1]
    for name, (level, handlers) in named.items():
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.handlers[:] = handlers


# --- factories bound to the test session --------------------------------------------------------------
@pytest.fixture
def make_user(session: Session) -> Callable[..., User]:
    """``make_user(username=None, role="member", is_active=True, password=None)`` -> a stored User."""

    def make(**kwargs: Any) -> User:
        return factories.make_user(session, **kwargs)

    return make


@pytest.fixture
def make_poll(session: Session) -> Callable[..., Any]:
    """``make_poll(owner, **spec)`` -> a PollView made through the poll service."""

    def make(owner: User, **kwargs: Any) -> Any:
        return factories.make_poll(session, owner, **kwargs)

    return make


@pytest.fixture
def auth_headers(session: Session) -> Callable[[User], dict[str, str]]:
    """``auth_headers(user)`` -> ``{"Authorization": "Bearer <access token of a new session>"}``."""

    def make(user: User) -> dict[str, str]:
        return factories.token_headers(session, user)

    return make


@pytest.fixture
def user(make_user: Callable[..., User]) -> User:
    """A member."""
    return make_user()


@pytest.fixture
def other_user(make_user: Callable[..., User]) -> User:
    """Another member."""
    return make_user()


@pytest.fixture
def admin(make_user: Callable[..., User]) -> User:
    """An administrator."""
    return make_user(role="admin")


@pytest.fixture
def run_in_threads() -> Callable[..., list[Any]]:
    """``run_in_threads(fn, fn, ...)`` runs each callable in its own thread; returns results or exceptions."""

    def run(*functions: Callable[[], Any], timeout: float = 60) -> list[Any]:
        outcomes: list[Any] = [None] * len(functions)

        def worker(index: int, function: Callable[[], Any]) -> None:
            try:
                outcomes[index] = function()
            except BaseException as exc:  # noqa: BLE001 - handed back to the test
                outcomes[index] = exc

        threads = [threading.Thread(target=worker, args=(i, f), daemon=True) for i, f in enumerate(functions)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout)
            assert not thread.is_alive(), "a worker thread hung"
        return outcomes

    return run


# --- Chromium: one Playwright driver per test session ---------------------------------------------
CHROMIUM = os.environ.get("CHROMIUM_PATH") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]


@pytest.fixture(scope="session")
def chromium_browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright's sync API, shared by every browser test.

    The sync API refuses a second driver in the same thread while one is running, so the suites
    that open pages (tests/browser, tests/security/test_xss.py) must all take this one.
    """
    import shutil

    path = CHROMIUM if os.path.exists(CHROMIUM) else (shutil.which("chromium") or CHROMIUM)
    if not os.path.exists(path):
        unavailable(f"Chromium not found at {path} (install Debian's chromium, or set CHROMIUM_PATH)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - a broken environment
        unavailable(f"playwright is not installed: {exc}")
    manager = sync_playwright().start()
    try:
        browser = manager.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
    except Exception as exc:  # noqa: BLE001 - any launch failure means no browser
        manager.stop()
        unavailable(f"Chromium at {path} does not start: {type(exc).__name__}: {exc}")
    yield browser
    browser.close()
    manager.stop()
