"""Where a dataset's rows come from: a database SQLAlchemy reaches, or a CSV/Parquet file read
with DuckDB (on local disk under ``CONVMEM_DATASET_FILE_ROOT``, or fetched from S3).

A source answers two things: its ``columns()`` (name, type, the kind of value a trait would get,
sample values) and ``read()``, one batch of rows in (cursor, key) order after a position, each
row the cursor and key values then the mapped expressions' values. Queries are built with
SQLAlchemy (SQL sources) or DuckDB's expression API (files): identifiers are quoted by them,
positions are bound values, and the only SQL text passed through is what ``expressions``
checked and rendered. Every failure to read is a ``SourceError`` with a plain message.
"""

import datetime as dt
import decimal
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

import duckdb
import sqlglot
from sqlalchemy import (
    MetaData,
    Table,
    and_,
    column,
    create_engine,
    literal,
    literal_column,
    or_,
    select,
    text,
    tuple_,
    type_coerce,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.sql.expression import Selectable
from sqlalchemy.sql.sqltypes import NullType
from sqlglot import exp
from sqlglot.errors import SqlglotError

from convmem.datasets.expressions import Selection

SAMPLE_ROWS = 5
# SQLAlchemy's dialect names where sqlglot calls the same SQL by another name.
_SQLGLOT_DIALECTS = {"postgresql": "postgres", "mssql": "tsql", "mariadb": "mysql"}
# Drivers installed with convmem, used when a URL names none.
_DEFAULT_DRIVERS = {"postgresql": "postgresql+psycopg", "postgres": "postgresql+psycopg", "mysql": "mysql+pymysql", "mariadb": "mariadb+pymysql"}


class SourceError(Exception):
    """The source could not be read: unreachable, refused, or its table or file is gone."""


@dataclass(frozen=True)
class SourceColumn:
    name: str
    type: str
    # The kind of value it gives a trait: STRING, NUMBER, BOOLEAN, DATE, ARRAY or OTHER.
    kind: str
    samples: list


Position = tuple[Any, Any] | None
"""The last row read, as (cursor value, key value); the cursor value is None without a cursor column."""


class Source(Protocol):
    dialect: str

    def columns(self) -> list[SourceColumn]: ...

    def read(self, selections: Sequence[Selection], key: str, cursor: str | None, after: Position, limit: int) -> list[tuple]: ...

    def close(self) -> None: ...


def open_source(source: dict, credentials: dict, file_root: Path) -> Source:
    if source["type"] == "SQL":
        return SqlSource(credentials["url"], file_root, table=source.get("table"), schema=source.get("schema"), query=source.get("query"))
    return FileSource(source["location"], source["format"], credentials, file_root, endpoint_url=source.get("endpointUrl"), region=source.get("region"))


def database_url(url: str, file_root: Path) -> str:
    """The URL as convmem connects with it: its driver named, a SQLite file under ``file_root``."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise SourceError("url is not a database URL (dialect+driver://user:password@host/database)") from None
    if parsed.drivername in _DEFAULT_DRIVERS:
        parsed = parsed.set(drivername=_DEFAULT_DRIVERS[parsed.drivername])
    if parsed.get_backend_name() == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise SourceError("a SQLite source is a file under the dataset file root")
        parsed = parsed.set(database=str(local_file(parsed.database, file_root)))
    return parsed.render_as_string(hide_password=False)


def local_file(location: str, file_root: Path) -> Path:
    """``location`` (relative to ``file_root``, or absolute inside it) resolved; other places are refused:
    a dataset must not read the server's own files."""
    root = file_root.resolve()
    path = (root / location).resolve()
    if not path.is_relative_to(root):
        raise SourceError(f"'{location}' is outside the dataset file root ({root}); put the file under it")
    return path


def sqlglot_dialect(sqlalchemy_name: str) -> str:
    return _SQLGLOT_DIALECTS.get(sqlalchemy_name, sqlalchemy_name)


def checked_query(query: str, dialect: str) -> exp.Query:
    """A dataset's query: one SELECT (or UNION…) that writes nothing."""
    try:
        statements = [tree for tree in sqlglot.parse(query, read=dialect) if tree is not None]
    except SqlglotError as error:
        raise SourceError(f"query is not SQL this source reads: {str(error).splitlines()[0]}") from None
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        raise SourceError("query must be one SELECT statement")
    tree = statements[0]
    for node in tree.walk():
        if isinstance(node, (exp.DDL, exp.DML, exp.Command, exp.Into, exp.Lock)):
            raise SourceError("query must only read: no statements that write, SELECT INTO or locking clauses")
    return tree


class SqlSource:
    """A table (reflected) or a query (checked, as a subquery) of a database SQLAlchemy reaches."""

    def __init__(self, url: str, file_root: Path, *, table: str | None, schema: str | None, query: str | None):
        try:
            # One connection, kept for the run: a sync reads many chunks.
            self.engine = create_engine(database_url(url, file_root), pool_size=1, max_overflow=0)
        except (ArgumentError, NoSuchModuleError) as error:
            raise SourceError(f"url names a database convmem has no driver for: {error}") from None
        self.dialect = sqlglot_dialect(self.engine.dialect.name)
        self.table, self.schema = table, schema
        self.query = checked_query(query, self.dialect).sql(dialect=self.dialect) if query else None
        self._relation: Selectable | None = None

    def relation(self) -> Selectable:
        if self._relation is None:
            with self._reading() as connection:
                if self.query is None:
                    self._relation = Table(self.table, MetaData(), schema=self.schema, autoload_with=connection)
                else:
                    wrapped = exp.select("*").from_(sqlglot.parse_one(self.query, read=self.dialect).subquery("src")).limit(0)
                    names = list(connection.execute(text(wrapped.sql(dialect=self.dialect))).keys())
                    self._relation = text(self.query).columns(*[column(name) for name in names]).subquery("src")
        return self._relation

    def columns(self) -> list[SourceColumn]:
        relation = self.relation()
        with self._reading() as connection:
            rows = connection.execute(select(relation).limit(SAMPLE_ROWS)).all()
        found = []
        for index, col in enumerate(relation.c):
            samples = [jsonable(row[index]) for row in rows if row[index] is not None]
            found.append(SourceColumn(col.name, str(col.type) if self.query is None else _type_name(samples), _kind_of_sql_type(col.type, samples), samples))
        return found

    def read(self, selections: Sequence[Selection], key: str, cursor: str | None, after: Position, limit: int) -> list[tuple]:
        relation = self.relation()
        try:
            # The position's values go back to the driver as it gave them: typed, they could be
            # written back differently (SQLite keeps timestamps as text, with or without microseconds).
            key_column = type_coerce(relation.c[key], NullType())
            cursor_column = type_coerce(relation.c[cursor], NullType()) if cursor else None
            values = [relation.c[s.column] if s.column is not None else literal_column(s.sql) for s in selections]
        except KeyError as missing:
            raise SourceError(f"the source has no column {missing}") from None
        stmt = select(cursor_column if cursor_column is not None else literal_column("NULL"), key_column, *values).select_from(relation)
        if cursor_column is not None:
            stmt = stmt.where(cursor_column.is_not(None))
            if after is not None:
                stmt = stmt.where(_after(self.engine.dialect.name, cursor_column, key_column, after))
            stmt = stmt.order_by(cursor_column, key_column)
        else:
            if after is not None:
                stmt = stmt.where(key_column > after[1])
            stmt = stmt.order_by(key_column)
        with self._reading() as connection:
            return [tuple(row) for row in connection.execute(stmt.limit(limit))]

    def _reading(self):
        return _Guarded(self.engine)

    def close(self) -> None:
        self.engine.dispose()


# Dialects that compare row values, so an index on (cursor, key) serves the position's condition.
_ROW_VALUES = ("postgresql", "mysql", "mariadb", "sqlite", "duckdb")


def _after(dialect: str, cursor_column, key_column, after: Position):
    if dialect in _ROW_VALUES:
        return tuple_(cursor_column, key_column) > tuple_(literal(after[0]), literal(after[1]))
    return or_(cursor_column > after[0], and_(cursor_column == after[0], key_column > after[1]))


class _Guarded:
    """A connection to the source whose every SQLAlchemy error becomes a ``SourceError``."""

    def __init__(self, engine):
        self.engine = engine

    def __enter__(self):
        try:
            self.connection = self.engine.connect()
        except SQLAlchemyError as error:
            raise SourceError(f"the source database could not be reached: {_first_line(error)}") from None
        return self.connection

    def __exit__(self, kind, error, _trace):
        self.connection.close()
        if isinstance(error, SQLAlchemyError):
            raise SourceError(f"the source database refused the read: {_first_line(error)}") from None
        return False


class FileSource:
    """A CSV or Parquet file read with DuckDB; an ``s3://`` location is fetched with boto3 first."""

    dialect = "duckdb"

    def __init__(self, location: str, file_format: str, credentials: dict, file_root: Path, *, endpoint_url: str | None, region: str | None):
        self._download: tempfile.TemporaryDirectory | None = None
        if location.startswith("s3://"):
            path = self._fetch(location, credentials, endpoint_url, region)
        else:
            path = local_file(location, file_root)
        if not path.is_file():
            raise SourceError(f"the file '{location}' is not there")
        self.connection = duckdb.connect()
        try:
            reader = self.connection.read_parquet if file_format == "PARQUET" else self.connection.read_csv
            self.relation = reader(str(path))
        except duckdb.Error as error:
            raise SourceError(f"the file '{location}' could not be read as {file_format}: {_first_line(error)}") from None

    def _fetch(self, location: str, credentials: dict, endpoint_url: str | None, region: str | None) -> Path:
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError

        parsed = urlparse(location)
        self._download = tempfile.TemporaryDirectory(prefix="convmem-dataset-")
        path = Path(self._download.name) / (Path(parsed.path).name or "object")
        client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=credentials.get("accessKeyId"),
            aws_secret_access_key=credentials.get("secretAccessKey"),
        )
        try:
            client.download_file(parsed.netloc, parsed.path.lstrip("/"), str(path))
        except (BotoCoreError, ClientError) as error:
            raise SourceError(f"'{location}' could not be fetched: {_first_line(error)}") from None
        return path

    def columns(self) -> list[SourceColumn]:
        try:
            rows = self.relation.limit(SAMPLE_ROWS).fetchall()
        except duckdb.Error as error:
            raise SourceError(f"the file could not be read: {_first_line(error)}") from None
        found = []
        for index, (name, duck_type) in enumerate(zip(self.relation.columns, self.relation.types)):
            samples = [jsonable(row[index]) for row in rows if row[index] is not None]
            found.append(SourceColumn(name, str(duck_type), _kind_of_duckdb_type(str(duck_type)), samples))
        return found

    def read(self, selections: Sequence[Selection], key: str, cursor: str | None, after: Position, limit: int) -> list[tuple]:
        names = set(self.relation.columns)
        for name in (key, cursor, *(s.column for s in selections)):
            if name is not None and name not in names:
                raise SourceError(f"the file has no column '{name}'")
        key_column = duckdb.ColumnExpression(key)
        values = [duckdb.ColumnExpression(s.column) if s.column is not None else duckdb.SQLExpression(s.sql) for s in selections]
        relation = self.relation
        if cursor is not None:
            cursor_column = duckdb.ColumnExpression(cursor)
            relation = relation.filter(cursor_column.isnotnull())
            if after is not None:
                at, last_key = duckdb.ConstantExpression(after[0]), duckdb.ConstantExpression(after[1])
                relation = relation.filter((cursor_column > at) | ((cursor_column == at) & (key_column > last_key)))
            relation = relation.sort(cursor_column.asc(), key_column.asc()).select(cursor_column, key_column, *values)
        else:
            if after is not None:
                relation = relation.filter(key_column > duckdb.ConstantExpression(after[1]))
            relation = relation.sort(key_column.asc()).select(duckdb.ConstantExpression(None), key_column, *values)
        try:
            return [tuple(row) for row in relation.limit(limit).fetchall()]
        except duckdb.Error as error:
            raise SourceError(f"the file could not be read: {_first_line(error)}") from None

    def close(self) -> None:
        self.connection.close()
        if self._download is not None:
            self._download.cleanup()


def jsonable(value: Any) -> Any:
    """A source value as JSON can carry it (sample values, error reports)."""
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    if isinstance(value, (str, int, float, bool, dict)) or value is None:
        return value
    return str(value)


def encode_position(cursor_value: Any, key_value: Any) -> dict:
    """A position as JSON that gives the same values back (``decode_position``)."""
    return {"cursor": _encode(cursor_value), "key": _encode(key_value)}


def decode_position(position: dict | None) -> Position:
    if position is None:
        return None
    return _decode(position["cursor"]), _decode(position["key"])


def _encode(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"date": value.isoformat()}
    if isinstance(value, decimal.Decimal):
        return {"decimal": str(value)}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if "datetime" in value:
            return dt.datetime.fromisoformat(value["datetime"])
        if "date" in value:
            return dt.date.fromisoformat(value["date"])
        return decimal.Decimal(value["decimal"])
    return value


def _kind_of_sql_type(sql_type, samples: list) -> str:
    try:
        python_type = sql_type.python_type
    except NotImplementedError:
        return _kind_of_value(samples[0]) if samples else "OTHER"
    if python_type is bool:
        return "BOOLEAN"
    if python_type in (int, float, decimal.Decimal):
        return "NUMBER"
    if python_type in (dt.datetime, dt.date, dt.time):
        return "DATE"
    if python_type is list:
        return "ARRAY"
    if python_type is str:
        return "STRING"
    return "OTHER"


def _kind_of_value(value: Any) -> str:
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, (int, float)):
        return "NUMBER"
    if isinstance(value, list):
        return "ARRAY"
    if isinstance(value, str):
        return "STRING"
    return "OTHER"


def _type_name(samples: list) -> str:
    return type(samples[0]).__name__ if samples else "unknown"


def _kind_of_duckdb_type(name: str) -> str:
    upper = name.upper()
    if upper.endswith("[]"):
        return "ARRAY"
    if upper == "BOOLEAN":
        return "BOOLEAN"
    if upper.startswith(("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE", "DECIMAL")):
        return "NUMBER"
    if upper.startswith(("DATE", "TIMESTAMP", "TIME")):
        return "DATE"
    if upper == "VARCHAR":
        return "STRING"
    return "OTHER"


def _first_line(error: BaseException) -> str:
    cause = getattr(error, "orig", None) or error
    return (str(cause).strip().splitlines() or [type(cause).__name__])[0][:300]
