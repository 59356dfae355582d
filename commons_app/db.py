"""The database engine and sessions. Nothing here creates tables: Alembic does."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
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
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=10,
    )


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
