"""identity decisions: unmerges and splits in the ledger, never-merge pairs

Revision ID: 0003_identity_decisions
Revises: 0002_memory

- ``profile_merges.kind`` says what a ledger row records (``merge``, ``unmerge``, ``split``);
  rows written before it are merges.
- ``profile_merges.survivor_traits`` keeps the survivor's traits as they were before a merge,
  so an unmerge can give the survivor back the values the merged profile's won over. NULL on
  merges recorded before this revision: their survivor keeps what it holds.
- ``never_merge_pairs``: two profiles resolution must not merge again (recorded by unmerges
  and splits); each side follows its profile into later merges.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_identity_decisions"
down_revision = "0002_memory"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("profile_merges") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="merge"))
        batch.add_column(sa.Column("survivor_traits", sa.JSON(), nullable=True))

    op.create_table(
        "never_merge_pairs",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("sid", sa.String(48), nullable=False, unique=True),
        sa.Column("store_id", BigId, sa.ForeignKey("stores.id", ondelete="CASCADE"), nullable=False),
        sa.Column("first_profile_id", BigId, sa.ForeignKey("profiles.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("second_profile_id", BigId, sa.ForeignKey("profiles.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("first_profile_id", "second_profile_id"),
    )
    op.create_index("ix_never_merge_pairs_store", "never_merge_pairs", ["store_id", "id"])


def downgrade() -> None:
    op.drop_table("never_merge_pairs")
    with op.batch_alter_table("profile_merges") as batch:
        batch.drop_column("survivor_traits")
        batch.drop_column("kind")
