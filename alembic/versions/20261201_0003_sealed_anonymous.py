"""receipts, anonymous ballots without voters, participants, result snapshots and seals

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 22:40:00
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SHARDS = 16


def upgrade() -> None:
    # Added in place, with its default: rebuilding "polls" (SQLite's batch mode) would cascade
    # the drop of the old table to every option and ballot.
    op.add_column("polls", sa.Column("anonymity_threshold", sa.Integer(), nullable=False, server_default="5"))

    op.add_column("ballots", sa.Column("receipt", sa.String(length=32), nullable=True))
    bind = op.get_bind()
    ids = [row[0] for row in bind.execute(sa.text("SELECT id FROM ballots"))]
    for ballot_id in ids:  # ballots cast before receipts existed get one now
        bind.execute(
            sa.text("UPDATE ballots SET receipt = :r WHERE id = :i"), {"r": secrets.token_urlsafe(16), "i": ballot_id}
        )
    with op.batch_alter_table("ballots") as batch_op:
        batch_op.alter_column(
            "id", existing_type=sa.Integer(), type_=sa.BigInteger().with_variant(sa.Integer(), "sqlite")
        )
        batch_op.alter_column("receipt", existing_type=sa.String(length=32), nullable=False)
        batch_op.create_unique_constraint("uq_ballots_receipt", ["receipt"])
        batch_op.alter_column("user_id", existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column("created_at", existing_type=sa.DateTime(timezone=True), nullable=True)
        batch_op.alter_column("updated_at", existing_type=sa.DateTime(timezone=True), nullable=True)

    if bind.dialect.name == "postgresql":  # the id's sequence follows its column to 64 bits
        op.execute(sa.text("ALTER SEQUENCE IF EXISTS ballots_id_seq AS bigint"))
    op.create_table(
        "poll_participants",
        sa.Column("poll_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["poll_id"], ["polls.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("poll_id", "user_id"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "result_snapshots",
        sa.Column("poll_id", sa.Integer(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("voters", sa.Integer(), nullable=False),
        sa.Column("baseline", sa.Integer(), nullable=False),
        sa.Column("casts", sa.Integer(), nullable=False),
        sa.Column("changes", sa.Integer(), nullable=False),
        sa.Column("retractions", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["poll_id"], ["polls.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("poll_id"),
    )
    op.create_table(
        "poll_seals",
        sa.Column("poll_id", sa.Integer(), nullable=False),
        sa.Column("sealed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.Column("record_sha256", sa.String(length=64), nullable=False),
        sa.Column("ballots", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["poll_id"], ["polls.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("poll_id"),
    )
    # Anonymous polls made before this revision: move who voted out of their ballots (into the
    # participants), drop the ballots' times and give them random ids, and start their snapshots.
    anonymous = [row[0] for row in bind.execute(sa.text("SELECT id FROM polls WHERE anonymous"))]
    for poll_id in anonymous:
        bind.execute(sa.text(
            "INSERT INTO poll_participants (poll_id, user_id) "
            "SELECT poll_id, user_id FROM ballots WHERE poll_id = :p AND user_id IS NOT NULL"
        ), {"p": poll_id})
        for (ballot_id,) in bind.execute(sa.text("SELECT id FROM ballots WHERE poll_id = :p"), {"p": poll_id}).all():
            bind.execute(sa.text(
                "UPDATE ballots SET id = :n, user_id = NULL, created_at = NULL, updated_at = NULL WHERE id = :i"
            ), {"n": 2**44 + secrets.randbelow(2**52 - 2**44), "i": ballot_id})
        voters = bind.execute(sa.text("SELECT count(*) FROM poll_participants WHERE poll_id = :p"), {"p": poll_id}).scalar()
        bind.execute(sa.text(
            "INSERT INTO result_snapshots (poll_id, result, voters, baseline, casts, changes, retractions) "
            "VALUES (:p, NULL, :v, 0, 0, 0, 0)"
        ), {"p": poll_id, "v": voters})
    # Count shards now follow the ballot's id, not the voter's: recount them that way.
    op.execute(sa.text("DELETE FROM ballot_counts"))
    op.execute(
        sa.text(
            "INSERT INTO ballot_counts (poll_id, option_id, weight, shard, ballots) "
            f"SELECT poll_id, option_id, weight, id % {SHARDS}, count(*) FROM ballots "
            f"WHERE option_id IS NOT NULL GROUP BY poll_id, option_id, weight, id % {SHARDS}"
        )
    )


def downgrade() -> None:
    op.drop_table("poll_seals")
    op.drop_table("result_snapshots")
    op.drop_table("poll_participants")
    with op.batch_alter_table("ballots") as batch_op:
        batch_op.drop_constraint("uq_ballots_receipt", type_="unique")
        batch_op.drop_column("receipt")
    op.drop_column("polls", "anonymity_threshold")  # in place, as added (see upgrade)
