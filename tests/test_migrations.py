"""Alembic builds exactly the models' schema, on an empty SQLite and an empty PostgreSQL database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlmodel import SQLModel

from alembic import command
from commons_app.db import make_engine
from tests.conftest import BACKENDS, alembic_config, create_postgres_database, drop_postgres_database


@pytest.fixture(params=BACKENDS)
def empty_database_url(request, tmp_path) -> Iterator[str]:
    """A brand-new, empty database of each backend (not the suite's shared test database)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    url = create_postgres_database("_mig")
    try:
        yield url
    finally:
        drop_postgres_database(url)


def schema_differences(url: str) -> list:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
            return compare_metadata(context, SQLModel.metadata)
    finally:
        engine.dispose()


def table_names(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def current_revision(url: str) -> str | None:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def test_one_head():
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert len(heads) == 1, heads


def test_upgrade_head_gives_exactly_the_models_schema(empty_database_url):
    assert table_names(empty_database_url) == set()

    command.upgrade(alembic_config(url=empty_database_url), "head")

    assert schema_differences(empty_database_url) == []
    assert table_names(empty_database_url) == {t.name for t in SQLModel.metadata.sorted_tables} | {"alembic_version"}
    assert current_revision(empty_database_url) == ScriptDirectory.from_config(alembic_config()).get_current_head()


def test_downgrade_to_base_and_upgrade_again(empty_database_url):
    cfg = alembic_config(url=empty_database_url)
    command.upgrade(cfg, "head")

    command.downgrade(cfg, "base")
    assert table_names(empty_database_url) == {"alembic_version"}
    assert current_revision(empty_database_url) is None

    command.upgrade(cfg, "head")
    assert schema_differences(empty_database_url) == []


def test_upgrade_through_a_handed_in_connection(empty_database_url):
    engine = make_engine(empty_database_url)
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(connection=conn), "head")
    finally:
        engine.dispose()
    assert schema_differences(empty_database_url) == []


def test_the_check_can_fail(empty_database_url):
    """The comparison notices a schema that differs from the models (so the tests above mean something)."""
    command.upgrade(alembic_config(url=empty_database_url), "head")
    engine = make_engine(empty_database_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP INDEX ix_ballots_user")
    finally:
        engine.dispose()
    differences = schema_differences(empty_database_url)
    assert [d[0] for d in differences] == ["add_index"]
