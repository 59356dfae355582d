"""Killing the sender (SIGKILL) mid-batch and starting it again loses and doubles no mail."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlmodel import Session, select

from commons_app.config import PROJECT_ROOT
from commons_app.models import OutboxMail
from commons_app.services import outbox
from tests.mail.conftest import drop_queue_keys

MAILS = 40


@contextmanager
def worker_process(env: dict[str, str], log: Any) -> Iterator[subprocess.Popen[bytes]]:
    """``python -m commons_app worker`` in a process of its own."""
    process = subprocess.Popen(
        [sys.executable, "-m", "commons_app", "worker"], cwd=PROJECT_ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=log,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _statuses(engine) -> dict[str, int]:
    with Session(engine) as s:
        rows = s.exec(select(OutboxMail)).all()
    found: dict[str, int] = {}
    for row in rows:
        found[row.status] = found.get(row.status, 0) + 1
    return found


@pytest.mark.parametrize("with_redis", [False, True], ids=["in-process", "redis"])
def test_sigkill_mid_batch_then_restart_loses_and_doubles_nothing(
    engine, session, database, mail_env, with_redis, request, tmp_path
):
    env = {
        **os.environ,
        "DATABASE_URL": database.url,
        "SMTP_URL": mail_env.url,
        "MAIL_FROM": "The Commons <polls@commons.example>",
        "OUTBOX_LEASE_SECONDS": "3",
        "SMTP_TIMEOUT": "1",
        "OUTBOX_BATCH": "5",
        "OUTBOX_SWEEP_SECONDS": "1",
        "OUTBOX_RETRY_SECONDS": "1",
        "JOBS_QUEUE": f"commons-test-{secrets.token_hex(4)}",
    }
    if with_redis:
        env["REDIS_URL"] = request.getfixturevalue("redis_url")
    else:
        env.pop("REDIS_URL", None)
    mails = [
        outbox.queue_mail(session=session, to=f"v{i}@example.org", subject=f"Invitation {i}",
                          text=f"http://localhost:3000/v/t{i}\n", kind="invitation")
        for i in range(MAILS)
    ]
    session.commit()
    promised = {m.message_id for m in mails}
    mail_env.delay = 0.05  # a slow server, so the kill lands mid-batch

    log = (tmp_path / "worker.log").open("wb")
    with worker_process(env, log) as first:
        try:
            mail_env.wait_for(12, timeout=30)
        except AssertionError:
            log.flush()
            raise AssertionError((tmp_path / "worker.log").read_text()[-3000:]) from None
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    at_kill = len(mail_env.received)
    assert at_kill < MAILS, "the kill came too late to test anything"
    assert _statuses(engine).get("queued", 0) > 0

    with worker_process(env, log) as second:
        deadline = time.monotonic() + 60
        while _statuses(engine).get("sent", 0) < MAILS:
            assert second.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
            assert time.monotonic() < deadline, (_statuses(engine), (tmp_path / "worker.log").read_text()[-4000:])
            time.sleep(0.2)

    if with_redis:
        drop_queue_keys(env["REDIS_URL"], env["JOBS_QUEUE"])
    assert _statuses(engine) == {"sent": MAILS}
    by_id = mail_env.by_message_id()
    # Nothing lost, nothing extra: every promised mail arrived, under its own Message-ID.
    assert set(by_id) == promised
    # The only possible copy is the one mail in flight at the kill (its 250 sent, its mark not
    # committed), and it carries the same Message-ID, so a receiver drops it.
    copies = sum(by_id.values()) - MAILS
    assert copies <= 1, by_id.most_common(3)
    print(f"\nSIGKILL after {at_kill} of {MAILS} mails: lost 0, distinct {len(by_id)}, raw copies {copies}")
