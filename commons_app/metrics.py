"""Prometheus metrics, summed over the backend's worker processes.

``reflex run --env prod`` serves the app from several granian worker processes
(``GRANIAN_WORKERS``, or Reflex's default when Redis is configured). Each worker counts for
itself, and ``/metrics`` is answered by whichever worker takes the request, so on their own the
numbers would be one worker's. prometheus_client's multiprocess mode fixes that: every worker
writes its values to files in ``PROMETHEUS_MULTIPROC_DIR`` and ``/metrics`` adds them up.

Nobody has to remember to set that up. The ``reflex run`` process imports the app (and so this
module) before it starts the workers; when it is about to run more than one, it makes a fresh
directory for this run (``$COMMONS_METRICS_DIR``, default ``<tmp>/commons-metrics-<uid>``,
``/run-<its pid>``; directories of runs whose process is gone are removed) and sets
``PROMETHEUS_MULTIPROC_DIR`` before any metric exists, so every worker inherits it. An operator's
own ``PROMETHEUS_MULTIPROC_DIR`` is used instead, created if missing and emptied at start-up (as
prometheus_client requires between runs). Other processes (tests, the CLI, ``reflex export``)
keep plain in-process metrics.

Gauges of live things (connected clients) use ``livesum``: a worker that stops, or dies, stops
counting (see :func:`forget_dead_workers`); counters keep what dead workers counted.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)

OWNER_ENV = "COMMONS_METRICS_OWNER"  # pid of the process that prepared the directory
DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
BASE_ENV = "COMMONS_METRICS_DIR"
_TRUE = {"1", "true", "yes", "on"}


def _backend_workers() -> int:
    """How many worker processes ``reflex run --env prod`` is about to start (as Reflex decides)."""
    raw = os.environ.get("GRANIAN_WORKERS", "").strip()
    if raw:
        try:
            return int(raw)
        except ValueError:
            return 1
    try:
        from reflex.utils import processes

        return processes.get_num_workers()
    except (Exception, SystemExit):  # noqa: BLE001 - Redis down: Reflex itself stops right after
        return 1


def _is_prod_supervisor() -> bool:
    """Whether this process is ``reflex run --env prod`` serving the backend, which imports the app
    and then starts the workers, and not a process that one (or an earlier run) set up."""
    return (
        os.environ.get("REFLEX_ENV_MODE") == "prod"
        and sys.argv[1:2] == ["run"]
        and "--frontend-only" not in sys.argv
        and os.environ.get("REFLEX_FRONTEND_ONLY", "").strip().lower() not in _TRUE
        and not os.environ.get(OWNER_ENV)
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _empty(directory: Path) -> None:
    for path in directory.glob("*.db"):
        path.unlink(missing_ok=True)


def _remove_run(directory: Path, owner: int) -> None:
    if os.getpid() == owner:  # never from a forked worker that inherited the hook
        shutil.rmtree(directory, ignore_errors=True)


def prepare_multiprocess() -> Path | None:
    """Choose and prepare the metrics directory of this run, if the workers need one.

    Returns:
        The directory in use (set in ``PROMETHEUS_MULTIPROC_DIR``), or None for in-process metrics.
    """
    current = os.environ.get(DIR_ENV) or os.environ.get(DIR_ENV.lower())
    if not _is_prod_supervisor():
        if not current:
            return None
        with contextlib.suppress(OSError):  # e.g. the CLI run before the server ever started
            Path(current).mkdir(parents=True, exist_ok=True)
        return Path(current)
    if current:
        directory = Path(current)
        directory.mkdir(parents=True, exist_ok=True)
        _empty(directory)
    elif _backend_workers() > 1:
        base = Path(os.environ.get(BASE_ENV) or Path(tempfile.gettempdir()) / f"commons-metrics-{os.getuid()}")
        base.mkdir(mode=0o700, parents=True, exist_ok=True)
        for stale in base.glob("run-*"):
            pid = stale.name.removeprefix("run-")
            if pid.isdigit() and not _alive(int(pid)):
                shutil.rmtree(stale, ignore_errors=True)
        directory = base / f"run-{os.getpid()}"
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(mode=0o700)
        atexit.register(_remove_run, directory, os.getpid())
    else:
        return None
    os.environ[DIR_ENV] = str(directory)
    os.environ[OWNER_ENV] = str(os.getpid())
    return directory


MULTIPROC_DIR = prepare_multiprocess()
# prometheus_client picks its value class when first imported; pick again now that the directory
# may be set, before the first metric below is made.
values.ValueClass = values.get_value_class()

REQUESTS = Counter("commons_http_requests_total", "HTTP requests", ["method", "route", "status"])
REQUEST_SECONDS = Histogram(
    "commons_http_request_seconds", "HTTP request latency", ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
BALLOTS = Counter("commons_ballots_total", "Ballot operations", ["action"])
COUNT_REPAIRS = Counter("commons_count_repairs_total", "Ballot counts found out of step with the ballots and rebuilt")
MAILS = Counter("commons_mails_total", "Outbox mail attempts by outcome: sent, retried (failed, will retry), failed (for good)", ["outcome"])
EVENT_SECONDS = Histogram(
    "commons_event_handler_seconds", "Reflex event handler latency", ["handler"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
LIVE_PUSHES = Counter("commons_live_pushes_total", "Coalesced live-result pushes to a poll's viewers")
CONNECTED_CLIENTS = Gauge(
    "commons_connected_clients",
    "Browser tabs connected to the app's websocket (all workers of this instance)",
    multiprocess_mode="livesum",
)


def forget_dead_workers(directory: Path | None = None) -> list[int]:
    """Drop the live gauges of worker processes that are gone (a crash skips :func:`worker_stopped`).

    Returns:
        The pids marked dead.
    """
    directory = directory or (Path(os.environ[DIR_ENV]) if os.environ.get(DIR_ENV) else None)
    if directory is None:
        return []
    dead = set()
    for path in directory.glob("gauge_live*_*.db"):
        pid = path.stem.rsplit("_", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            dead.add(int(pid))
    for pid in dead:
        multiprocess.mark_process_dead(pid, str(directory))
    return sorted(dead)


def worker_stopped() -> None:
    """A worker shuts down: what it holds live (its clients) no longer counts."""
    CONNECTED_CLIENTS.set(0)
    if os.environ.get(DIR_ENV):
        multiprocess.mark_process_dead(os.getpid())


def render() -> tuple[bytes, str]:
    """The metrics page and its content type."""
    if os.environ.get(DIR_ENV):
        forget_dead_workers()
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
