"""PostgreSQL's ``COPY ... FROM STDIN`` for the write path's inserts of many rows.

A multi-row INSERT of a thousand rows binds seven thousand parameters: psycopg rewrites its
text for every batch (it is too long to cache) and PostgreSQL parses and plans it anew, which
cost the import more than the rows themselves. COPY streams the same rows instead.

Each value goes through its column type's bind processor, as it would in an INSERT (JSON
written by the engine's serializer, timestamps in UTC), so the stored rows are the same.
Keys that other rows must point at are taken from the table's own sequence beforehand, as
the INSERT's column default would take them, instead of coming back through RETURNING.
"""

from collections.abc import Sequence

from sqlalchemy import Table, text
from sqlalchemy.orm import Session

_NEXT_IDS = text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :count)")


def copies(session: Session) -> bool:
    """Whether the session's database takes ``copy_rows`` (PostgreSQL)."""
    return session.get_bind().dialect.name == "postgresql"


def next_ids(session: Session, table: Table, count: int) -> list[int]:
    """``count`` new keys of ``table`` from the sequence behind its ``id``, ascending: given to
    rows in order, they keep the order of addition an INSERT would have given them."""
    return sorted(session.scalars(_NEXT_IDS, {"table": table.name, "count": count}))


def copy_rows(session: Session, table: Table, rows: Sequence[dict]) -> None:
    """Insert ``rows`` (dicts with the same keys) into ``table`` with one COPY, in the session's
    transaction. Columns the rows leave out get their server default or NULL: the rows must
    name every column that has a Python-side default."""
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    columns = list(rows[0])
    processors = [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns]
    quote = dialect.identifier_preparer
    statement = f"COPY {quote.format_table(table)} ({', '.join(quote.quote(name) for name in columns)}) FROM STDIN"
    with connection.connection.driver_connection.cursor() as cursor:
        try:
            with cursor.copy(statement) as copy:
                for row in rows:
                    copy.write_row([
                        value if process is None else process(value)
                        for value, process in zip((row[name] for name in columns), processors)
                    ])
        except dialect.loaded_dbapi.Error as error:
            # Raised as SQLAlchemy raises a statement's errors, the connection invalidated if it
            # is lost: ``database.faults`` and the worker tell an unreachable database by them.
            connection._handle_dbapi_exception(error, statement, None, cursor, None)
