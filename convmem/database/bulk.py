"""Many rows into one table in one statement, the way each backend takes them fastest.

The write path's batches (new profiles, their identifier rows, match keys, history rows) go
through ``insert_rows``: PostgreSQL ``COPY`` for many rows (``bulk_copy``), the SQLite
driver's ``executemany`` (``sqlite_rows``), else one multi-row INSERT. Each stores what
SQLAlchemy's INSERT of the same rows would, keys included.
"""

from collections.abc import Sequence

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from convmem.database import bulk_copy, sqlite_rows


def insert_rows(session: Session, table: Table, rows: Sequence[dict], *, returning_ids: bool = False) -> Sequence[int]:
    """Insert ``rows`` (dicts with the same keys) into ``table``; returns their primary keys in
    the rows' order when ``returning_ids``, else nothing."""
    if not rows:
        return []
    if bulk_copy.copies(session, rows):
        return bulk_copy.copy_rows(session, table, rows, allocate_ids=returning_ids)
    if session.get_bind().dialect.name == "sqlite":
        return sqlite_rows.insert_rows(session, table, rows, allocate_ids=returning_ids)
    if not returning_ids:
        session.execute(insert(table), list(rows))
        return []
    return list(session.scalars(insert(table).returning(table.c.id, sort_by_parameter_order=True), list(rows)))
