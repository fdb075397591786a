"""PostgreSQL's ``COPY ... FROM STDIN`` for the write path's inserts of many rows.

A multi-row INSERT of a thousand rows binds seven thousand parameters: psycopg rewrites its
text for every batch (it is too long to cache) and PostgreSQL parses and plans it anew, which
cost an import nearly as much as storing the rows (``docs/benchmarks.md``). COPY streams the
same rows instead.

Each value goes through its column type's bind processor, as it would in an INSERT (JSON
written by the engine's serializer, timestamps in UTC), so the stored rows are the same.
Keys that other rows must point at are taken from the table's own sequence beforehand, as
the INSERT's column default would take them, instead of coming back through RETURNING.
"""

from collections.abc import Sequence

from sqlalchemy import Column, Table, text
from sqlalchemy.orm import Session

_NEXT_IDS = text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :count)")


# Below this many rows an INSERT is one round trip where COPY (with its keys taken first) is two
# or three: a single create keeps its INSERT.
COPY_FROM_ROWS = 50


def copies(session: Session, rows: Sequence) -> bool:
    """Whether ``rows`` go in with ``copy_rows``: many of them, on PostgreSQL."""
    return len(rows) >= COPY_FROM_ROWS and session.get_bind().dialect.name == "postgresql"


def next_ids(session: Session, table: Table, count: int) -> list[int]:
    """``count`` new keys of ``table`` from the sequence behind its ``id``, ascending: given to
    rows in order, they keep the order of addition an INSERT would have given them."""
    return sorted(session.scalars(_NEXT_IDS, {"table": table.name, "count": count}))


def copy_rows(session: Session, table: Table, rows: Sequence[dict], *, allocate_ids: bool = False) -> list[int]:
    """Insert ``rows`` (dicts with the same keys) into ``table`` with one COPY, in the session's
    transaction; returns their primary keys in order when ``allocate_ids`` (taken beforehand
    with ``next_ids``), else an empty list. A column the rows leave out gets its Python-side
    default, evaluated for each row as an INSERT would, else its server default or NULL."""
    if not rows:
        return []
    ids = next_ids(session, table, len(rows)) if allocate_ids else []
    if ids:
        rows = [{"id": pk, **row} for pk, row in zip(ids, rows)]
    connection = session.connection()
    dialect = connection.dialect
    given = list(rows[0])
    defaults = defaulted_columns(table, given)
    columns = [table.c[name] for name in given] + defaults
    processors = [column.type.dialect_impl(dialect).bind_processor(dialect) for column in columns]
    quote = dialect.identifier_preparer
    statement = f"COPY {quote.format_table(table)} ({', '.join(quote.quote(column.name) for column in columns)}) FROM STDIN"
    with connection.connection.driver_connection.cursor() as cursor:
        try:
            with cursor.copy(statement) as copy:
                for row in rows:
                    values = [row[name] for name in given] + [default_value(column) for column in defaults]
                    copy.write_row([value if process is None else process(value) for value, process in zip(values, processors)])
        except dialect.loaded_dbapi.Error as error:
            # Raised as SQLAlchemy raises a statement's errors, the connection invalidated if it
            # is lost: ``database.faults`` and the worker tell an unreachable database by them.
            connection._handle_dbapi_exception(error, statement, None, cursor, None)
    return ids


def defaulted_columns(table: Table, given: Sequence[str]) -> list[Column]:
    """The columns of ``table`` not in ``given`` that have a Python-side default: an INSERT
    that leaves them out gets it (``default_value``), so a bulk insert must give it too."""
    return [
        column for column in table.columns
        if column.name not in given and column.default is not None and (column.default.is_scalar or column.default.is_callable)
    ]


def default_value(column: Column):
    """``column``'s Python-side default, evaluated once (per row, as an INSERT does)."""
    default = column.default
    return default.arg(None) if default.is_callable else default.arg
