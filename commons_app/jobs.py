"""Background work: sending the outbox and timed jobs, on a job queue.

With ``REDIS_URL`` the work runs on `saq <https://github.com/tobymao/saq>`_ (a maintained asyncio
job queue) on the app's Redis: :func:`kick_outbox` enqueues a send job, and each periodic job is a
saq cron job, which saq enqueues under one key per function so that it runs once per period
however many workers there are. Without Redis an in-process runner (:class:`LocalRunner`) does the
same in the app's one worker process.

Who runs the worker: by default every app process (``JOBS_IN_APP=1``, started with the app, see
:func:`app_lifespan`); or a separate process, ``python -m commons_app worker`` (deploy/ runs one,
with ``JOBS_IN_APP=0`` for the app instances).

Others add timed work with :func:`register_periodic` (or the :func:`periodic` decorator) at import
time of a module that the app and the worker both import (``commons_app.jobs`` itself imports the
built-in ones below; add yours to :data:`JOB_MODULES`).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import logging
import os
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from commons_app.config import ConfigError, get_settings

logger = logging.getLogger("commons.jobs")

SEND_OUTBOX = "send_outbox"
# Modules whose import registers periodic jobs (the app and the worker import them all).
JOB_MODULES: list[str] = []


def _seconds_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    try:
        return max(1, int(float(raw))) if raw else default
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from exc


@dataclass(frozen=True)
class PeriodicJob:
    """A synchronous ``func()`` run every ``seconds``, once per period across all workers."""

    name: str
    func: Callable[[], None]
    seconds: int

    @property
    def cron(self) -> str:
        return cron_for(self.seconds)


_periodic: dict[str, PeriodicJob] = {}


def cron_for(seconds: int) -> str:
    """The cron expression (croniter's, seconds last) for "every ``seconds``".

    Raises:
        ValueError: A period that cron cannot express evenly (use a divisor of a minute, an hour
            or a day).
    """
    if seconds < 60 and 60 % seconds == 0:
        return f"* * * * * */{seconds}"
    if seconds % 60 == 0 and seconds < 3600 and 60 % (seconds // 60) == 0:
        return f"*/{seconds // 60} * * * *"
    if seconds % 3600 == 0 and 24 % (seconds // 3600) == 0:
        return f"0 */{seconds // 3600} * * *"
    raise ValueError(f"a period of {seconds} s does not divide a minute, an hour or a day")


def register_periodic(name: str, func: Callable[[], None], *, seconds: int) -> None:
    """Run ``func()`` every ``seconds``, once per period across all workers.

    ``func`` is synchronous (it runs in a thread) and opens its own database sessions; it must
    be safe to run again after a crash part-way (claim its rows, or make its effect idempotent).

    Raises:
        ValueError: ``seconds`` does not divide a minute, an hour or a day.
    """
    cron_for(seconds)  # refuse a period cron cannot keep
    _periodic[name] = PeriodicJob(name=name, func=func, seconds=seconds)


def periodic(name: str, *, seconds: int) -> Callable[[Callable[[], None]], Callable[[], None]]:
    """Decorator form of :func:`register_periodic`."""

    def decorate(func: Callable[[], None]) -> Callable[[], None]:
        register_periodic(name, func, seconds=seconds)
        return func

    return decorate


def periodic_jobs() -> list[PeriodicJob]:
    """Every registered periodic job (after importing :data:`JOB_MODULES`)."""
    for module in JOB_MODULES:
        importlib.import_module(module)
    return list(_periodic.values())


# --- small state kept between runs of a periodic job (Redis when configured) --------------------
_memory_state: dict[str, str] = {}


def _state_get(key: str) -> str | None:
    from commons_app.redis_client import get_redis

    client = get_redis()
    if client is not None:
        value = client.get(f"commons:jobs:state:{key}")
        return None if value is None else value.decode() if isinstance(value, bytes) else str(value)
    return _memory_state.get(key)


def _state_set(key: str, value: str) -> None:
    from commons_app.redis_client import get_redis

    client = get_redis()
    if client is not None:
        client.set(f"commons:jobs:state:{key}", value, ex=86400)
    else:
        _memory_state[key] = value


# --- the built-in jobs ---------------------------------------------------------------------------
_send_lock = threading.Lock()
_send_again = threading.Event()


def send_outbox() -> None:
    """Send every due mail of the outbox (also the periodic sweep: retries come due here).

    One sender per process at a time: a call while one runs makes that one go round again
    instead, so at most one mail per process is ever in flight (the most a crash can double).
    """
    from commons_app.services import mailer

    _send_again.set()
    while True:
        if not _send_lock.acquire(blocking=False):
            return  # the running sender goes round again
        try:
            while _send_again.is_set():
                _send_again.clear()
                report = mailer.send_due()
                if report.total:
                    logger.info("outbox sweep: %s sent, %s retried later, %s failed, %s logged unsent",
                                report.sent, report.retried, report.failed, report.logged)
        finally:
            _send_lock.release()
        if not _send_again.is_set():
            return


def poll_schedules() -> None:
    """Seal the polls that closed on time and announce the polls that opened or closed since the
    previous run, so open results pages update without anyone's action."""
    from commons_app.db import session_scope
    from commons_app.models import utcnow
    from commons_app.services import notify, schedules

    until = utcnow()
    saved = _state_get("poll_schedules_since")
    since = datetime.fromisoformat(saved) if saved else until - timedelta(seconds=60)
    with session_scope() as session:
        crossing = schedules.run_due(session=session, since=since, until=until)
    for poll_id in crossing:
        notify.poll_changed(poll_id)
    _state_set("poll_schedules_since", until.isoformat())


def reconcile_counts() -> None:
    """Compare the open polls' running counts with their ballots and repair any difference."""
    from commons_app.db import session_scope
    from commons_app.services import counts

    with session_scope() as session:
        open_ids = counts.open_poll_ids(session=session)
        repaired = counts.reconcile_polls(session=session, poll_ids=open_ids)
    logger.info("reconciled the counts of %s open polls; repaired %s", len(open_ids), len(repaired))


def register_builtin_jobs() -> None:
    """(Re-)register the app's own periodic jobs with the periods the environment sets.

    Raises:
        ConfigError: A period that is not a whole divisor of a minute, an hour or a day.
    """
    for name, func, variable, default in (
        ("outbox_sweep", send_outbox, "OUTBOX_SWEEP_SECONDS", 5),
        ("poll_schedules", poll_schedules, "SCHEDULE_CHECK_SECONDS", 2),
        ("counts_reconcile", reconcile_counts, "COUNTS_RECONCILE_SECONDS", 600),
    ):
        try:
            register_periodic(name, func, seconds=_seconds_env(variable, default))
        except ValueError as exc:
            raise ConfigError(f"{variable}: {exc}") from exc


register_builtin_jobs()


# --- kicking the sender ---------------------------------------------------------------------------
_local_runner: LocalRunner | None = None
_client: SaqClient | None = None
_client_lock = threading.Lock()


def kick_outbox() -> None:
    """Ask for an outbox send soon; returns at once (the enqueue happens on a background loop)."""
    runner = _local_runner
    if runner is not None:
        runner.kick()
        return
    url = get_settings().redis_url
    if url:
        saq_client(url).enqueue(SEND_OUTBOX)
    # Neither: no worker in this process (a command-line run); the app's periodic sweep sends.


def queue_name() -> str:
    """The saq queue's name (``JOBS_QUEUE``, default ``commons``): separate apps on one Redis
    database, or test runs, use different names."""
    return os.environ.get("JOBS_QUEUE", "").strip() or "commons"


class SaqClient:
    """Enqueues saq jobs from any thread through one event loop of its own (never blocks the caller)."""

    def __init__(self, url: str) -> None:
        from saq import Queue

        self.url = url
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="commons-jobs-client", daemon=True)
        self._thread.start()

        async def make() -> Any:
            return Queue.from_url(url, name=queue_name())

        self.queue = asyncio.run_coroutine_threadsafe(make(), self._loop).result(timeout=10)

    def enqueue(self, function: str, **kwargs: Any) -> Future[Any]:
        """Enqueue ``function`` (a job name); the returned future says whether it worked."""
        future = asyncio.run_coroutine_threadsafe(
            self.queue.enqueue(function, timeout=0, heartbeat=HEARTBEAT_SECONDS, ttl=-1, **kwargs), self._loop
        )
        future.add_done_callback(_log_failure)
        return future

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.queue.disconnect(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)


def _log_failure(future: Future[Any]) -> None:
    if future.exception() is not None:
        logger.warning("could not enqueue a job; the periodic sweep will catch up", exc_info=future.exception())


def saq_client(url: str) -> SaqClient:
    """The process's enqueuing client for ``url`` (made on first use)."""
    global _client
    with _client_lock:
        if _client is None or _client.url != url:
            _client = SaqClient(url)
        return _client


def reset_client() -> None:
    """Forget the enqueuing client (tests that change REDIS_URL)."""
    global _client
    with _client_lock:
        if _client is not None:
            with contextlib.suppress(Exception):
                _client.close()
        _client = None


# --- the saq worker (with Redis) ------------------------------------------------------------------
# A job whose worker stops touching it for this long is taken as dead: saq's sweep (every
# SWEEP_SECONDS, once across workers) aborts it, and a periodic job is scheduled again.
HEARTBEAT_SECONDS = 10
SWEEP_SECONDS = 5


def _as_saq_function(name: str, func: Callable[[], None]) -> Callable[..., Any]:
    async def run(ctx: dict[str, Any], **_kwargs: Any) -> None:
        job = ctx.get("job")
        work = asyncio.ensure_future(asyncio.to_thread(func))
        while True:
            done, _pending = await asyncio.wait({work}, timeout=HEARTBEAT_SECONDS / 3)
            if done:
                break
            if job is not None:
                await job.update()  # the heartbeat: this worker is alive and still at it
        work.result()

    run.__qualname__ = run.__name__ = name  # saq names jobs (and cron keys) by __qualname__
    return run


def make_saq_worker(url: str, *, handle_signals: bool, concurrency: int = 4) -> Any:
    """A saq worker for the send job and every periodic job, on the queue at ``url``."""
    from saq import CronJob, Queue, Worker

    class AppWorker(Worker):
        # Inside the app, the server owns SIGINT/SIGTERM; saq must not take them over.
        SIGNALS = Worker.SIGNALS if handle_signals else []

    functions = [_as_saq_function(SEND_OUTBOX, send_outbox)]
    cron_jobs = [
        CronJob(_as_saq_function(f"periodic:{job.name}", job.func), cron=job.cron, timeout=0,
                heartbeat=HEARTBEAT_SECONDS, ttl=-1)
        for job in periodic_jobs()
    ]
    queue = Queue.from_url(url, name=queue_name())

    async def startup(ctx: dict[str, Any]) -> None:
        # Send whatever waited while no worker ran (without waiting for the first sweep).
        await ctx["worker"].queue.enqueue(SEND_OUTBOX, timeout=0, heartbeat=HEARTBEAT_SECONDS, ttl=-1)

    return AppWorker(queue, functions, cron_jobs=cron_jobs, concurrency=concurrency, startup=startup,
                     timers={"schedule": 1, "sweep": SWEEP_SECONDS}, shutdown_grace_period_s=5)


# --- the in-process runner (without Redis) ----------------------------------------------------------
class LocalRunner:
    """Runs the periodic jobs and kicked sends in this process's event loop (no Redis)."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None

    def kick(self) -> None:
        """Wake the sender (from any thread)."""
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            loop.call_soon_threadsafe(wake.set)

    async def run(self) -> None:
        """Run until cancelled."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        tasks = [asyncio.create_task(self._every(job)) for job in periodic_jobs()]
        tasks.append(asyncio.create_task(self._sender()))
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _every(self, job: PeriodicJob) -> None:
        while True:
            await asyncio.sleep(job.seconds)
            await _run_logged(job.name, job.func)

    async def _sender(self) -> None:
        assert self._wake is not None
        await _run_logged(SEND_OUTBOX, send_outbox)  # whatever waited while nothing ran
        while True:
            await self._wake.wait()
            self._wake.clear()
            await _run_logged(SEND_OUTBOX, send_outbox)


async def _run_logged(name: str, func: Callable[[], None]) -> None:
    try:
        await asyncio.to_thread(func)
    except Exception:
        logger.exception("job %s failed", name)


# --- running a worker -----------------------------------------------------------------------------
async def run_worker(*, handle_signals: bool = False) -> None:
    """Run this process's worker until cancelled: saq with Redis, the local runner without."""
    global _local_runner
    url = get_settings().redis_url
    if url:
        worker = make_saq_worker(url, handle_signals=handle_signals)
        logger.info("job worker on Redis (saq queue %r): %s", queue_name(),
                    ", ".join(f"{j.name} every {j.seconds} s" for j in periodic_jobs()))
        try:
            await worker.start()
        finally:
            await worker.stop()
            with contextlib.suppress(Exception):
                await worker.queue.disconnect()
        return
    runner = LocalRunner()
    _local_runner = runner
    logger.info("job worker in process (no REDIS_URL): %s",
                ", ".join(f"{j.name} every {j.seconds} s" for j in periodic_jobs()))
    try:
        await runner.run()
    finally:
        if _local_runner is runner:
            _local_runner = None


def jobs_in_app() -> bool:
    """Whether app processes run a worker (``JOBS_IN_APP``, default 1)."""
    return os.environ.get("JOBS_IN_APP", "1").strip().lower() not in {"0", "false", "no", "off"}


async def _keep_running() -> None:
    """Run the worker; if it fails (Redis unreachable at start, …), log it and start it again."""
    while True:
        try:
            await run_worker()
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("the job worker stopped; starting it again in 5 s")
            await asyncio.sleep(5)


@contextlib.asynccontextmanager
async def app_lifespan() -> AsyncIterator[None]:
    """The app's lifespan task: start this process's worker with the app, stop it with the app."""
    task = asyncio.create_task(_keep_running()) if jobs_in_app() else None
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def publish_poll_changes() -> Callable[[str], None]:
    """In a worker process apart from the app: forward ``services.notify`` announcements to the
    app's workers over Redis, which push the new results to open pages.

    Returns:
        The listener added (``notify.remove_listener`` takes it away).
    """
    from commons_app.redis_client import get_redis
    from commons_app.services import notify

    def forward(poll_id: str) -> None:
        client = get_redis()
        if client is not None:
            client.publish(POLL_CHANGED_CHANNEL, json.dumps({"poll_id": poll_id}))

    notify.add_listener(forward)
    return forward


POLL_CHANGED_CHANNEL = "commons:jobs:poll-changed"


def main() -> int:
    """``python -m commons_app worker``: run a worker process until SIGINT/SIGTERM."""
    from commons_app.logs import configure_logging

    configure_logging()
    publish_poll_changes()
    url = get_settings().redis_url
    if not url:
        logger.warning("no REDIS_URL: this worker runs the jobs in its own process only, and kicks from "
                       "the app do not reach it (the periodic sweep still sends)")

    async def run() -> None:
        if url:
            await run_worker(handle_signals=True)
            return
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        import signal

        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        task = asyncio.create_task(run_worker())
        await stop.wait()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(run())
    return 0
