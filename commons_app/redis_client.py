"""The optional Redis connection. Without REDIS_URL the app runs with in-memory fallbacks."""

from __future__ import annotations

from functools import lru_cache

import redis
import redis.asyncio

from commons_app.config import get_settings


@lru_cache(maxsize=1)
def get_redis() -> redis.Redis | None:
    """A client for REDIS_URL, or None when it is not set."""
    url = get_settings().redis_url
    if not url:
        return None
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2, health_check_interval=30)


@lru_cache(maxsize=1)
def get_async_redis() -> redis.asyncio.Redis | None:
    """An asyncio client for REDIS_URL (the live pushes' pub/sub), or None when it is not set.
    Its pool is bounded: a worker needs one connection to listen and a few to publish."""
    url = get_settings().redis_url
    if not url:
        return None
    return redis.asyncio.Redis.from_url(url, max_connections=8, socket_connect_timeout=2)
