"""Copies of a deployment's database: to another database (``convmem copy``), or to a backup
file while the server runs (``convmem backup``, SQLite).

A copy moves every table of the model, keys as they are, so every profile id, alias, page
token position and ETag answers the same afterwards. Rows are read and written in batches in
key order, so memory stays flat whatever the size. Each batch is written in one transaction
with its checkpoint (the last key copied, kept in the target's ``convmem_copy_progress``), so
an interrupted copy resumes where it stopped; the checkpoint table is dropped once every table
is copied. JSON columns travel as the text the source stores, so they come back byte for byte
(integers beyond 64 bits included).
"""

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    Boolean,
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    func,
    inspect,
    select,
    text,
    tuple_,
)
from sqlalchemy.engine import Connection, make_url

from convmem.database.engine import Database, normalise_url
from convmem.database.migrate import alembic_config, upgrade
from convmem.database.tables import Base, Profile, ProfileIdentifier, Store

PROGRESS_TABLE = "convmem_copy_progress"
DEFAULT_BATCH_SIZE = 5000

_progress_metadata = MetaData()
_progress = Table(
    PROGRESS_TABLE,
    _progress_metadata,
    Column("table_name", String(128), primary_key=True),
    Column("last_key", Text),  # the last copied primary key, as a JSON list; NULL before the first batch
    Column("done", Boolean, nullable=False),
)


class CopyRefused(Exception):
    """The copy cannot start: the source or the target is not in a state to copy from or to."""


class CopyProgress(Protocol):
    """What a copy reports as it goes (the command shows it with rich)."""

    def table_started(self, table: str, total: int, copied: int) -> None: ...

    def rows_copied(self, table: str, rows: int) -> None: ...


@dataclass
class TableCheck:
    table: str
    source_rows: int
    target_rows: int

    @property
    def ok(self) -> bool:
        return self.source_rows == self.target_rows


@dataclass
class StoreCheck:
    store: str
    source_digest: str
    target_digest: str | None

    @property
    def ok(self) -> bool:
        return self.source_digest == self.target_digest


@dataclass
class CopyReport:
    tables: list[TableCheck] = field(default_factory=list)
    stores: list[StoreCheck] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.tables) and all(check.ok for check in self.stores)


def _json_as_stored(value):
    # psycopg hands over a JSON column's raw bytes; SQLite its text.
    return value.decode() if isinstance(value, bytes) else value


def raw_engine(url: str) -> Engine:
    """An engine whose JSON columns read and write the stored text itself, untouched."""
    return create_engine(normalise_url(url), json_serializer=lambda value: value, json_deserializer=_json_as_stored)


def copy_database(
    source_url: str,
    target_url: str,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    resume: bool = False,
    force: bool = False,
    progress: CopyProgress | None = None,
) -> CopyReport:
    """Copy every table from ``source_url`` to ``target_url`` (migrated first), then compare them.

    The target must be empty, unless ``resume`` (an interrupted copy continues) or ``force``
    (whatever the target holds is deleted first)."""
    source, target = raw_engine(source_url), raw_engine(target_url)
    try:
        _check_source_is_current(source)
        target_db = Database(target_url)
        try:
            upgrade(target_db)
        finally:
            target_db.dispose()
        _prepare_target(target, resume=resume, force=force)
        for table in Base.metadata.sorted_tables:
            _copy_table(source, target, table, batch_size, progress)
        if target.dialect.name == "postgresql":
            _continue_sequences(target)
        _progress_metadata.drop_all(target)
        return compare(source, target)
    finally:
        source.dispose()
        target.dispose()


def _check_source_is_current(source: Engine) -> None:
    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    with source.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    if current != heads:
        raise CopyRefused(
            f"the source's schema is at {sorted(current) or 'nothing'}, this convmem's at {sorted(heads)}: "
            "run `convmem migrate` on the source first"
        )


def _prepare_target(target: Engine, *, resume: bool, force: bool) -> None:
    interrupted = inspect(target).has_table(PROGRESS_TABLE)
    if force:
        _empty(target)
    elif interrupted and not resume:
        raise CopyRefused("the target holds an interrupted copy: pass --resume to finish it, or --force to start over")
    elif not interrupted and _holds_rows(target):
        raise CopyRefused("the target is not empty: pass --force to delete what it holds and copy over it")
    if force or not interrupted:
        _progress_metadata.create_all(target)
        with target.begin() as connection:
            connection.execute(
                _progress.insert(), [{"table_name": table.name, "done": False} for table in Base.metadata.sorted_tables]
            )


def _holds_rows(engine: Engine) -> bool:
    with engine.connect() as connection:
        return any(connection.scalar(select(1).select_from(table).limit(1)) for table in Base.metadata.sorted_tables)


def _empty(target: Engine) -> None:
    _progress_metadata.drop_all(target)
    with target.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())


def _copy_table(source: Engine, target: Engine, table: Table, batch_size: int, progress: CopyProgress | None) -> None:
    key = list(table.primary_key.columns)
    with target.connect() as connection:
        state = connection.execute(select(_progress).where(_progress.c.table_name == table.name)).one()
        copied = connection.scalar(select(func.count()).select_from(table))
    if state.done:
        return
    with source.connect() as connection:
        total = connection.scalar(select(func.count()).select_from(table))
    if progress:
        progress.table_started(table.name, total, copied)
    forward = _forward_references(table)
    last_key = json.loads(state.last_key) if state.last_key else None
    while True:
        query = select(*table.columns).order_by(*key).limit(batch_size)
        if last_key is not None:
            query = query.where(tuple_(*key) > tuple_(*last_key))
        with source.connect() as connection:
            rows = [dict(row._mapping) for row in connection.execute(query)]
        if not rows:
            break
        for row in rows:
            for column in forward:  # set once the row it points to is there (below)
                if row[column.name] is not None and row[column.name] > row[key[0].name]:
                    row[column.name] = None
        last_key = [rows[-1][column.name] for column in key]
        with target.begin() as connection:
            connection.execute(table.insert(), rows)
            _checkpoint(connection, table, last_key=json.dumps(last_key))
        if progress:
            progress.rows_copied(table.name, len(rows))
    for column in forward:
        _link_forward_references(source, target, table, column, batch_size)
    with target.begin() as connection:
        _checkpoint(connection, table, done=True)


def _checkpoint(connection: Connection, table: Table, **values) -> None:
    connection.execute(_progress.update().where(_progress.c.table_name == table.name).values(**values))


def _forward_references(table: Table) -> list[Column]:
    """Columns pointing at a row of the same table (an alias's ``canonical_id``). A row may
    point at one with a greater key, not copied yet: such a link is written once the whole
    table is there."""
    return [fk.parent for fk in table.foreign_keys if fk.column.table is table]


def _link_forward_references(source: Engine, target: Engine, table: Table, column: Column, batch_size: int) -> None:
    (key,) = table.primary_key.columns
    last = None
    while True:
        query = select(key, column).where(column > key).order_by(key).limit(batch_size)
        if last is not None:
            query = query.where(key > last)
        with source.connect() as connection:
            links = connection.execute(query).all()
        if not links:
            return
        with target.begin() as connection:
            for row_key, value in links:
                connection.execute(table.update().where(key == row_key).values({column.name: value}))
        last = links[-1][0]


def _continue_sequences(target: Engine) -> None:
    """Rows were written with their keys: move each PostgreSQL sequence past the largest, so new
    rows continue from there."""
    with target.begin() as connection:
        for table in Base.metadata.sorted_tables:
            keys = list(table.primary_key.columns)
            if len(keys) != 1 or not isinstance(keys[0].type, Integer):
                continue
            table_name, key = table.name, keys[0].name
            connection.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table_name}', '{key}'), "
                    f"COALESCE(MAX({key}), 1), MAX({key}) IS NOT NULL) FROM {table_name}"
                )
            )


def compare(source: Engine, target: Engine) -> CopyReport:
    """Row counts per table, and a digest per store of its profiles (key, sid, alias, traits)
    and their identifiers, on both sides."""
    report = CopyReport()
    with source.connect() as before, target.connect() as after:
        for table in Base.metadata.sorted_tables:
            count = select(func.count()).select_from(table)
            report.tables.append(TableCheck(table.name, before.scalar(count), after.scalar(count)))
        for store_pk, store_sid in before.execute(select(Store.id, Store.sid).order_by(Store.id)).all():
            target_pk = after.scalar(select(Store.id).where(Store.sid == store_sid))
            report.stores.append(
                StoreCheck(
                    store_sid,
                    store_digest(before, store_pk),
                    store_digest(after, target_pk) if target_pk == store_pk else None,
                )
            )
    return report


def store_digest(connection: Connection, store_pk: int) -> str:
    digest = hashlib.sha256()
    for row in _streamed(
        connection,
        select(Profile.id, Profile.sid, Profile.canonical_id, Profile.traits)
        .where(Profile.store_id == store_pk)
        .order_by(Profile.id),
    ):
        digest.update(repr(tuple(row)).encode())
    for row in _streamed(
        connection,
        select(ProfileIdentifier.id, ProfileIdentifier.profile_id, ProfileIdentifier.id_type, ProfileIdentifier.value)
        .where(ProfileIdentifier.store_id == store_pk)
        .order_by(ProfileIdentifier.id),
    ):
        digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


def _streamed(connection: Connection, query) -> Iterator:
    """Rows a few thousand at a time (a server-side cursor on PostgreSQL)."""
    yield from connection.execution_options(yield_per=DEFAULT_BATCH_SIZE).execute(query)


def backup_sqlite(database_url: str, destination: Path) -> None:
    """Copy a SQLite database to ``destination`` with SQLite's online backup API: one
    consistent snapshot of what was committed when it began, taken while the server keeps
    writing (WAL lets writers go on beside the backup's read)."""
    url = make_url(normalise_url(database_url))
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        raise CopyRefused("backup copies a SQLite database file; back up PostgreSQL with pg_dump (docs/operations.md)")
    if destination.exists():
        raise CopyRefused(f"{destination} exists: give a new file")
    source = sqlite3.connect(url.database)
    try:
        target = sqlite3.connect(destination)
        try:
            source.backup(target)
        finally:
            target.close()
    finally:
        source.close()
