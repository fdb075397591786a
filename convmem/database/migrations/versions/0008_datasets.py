"""datasets, and the runs of data mappings' syncs from them (extensions)

Revision ID: 0008_datasets
Revises: 0007_data_mappings
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_datasets"
down_revision = "0007_data_mappings"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "datasets",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("sid", sa.String(48), nullable=False, unique=True),
        sa.Column("store_id", BigId, sa.ForeignKey("stores.id", ondelete="CASCADE"), nullable=False),
        sa.Column("display_name", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("source", sa.JSON(), nullable=False),
        sa.Column("sealed_credentials", sa.Text(), nullable=True),
        sa.Column("key_column", sa.String(255), nullable=False),
        sa.Column("cursor_column", sa.String(255), nullable=True),
        sa.Column("sync_interval_seconds", sa.Integer(), nullable=True),
        sa.Column("columns", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("store_id", "display_name"),
    )
    op.create_index("ix_datasets_store", "datasets", ["store_id", "id"])
    op.create_table(
        "dataset_syncs",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("sid", sa.String(48), nullable=False, unique=True),
        sa.Column("store_id", BigId, sa.ForeignKey("stores.id", ondelete="CASCADE"), nullable=False),
        sa.Column("data_mapping_id", BigId, sa.ForeignKey("data_mappings.id", ondelete="CASCADE"), nullable=False),
        sa.Column("job_id", BigId, sa.ForeignKey("jobs.id", ondelete="SET NULL"), nullable=True),
        sa.Column("full", sa.Boolean(), nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("position", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("rows_read", sa.BigInteger(), nullable=False),
        sa.Column("rows_written", sa.BigInteger(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("failure", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_dataset_syncs_mapping", "dataset_syncs", ["data_mapping_id", "id"])
    op.create_table(
        "dataset_sync_row_errors",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("sync_id", BigId, sa.ForeignKey("dataset_syncs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("row_key", sa.String(255), nullable=False),
        sa.Column("column", sa.String(255), nullable=False),
        sa.Column("reason", sa.String(1024), nullable=False),
    )
    op.create_index("ix_dataset_sync_row_errors_sync", "dataset_sync_row_errors", ["sync_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_dataset_sync_row_errors_sync", table_name="dataset_sync_row_errors")
    op.drop_table("dataset_sync_row_errors")
    op.drop_index("ix_dataset_syncs_mapping", table_name="dataset_syncs")
    op.drop_table("dataset_syncs")
    op.drop_index("ix_datasets_store", table_name="datasets")
    op.drop_table("datasets")
