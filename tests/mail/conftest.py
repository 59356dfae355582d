"""A real SMTP server for mail tests (aiosmtpd, in a thread of the test process), never a mock.

``smtp_server`` listens on a free local port and keeps every message it accepts. It can refuse
(``refuse(reply, times)``), answer slowly (``delay``) and go down and up again on the same port
(``stop()``/``start()``). ``mail_env`` points the app at it (``SMTP_URL``, ``MAIL_FROM``).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.conftest import clear_caches

MAIL_FROM = "The Commons <polls@commons.example>"


@dataclass
class Received:
    """One message as the server accepted it."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])

    @property
    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        assert part is not None
        return part.get_content().replace("\r\n", "\n")  # the wire form has CRLF line ends


@dataclass
class SmtpServer:
    """An aiosmtpd server and what it received."""

    port: int
    received: list[Received] = field(default_factory=list)
    delay: float = 0.0
    _refusals: list[str] = field(default_factory=list)
    _controller: Controller | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def refuse(self, reply: str, times: int = 1) -> None:
        """Answer the next ``times`` messages' DATA with ``reply`` (e.g. ``451 4.3.0 Try later``)."""
        with self._lock:
            self._refusals.extend([reply] * times)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd calls it by this name
        with self._lock:
            if self._refusals:
                return self._refusals.pop(0)
        message = message_from_bytes(envelope.content, policy=default_policy)
        with self._lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        if self.delay:
            await asyncio.sleep(self.delay)
        return "250 2.0.0 OK queued"

    def start(self) -> None:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def by_message_id(self) -> Counter[str]:
        """How many times each Message-ID arrived."""
        with self._lock:
            return Counter(r.message_id for r in self.received)

    def wait_for(self, count: int, timeout: float = 10.0) -> None:
        """Wait until ``count`` messages have arrived."""
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.received)} of {count} mails arrived within {timeout} s")
            time.sleep(0.02)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A running SMTP server on a free local port."""
    server = SmtpServer(port=free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def mail_env(smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch) -> SmtpServer:
    """The app's SMTP_URL and MAIL_FROM aimed at ``smtp_server``, with quick retries."""
    monkeypatch.setenv("SMTP_URL", smtp_server.url)
    monkeypatch.setenv("MAIL_FROM", MAIL_FROM)
    monkeypatch.setenv("SMTP_TIMEOUT", "5")
    clear_caches()
    return smtp_server


def drop_queue_keys(redis_url: str, queue: str) -> None:
    """Delete a test's saq queue from Redis (the tests share a Redis database with others)."""
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    try:
        for key in client.scan_iter(match=f"saq:{queue}:*", count=500):
            client.delete(key)
    finally:
        client.close()
