"""The outbox service: rows in the caller's transaction, dedupe keys, refusals."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from commons_app.models import OutboxMail
from commons_app.services import outbox
from commons_app.services.errors import InvalidInput


def _count(engine) -> int:
    with Session(engine) as other:
        return len(other.exec(select(OutboxMail)).all())


def test_queue_mail_adds_a_queued_row_in_the_callers_transaction(session, engine):
    mail = outbox.queue_mail(session=session, to="ann@example.org", subject="Vote", text="Hello", kind="invitation",
                             poll_id="abc")
    assert mail.id is not None and mail.status == "queued" and mail.attempts == 0
    assert mail.message_id.startswith("<outbox.") and mail.message_id.endswith("@localhost>")
    assert mail.poll_id == "abc" and mail.sent_at is None
    session.rollback()  # not committed by queue_mail: the caller's rollback takes it away
    assert _count(engine) == 0
    outbox.queue_mail(session=session, to="ann@example.org", subject="Vote", text="Hello", kind="invitation")
    session.commit()
    assert _count(engine) == 1


def test_a_dedupe_key_gives_one_row_within_and_across_transactions(session, engine):
    first = outbox.queue_mail(session=session, to="a@example.org", subject="S", text="T", kind="k", dedupe_key="x:1")
    again = outbox.queue_mail(session=session, to="a@example.org", subject="S", text="T", kind="k", dedupe_key="x:1")
    assert again.id == first.id
    session.commit()
    with Session(engine, expire_on_commit=False) as other:
        third = outbox.queue_mail(session=other, to="a@example.org", subject="S", text="T", kind="k", dedupe_key="x:1")
        other.commit()
    assert third.id == first.id
    assert _count(engine) == 1
    # Each row has its own Message-ID.
    second = outbox.queue_mail(session=session, to="a@example.org", subject="S", text="T", kind="k", dedupe_key="x:2")
    assert second.message_id != first.message_id


def test_a_racing_duplicate_keeps_the_callers_transaction(session, engine):
    """The unique key catches a duplicate that the first look missed; the caller's other work stays."""
    with Session(engine) as other:
        other.add(OutboxMail(to_address="a@example.org", subject="S", body="T", kind="k", dedupe_key="race",
                             message_id="<m1@x>"))
        other.commit()
    kept = outbox.queue_mail(session=session, to="b@example.org", subject="S", text="T", kind="k")
    original = outbox._existing
    calls: list[str] = []

    def late_look(s, k):  # the first look-up runs before the other transaction's commit
        calls.append(k)
        return None if len(calls) == 1 else original(s, k)

    outbox._existing = late_look
    try:
        found = outbox.queue_mail(session=session, to="a@example.org", subject="S", text="T", kind="k",
                                  dedupe_key="race")
    finally:
        outbox._existing = original
    assert found.message_id == "<m1@x>" and len(calls) == 2
    session.commit()
    assert session.get(OutboxMail, kept.id) is not None
    assert _count(engine) == 2


@pytest.mark.parametrize("to", ["", "nobody", "a@example.org, b@example.org", "a@example.org\r\nBcc: x@y.z", "<a@b.c>"])
def test_an_address_that_is_not_one_mailbox_is_refused(session, engine, to):
    with pytest.raises(InvalidInput):
        outbox.queue_mail(session=session, to=to, subject="S", text="T", kind="k")
    session.commit()
    assert _count(engine) == 0


def test_subject_line_breaks_are_folded(session):
    mail = outbox.queue_mail(session=session, to="a@example.org", subject="Hi\r\nBcc: evil@x.y", text="T", kind="k")
    assert "\n" not in mail.subject and "\r" not in mail.subject


def test_kick_is_safe_without_a_worker():
    outbox.kick()
