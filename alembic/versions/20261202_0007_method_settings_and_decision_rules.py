"""STV's seats and counting rule; quorum and pass rules of polls

Revision ID: 0007
Revises: 0008
Create Date: 2026-12-02 07:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0007"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Added in place (no batch rebuild of "polls", whose drop would cascade to options and ballots).
    op.add_column("polls", sa.Column("seats", sa.Integer(), nullable=True))
    op.add_column("polls", sa.Column("stv_rule", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))
    op.add_column("polls", sa.Column("quorum_ballots", sa.Integer(), nullable=True))
    op.add_column("polls", sa.Column("quorum_share", sa.Float(), nullable=True))
    op.add_column(
        "polls",
        sa.Column("pass_rule", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False, server_default="none"),
    )


def downgrade() -> None:
    for column in ("pass_rule", "quorum_share", "quorum_ballots", "stv_rule", "seats"):
        op.drop_column("polls", column)  # in place, as added (see upgrade)
