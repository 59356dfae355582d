"""Alembic builds exactly the models' schema, on an empty SQLite and an empty PostgreSQL database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
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


def test_0002_counts_the_ballots_already_cast(empty_database_url):
    cfg = alembic_config(url=empty_database_url)
    command.upgrade(cfg, "0001")
    engine = make_engine(empty_database_url)
    now = "2026-01-01 00:00:00"
    try:
        with engine.begin() as conn:
            for uid in range(1, 6):
                conn.execute(text(
                    "INSERT INTO users (id, username, username_key, email, email_key, password_hash, role, is_active, "
                    "created_at, updated_at) VALUES (:i, :n, :n, :e, :e, 'x', 'member', true, :t, :t)"
                ), {"i": uid, "n": f"u{uid}", "e": f"u{uid}@x.org", "t": now})
            conn.execute(text(
                "INSERT INTO polls (id, title, description, created_by, method, visibility, results_visibility, "
                "anonymous, created_at, updated_at) VALUES (1, 'p', '', 1, 'single', 'public', 'live', false, :t, :t)"
            ), {"t": now})
            for oid in (1, 2):
                conn.execute(text("INSERT INTO poll_options (id, poll_id, text, position) VALUES (:o, 1, :x, :o)"),
                             {"o": oid, "x": f"o{oid}"})
            for uid, oid, weight in ((1, 1, 1.0), (2, 1, 1.0), (3, 2, 2.5), (4, 1, 2.5), (5, 2, 1.0)):
                conn.execute(text(
                    "INSERT INTO ballots (poll_id, user_id, option_id, choices, scores, weight, created_at, updated_at) "
                    "VALUES (1, :u, :o, '[]', '{}', :w, :t, :t)"
                ), {"u": uid, "o": oid, "w": weight, "t": now})
        command.upgrade(cfg, "head")
        with engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT option_id, weight, sum(ballots) FROM ballot_counts WHERE poll_id = 1 GROUP BY option_id, weight"
            )).all()
        assert sorted((o, w, int(n)) for o, w, n in rows) == [(1, 1.0, 2), (1, 2.5, 1), (2, 1.0, 1), (2, 2.5, 1)]
    finally:
        engine.dispose()


def test_0003_unlinks_the_ballots_of_anonymous_polls_made_before_it(empty_database_url):
    cfg = alembic_config(url=empty_database_url)
    command.upgrade(cfg, "0002")
    engine = make_engine(empty_database_url)
    now = "2026-01-01 00:00:00"
    try:
        with engine.begin() as conn:
            for uid in range(1, 4):
                conn.execute(text(
                    "INSERT INTO users (id, username, username_key, email, email_key, password_hash, role, is_active, "
                    "created_at, updated_at) VALUES (:i, :n, :n, :e, :e, 'x', 'member', true, :t, :t)"
                ), {"i": uid, "n": f"u{uid}", "e": f"u{uid}@x.org", "t": now})
            for pid, anonymous in ((1, True), (2, False)):
                conn.execute(text(
                    "INSERT INTO polls (id, title, description, created_by, method, visibility, results_visibility, "
                    "anonymous, created_at, updated_at) VALUES (:p, 'p', '', 1, 'single', 'public', 'live', :a, :t, :t)"
                ), {"p": pid, "a": anonymous, "t": now})
                conn.execute(text("INSERT INTO poll_options (id, poll_id, text, position) VALUES (:p, :p, 'o', 0)"), {"p": pid})
                for uid in (2, 3):
                    conn.execute(text(
                        "INSERT INTO ballots (poll_id, user_id, option_id, choices, scores, weight, created_at, updated_at) "
                        "VALUES (:p, :u, :p, '[]', '{}', 1.0, :t, :t)"
                    ), {"p": pid, "u": uid, "t": now})
        command.upgrade(cfg, "head")
        with engine.connect() as conn:
            anonymous = conn.execute(text("SELECT id, user_id, created_at, receipt FROM ballots WHERE poll_id = 1")).all()
            named = conn.execute(text("SELECT user_id, created_at, receipt FROM ballots WHERE poll_id = 2")).all()
            who = conn.execute(text("SELECT user_id FROM poll_participants WHERE poll_id = 1 ORDER BY user_id")).all()
            snapshot = conn.execute(text("SELECT voters, baseline, result FROM result_snapshots WHERE poll_id = 1")).one()
            counted = conn.execute(text("SELECT sum(ballots) FROM ballot_counts WHERE poll_id = 1")).scalar()
        assert len(anonymous) == 2 and all(u is None and t is None and r for _i, u, t, r in anonymous)
        assert all(i >= 2**44 for i, *_ in anonymous)
        assert sorted(u for u, _t, _r in named) == [2, 3] and all(t is not None and r for _u, t, r in named)
        assert [u for (u,) in who] == [2, 3]
        assert (snapshot[0], snapshot[1], snapshot[2]) == (2, 0, None) and int(counted) == 2
    finally:
        engine.dispose()


def test_0006_keeps_lookalike_accounts_and_refuses_new_ones(empty_database_url):
    """Accounts that already looked alike keep their names; the earliest holds the fold."""
    cfg = alembic_config(url=empty_database_url)
    command.upgrade(cfg, "0003")
    engine = make_engine(empty_database_url)
    try:
        with engine.begin() as conn:
            for uid, name in ((1, "alice"), (2, "aIice"), (3, "bob"), (4, "a1ice")):
                conn.execute(text(
                    "INSERT INTO users (id, username, username_key, email, email_key, password_hash, role, is_active, "
                    "created_at, updated_at) VALUES (:i, :n, :k, :e, :e, 'x', 'member', true, :t, :t)"
                ), {"i": uid, "n": name, "k": name.lower(), "e": f"u{uid}@x.org", "t": "2026-01-01 00:00:00"})
        command.upgrade(cfg, "head")
        with engine.connect() as conn:
            rows = dict(conn.execute(text("SELECT username, username_skeleton FROM users")).all())
        assert rows == {"alice": "alice", "aIice": None, "bob": "bob", "a1ice": None}
        with engine.begin() as conn, pytest.raises(Exception, match=r"(?i)unique"):
            conn.execute(text(
                "INSERT INTO users (id, username, username_key, username_skeleton, email, email_key, password_hash, "
                "role, is_active, created_at, updated_at) VALUES (9, 'alIce', 'alice2', 'alice', 'n@x.org', 'n@x.org', "
                "'x', 'member', true, '2026-01-01', '2026-01-01')"
            ))
    finally:
        engine.dispose()
