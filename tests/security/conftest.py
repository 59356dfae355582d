"""Fixtures of the adversarial security and reliability suite (on top of ``tests/conftest.py``).

* ``live_api``: the API as the server runs it (``wrap_with_guard(create_api())``) served by a real
  uvicorn in a background thread on a free 127.0.0.1 port, for tests that need true concurrency
  over real sockets. It serves whatever engine is installed in ``commons_app.db`` at the time, so
  a test first asks for ``engine`` (or installs its own).
* ``wide_engine``: a second engine on the test database with a pool large enough for 50 threads
  at once, installed as the app's engine for the test.
* ``REPORT``: counters the tests fill in (requests fuzzed, race rounds, faults survived, ballots
  lost, timings), printed at the end of the run under "security suite".
"""

from __future__ import annotations

import socket
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine

from commons_app import db as db_module
from commons_app.api.app import create_api, wrap_with_guard

REPORT: dict[str, Any] = defaultdict(int)
TIMINGS: dict[str, float] = defaultdict(float)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not REPORT and not TIMINGS:
        return
    terminalreporter.section("security suite")
    for key in sorted(REPORT):
        terminalreporter.write_line(f"{key}: {REPORT[key]}")
    by_file: dict[str, float] = defaultdict(float)
    for key, seconds in TIMINGS.items():
        by_file[key] += seconds
    for key in sorted(by_file):
        terminalreporter.write_line(f"time {key}: {by_file[key]:.1f} s")


@pytest.fixture(autouse=True)
def _time_per_file_and_backend(request: pytest.FixtureRequest) -> Iterator[None]:
    """Add each test's wall time to ``TIMINGS['<file> [<backend>]']``."""
    started = time.perf_counter()
    yield
    callspec = getattr(request.node, "callspec", None)
    backend = callspec.params.get("backend", "-") if callspec is not None else "-"
    TIMINGS[f"{request.node.path.name} [{backend}]"] += time.perf_counter() - started


# --- a real HTTP server -----------------------------------------------------------------------------
@dataclass
class LiveServer:
    """A uvicorn server in a thread of this process, serving the API over real sockets."""

    url: str
    server: Any
    thread: threading.Thread


@pytest.fixture(scope="session")
def live_api() -> Iterator[LiveServer]:
    """``wrap_with_guard(create_api())`` under uvicorn on a free 127.0.0.1 port."""
    import uvicorn

    config = uvicorn.Config(
        wrap_with_guard(create_api()),
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan="off",
        backlog=2048,
        timeout_keep_alive=30,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-security-suite", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield LiveServer(url=f"http://127.0.0.1:{port}", server=server, thread=thread)
    server.should_exit = True
    thread.join(15)


# --- an engine for many threads at once ---------------------------------------------------------------
def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """The same pragmas as ``commons_app.db.make_engine`` sets on SQLite files."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


@pytest.fixture
def wide_engine(database: Any, engine: Engine) -> Iterator[Engine]:
    """An engine on the test database with room for 60 connections, installed as the app's engine
    (the ``engine`` fixture puts its own back and empties the tables afterwards)."""
    if database.backend == "sqlite":
        # make_engine leaves SQLite with SQLAlchemy's default pool (15 connections): widen it.
        wide = create_engine(
            database.url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=60, max_overflow=10
        )
        event.listen(wide, "connect", _sqlite_pragmas)
    else:
        wide = db_module.make_engine(database.url, pool_size=60, max_overflow=10)
    db_module.set_engine(wide)
    try:
        yield wide
    finally:
        db_module.set_engine(engine)
        wide.dispose()
