"""data mappings: a source's fields mapped to a store's traits (the DataMappings operations), and the
INGRESS mapping an import took its column mappings from

Revision ID: 0007_data_mappings
Revises: 0005_idempotency
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_data_mappings"
down_revision = "0006_suggestions"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "data_mappings",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("sid", sa.String(48), nullable=False, unique=True),
        sa.Column("store_id", BigId, sa.ForeignKey("stores.id", ondelete="CASCADE"), nullable=False),
        sa.Column("display_name", sa.String(64), nullable=False),
        sa.Column("description", sa.String(512), nullable=True),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("dataset_id", sa.String(48), nullable=True),
        sa.Column("mapping_from", sa.JSON(), nullable=False),
        sa.Column("mapping_to", sa.JSON(), nullable=False),
        sa.Column("is_enabled", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("store_id", "display_name"),
    )
    op.create_index("ix_data_mappings_store", "data_mappings", ["store_id", "id"])
    op.create_index("ix_data_mappings_store_type", "data_mappings", ["store_id", "type", "id"])
    op.create_index("ix_data_mappings_dataset", "data_mappings", ["dataset_id"])
    with op.batch_alter_table("imports") as batch_op:
        batch_op.add_column(sa.Column("data_mapping_sid", sa.String(48), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("imports") as batch_op:
        batch_op.drop_column("data_mapping_sid")
    op.drop_index("ix_data_mappings_dataset", table_name="data_mappings")
    op.drop_index("ix_data_mappings_store_type", table_name="data_mappings")
    op.drop_index("ix_data_mappings_store", table_name="data_mappings")
    op.drop_table("data_mappings")
