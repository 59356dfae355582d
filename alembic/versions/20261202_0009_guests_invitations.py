"""voters without accounts (guests), roll entries by email, invitation tokens, link polls, reminders

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 07:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
# After the outbox (0008, merged from branch mail), whose mails these links travel in.
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Columns are added in place (no batch rebuild: rebuilding "polls" on SQLite would cascade).
    op.add_column("users", sa.Column("guest_poll_id", sa.String(length=32), nullable=True))
    op.create_index("ix_users_guest_poll_id", "users", ["guest_poll_id"])
    op.add_column("polls", sa.Column("access", sa.String(length=16), nullable=False, server_default="account"))
    op.add_column("polls", sa.Column("remind_before_hours", sa.Integer(), nullable=True))
    op.add_column("polls", sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("poll_voters", sa.Column("email", sa.String(length=254), nullable=True))
    op.create_table(
        "invitation_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("poll_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("mail_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["poll_id"], ["polls.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_invitation_tokens_poll_id", "invitation_tokens", ["poll_id"])
    op.create_index("ix_invitation_tokens_user_id", "invitation_tokens", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_invitation_tokens_user_id", table_name="invitation_tokens")
    op.drop_index("ix_invitation_tokens_poll_id", table_name="invitation_tokens")
    op.drop_table("invitation_tokens")
    # Guests exist only through this revision's features.
    op.execute(sa.text("DELETE FROM users WHERE role = 'guest'"))
    with op.batch_alter_table("poll_voters") as batch_op:
        batch_op.drop_column("email")
    op.drop_column("polls", "reminded_at")
    op.drop_column("polls", "remind_before_hours")
    op.drop_column("polls", "access")
    op.drop_index("ix_users_guest_poll_id", table_name="users")
    op.drop_column("users", "guest_poll_id")
