"""profile-scoped full-text search on SQLite: the FTS5 tables index each memory's profile too

Revision ID: 0012_vector_index
Revises: 0005_idempotency

The revision id was reserved for a vector index; measurement showed exhaustive scoring of a
profile's vectors fits the latency goal, and the full-text side did not: an FTS5 ``MATCH``
is evaluated over the whole table before the profile filter, so at a million memories a
common word ("order") cost seconds. Each FTS5 table now also indexes ``profile_id`` (as a
token of its own column), and Recall's ``MATCH`` names the profiles in scope, so FTS5 walks
only their entries. The tables are rebuilt from the rows they index. PostgreSQL is
unchanged: its planner already starts from the profile's rows.
"""

from alembic import op

revision = "0012_vector_index"
down_revision = "0011_communications"
branch_labels = None
depends_on = None

FULL_TEXT_KINDS = ("observations", "conversation_summaries")


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in FULL_TEXT_KINDS:
        _drop_sqlite_fts(table)
        _create_sqlite_fts(table, ("content", "profile_id"))


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in FULL_TEXT_KINDS:
        _drop_sqlite_fts(table)
        _create_sqlite_fts(table, ("content",))


def _drop_sqlite_fts(table: str) -> None:
    for trigger in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER IF EXISTS {table}_fts_{trigger}")
    op.execute(f"DROP TABLE IF EXISTS {table}_fts")


def _create_sqlite_fts(table: str, columns: tuple[str, ...]) -> None:
    fts = f"{table}_fts"
    names = ", ".join(columns)
    new = ", ".join(f"new.{column}" for column in columns)
    old = ", ".join(f"old.{column}" for column in columns)
    # Porter stemming so "prefers" finds "preferred"; diacritics folded. A profile id is one token.
    op.execute(
        f"CREATE VIRTUAL TABLE {fts} USING fts5({names}, content='{table}', content_rowid='id', "
        f"tokenize='porter unicode61 remove_diacritics 2')"
    )
    op.execute(
        f"CREATE TRIGGER {fts}_insert AFTER INSERT ON {table} BEGIN "
        f"INSERT INTO {fts}(rowid, {names}) VALUES (new.id, {new}); END"
    )
    op.execute(
        f"CREATE TRIGGER {fts}_delete AFTER DELETE ON {table} BEGIN "
        f"INSERT INTO {fts}({fts}, rowid, {names}) VALUES ('delete', old.id, {old}); END"
    )
    op.execute(
        f"CREATE TRIGGER {fts}_update AFTER UPDATE OF {names} ON {table} BEGIN "
        f"INSERT INTO {fts}({fts}, rowid, {names}) VALUES ('delete', old.id, {old}); "
        f"INSERT INTO {fts}(rowid, {names}) VALUES (new.id, {new}); END"
    )
    op.execute(f"INSERT INTO {fts}({fts}) VALUES ('rebuild')")
