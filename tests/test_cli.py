"""The operator commands (``python -m commons_app ...``) against a temporary SQLite database."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlmodel import Session, SQLModel, select

from commons_app import cli
from commons_app import db as db_module
from commons_app.config import PROJECT_ROOT
from commons_app.models import Poll, User
from commons_app.services import auth
from tests.conftest import alembic_config, clear_caches
from tests.factories import row_counts


@pytest.fixture
def cli_database(tmp_path, monkeypatch, restore_logging) -> Iterator[str]:
    """DATABASE_URL names a fresh SQLite file; the settings and engine caches start empty."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    clear_caches()
    previous = db_module._engine
    db_module.set_engine(None)
    try:
        yield url
    finally:
        if db_module._engine is not None:
            db_module._engine.dispose()
        db_module.set_engine(previous)


@pytest.fixture
def migrated(cli_database) -> str:
    assert cli.main(["migrate"]) == 0
    return cli_database


def _session() -> Session:
    return Session(db_module.get_engine(), expire_on_commit=False)


def test_migrate_builds_the_schema(cli_database):
    assert cli.main(["migrate"]) == 0

    engine = db_module.get_engine()
    assert str(engine.url) == cli_database
    tables = set(inspect(engine).get_table_names())
    assert tables == {t.name for t in SQLModel.metadata.sorted_tables} | {"alembic_version"}
    with engine.connect() as conn:
        version = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar_one()
    assert version == ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert cli.main(["migrate"]) == 0  # a second run is harmless


def test_create_admin_makes_an_admin(migrated, capsys):
    assert cli.main(["create-admin", "Root.Operator", "ops@example.org", "--password", "operator-password-2026"]) == 0

    assert "created admin Root.Operator" in capsys.readouterr().out
    with _session() as session:
        [user] = session.exec(select(User)).all()
        assert (user.username, user.email, user.role, user.is_active) == ("Root.Operator", "ops@example.org", "admin", True)
        assert auth.authenticate(session=session, username="root.operator", password="operator-password-2026").id == user.id


def test_create_admin_reads_the_password_from_the_environment(migrated, monkeypatch):
    monkeypatch.setenv("COMMONS_ADMIN_PASSWORD", "from-the-environment-77")
    assert cli.main(["create-admin", "envadmin", "env@example.org"]) == 0
    with _session() as session:
        assert auth.authenticate(session=session, username="envadmin", password="from-the-environment-77").role == "admin"


def test_create_admin_refuses_duplicates_and_bad_passwords(migrated, capsys):
    assert cli.main(["create-admin", "boss", "boss@example.org", "--password", "boss-password-1234"]) == 0
    assert cli.main(["create-admin", "BOSS", "other@example.org", "--password", "boss-password-1234"]) == 1
    assert "already taken" in capsys.readouterr().err
    assert cli.main(["create-admin", "boss2", "boss2@example.org", "--password", "password"]) == 1
    assert "too common" in capsys.readouterr().err
    with _session() as session:
        assert [u.username for u in session.exec(select(User)).all()] == ["boss"]


def test_seed_demo_is_idempotent(migrated, capsys):
    assert cli.main(["seed-demo"]) == 0
    assert "seeded demo data" in capsys.readouterr().out
    engine = db_module.get_engine()
    first = row_counts(engine)
    assert first["users"] == 1 + len(cli.DEMO_USERS)
    assert first["polls"] == 7 and first["ballots"] > 0 and first["poll_voters"] == 6
    # One anonymous poll (its ballots name nobody) and one closed, sealed poll.
    assert first["poll_participants"] == 6 and first["poll_seals"] == 1
    with _session() as session:
        admin = session.exec(select(User).where(User.username_key == "admin")).one()
        assert admin.role == "admin"
        assert {p.method for p in session.exec(select(Poll)).all()} == {"single", "approval", "irv", "schulze", "star"}

    assert cli.main(["seed-demo"]) == 0

    assert "already present" in capsys.readouterr().out
    assert row_counts(engine) == first


def test_seed_demo_refuses_production(migrated, monkeypatch, capsys):
    monkeypatch.setenv("COMMONS_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "a-production-secret-that-is-long-enough-0123456789")
    clear_caches()
    before = row_counts(db_module.get_engine())
    assert cli.main(["seed-demo"]) == 2
    assert "refuses" in capsys.readouterr().err
    assert row_counts(db_module.get_engine()) == before


def test_set_role(migrated, capsys):
    assert cli.main(["create-admin", "chief", "chief@example.org", "--password", "chief-password-1234"]) == 0
    assert cli.main(["set-role", "CHIEF", "member"]) == 0
    with _session() as session:
        assert session.exec(select(User.role)).one() == "member"
    assert cli.main(["set-role", "nobody", "admin"]) == 1
    assert "no user" in capsys.readouterr().err


def test_check_config_hides_credentials(cli_database, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", "postgresql://commons:hunter2-secret@db.internal:5432/commons")
    clear_caches()
    assert cli.main(["check-config"]) == 0
    out = capsys.readouterr().out
    assert "environment=test" in out and "db.internal:5432/commons" in out
    assert "hunter2" not in out


def test_check_config_reports_configuration_errors(cli_database, monkeypatch, capsys):
    monkeypatch.setenv("COMMONS_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "changeme")
    clear_caches()
    assert cli.main(["check-config"]) == 2
    assert "SECRET_KEY" in capsys.readouterr().err


def test_unknown_command_exits_with_usage():
    with pytest.raises(SystemExit) as caught:
        cli.main(["make-coffee"])
    assert caught.value.code == 2


def test_python_dash_m_runs_the_cli(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL"))}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'subprocess.db'}"
    result = subprocess.run(
        [sys.executable, "-m", "commons_app", "check-config"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "environment=test" in result.stdout and "subprocess.db" in result.stdout
