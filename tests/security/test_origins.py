"""The websocket accepts only configured origins (never '*'), as Reflex's cors_allowed_origins."""

from __future__ import annotations

import importlib
import sys

import pytest


def _config(monkeypatch, **env):
    for name in ("CORS_ORIGINS", "COMMONS_PUBLIC_URL", "COMMONS_PORT", "REFLEX_FRONTEND_PORT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    sys.modules.pop("rxconfig", None)
    return importlib.import_module("rxconfig").config


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, ["http://localhost:3000", "http://127.0.0.1:3000"]),
        ({"COMMONS_PORT": "3101"}, ["http://localhost:3101", "http://127.0.0.1:3101"]),
        # `reflex run --frontend-port 4321` alone (Reflex hands the port to its workers this way):
        # the websocket accepts the pages it serves.
        ({"REFLEX_FRONTEND_PORT": "4321"}, ["http://localhost:4321", "http://127.0.0.1:4321"]),
        ({"REFLEX_FRONTEND_PORT": "4321", "COMMONS_PORT": "3000"}, ["http://localhost:4321", "http://127.0.0.1:4321"]),
        ({"CORS_ORIGINS": "https://vote.example.org, https://admin.example.org"},
         ["https://vote.example.org", "https://admin.example.org"]),
        ({"COMMONS_PUBLIC_URL": "https://vote.example.org/"},
         ["https://vote.example.org", "http://localhost:3000", "http://127.0.0.1:3000"]),
    ],
)
def test_websocket_origins_are_an_explicit_list(monkeypatch, env, expected):
    config = _config(monkeypatch, **env)
    assert list(config.cors_allowed_origins) == expected
    assert "*" not in config.cors_allowed_origins
    sys.modules.pop("rxconfig", None)
