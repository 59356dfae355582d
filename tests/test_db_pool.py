"""The pool hands out only live PostgreSQL connections, without a ping round trip on each checkout."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.pool import NullPool

from commons_app.db import make_engine
from tests.conftest import postgres_server_url


@pytest.fixture
def pg_engine():
    engine = make_engine(postgres_server_url(), pool_size=1, max_overflow=0)
    yield engine
    engine.dispose()


def _backend_pid(engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_a_connection_the_server_ended_is_replaced_not_handed_out(pg_engine):
    """The server ends the pooled connection (a restart, an idle timeout, pg_terminate_backend):
    the next checkout gets a new connection instead of failing the request."""
    first = _backend_pid(pg_engine)
    admin = create_engine(postgres_server_url(), poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": first}).scalar_one()
    admin.dispose()
    time.sleep(0.2)  # the end of the stream reaches the pooled socket
    assert _backend_pid(pg_engine) != first


def test_a_live_connection_is_handed_out_without_a_ping(pg_engine):
    """A healthy pooled connection costs no statement at checkout (pool_pre_ping sent SELECT 1)."""
    _backend_pid(pg_engine)  # opened and back in the pool
    pings: list[str] = []
    raw = pg_engine.raw_connection()  # the pooled connection itself
    driver = raw.driver_connection
    raw.close()
    original = driver.cursor

    def counting_cursor(*args, **kwargs):
        pings.append("cursor")
        return original(*args, **kwargs)

    driver.cursor = counting_cursor  # type: ignore[method-assign]
    seen: list[str] = []
    event.listen(pg_engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
    with pg_engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    assert seen == ["SELECT 1"]
    assert pings == ["cursor"], "a cursor was opened at checkout besides the statement's own"
