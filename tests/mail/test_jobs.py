"""The job queue: kicked sends and periodic jobs, on Redis (saq) and in process without it."""

from __future__ import annotations

import asyncio
import itertools
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from commons_app import jobs
from commons_app.services import outbox
from tests.conftest import clear_caches
from tests.mail.conftest import drop_queue_keys


@contextmanager
def running_workers(count: int = 1) -> Iterator[None]:
    """``count`` job workers (as the app runs them) in an event loop of their own."""
    loop = asyncio.new_event_loop()
    tasks: list[asyncio.Task] = []
    started = threading.Event()

    def main() -> None:
        asyncio.set_event_loop(loop)

        async def start() -> None:
            tasks.extend(asyncio.create_task(jobs.run_worker()) for _ in range(count))
            started.set()
            await asyncio.gather(*tasks, return_exceptions=True)

        loop.run_until_complete(start())

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    started.wait(5)
    time.sleep(0.3)  # let the workers connect and schedule
    try:
        yield
    finally:
        for task in tasks:
            loop.call_soon_threadsafe(task.cancel)
        thread.join(15)
        loop.close()
        assert not thread.is_alive()


@pytest.fixture
def job_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """A long sweep period (only a kick sends quickly) and a test job that runs every second;
    yields the times the test job ran."""
    monkeypatch.setenv("OUTBOX_SWEEP_SECONDS", "60")
    monkeypatch.setenv("SCHEDULE_CHECK_SECONDS", "60")
    monkeypatch.setenv("JOBS_QUEUE", f"commons-test-{secrets.token_hex(4)}")
    runs: list[float] = []
    jobs.register_builtin_jobs()
    jobs.register_periodic("test_tick", lambda: runs.append(time.monotonic()), seconds=1)
    try:
        yield runs
    finally:
        jobs._periodic.pop("test_tick", None)
        monkeypatch.undo()
        jobs.register_builtin_jobs()
        jobs.reset_client()


def _queue_and_kick(session) -> str:
    mail = outbox.queue_mail(session=session, to="kicked@example.org", subject="Kick", text="Hi", kind="test")
    session.commit()
    outbox.kick()
    return mail.message_id


def test_cron_expressions_for_periods():
    assert jobs.cron_for(1) == "* * * * * */1" and jobs.cron_for(5) == "* * * * * */5"
    assert jobs.cron_for(600) == "*/10 * * * *" and jobs.cron_for(7200) == "0 */2 * * *"
    with pytest.raises(ValueError):
        jobs.register_periodic("odd", lambda: None, seconds=7)


def test_without_redis_a_kick_sends_at_once_and_periodic_jobs_run_in_process(engine, session, mail_env, job_env):
    with running_workers():
        started = time.monotonic()
        message_id = _queue_and_kick(session)
        mail_env.wait_for(1, timeout=3)
        assert time.monotonic() - started < 2  # the kick, not the 60 s sweep
        time.sleep(2.2)
    assert mail_env.received[0].message_id == message_id
    assert len(job_env) >= 2


def test_with_redis_a_kick_is_a_queued_job_and_periodic_jobs_run_once_per_period(
    engine, session, mail_env, job_env, redis_url, monkeypatch
):
    monkeypatch.setenv("REDIS_URL", redis_url)
    clear_caches()
    with running_workers(count=2):
        started = time.monotonic()
        message_id = _queue_and_kick(session)
        mail_env.wait_for(1, timeout=5)
        assert time.monotonic() - started < 3
        job_env.clear()
        time.sleep(4.0)
        ticks = list(job_env)
    drop_queue_keys(redis_url, jobs.queue_name())
    assert [r.message_id for r in mail_env.received] == [message_id]
    # Two workers, one run per second between them (saq keys each cron run).
    assert 2 <= len(ticks) <= 5, ticks
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    assert all(gap > 0.5 for gap in gaps), gaps


def test_a_failing_periodic_job_does_not_stop_the_others(engine, mail_env, job_env):
    def boom() -> None:
        raise RuntimeError("boom")

    jobs.register_periodic("test_boom", boom, seconds=1)
    try:
        with running_workers():
            time.sleep(2.5)
    finally:
        jobs._periodic.pop("test_boom", None)
    assert len(job_env) >= 2


def test_a_worker_apart_from_the_app_forwards_poll_changes_over_redis(redis_url, monkeypatch):
    """A poll that closes on time in a separate worker process reaches the app's instances (their
    live layer subscribes to this channel and pushes the poll's results)."""
    import json

    import redis

    from commons_app.services import notify

    monkeypatch.setenv("REDIS_URL", redis_url)
    clear_caches()
    client = redis.Redis.from_url(redis_url)
    pubsub = client.pubsub()
    pubsub.subscribe(jobs.POLL_CHANGED_CHANNEL)
    assert pubsub.get_message(timeout=2)["type"] == "subscribe"
    listener = jobs.publish_poll_changes()
    try:
        notify.poll_changed(424242)
        message = pubsub.get_message(timeout=2)
        while message is not None and json.loads(message["data"]).get("poll_id") != 424242:
            message = pubsub.get_message(timeout=2)  # another test run's poll, on a shared server
    finally:
        notify.remove_listener(listener)
        pubsub.close()
        client.close()
    assert message is not None and json.loads(message["data"]) == {"poll_id": 424242}
