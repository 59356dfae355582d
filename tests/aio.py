"""Run a coroutine from a synchronous test.

Playwright's sync API (the session's shared Chromium, tests/conftest.py ``chromium_browser``) leaves
its own loop marked as running on the main thread once a page has been driven, so a bare
``asyncio.run`` in any test collected after a browser test fails with "cannot be called from a
running event loop". A thread of its own has no running loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from commons_app.db import AsyncPool

T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T], *, timeout: float | None = 120) -> T:
    """``asyncio.run(coroutine)`` on a fresh thread; its result, or its exception re-raised here."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result(timeout=timeout)


@asynccontextmanager
async def pool_of(engine: Any, size: int = 2) -> AsyncIterator[AsyncPool]:
    """An async pool (``db.AsyncPool``) of the running loop for the test's PostgreSQL database,
    closed at the end of the block."""
    pool = AsyncPool.for_engine(engine, size)
    try:
        yield pool
    finally:
        pool.close()
