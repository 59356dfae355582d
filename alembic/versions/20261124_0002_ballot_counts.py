"""ballot counts kept in step with the ballots

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 23:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SHARDS = 16


def upgrade() -> None:
    op.create_table(
        "ballot_counts",
        sa.Column("poll_id", sa.Integer(), nullable=False),
        sa.Column("option_id", sa.Integer(), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("ballots", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["option_id"], ["poll_options.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["poll_id"], ["polls.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("poll_id", "option_id", "weight", "shard"),
    )
    # Ballots cast before this revision: count them now (the same rows services.counts keeps).
    op.execute(
        sa.text(
            "INSERT INTO ballot_counts (poll_id, option_id, weight, shard, ballots) "
            f"SELECT poll_id, option_id, weight, user_id % {SHARDS}, count(*) FROM ballots "
            f"WHERE option_id IS NOT NULL GROUP BY poll_id, option_id, weight, user_id % {SHARDS}"
        )
    )


def downgrade() -> None:
    op.drop_table("ballot_counts")
