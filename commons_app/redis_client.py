"""The optional Redis connection. Without REDIS_URL the app runs with in-memory fallbacks."""

from __future__ import annotations

import asyncio
from functools import lru_cache
from typing import Any

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


# A pool that caps its connections (REFLEX_REDIS_MAX_CONNECTIONS, as deploy/ sets it) is opened
# whole; an uncapped one grows on demand and is left to do so.
WARM_MAX = 200


async def warm_redis_pool(pool: Any) -> int:
    """Open an asyncio pool's connections now; how many are open afterwards.

    For Reflex's state manager: a burst of events (a room voting at once) otherwise opens them
    itself, each a connect, a handshake and redis-py reading its own package metadata, which was
    about a tenth of the first burst's CPU in ``bench/ws_ballots.py``'s profile."""
    size = getattr(pool, "max_connections", 0)
    if not 0 < size <= WARM_MAX:
        return 0
    opened = await asyncio.gather(*(pool.get_connection() for _ in range(size)), return_exceptions=True)
    ready = [conn for conn in opened if not isinstance(conn, BaseException)]
    for conn in ready:
        await pool.release(conn)
    return len(ready)
