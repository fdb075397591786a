"""Many rows into one SQLite table with one DBAPI ``executemany``.

Imports and bulk batches insert thousands of profile, identifier and history rows per
transaction. Through SQLAlchemy Core each row's parameters are processed one by one
(``construct_params``, then each value's type), which costs more than SQLite's own insert.
Here each column's value goes through the bind processor the engine's dialect gives its type
(the JSON serializer, the ``UTCDateTime`` text), so the stored text is the same, and the
tuples go to the driver's ``executemany`` as driver SQL, inside the session's transaction.

Primary keys are allocated here when the caller needs them: a rowid table without
AUTOINCREMENT gives a new row ``max(id) + 1``, and a SQLite write transaction is the
database's only writer from its first write to its end (``BEGIN IMMEDIATE``, see
``engine.py``; a deferred one that read before another writer committed cannot write at all),
so the ids read once here are the ones SQLite itself would give, in insert order.
"""

from collections.abc import Sequence

from sqlalchemy import DateTime, Table, func, select
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeEngine

from convmem.database.bulk_copy import default_value, defaulted_columns


def insert_rows(session: Session, table: Table, rows: Sequence[dict], *, allocate_ids: bool = False) -> range:
    """Insert ``rows`` (dicts with the same keys) into ``table``; returns their primary keys
    in order when ``allocate_ids``, else an empty range."""
    if not rows:
        return range(0)
    connection = session.connection()
    names = list(rows[0])
    values = {name: [row[name] for row in rows] for name in names}
    for column in defaulted_columns(table, names):  # what an INSERT leaving it out would store
        values[column.name] = [default_value(column) for _ in rows]
    names = list(values)
    columns = [_bound(table.c[name].type, values[name], connection.dialect) for name in names]
    if allocate_ids:
        first = connection.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one() + 1
        ids = range(first, first + len(rows))
        names, columns = ["id", *names], [ids, *columns]
    else:
        ids = range(0)
    statement = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
    # Driver SQL: no compiling or parameter processing, but SQLAlchemy's cursor events (the
    # statement counts of ``bench/statements_bench.py``) and its translation of driver errors.
    connection.exec_driver_sql(statement, list(zip(*columns)))
    return ids


def _bound(column_type: TypeEngine, values: list, dialect: Dialect) -> list:
    """A column's values as its type's bind processor on ``dialect`` gives them to the driver.
    Timestamps are processed once per distinct value: a chunk's rows mostly share one ``now``."""
    process = column_type.dialect_impl(dialect).bind_processor(dialect)
    if process is None:
        return values
    if isinstance(getattr(column_type, "impl_instance", column_type), DateTime):
        made = {value: process(value) for value in set(values)}
        return list(map(made.__getitem__, values))
    return list(map(process, values))
