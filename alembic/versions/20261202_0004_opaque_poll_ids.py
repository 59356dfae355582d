"""opaque poll ids (128 random bits, URL-safe) and join codes

Every poll gets a random string id (``secrets.token_urlsafe(16)``) in place of its sequential
number, every column that names a poll follows (found through the foreign keys, so tables added
by other revisions follow too), the audit log's poll entries follow, and every poll gets a join
code. SQLite cannot change a column's type in place: the tables are rebuilt under new names,
filled, the old ones dropped and the new ones renamed (renaming rewrites the other tables'
references). PostgreSQL changes the columns in place.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 07:40:00
"""

import re
import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

POLL_ID_LENGTH = 32
JOIN_CODE_LENGTH = 8
JOIN_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # as models.JOIN_CODE_ALPHABET
NEW = "__new0004"


def _join_codes(count: int) -> list[str]:
    codes: set[str] = set()
    while len(codes) < count:
        codes.add("".join(secrets.choice(JOIN_CODE_ALPHABET) for _ in range(JOIN_CODE_LENGTH)))
    return list(codes)


def _poll_references(bind: sa.engine.Connection) -> list[tuple[str, str | None, str, str | None]]:
    """(table, constraint name, column, ondelete) of every foreign key to ``polls.id``."""
    inspector = sa.inspect(bind)
    found = []
    for table in inspector.get_table_names():
        for fk in inspector.get_foreign_keys(table):
            if fk["referred_table"] == "polls" and table != "polls":
                found.append((table, fk.get("name"), fk["constrained_columns"][0], (fk.get("options") or {}).get("ondelete")))
    return found


def _mapping(bind: sa.engine.Connection, *, to_strings: bool) -> list[tuple[object, object, str | None]]:
    """(old id, new id, join code) for every poll; numbers in created order when going back."""
    rows = bind.execute(sa.text("SELECT id FROM polls ORDER BY created_at, id")).all()
    if to_strings:
        codes = _join_codes(len(rows))
        return [(old, secrets.token_urlsafe(16), code) for (old,), code in zip(rows, codes, strict=True)]
    return [(old, number, None) for number, (old,) in enumerate(rows, start=1)]


def _fill_map(bind: sa.engine.Connection, mapping: list[tuple[object, object, str | None]], *, to_strings: bool) -> None:
    old_type, new_type = ("INTEGER", "VARCHAR(32)") if to_strings else ("VARCHAR(32)", "INTEGER")
    bind.execute(sa.text(f"CREATE TEMPORARY TABLE poll_id_map (old {old_type} PRIMARY KEY, new {new_type} NOT NULL, code VARCHAR(8))"))
    if mapping:
        bind.execute(
            sa.text("INSERT INTO poll_id_map (old, new, code) VALUES (:old, :new, :code)"),
            [{"old": o, "new": n, "code": c} for o, n, c in mapping],
        )
    # The audit log names polls by id as text.
    bind.execute(sa.text(
        "UPDATE audit_log SET target_id = (SELECT CAST(m.new AS VARCHAR(64)) FROM poll_id_map m "
        "WHERE CAST(m.old AS VARCHAR(64)) = audit_log.target_id) "
        "WHERE target_type = 'poll' AND target_id IN (SELECT CAST(old AS VARCHAR(64)) FROM poll_id_map)"
    ))


def upgrade() -> None:
    bind = op.get_bind()
    mapping = _mapping(bind, to_strings=True)
    _fill_map(bind, mapping, to_strings=True)
    if bind.dialect.name == "sqlite":
        _rebuild_sqlite(bind, to_strings=True)
    else:
        _convert_postgresql(bind, to_strings=True)
    bind.execute(sa.text("DROP TABLE poll_id_map"))
    op.create_index("ix_polls_join_code", "polls", ["join_code"], unique=True)


def downgrade() -> None:
    bind = op.get_bind()
    op.drop_index("ix_polls_join_code", table_name="polls")
    mapping = _mapping(bind, to_strings=False)
    _fill_map(bind, mapping, to_strings=False)
    if bind.dialect.name == "sqlite":
        _rebuild_sqlite(bind, to_strings=False)
    else:
        _convert_postgresql(bind, to_strings=False)
    bind.execute(sa.text("DROP TABLE poll_id_map"))


def _convert_postgresql(bind: sa.engine.Connection, *, to_strings: bool) -> None:
    references = _poll_references(bind)
    for table, name, _column, _ondelete in references:
        op.drop_constraint(name, table, type_="foreignkey")
    if to_strings:
        op.execute("ALTER TABLE polls ALTER COLUMN id DROP DEFAULT")
        op.execute(f"ALTER TABLE polls ALTER COLUMN id TYPE VARCHAR({POLL_ID_LENGTH}) USING id::text")
        op.execute("DROP SEQUENCE IF EXISTS polls_id_seq")
        for table, _name, column, _ondelete in references:
            op.execute(f'ALTER TABLE "{table}" ALTER COLUMN "{column}" TYPE VARCHAR({POLL_ID_LENGTH}) USING "{column}"::text')
        _renumber(bind, references)
        op.add_column("polls", sa.Column("join_code", sa.String(length=JOIN_CODE_LENGTH), nullable=True))
        op.execute("UPDATE polls SET join_code = m.code FROM poll_id_map m WHERE m.new = polls.id")
        op.alter_column("polls", "join_code", existing_type=sa.String(length=JOIN_CODE_LENGTH), nullable=False)
    else:
        _renumber(bind, references)
        op.drop_column("polls", "join_code")
        op.execute("ALTER TABLE polls ALTER COLUMN id TYPE INTEGER USING id::integer")
        for table, _name, column, _ondelete in references:
            op.execute(f'ALTER TABLE "{table}" ALTER COLUMN "{column}" TYPE INTEGER USING "{column}"::integer')
        op.execute("CREATE SEQUENCE polls_id_seq OWNED BY polls.id")
        op.execute("SELECT setval('polls_id_seq', COALESCE((SELECT max(id) FROM polls), 0) + 1, false)")
        op.execute("ALTER TABLE polls ALTER COLUMN id SET DEFAULT nextval('polls_id_seq')")
    for table, name, column, ondelete in references:
        op.create_foreign_key(name, table, "polls", [column], ["id"], ondelete=ondelete)


def _renumber(bind: sa.engine.Connection, references: list[tuple[str, str | None, str, str | None]]) -> None:
    """PostgreSQL: give polls and their references the mapped ids (the columns already take them)."""
    cast = "::text"  # the columns are text here (going up) or still text (going down)
    bind.execute(sa.text(f"UPDATE polls SET id = m.new{cast} FROM poll_id_map m WHERE m.old{cast} = polls.id"))
    for table, _name, column, _ondelete in references:
        bind.execute(sa.text(f'UPDATE "{table}" SET "{column}" = m.new{cast} FROM poll_id_map m WHERE m.old{cast} = "{table}"."{column}"'))


def _rebuild_sqlite(bind: sa.engine.Connection, *, to_strings: bool) -> None:
    """Rebuild ``polls``, every table naming a poll, and every table naming one of those."""
    inspector = sa.inspect(bind)
    poll_columns: dict[str, str] = {"polls": "id"}
    for table, _name, column, _ondelete in _poll_references(bind):
        poll_columns[table] = column
    # Tables that reference a rebuilt table must be rebuilt too (dropping the old one would
    # cascade into them): e.g. ballots -> poll_options.
    rebuilt = ["polls"]
    changed = True
    while changed:
        changed = False
        for table in inspector.get_table_names():
            if table in rebuilt:
                continue
            referred = {fk["referred_table"] for fk in inspector.get_foreign_keys(table)}
            if referred & set(rebuilt):
                rebuilt.append(table)
                changed = True
    # Referenced tables first, so each new table's references exist when it is filled.
    refers = {t: {fk["referred_table"] for fk in inspector.get_foreign_keys(t)} & set(rebuilt) - {t} for t in rebuilt}
    ordered: list[str] = []
    while len(ordered) < len(rebuilt):
        ready = [t for t in rebuilt if t not in ordered and refers[t] <= set(ordered)]
        if not ready:
            raise RuntimeError(f"0004: circular references among {rebuilt}")
        ordered.extend(ready)
    rebuilt = ordered
    old_type, new_type = ("INTEGER", f"VARCHAR({POLL_ID_LENGTH})") if to_strings else (f"VARCHAR({POLL_ID_LENGTH})", "INTEGER")
    names = "|".join(re.escape(t) for t in rebuilt)
    indexes: list[str] = []
    for table in rebuilt:
        create = bind.execute(sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :t"), {"t": table}).scalar()
        create = re.sub(r'^CREATE TABLE "?' + re.escape(table) + r'"? \(', f"CREATE TABLE {table}{NEW} (", create)
        create = re.sub(r'REFERENCES "?(' + names + r')"? \(', lambda m: f"REFERENCES {m.group(1)}{NEW} (", create)
        columns = [row[1] for row in bind.execute(sa.text(f'PRAGMA table_info("{table}")'))]
        column = poll_columns.get(table)
        if column is not None:
            create, n = re.subn(rf'(\n\s*"?{re.escape(column)}"? ){re.escape(old_type)}( NOT NULL)?', rf"\g<1>{new_type}\g<2>", create, count=1)
            if n != 1:
                raise RuntimeError(f"0004: cannot find the poll id column {table}.{column}")
        select = [f'"{c}"' for c in columns]
        target = list(columns)
        if column is not None:
            select[columns.index(column)] = "m.new"
        if table == "polls":
            if to_strings:
                create = create.replace(f"{new_type} NOT NULL, ", f"{new_type} NOT NULL, \n\tjoin_code VARCHAR({JOIN_CODE_LENGTH}) NOT NULL, ", 1)
                target.append("join_code")
                select.append("m.code")
            else:
                create, n = re.subn(r'\n\s*"?join_code"? VARCHAR\(\d+\) NOT NULL, ', "", create, count=1)
                index = target.index("join_code")
                del target[index], select[index]
        bind.execute(sa.text(create))
        source = f'"{table}" AS t'
        if column is not None:
            select = [s if s == "m.new" or s == "m.code" else f"t.{s}" for s in select]
            source += f' JOIN poll_id_map m ON m.old = t."{column}"'
        else:
            select = [f"t.{s}" for s in select]
        quoted = ", ".join(f'"{c}"' for c in target)
        bind.execute(sa.text(f"INSERT INTO {table}{NEW} ({quoted}) SELECT {', '.join(select)} FROM {source}"))
        for name, sql in bind.execute(
            sa.text("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = :t AND sql IS NOT NULL"), {"t": table}
        ):
            if name != "ix_polls_join_code":
                indexes.append(sql)
    for table in reversed(rebuilt):  # children first: nothing cascades into a live table
        bind.execute(sa.text(f'DROP TABLE "{table}"'))
    for table in rebuilt:
        bind.execute(sa.text(f"ALTER TABLE {table}{NEW} RENAME TO {table}"))
    for sql in indexes:
        bind.execute(sa.text(sql))
