"""usernames unique by their look-alike fold (users.username_skeleton)

Revision ID: 0006
Revises: 0003
Create Date: 2026-12-02 08:00:00

Existing accounts keep their names. Where two already look alike (``alice`` and ``aIice``), the
earlier account holds the fold and the later one keeps none: new look-alikes of either are
refused from now on, and nobody is renamed.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from commons_app.services.text import username_key

revision: str = "0006"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A column and an index, added in place: rebuilding "users" (SQLite's batch mode) would
    # cascade the drop of the old table to every session, poll and ballot of its users.
    op.add_column("users", sa.Column("username_skeleton", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
    bind = op.get_bind()
    taken: set[str] = set()
    for user_id, username in bind.execute(sa.text("SELECT id, username FROM users ORDER BY id")).all():
        key = username_key(username)
        if key in taken:
            continue  # an earlier account looks the same: this one keeps its name, not the fold
        taken.add(key)
        bind.execute(sa.text("UPDATE users SET username_skeleton = :k WHERE id = :i"), {"k": key, "i": user_id})
    op.create_index("ix_users_username_skeleton", "users", ["username_skeleton"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_users_username_skeleton", table_name="users")
    # Not batch mode: rebuilding `users` on SQLite drops it, and with foreign keys on that deletes
    # every poll and ballot pointing at it. SQLite >= 3.35 drops a plain column in place.
    op.drop_column("users", "username_skeleton")
