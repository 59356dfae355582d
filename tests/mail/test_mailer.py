"""The sender against a real SMTP server: delivery, retries with back-off, failures, leases."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from commons_app import metrics
from commons_app.config import ConfigError
from commons_app.models import OutboxMail, as_utc, utcnow
from commons_app.services import mailer, outbox
from tests.mail.conftest import MAIL_FROM

FAST = mailer.MailerSettings(max_attempts=3, retry_seconds=0.3, lease_seconds=30, batch=5, smtp_timeout=5)


def _queue(session: Session, n: int = 1, **kwargs: object) -> list[OutboxMail]:
    mails = [
        outbox.queue_mail(session=session, to=f"voter{i}@example.org", subject=f"Vote {i}",
                          text=f"Hello {i}\n\nhttp://localhost:3000/v/token{i}\n", kind="invitation", **kwargs)  # type: ignore[arg-type]
        for i in range(n)
    ]
    session.commit()
    return mails


def _row(engine, mail_id: int) -> OutboxMail:
    with Session(engine) as s:
        row = s.get(OutboxMail, mail_id)
        assert row is not None
        return row


def test_a_queued_mail_is_delivered_with_its_from_to_text_and_message_id(engine, session, mail_env):
    [mail] = _queue(session, poll_id="p1")
    report = mailer.send_due(settings=FAST)
    assert report.sent == 1
    [got] = mail_env.received
    assert got.rcpt_tos == ["voter0@example.org"] and got.mail_from == "polls@commons.example"
    assert got.message["From"] == MAIL_FROM and got.message["To"] == "voter0@example.org"
    assert got.message["Subject"] == "Vote 0" and got.message_id == mail.message_id
    assert got.message.get_content_type() == "text/plain"
    assert "\nhttp://localhost:3000/v/token0\n" in got.text
    row = _row(engine, mail.id)
    assert row.status == "sent" and row.attempts == 1 and row.sent_at is not None and row.last_error is None
    assert row.lease_owner is None
    assert mailer.send_due(settings=FAST).total == 0  # sent once, never again
    assert len(mail_env.received) == 1


def test_a_refusing_server_is_retried_with_back_off_then_succeeds(engine, session, mail_env):
    [mail] = _queue(session)
    mail_env.refuse("451 4.3.0 Try again later", times=2)
    counted = {o: metrics.MAILS.labels(o)._value.get() for o in ("sent", "retried")}
    before = utcnow()
    assert mailer.send_due(settings=FAST).retried == 1
    row = _row(engine, mail.id)
    assert row.status == "queued" and row.attempts == 1 and row.last_error == "451 4.3.0 Try again later"
    first_wait = (as_utc(row.next_attempt_at) - before).total_seconds()
    assert 0.25 < first_wait < 1.5
    # Not retried before its time.
    assert mailer.send_due(settings=FAST).total == 0
    time.sleep(first_wait + 0.05)
    before = utcnow()
    assert mailer.send_due(settings=FAST).retried == 1
    row = _row(engine, mail.id)
    second_wait = (as_utc(row.next_attempt_at) - before).total_seconds()
    assert row.attempts == 2 and 0.55 < second_wait < 1.5  # doubled
    time.sleep(second_wait + 0.05)
    assert mailer.send_due(settings=FAST).sent == 1
    row = _row(engine, mail.id)
    assert row.status == "sent" and row.attempts == 3 and row.last_error is None
    assert [r.message_id for r in mail_env.received] == [mail.message_id]
    assert metrics.MAILS.labels("retried")._value.get() - counted["retried"] == 2
    assert metrics.MAILS.labels("sent")._value.get() - counted["sent"] == 1


def test_a_server_that_is_down_is_retried_and_the_reason_recorded(engine, session, mail_env):
    [mail] = _queue(session)
    mail_env.stop()
    assert mailer.send_due(settings=FAST).retried == 1
    row = _row(engine, mail.id)
    assert row.status == "queued" and "ConnectionRefusedError" in (row.last_error or "")
    mail_env.start()
    time.sleep(0.4)
    assert mailer.send_due(settings=FAST).sent == 1
    assert _row(engine, mail.id).status == "sent"
    assert len(mail_env.received) == 1


def test_after_the_last_attempt_the_mail_is_failed_with_the_reason(engine, session, mail_env):
    [mail] = _queue(session)
    mail_env.refuse("421 4.7.0 Too busy", times=10)
    for attempt in range(1, FAST.max_attempts + 1):
        mailer.send_due(settings=FAST)
        row = _row(engine, mail.id)
        assert row.attempts == attempt, (row.status, row.attempts, row.last_error, row.next_attempt_at)
        time.sleep(max(0.0, (as_utc(row.next_attempt_at) - utcnow()).total_seconds()) + 0.05)
    row = _row(engine, mail.id)
    assert row.status == "failed" and row.last_error == "421 4.7.0 Too busy" and row.sent_at is None
    assert mailer.send_due(settings=FAST).total == 0  # a failed mail stays failed
    assert mail_env.received == []


def test_a_permanent_refusal_fails_at_once_and_the_batch_goes_on(engine, session, mail_env):
    first, second = _queue(session, n=2)
    mail_env.refuse("550 5.1.1 No such user")
    report = mailer.send_due(settings=FAST)
    assert (report.failed, report.sent) == (1, 1)
    assert _row(engine, first.id).status == "failed" and _row(engine, first.id).last_error == "550 5.1.1 No such user"
    assert _row(engine, second.id).status == "sent"


def test_two_senders_at_once_send_each_mail_exactly_once(engine, session, mail_env):
    mails = _queue(session, n=30)
    mail_env.delay = 0.01
    reports: list[mailer.SweepReport] = []
    threads = [threading.Thread(target=lambda: reports.append(mailer.send_due(settings=FAST))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r.sent for r in reports) == 30
    counts = mail_env.by_message_id()
    assert set(counts) == {m.message_id for m in mails} and set(counts.values()) == {1}


def test_a_row_leased_by_a_dead_sender_waits_for_its_lease_then_goes_once(engine, session, mail_env):
    [mail] = _queue(session)
    with Session(engine, expire_on_commit=False) as other:
        claimed = mailer.claim(session=other, owner="dead-sender", limit=10, lease_seconds=0.5)
    assert [m.id for m in claimed] == [mail.id] and claimed[0].attempts == 1
    assert mailer.send_due(settings=FAST).total == 0  # still leased
    time.sleep(0.6)
    assert mailer.send_due(settings=FAST).sent == 1
    row = _row(engine, mail.id)
    assert row.status == "sent" and row.attempts == 2  # the dead sender's attempt counts
    assert len(mail_env.received) == 1


def test_without_smtp_url_mails_stay_queued_and_are_logged_once(engine, session, monkeypatch, caplog):
    from tests.conftest import clear_caches

    monkeypatch.delenv("SMTP_URL", raising=False)
    clear_caches()
    [mail] = _queue(session)
    with caplog.at_level(logging.INFO, logger="commons.mail"):
        assert mailer.send_due(settings=FAST).logged == 1
        assert mailer.send_due(settings=FAST).logged == 0
    logged = [r.getMessage() for r in caplog.records if "no SMTP_URL" in r.getMessage()]
    assert len(logged) == 1 and "voter0@example.org" in logged[0] and "http://localhost:3000/v/token0" in logged[0]
    row = _row(engine, mail.id)
    assert row.status == "queued" and row.attempts == 0 and row.last_error == mailer.NO_SMTP_NOTE


def test_mails_kept_without_smtp_go_out_once_smtp_is_configured(engine, session, monkeypatch, mail_env):
    from tests.conftest import clear_caches

    [mail] = _queue(session)
    monkeypatch.delenv("SMTP_URL")
    clear_caches()
    mailer.send_due(settings=FAST)
    monkeypatch.setenv("SMTP_URL", mail_env.url)
    clear_caches()
    assert mailer.send_due(settings=FAST).sent == 1
    assert _row(engine, mail.id).status == "sent"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example:2525", mailer.SmtpTarget("smtp", "mail.example", 2525)),
        ("smtp+starttls://u%40x:p%3Aw@mail.example:587", mailer.SmtpTarget("smtp+starttls", "mail.example", 587, "u@x", "p:w")),
        ("smtps://u:pw@mail.example", mailer.SmtpTarget("smtps", "mail.example", 465, "u", "pw")),
    ],
)
def test_smtp_urls_are_read(url, expected):
    assert mailer.parse_smtp_url(url) == expected


@pytest.mark.parametrize("url", ["http://mail.example", "smtp://", "smtp://user:pw@mail.example:25", "smtp://h:notaport"])
def test_bad_smtp_urls_are_refused(url):
    with pytest.raises(ConfigError):
        mailer.parse_smtp_url(url)


def test_claims_skip_rows_not_yet_due(engine, session, mail_env):
    [mail] = _queue(session)
    with Session(engine) as s:
        row = s.get(OutboxMail, mail.id)
        row.next_attempt_at = utcnow() + timedelta(minutes=5)
        s.add(row)
        s.commit()
        assert mailer.claim(session=s, owner="x", limit=5, lease_seconds=5) == []
        assert s.exec(select(OutboxMail)).one().attempts == 0


def test_a_mail_whose_last_attempt_died_with_its_sender_is_failed_not_retried_for_ever(engine, session, mail_env):
    [mail] = _queue(session)
    with Session(engine, expire_on_commit=False) as other:
        for _ in range(FAST.max_attempts):  # each attempt's sender dies: its lease runs out
            assert mailer.claim(session=other, owner="doomed", limit=1, lease_seconds=0.05)
            time.sleep(0.1)
    assert mailer.send_due(settings=FAST).failed == 1
    row = _row(engine, mail.id)
    assert row.status == "failed" and row.attempts == FAST.max_attempts
    assert "stopped during its last attempt" in (row.last_error or "")
    assert mail_env.received == []

