"""``redis_client.warm_redis_pool``: a worker opens Reflex's capped Redis pool at start, so that a
burst of events finds its connections open instead of opening them itself."""

from __future__ import annotations

import asyncio

import redis.asyncio

from commons_app.redis_client import warm_redis_pool
from tests import aio


def _created(pool) -> int:
    return len(pool._available_connections) + len(pool._in_use_connections)


def test_a_capped_pool_is_opened_whole_and_a_burst_opens_nothing(redis_url):
    async def scenario():
        pool = redis.asyncio.BlockingConnectionPool.from_url(redis_url, max_connections=6, timeout=2)
        client = redis.asyncio.Redis.from_pool(pool)
        try:
            assert await warm_redis_pool(pool) == 6
            opened = [conn for conn in pool._available_connections if conn.is_connected]
            assert len(opened) == 6, "each connection is connected, not only created"
            await asyncio.gather(*(client.ping() for _ in range(30)))
            return _created(pool)
        finally:
            await client.aclose()

    assert aio.run(scenario()) == 6


def test_an_uncapped_pool_is_left_to_grow_on_demand(redis_url):
    async def scenario():
        pool = redis.asyncio.ConnectionPool.from_url(redis_url)
        try:
            return await warm_redis_pool(pool), _created(pool)
        finally:
            await pool.disconnect()

    assert aio.run(scenario()) == (0, 0)


def test_an_unreachable_server_opens_nothing_and_raises_nothing():
    async def scenario():
        pool = redis.asyncio.BlockingConnectionPool.from_url(
            "redis://127.0.0.1:1/0", max_connections=3, timeout=2, socket_connect_timeout=1
        )
        try:
            return await warm_redis_pool(pool), len(pool._in_use_connections)
        finally:
            await pool.disconnect()

    assert aio.run(scenario()) == (0, 0)
