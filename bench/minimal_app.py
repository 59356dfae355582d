"""The reference app of ``bench/side_by_side.py``: the least an ASGI app can do for a ballot.

A bare ASGI callable (no framework, no middleware, no authentication) that answers
``POST /api/votes/`` by parsing the JSON body and running one ``INSERT`` of its ``poll_id`` and
``option_id`` into ``minimal_ballots``, committed before the 201 is sent, on psycopg's async API
with a small per-worker connection pool, opened at start; ``GET`` answers 200 (readiness). Served by granian with
the same worker count as the app, it measures what HTTP plus the one durable insert cost on this
machine, which is the floor the app's ballot path is compared with.

    MINIMAL_DATABASE_URL=postgresql://... granian --interface asgi --workers 2 bench.minimal_app:app

The table is created by the benchmark (:data:`TABLE_DDL`), not here.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import psycopg

TABLE_DDL = (
    "CREATE TABLE IF NOT EXISTS minimal_ballots "
    "(id bigserial PRIMARY KEY, poll_id text NOT NULL, option_id integer NOT NULL)"
)
INSERT = "INSERT INTO minimal_ballots (poll_id, option_id) VALUES (%s, %s)"
# Per worker; two workers share the same 40 connections the app's DB_CONNECTIONS default gives it.
POOL_SIZE = int(os.environ.get("MINIMAL_POOL_SIZE", "20"))

_idle: asyncio.Queue[psycopg.AsyncConnection] | None = None
_opened = 0


async def _connection() -> psycopg.AsyncConnection:
    """An idle connection, opening one (up to :data:`POOL_SIZE`) when none is idle."""
    global _idle, _opened
    if _idle is None:
        _idle = asyncio.Queue()
    if _idle.empty() and _opened < POOL_SIZE:
        _opened += 1
        try:
            return await psycopg.AsyncConnection.connect(os.environ["MINIMAL_DATABASE_URL"], autocommit=True)
        except BaseException:
            _opened -= 1
            raise
    return await _idle.get()


async def _warm() -> None:
    """Open the whole pool at start, so that the reference does not pay for its connections in the
    first round of requests (the app's are opened by ``side_by_side``'s warm-up at the top level)."""
    global _idle, _opened
    if _idle is None:
        _idle = asyncio.Queue()
    url = os.environ["MINIMAL_DATABASE_URL"]
    conns = await asyncio.gather(*(psycopg.AsyncConnection.connect(url, autocommit=True) for _ in range(POOL_SIZE)))
    _opened += len(conns)
    for conn in conns:
        _idle.put_nowait(conn)


async def _respond(send: Any, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The ASGI entry point."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await _warm()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    if scope["method"] != "POST":
        await _respond(send, 200, b'{"status":"ok"}')
        return
    try:
        data = json.loads(body)
        values = (str(data["poll_id"]), int(data["option_id"]))
    except (ValueError, KeyError, TypeError):
        await _respond(send, 422, b'{"detail":"poll_id and option_id expected"}')
        return
    conn = await _connection()
    try:
        await conn.execute(INSERT, values)  # autocommit: committed when this returns
    except psycopg.Error:
        await conn.close()
        global _opened
        _opened -= 1
        await _respond(send, 500, b'{"detail":"insert failed"}')
        return
    assert _idle is not None
    _idle.put_nowait(conn)
    await _respond(send, 201, b'{"ok":true}')
