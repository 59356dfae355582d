"""SMTP over STARTTLS and implicit TLS with a user name and password, against a real aiosmtpd
server with a certificate the test makes (trusted through SSL_CERT_FILE, as an operator's CA)."""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlmodel import Session

from commons_app.models import OutboxMail
from commons_app.services import mailer, outbox
from tests.conftest import clear_caches
from tests.mail.conftest import SmtpServer, free_port

FAST = mailer.MailerSettings(max_attempts=3, retry_seconds=0.2, lease_seconds=30, batch=5, smtp_timeout=5)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return cert, key


def _authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:  # aiosmtpd's authenticator hook
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"mailer", b"s3cret:pw")
    return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535 itself


@pytest.fixture(params=["smtp+starttls", "smtps"])
def tls_server(request, certificate, monkeypatch) -> Iterator[SmtpServer]:
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server = SmtpServer(port=free_port())
    options = {"authenticator": _authenticate}
    if request.param == "smtps":
        controller = Controller(server, hostname="127.0.0.1", port=server.port, ssl_context=context,
                                auth_require_tls=False, **options)
    else:
        controller = Controller(server, hostname="127.0.0.1", port=server.port, tls_context=context,
                                require_starttls=True, auth_required=True, **options)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the client trusts the test's certificate
    controller.start()
    server.scheme = request.param  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        controller.stop()


def _use(monkeypatch, url: str) -> None:
    monkeypatch.setenv("SMTP_URL", url)
    monkeypatch.setenv("MAIL_FROM", "polls@commons.example")
    clear_caches()


def test_mail_goes_out_over_tls_with_a_login(engine, session, tls_server, monkeypatch):
    _use(monkeypatch, f"{tls_server.scheme}://mailer:s3cret%3Apw@127.0.0.1:{tls_server.port}")
    mail = outbox.queue_mail(session=session, to="ann@example.org", subject="Hi", text="Link\n", kind="test")
    session.commit()
    assert mailer.send_due(settings=FAST).sent == 1
    [got] = tls_server.received
    assert got.message_id == mail.message_id and got.rcpt_tos == ["ann@example.org"]


def test_a_wrong_password_is_retried_with_the_servers_reason(engine, session, tls_server, monkeypatch):
    _use(monkeypatch, f"{tls_server.scheme}://mailer:wrong@127.0.0.1:{tls_server.port}")
    mail = outbox.queue_mail(session=session, to="ann@example.org", subject="Hi", text="Link\n", kind="test")
    session.commit()
    assert mailer.send_due(settings=FAST).retried == 1
    with Session(engine) as s:
        row = s.get(OutboxMail, mail.id)
        assert row is not None and row.status == "queued" and (row.last_error or "").startswith("535")
    assert tls_server.received == []


def test_an_untrusted_certificate_is_refused(engine, session, tls_server, monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE")
    _use(monkeypatch, f"{tls_server.scheme}://mailer:s3cret%3Apw@127.0.0.1:{tls_server.port}")
    mail = outbox.queue_mail(session=session, to="ann@example.org", subject="Hi", text="Link\n", kind="test")
    session.commit()
    assert mailer.send_due(settings=FAST).retried == 1
    with Session(engine) as s:
        row = s.get(OutboxMail, mail.id)
        assert row is not None and "CERTIFICATE_VERIFY_FAILED" in (row.last_error or "")
    assert tls_server.received == []
