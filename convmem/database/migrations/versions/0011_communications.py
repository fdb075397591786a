"""communications: a conversation's messages, kept for Recall's session memory

Revision ID: 0011_communications
Revises: 0005_idempotency
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_communications"
down_revision = "0008_datasets"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "communications",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("sid", sa.String(48), nullable=False),
        sa.Column("store_id", BigId, sa.ForeignKey("stores.id", ondelete="CASCADE"), nullable=False),
        sa.Column("profile_id", BigId, sa.ForeignKey("profiles.id", ondelete="CASCADE"), nullable=False),
        sa.Column("conversation_id", sa.String(48), nullable=False),
        sa.Column("channel_id", sa.String(256), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("author", sa.JSON(), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("store_id", "sid"),
    )
    op.create_index(
        "ix_communications_conversation", "communications", ["profile_id", "conversation_id", "created_at", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_communications_conversation", table_name="communications")
    op.drop_table("communications")
