"""profile history: every change of a profile's traits and identifiers, and its retention

Revision ID: 0004_history
Revises: 0002_memory
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_history"
down_revision = "0003_identity_decisions"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "profile_history",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("store_id", BigId, sa.ForeignKey("stores.id", ondelete="CASCADE"), nullable=False),
        sa.Column("profile_id", BigId, sa.ForeignKey("profiles.id", ondelete="CASCADE"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("subject_group", sa.String(64), nullable=True),
        sa.Column("subject_name", sa.String(255), nullable=True),
        sa.Column("old_value", sa.JSON(), nullable=True),
        sa.Column("new_value", sa.JSON(), nullable=True),
        sa.Column("source", sa.String(160), nullable=False),
        sa.Column("via", sa.String(40), nullable=True),
    )
    op.create_index("ix_profile_history_profile", "profile_history", ["profile_id", "at", "id"])
    op.create_index("ix_profile_history_store_at", "profile_history", ["store_id", "at"])
    # A plain ADD COLUMN: a batch copy of ``stores`` on SQLite would cascade its deletion.
    op.add_column("stores", sa.Column("history_retention_days", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("stores", "history_retention_days")
    op.drop_index("ix_profile_history_store_at", table_name="profile_history")
    op.drop_index("ix_profile_history_profile", table_name="profile_history")
    op.drop_table("profile_history")
