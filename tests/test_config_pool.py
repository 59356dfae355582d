"""Database pools sized for the workers: all workers of an instance together stay within
DB_CONNECTIONS, so two instances fit PostgreSQL's default of 100 connections."""

from __future__ import annotations

import pytest

from commons_app.config import backend_workers, load_settings


@pytest.fixture
def clean_env(monkeypatch):
    for name in ("GRANIAN_WORKERS", "DB_CONNECTIONS", "DB_POOL_SIZE", "DB_MAX_OVERFLOW", "REDIS_URL", "COMMONS_ENV"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_one_worker_without_redis_takes_the_whole_share(clean_env):
    settings = load_settings()
    assert backend_workers(None) == 1
    assert settings.db_pool_size == 40 and settings.db_max_overflow == 0


def test_workers_split_the_share(clean_env):
    clean_env.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    clean_env.setattr("os.cpu_count", lambda: 2)
    settings = load_settings()
    assert backend_workers(settings.redis_url) == 5
    assert settings.db_pool_size == 8  # 5 workers x 8 = 40 connections for the instance
    clean_env.setenv("GRANIAN_WORKERS", "3")
    clean_env.setenv("DB_CONNECTIONS", "30")
    assert load_settings().db_pool_size == 10


def test_explicit_pool_settings_win_and_small_shares_keep_two(clean_env):
    clean_env.setenv("GRANIAN_WORKERS", "8")
    clean_env.setenv("DB_CONNECTIONS", "4")
    assert load_settings().db_pool_size == 2
    clean_env.setenv("DB_POOL_SIZE", "7")
    clean_env.setenv("DB_MAX_OVERFLOW", "3")
    settings = load_settings()
    assert (settings.db_pool_size, settings.db_max_overflow) == (7, 3)
