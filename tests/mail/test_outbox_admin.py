"""Admins read the outbox through the API (and the same service feeds /admin); members cannot."""

from __future__ import annotations

from commons_app.services import outbox
from tests import factories


def test_admins_read_outbox_mails_and_members_are_refused(client, session):
    admin = factories.make_admin(session)
    member = factories.make_user(session)
    outbox.queue_mail(session=session, to="ann@example.org", subject="Your link", text="Vote: http://x/v/abc\n",
                      kind="invitation", poll_id="p9")
    failed = outbox.queue_mail(session=session, to="bob@example.org", subject="Reminder", text="Hi", kind="reminder")
    failed.status, failed.attempts, failed.last_error = "failed", 8, "550 5.1.1 No such user"
    session.add(failed)
    session.commit()

    response = client.get("/api/admin/outbox", headers=factories.token_headers(session, admin))
    assert response.status_code == 200
    page = response.json()
    assert page["total"] == 2 and [m["to_address"] for m in page["items"]] == ["bob@example.org", "ann@example.org"]
    newest, oldest = page["items"]
    assert newest["status"] == "failed" and newest["attempts"] == 8 and newest["last_error"] == "550 5.1.1 No such user"
    assert oldest["body"] == "Vote: http://x/v/abc\n" and oldest["poll_id"] == "p9" and oldest["status"] == "queued"
    assert oldest["message_id"].startswith("<outbox.")

    only_failed = client.get("/api/admin/outbox?status=failed", headers=factories.token_headers(session, admin)).json()
    assert only_failed["total"] == 1
    bad = client.get("/api/admin/outbox?status=lost", headers=factories.token_headers(session, admin))
    assert bad.status_code == 422

    refused = client.get("/api/admin/outbox", headers=factories.token_headers(session, member))
    factories.assert_error(refused, 403)
    assert client.get("/api/admin/outbox").status_code == 401
