"""The database engine and sessions. Nothing here creates tables: Alembic does."""

from __future__ import annotations

import logging
import select
from collections.abc import Iterator
from contextlib import contextmanager
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
