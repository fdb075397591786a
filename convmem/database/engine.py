"""Engine, sessions and the locks that keep concurrent writers correct.

SQLite: write transactions start with ``BEGIN IMMEDIATE`` so writers queue up front
instead of failing on lock upgrade; readers stay ``DEFERRED`` and run beside them (WAL).
Within one process writers also queue on a mutex first: SQLite's own busy handler waits
by sleeping in growing steps, which under contention costs far more than the write.
PostgreSQL: write transactions take a transaction-scoped advisory lock per store. Most take
it exclusively (settings, deletes, splits, imports: everything that may touch any profile of
the store). Profile creates take it shared and then lock only what they can touch, through
``lock_identities``: the identifier keys they name, then the profiles those resolve to (see
``profiles/writer.py``). Two creates whose identities are disjoint then commit side by side.
"""

import hashlib
import json
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import orjson
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from convmem.kit.text import LONE_SURROGATE

_WRITE = "convmem_write"
_AFTER_COMMIT = "convmem_after_commit"
_LOCKS_IDENTITIES = "convmem_locks_identities"
STORE_LOCK_NAMESPACE = 1
SETUP_LOCK_NAMESPACE = 3


def after_commit(session: Session, action: Callable[[], None]) -> None:
    """Run ``action`` once the write transaction of ``session`` has committed (deleting files
    the transaction made unreachable, say); never if it rolls back."""
    session.info.setdefault(_AFTER_COMMIT, []).append(action)


def normalise_url(url: str) -> str:
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def dump_json(value) -> str:
    """JSON columns' text. orjson writes the trait documents every profile write stores
    several times faster than ``json``; it refuses integers beyond 64 bits, which ``json``
    writes exactly. Reading stays with ``json``: orjson would read such integers as floats."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value)


def load_json(text: str | bytes):
    """JSON columns' values. Text written before lone surrogates were refused may hold one
    (``"\\ud800"``), which no answer can encode: it is read back as U+FFFD instead."""
    if isinstance(text, bytes):  # psycopg hands over the raw column
        text = text.decode()
    value = json.loads(text)
    if "\\ud" in text or "\\uD" in text:
        return _without_lone_surrogates(value)
    return value


def _without_lone_surrogates(value):
    if isinstance(value, str):
        return LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_without_lone_surrogates(item) for item in value]
    if isinstance(value, dict):
        return {_without_lone_surrogates(key): _without_lone_surrogates(item) for key, item in value.items()}
    return value


class Database:
    def __init__(self, url: str, sqlite_synchronous: str = "NORMAL"):
        self.url = normalise_url(url)
        parsed = make_url(self.url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        if self.is_sqlite:
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            self.engine = create_engine(
                self.url,
                connect_args={"check_same_thread": False, "timeout": 60},
                pool_size=32,
                max_overflow=32,
                json_serializer=dump_json,
                json_deserializer=load_json,
            )
            _configure_sqlite(self.engine, sqlite_synchronous)
        else:
            self.engine = create_engine(
                self.url, pool_size=20, max_overflow=20, pool_pre_ping=True, json_serializer=dump_json, json_deserializer=load_json
            )
        self._reader = sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        self._writer = sessionmaker(
            self.engine.execution_options(**{_WRITE: True}), expire_on_commit=False, autoflush=False
        )
        self._write_mutex = threading.Lock() if self.is_sqlite else nullcontext()

    @contextmanager
    def reading(self) -> Iterator[Session]:
        with self._reader() as session:
            yield session

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """A transaction committed when the block ends, rolled back if it raises. Then the
        actions registered with ``after_commit`` run, only if it committed."""
        with self._write_mutex, self._writer() as session:
            with session.begin():
                yield session
            actions = session.info.pop(_AFTER_COMMIT, [])
        for action in actions:
            action()

    def lock_store(self, session: Session, store_pk: int) -> None:
        """Keep every other writer of one store out until the transaction ends."""
        self.lock(session, STORE_LOCK_NAMESPACE, store_pk)

    def share_store(self, session: Session, store_pk: int) -> None:
        """Hold the store's lock in shared mode until the transaction ends: beside other
        shared holders, out of the way of exclusive ones. The transaction must then lock what
        it touches with ``lock_identities`` (PostgreSQL; SQLite's writers are serial anyway)."""
        if not self.is_sqlite:
            session.execute(
                text("SELECT pg_advisory_xact_lock_shared(:ns, :key)"), {"ns": STORE_LOCK_NAMESPACE, "key": store_pk}
            )
            session.info[_LOCKS_IDENTITIES] = True

    def lock(self, session: Session | Connection, namespace: int, key: int) -> None:
        """Hold an advisory lock until the transaction of ``session`` ends (PostgreSQL; SQLite's
        write transactions are serial already)."""
        if not self.is_sqlite:
            session.execute(text("SELECT pg_advisory_xact_lock(:ns, :key)"), {"ns": namespace, "key": key})

    def ping(self) -> bool:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True

    def dispose(self) -> None:
        self.engine.dispose()


def locks_identities(session: Session) -> bool:
    """Whether the transaction holds its store's lock shared, so that it must lock the
    identifier keys and profiles it touches itself."""
    return session.info.get(_LOCKS_IDENTITIES, False)


def lock_identities(session: Session, keys: Iterable[int]) -> None:
    """Hold advisory locks on ``keys`` (``identity_key``s) until the transaction ends, taken
    in ascending order in one statement: two transactions that lock overlapping key sets in
    this way never wait on each other in a cycle. Locks taken inside a savepoint are let go
    when it rolls back. Nothing to do unless the transaction ``locks_identities``."""
    if locks_identities(session):
        session.execute(_LOCK_KEYS, {"keys": sorted(set(keys))})


def identity_key(*parts: object) -> int:
    """A signed 64-bit advisory lock key for ``parts`` (the kind of thing locked, its store,
    its identifier type and value, or its primary key). Colliding keys only make two writes
    wait for each other; they never let two conflicting writes run together."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


# One round trip for a write's whole key set; the function scan yields the array in order.
_LOCK_KEYS = text("SELECT count(pg_advisory_xact_lock(k)) FROM unnest(CAST(:keys AS bigint[])) AS k")


def _configure_sqlite(engine: Engine, synchronous: str) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy's "begin" event below decide how each transaction starts.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        mode = "IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")
