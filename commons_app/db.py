"""The database engine and sessions. Nothing here creates tables: Alembic does."""

from __future__ import annotations

import logging
import select
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, create_engine

from commons_app.config import get_settings

logger = logging.getLogger(__name__)

_engine: Engine | None = None


def make_engine(url: str, *, pool_size: int = 10, max_overflow: int = 20) -> Engine:
    """Build an engine suited to the database behind ``url``."""
    if url.startswith("sqlite"):
        in_memory = url in {"sqlite://", "sqlite:///:memory:"}
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            poolclass=StaticPool if in_memory else None,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            if not in_memory:
                # WAL lets readers go on while one writer commits.
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    engine = create_engine(url, pool_size=pool_size, max_overflow=max_overflow, pool_timeout=10)
    event.listen(engine, "checkout", _check_still_connected)
    return engine


def _check_still_connected(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Pool checkout: hand out only connections the server has not closed (what ``pool_pre_ping``
    does, without its round trip on every request).

    An idle, healthy connection has nothing to read. When the server ends it (a restart, a crash,
    ``pg_terminate_backend``, an idle timeout), its socket becomes readable: an error message or
    the end of the stream. Only then is the connection pinged, and discarded if the ping fails (the
    pool then opens a new one; if the database is down that raises, and the API answers 503).
    Something else to read (a notice) costs one ping, as every checkout did before.

    Raises:
        DisconnectionError: The server closed the connection.
    """
    if dbapi_connection.closed:
        raise DisconnectionError("the connection is closed")
    poller = select.poll()  # not select.select: a worker may hold descriptors past FD_SETSIZE
    poller.register(dbapi_connection.fileno(), select.POLLIN)
    if not poller.poll(0):
        return
    try:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        dbapi_connection.rollback()  # the ping's transaction (the pool hands out none open)
    except Exception as exc:  # any failure: the connection is unusable
        raise DisconnectionError(f"the connection failed its ping: {type(exc).__name__}") from exc


def get_engine() -> Engine:
    """The process-wide engine, built on first use from the settings."""
    global _engine
    if _engine is None:
        settings = get_settings()
        _engine = make_engine(
            settings.database_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
        )
    return _engine


def set_engine(engine: Engine | None) -> None:
    """Replace the process-wide engine (tests and the command line use this)."""
    global _engine
    _engine = engine


@contextmanager
def session_scope() -> Iterator[Session]:
    """A session that commits nothing by itself: services commit what they change."""
    session = Session(get_engine(), expire_on_commit=False)
    try:
        yield session
    finally:
        try:
            session.close()
        except DBAPIError:
            # The rollback in close() met a connection the database dropped (a restart): SQLAlchemy
            # has already discarded it, and raising here would hide the request's own error (a
            # 503) behind an unhandled one.
            logger.warning("database connection lost while closing a session", exc_info=True)


# --- The async connections of the REST ballot's hot path (PostgreSQL only) -----------------------


class AsyncPool:
    """A few autocommitting psycopg ``AsyncConnection`` s of one event loop, handed out one at a time.

    The ballot's hot path (``services.fast_ballots``) runs on the event loop without the ORM and
    without a thread hand-off; these are its connections, opened on demand up to ``size`` (the
    worker's share of ``DB_CONNECTIONS`` not held by the engine's pool). A request that finds
    every connection busy waits, up to ``timeout`` seconds (then :class:`PoolTimeout`, a 503).
    Connections are checked as the engine's are (:func:`_check_still_connected`): one the server
    closed is dropped on checkout, without a round trip for the healthy ones.
    """

    def __init__(self, conninfo: str, size: int, *, timeout: float = 10.0, engine: Engine | None = None) -> None:
        import asyncio

        self.engine = engine  # the engine whose database this pool reaches
        self.conninfo = conninfo
        self.size = max(1, size)
        self.timeout = timeout
        self.loop = asyncio.get_running_loop()
        self._slots = asyncio.Semaphore(self.size)
        self._idle: list[Any] = []

    @classmethod
    def for_engine(cls, engine: Engine, size: int) -> AsyncPool:
        """A pool of the running loop for ``engine``'s PostgreSQL database."""
        conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        return cls(conninfo, size, engine=engine)

    async def _checkout(self) -> Any:
        import asyncio

        import psycopg

        if self._slots.locked():  # every connection busy: wait, up to the timeout
            try:
                await asyncio.wait_for(self._slots.acquire(), self.timeout)
            except TimeoutError:
                raise PoolTimeout(f"no database connection free within {self.timeout} s") from None
        else:  # free now: no timer (wait_for's task and timer cost more than the rest of the checkout)
            await self._slots.acquire()
        try:
            while self._idle:
                conn = self._idle.pop()  # the most recently used: its backend is warm
                if _readable_or_closed(conn):
                    await _close_quietly(conn)
                    continue
                return conn
            return await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True)
        except BaseException:
            self._slots.release()
            raise

    def _checkin(self, conn: Any, *, broken: bool) -> None:
        import psycopg

        try:
            if broken or conn.closed or conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                conn.pgconn.finish()  # synchronous: the socket goes now, nothing to wait for
            else:
                self._idle.append(conn)
        finally:
            self._slots.release()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Any]:
        """An idle connection for the block; one that failed with a connection error is dropped."""
        import psycopg

        conn = await self._checkout()
        broken = False
        try:
            yield conn
        except psycopg.OperationalError:
            broken = True
            raise
        except BaseException:
            broken = conn.closed or conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE
            raise
        finally:
            self._checkin(conn, broken=broken)

    def close(self) -> None:
        """Close the idle connections at once (synchronously: the loop may be gone)."""
        while self._idle:
            self._idle.pop().pgconn.finish()


class PoolTimeout(Exception):
    """Every connection of the async pool stayed busy for its whole timeout."""


def _readable_or_closed(conn: Any) -> bool:
    """Whether the server ended the connection (its socket has something to read; see
    :func:`_check_still_connected`). Something else to read, such as a notice, drops it too."""
    if conn.closed:
        return True
    poller = select.poll()
    poller.register(conn.fileno(), select.POLLIN)
    return bool(poller.poll(0))


async def _close_quietly(conn: Any) -> None:
    try:
        await conn.close()
    except Exception:  # a dead connection may fail to close cleanly
        logger.debug("closing a dead async connection failed", exc_info=True)


_async_pool: AsyncPool | None = None


def async_pool() -> AsyncPool | None:
    """The async pool of the running loop, for the process-wide engine's database when it is
    PostgreSQL (None on SQLite: the hot path then does not apply). A pool of another loop or
    database (tests swap both) is closed and replaced."""
    import asyncio

    global _async_pool
    engine = get_engine()
    if engine.dialect.name != "postgresql":
        return None
    loop = asyncio.get_running_loop()
    pool = _async_pool
    if pool is None or pool.loop is not loop or pool.engine is not engine:
        if pool is not None:
            pool.close()
        pool = _async_pool = AsyncPool.for_engine(engine, get_settings().db_async_pool_size)
    return pool
