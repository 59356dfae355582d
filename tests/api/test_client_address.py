"""Per-address limits see the real client behind a trusted proxy, and only there."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from commons_app.api.deps import client_address
from commons_app.config import get_settings


def _request(peer: str, forwarded: str | None = None) -> Request:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    return Request({"type": "http", "client": (peer, 5555), "headers": headers, "method": "GET", "path": "/"})


@pytest.mark.parametrize(
    ("trusted", "peer", "forwarded", "expected"),
    [
        ("", "203.0.113.9", "1.2.3.4", "203.0.113.9"),  # no trusted proxy: the header is ignored
        ("127.0.0.1", "203.0.113.9", "1.2.3.4", "203.0.113.9"),  # untrusted peer may not claim another address
        ("127.0.0.1", "127.0.0.1", "198.51.100.7", "198.51.100.7"),
        ("127.0.0.1", "127.0.0.1", "6.6.6.6, 198.51.100.7", "198.51.100.7"),  # the forged first hop is skipped
        ("127.0.0.1,10.0.0.2", "127.0.0.1", "198.51.100.7, 10.0.0.2", "198.51.100.7"),
        ("127.0.0.1", "127.0.0.1", None, "127.0.0.1"),
    ],
)
def test_client_address(monkeypatch, trusted, peer, forwarded, expected):
    monkeypatch.setenv("TRUSTED_PROXIES", trusted)
    get_settings.cache_clear()
    assert client_address(_request(peer, forwarded)) == expected
