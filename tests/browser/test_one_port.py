"""One port setting serves the pages, the API and the websocket (issue 11 item 7).

``reflex run --env prod --single-port --frontend-port N`` alone (no ``COMMONS_PORT``, which the
websocket's allowed origin used to follow): the pages and the API answer on N, and the
websocket accepts the pages' own origin, ``http://127.0.0.1:N``. (``make run PORT=N`` runs exactly
this command.)
"""

from __future__ import annotations

import base64
import secrets
import socket
from pathlib import Path

import httpx
import pytest

from tests.browser.servers import AppServer, free_port, prepare_project

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(900)]


class FrontendPortOnly(AppServer):
    """A server told its port by ``--frontend-port`` only."""

    def env(self) -> dict[str, str]:
        env = super().env()
        env.pop("COMMONS_PORT", None)
        return env


def handshake(port: int, origin: str) -> int:
    """The status of a websocket upgrade to ``/_event`` sent with ``origin``."""
    key = base64.b64encode(secrets.token_bytes(16)).decode()
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        sock.sendall(
            f"GET /_event/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: {origin}\r\n\r\n"
            .encode()
        )
        data = b""
        while b"\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    return int(data.split(b"\r\n", 1)[0].split()[1])


def test_the_frontend_port_alone_serves_pages_api_and_websocket(tmp_path: Path):
    project = prepare_project(tmp_path / "app")
    server = FrontendPortOnly("one-port", project, free_port(), f"sqlite:///{tmp_path / 'one-port.db'}")
    assert "COMMONS_PORT" not in server.env()
    try:
        server.cli("migrate")
        server.start()
        server.wait_ready()
        with httpx.Client(base_url=server.url, timeout=10) as client:
            assert client.get("/").status_code == 200
            assert client.get("/api/health").status_code == 200
        assert handshake(server.port, server.url) == 101, server.tail()
        assert handshake(server.port, f"http://localhost:{server.port}") == 101
        assert handshake(server.port, "http://127.0.0.1:3000") != 101  # the old fixed default is not let in
        assert handshake(server.port, "https://evil.example") != 101
    finally:
        server.stop()
