"""conversation memory: observations, revisions, summaries, embeddings, full-text search

Revision ID: 0002_memory
Revises: 0001

Full-text search is kept in step with the rows inside the writing transaction:
- SQLite: an external-content FTS5 table per kind, maintained by triggers (cascaded
  deletes fire them too);
- PostgreSQL: a generated ``tsvector`` column per kind with a GIN index.
Neither is in the SQLAlchemy model: only the repository's search queries use them.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_memory"
down_revision = "0001"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
FULL_TEXT_KINDS = ("observations", "conversation_summaries")


def upgrade() -> None:
    op.create_table(
        "observations",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("sid", sa.String(48), nullable=False, unique=True),
        sa.Column("store_id", BigId, sa.ForeignKey("stores.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("profile_id", BigId, sa.ForeignKey("profiles.id", ondelete="CASCADE"), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("conversation_ids", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_observations_profile", "observations", ["profile_id", "id"])

    op.create_table(
        "observation_conversations",
        sa.Column("observation_id", BigId, sa.ForeignKey("observations.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("conversation_id", sa.String(48), primary_key=True),
    )
    op.create_index("ix_observation_conversations_conversation", "observation_conversations", ["conversation_id"])

    op.create_table(
        "observation_revisions",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("observation_id", BigId, sa.ForeignKey("observations.id", ondelete="CASCADE"), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("conversation_ids", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_observation_revisions_observation", "observation_revisions", ["observation_id", "id"])

    op.create_table(
        "conversation_summaries",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("sid", sa.String(48), nullable=False, unique=True),
        sa.Column("store_id", BigId, sa.ForeignKey("stores.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("profile_id", BigId, sa.ForeignKey("profiles.id", ondelete="CASCADE"), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("source", sa.String(100), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("conversation_id", sa.String(48), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_conversation_summaries_profile", "conversation_summaries", ["profile_id", "id"])
    op.create_index("ix_conversation_summaries_conversation", "conversation_summaries", ["conversation_id"])

    op.create_table(
        "memory_embeddings",
        sa.Column("id", BigId, primary_key=True),
        sa.Column(
            "observation_id", BigId, sa.ForeignKey("observations.id", ondelete="CASCADE"), nullable=True, unique=True
        ),
        sa.Column(
            "summary_id",
            BigId,
            sa.ForeignKey("conversation_summaries.id", ondelete="CASCADE"),
            nullable=True,
            unique=True,
        ),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(128), nullable=True),
        sa.Column("vector", sa.LargeBinary(), nullable=True),
        sa.CheckConstraint("(observation_id IS NULL) <> (summary_id IS NULL)", name="ck_memory_embeddings_one_item"),
    )
    op.create_index(
        "ix_memory_embeddings_pending",
        "memory_embeddings",
        ["id"],
        sqlite_where=sa.text("vector IS NULL"),
        postgresql_where=sa.text("vector IS NULL"),
    )

    if op.get_bind().dialect.name == "sqlite":
        for table in FULL_TEXT_KINDS:
            _create_sqlite_fts(table)
    else:
        for table in FULL_TEXT_KINDS:
            op.execute(
                f"ALTER TABLE {table} ADD COLUMN search_vector tsvector "
                f"GENERATED ALWAYS AS (to_tsvector('english', content)) STORED"
            )
            op.execute(f"CREATE INDEX ix_{table}_search ON {table} USING GIN (search_vector)")


def _create_sqlite_fts(table: str) -> None:
    fts = f"{table}_fts"
    # Porter stemming so "prefers" finds "preferred"; diacritics folded.
    op.execute(
        f"CREATE VIRTUAL TABLE {fts} USING fts5(content, content='{table}', content_rowid='id', "
        f"tokenize='porter unicode61 remove_diacritics 2')"
    )
    op.execute(
        f"CREATE TRIGGER {fts}_insert AFTER INSERT ON {table} BEGIN "
        f"INSERT INTO {fts}(rowid, content) VALUES (new.id, new.content); END"
    )
    op.execute(
        f"CREATE TRIGGER {fts}_delete AFTER DELETE ON {table} BEGIN "
        f"INSERT INTO {fts}({fts}, rowid, content) VALUES ('delete', old.id, old.content); END"
    )
    op.execute(
        f"CREATE TRIGGER {fts}_update AFTER UPDATE OF content ON {table} BEGIN "
        f"INSERT INTO {fts}({fts}, rowid, content) VALUES ('delete', old.id, old.content); "
        f"INSERT INTO {fts}(rowid, content) VALUES (new.id, new.content); END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in FULL_TEXT_KINDS:
            for trigger in ("insert", "delete", "update"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_fts_{trigger}")
            op.execute(f"DROP TABLE IF EXISTS {table}_fts")
    for table in (
        "memory_embeddings",
        "conversation_summaries",
        "observation_revisions",
        "observation_conversations",
        "observations",
    ):
        op.drop_table(table)
