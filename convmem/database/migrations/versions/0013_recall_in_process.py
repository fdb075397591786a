"""Recall's full-text search runs over the profile's memories in the process: drop the store-wide indexes

Revision ID: 0013_recall_in_process
Revises: 0012_vector_index

A Recall searches one profile's memories, but SQLite's FTS5 tables and PostgreSQL's GIN index
are built over the whole store: at a million memories a common word cost 10-20 ms a term on
SQLite however few memories the profile held (``docs/benchmarks.md``). Recall now tokenises and
ranks a profile's memories itself, kept in its memory cache (``convmem/memory/lexical.py``), so
the FTS5 tables with their triggers, and PostgreSQL's generated ``search_vector`` columns with
their GIN indexes, are dropped: every memory written no longer pays for them. The downgrade
builds them again from the rows.
"""

from alembic import op

revision = "0013_recall_in_process"
down_revision = "0012_vector_index"
branch_labels = None
depends_on = None

FULL_TEXT_KINDS = ("observations", "conversation_summaries")


def upgrade() -> None:
    for table in FULL_TEXT_KINDS:
        if op.get_bind().dialect.name == "sqlite":
            for trigger in ("insert", "delete", "update"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_fts_{trigger}")
            op.execute(f"DROP TABLE IF EXISTS {table}_fts")
        else:
            op.execute(f"DROP INDEX IF EXISTS ix_{table}_search")
            op.execute(f"ALTER TABLE {table} DROP COLUMN IF EXISTS search_vector")


def downgrade() -> None:
    for table in FULL_TEXT_KINDS:
        if op.get_bind().dialect.name == "sqlite":
            _create_sqlite_fts(table)
        else:
            op.execute(
                f"ALTER TABLE {table} ADD COLUMN search_vector tsvector "
                f"GENERATED ALWAYS AS (to_tsvector('english', content)) STORED"
            )
            op.execute(f"CREATE INDEX ix_{table}_search ON {table} USING GIN (search_vector)")


def _create_sqlite_fts(table: str) -> None:
    """Migration 0012's tables: content and profile id, porter stemming, kept by triggers."""
    fts = f"{table}_fts"
    op.execute(
        f"CREATE VIRTUAL TABLE {fts} USING fts5(content, profile_id, content='{table}', content_rowid='id', "
        f"tokenize='porter unicode61 remove_diacritics 2')"
    )
    op.execute(
        f"CREATE TRIGGER {fts}_insert AFTER INSERT ON {table} BEGIN "
        f"INSERT INTO {fts}(rowid, content, profile_id) VALUES (new.id, new.content, new.profile_id); END"
    )
    op.execute(
        f"CREATE TRIGGER {fts}_delete AFTER DELETE ON {table} BEGIN "
        f"INSERT INTO {fts}({fts}, rowid, content, profile_id) VALUES ('delete', old.id, old.content, old.profile_id); END"
    )
    op.execute(
        f"CREATE TRIGGER {fts}_update AFTER UPDATE OF content, profile_id ON {table} BEGIN "
        f"INSERT INTO {fts}({fts}, rowid, content, profile_id) VALUES ('delete', old.id, old.content, old.profile_id); "
        f"INSERT INTO {fts}(rowid, content, profile_id) VALUES (new.id, new.content, new.profile_id); END"
    )
    op.execute(f"INSERT INTO {fts}({fts}) VALUES ('rebuild')")
