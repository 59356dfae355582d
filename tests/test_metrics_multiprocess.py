"""Metrics across worker processes, without a server: the run's directory is prepared only by the
``reflex run --env prod`` process and only when it starts several workers; values written by
several processes are summed; live gauges of dead workers stop counting; and the websocket
namespace counts connected clients around Reflex's own handlers.

A real two-worker server is exercised in ``tests/browser/test_metrics_workers.py``."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, multiprocess

from commons_app import metrics
from commons_app.state import connections
from tests import aio

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def supervisor(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """This process looks like ``reflex run --env prod`` before it starts two workers."""
    for name in (metrics.DIR_ENV, metrics.OWNER_ENV, metrics.BASE_ENV, "GRANIAN_WORKERS", "REFLEX_ENV_MODE"):
        monkeypatch.setenv(name, "x")  # recorded, so that teardown restores the real state
        monkeypatch.delenv(name)
    monkeypatch.setenv("REFLEX_ENV_MODE", "prod")
    monkeypatch.setenv("GRANIAN_WORKERS", "2")
    monkeypatch.setenv(metrics.BASE_ENV, str(tmp_path / "base"))
    monkeypatch.setattr(sys, "argv", ["reflex", "run", "--env", "prod", "--single-port"])
    monkeypatch.setattr(metrics.atexit, "register", lambda *args: None)
    return tmp_path / "base"


def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    return int(done.stdout)


def test_the_supervisor_of_several_workers_prepares_a_fresh_directory(supervisor: Path):
    import os

    stale = supervisor / f"run-{_dead_pid()}"
    stale.mkdir(parents=True)
    (stale / "counter_1.db").write_bytes(b"old")
    alive = supervisor / f"run-{os.getppid()}"  # another live run's directory is left alone
    alive.mkdir()

    directory = metrics.prepare_multiprocess()

    assert directory == supervisor / f"run-{os.getpid()}" and directory.is_dir() and not any(directory.iterdir())
    assert os.environ[metrics.DIR_ENV] == str(directory) and os.environ[metrics.OWNER_ENV] == str(os.getpid())
    assert not stale.exists() and alive.exists()
    # A worker (or a second import) inherits the directory and leaves it alone.
    (directory / "counter_9.db").write_bytes(b"")
    assert metrics.prepare_multiprocess() == directory and (directory / "counter_9.db").exists()


def test_one_worker_or_another_command_keeps_in_process_metrics(supervisor: Path, monkeypatch: pytest.MonkeyPatch):
    import os

    monkeypatch.setenv("GRANIAN_WORKERS", "1")
    assert metrics.prepare_multiprocess() is None
    monkeypatch.setenv("GRANIAN_WORKERS", "3")
    for argv in (["reflex", "export", "--env", "prod"], ["reflex", "run", "--env", "prod", "--frontend-only"]):
        monkeypatch.setattr(sys, "argv", argv)
        assert metrics.prepare_multiprocess() is None
    monkeypatch.setattr(sys, "argv", ["reflex", "run"])
    monkeypatch.setenv("REFLEX_ENV_MODE", "dev")
    assert metrics.prepare_multiprocess() is None
    assert metrics.DIR_ENV not in os.environ and not supervisor.exists()


def test_an_operators_directory_is_created_and_emptied_at_start(supervisor: Path, monkeypatch: pytest.MonkeyPatch,
                                                                tmp_path: Path):
    own = tmp_path / "prometheus"
    monkeypatch.setenv(metrics.DIR_ENV, str(own))
    monkeypatch.setenv("GRANIAN_WORKERS", "1")  # set by the operator: used whatever the worker count
    assert metrics.prepare_multiprocess() == own and own.is_dir()
    (own / "counter_123.db").write_bytes(b"stale")
    (own / "README").write_text("not ours")
    monkeypatch.delenv(metrics.OWNER_ENV)  # the next run
    assert metrics.prepare_multiprocess() == own
    assert [p.name for p in own.iterdir()] == ["README"]


WORKER = textwrap.dedent(
    """
    import os, sys
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = sys.argv[1]
    from commons_app import metrics
    metrics.REQUESTS.labels("GET", "/api/x", "200").inc(int(sys.argv[2]))
    metrics.CONNECTED_CLIENTS.inc(int(sys.argv[3]))
    if sys.argv[4] == "stop":
        metrics.worker_stopped()
    print(os.getpid(), flush=True)
    if sys.argv[4] == "wait":
        sys.stdin.read()
    """
)


def _collect(directory: Path) -> dict[str, float]:
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(directory))
    found = {"clients": 0.0}  # no live gauge file left: no sample at all
    for family in registry.collect():
        for sample in family.samples:
            if sample.name == "commons_http_requests_total" and sample.labels.get("route") == "/api/x":
                found["requests"] = sample.value
            if sample.name == "commons_connected_clients":
                found["clients"] = sample.value
    return found


def test_values_of_several_processes_are_summed_and_dead_workers_stop_counting(tmp_path: Path):
    def worker(requests: int, clients: int, mode: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-c", WORKER, str(tmp_path), str(requests), str(clients), mode],
            cwd=PROJECT_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )

    live = worker(3, 2, "wait")
    live_pid = int(live.stdout.readline())
    stopped, crashed = worker(4, 5, "stop"), worker(5, 7, "exit")  # "exit": gone without stopping
    assert stopped.wait(60) == 0 and crashed.wait(60) == 0
    crashed_pid = int(crashed.stdout.read())

    # Counters keep every process's counts; the live gauge holds the graceful one's no longer, and
    # still the crashed one's until /metrics notices that process is gone.
    assert _collect(tmp_path) == {"requests": 12, "clients": 2 + 7}
    assert metrics.forget_dead_workers(tmp_path) == [crashed_pid]
    assert _collect(tmp_path) == {"requests": 12, "clients": 2}

    live.stdin.close()
    assert live.wait(60) == 0
    assert metrics.forget_dead_workers(tmp_path) == [live_pid]
    assert _collect(tmp_path) == {"requests": 12, "clients": 0}


class FakeNamespace:
    """Stands for Reflex's EventNamespace: refuses the sid "refused", records what it was called with."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    async def on_connect(self, sid, environ, auth=None):
        self.calls.append(("connect", sid))
        if sid == "boom":
            raise RuntimeError("refused by an exception")
        return False if sid == "refused" else None

    def on_disconnect(self, sid):
        self.calls.append(("disconnect", sid))
        return "task"


class FakeApp:
    def __init__(self) -> None:
        self.event_namespace = FakeNamespace()
        self.lifespan: list = []

    def register_lifespan_task(self, task):
        self.lifespan.append(task)


def test_the_namespace_counts_accepted_clients_around_reflexs_handlers():
    app = FakeApp()
    namespace = app.event_namespace
    connections.install(app)
    assert isinstance(namespace, connections.ClientCounter) and app.event_namespace is namespace
    assert connections.count_clients(app)  # idempotent
    assert type(namespace).__mro__[1:3] == (connections.ClientCounter, FakeNamespace)
    gauge = metrics.CONNECTED_CLIENTS
    start = gauge._value.get()

    async def scenario() -> None:
        await namespace.on_connect("a", {})
        await namespace.on_connect("b", {}, {"auth": 1})
        assert await namespace.on_connect("refused", {}) is False
        with pytest.raises(RuntimeError):
            await namespace.on_connect("boom", {})
        assert gauge._value.get() == start + 2
        assert namespace.on_disconnect("a", "client disconnect") == "task"
        namespace.on_disconnect("a")  # twice: counted once
        namespace.on_disconnect("refused")
        assert gauge._value.get() == start + 1
        async with app.lifespan[0]():  # a worker's lifetime: at its end, its clients no longer count
            pass
        assert gauge._value.get() == 0

    aio.run(scenario(), timeout=60)
    assert ("disconnect", "a") in namespace.calls and namespace.calls.count(("disconnect", "a")) == 2


def test_the_apps_own_namespace_counts_clients():
    from commons_app.commons_app import app

    assert isinstance(app.event_namespace, connections.ClientCounter)
    from reflex.app import EventNamespace

    assert isinstance(app.event_namespace, EventNamespace)
