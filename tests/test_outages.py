"""Outages are survived: the database going away answers 503, and the server recovers by itself."""

import sqlite3
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from convmem.accounts.service import create_account
from convmem.database.engine import normalise_url
from convmem.database.faults import is_transient, is_unavailable
from convmem.database.tables import Account
from tests.conftest import (
    POSTGRES_URL,
    Api,
    free_port,
    make_backend,
    start_server,
    stop_server,
)
from tests.jobs_support import wait_for

needs_postgres = pytest.mark.skipif(not POSTGRES_URL, reason="cutting a database off needs CONVMEM_TEST_POSTGRES_URL")


def refused_connection_error() -> OperationalError:
    """What psycopg raises when no PostgreSQL listens: a real failed connection."""
    engine = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/gone")
    try:
        with pytest.raises(OperationalError) as raised:
            engine.connect()
    finally:
        engine.dispose()
    return raised.value


@contextmanager
def locked_sqlite(path):
    """An SQLite database another connection holds the write lock of."""
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE IF NOT EXISTS t (x)")
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield f"sqlite:///{path}"
    finally:
        holder.close()


def locked_database_error(path) -> OperationalError:
    """What SQLite raises once its busy timeout (here none) is over: "database is locked"."""
    with locked_sqlite(path) as url:
        engine = create_engine(url, connect_args={"timeout": 0})
        try:
            with pytest.raises(OperationalError) as raised, engine.connect() as conn:
                conn.exec_driver_sql("INSERT INTO t VALUES (1)")
        finally:
            engine.dispose()
    return raised.value


def test_connection_level_errors_are_unavailable_and_others_are_not(backend, tmp_path):
    assert is_unavailable(refused_connection_error())
    assert is_unavailable(locked_database_error(tmp_path / "locked.db"))
    with pytest.raises(DBAPIError) as missing_table, backend.db.reading() as session:
        session.execute(text("SELECT * FROM no_such_table"))
    with pytest.raises(IntegrityError) as duplicate, backend.db.writing() as session:
        session.add(Account(sid="AC" + "0" * 32, token_hash="x"))
        session.add(Account(sid="AC" + "0" * 32, token_hash="x"))
    for error in (missing_table.value, duplicate.value, ValueError("no")):
        assert not is_unavailable(error) and not is_transient(error)


@contextmanager
def admin_connection():
    engine = create_engine(normalise_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def terminate_connections(conn, database: str) -> None:
    conn.execute(
        text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name AND pid <> pg_backend_pid()"),
        {"name": database},
    )


@contextmanager
def cut_off(database_url: str):
    """The database refuses connections and its open ones are terminated, until the block ends."""
    name = make_url(database_url).database
    with admin_connection() as conn:
        conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
        terminate_connections(conn, name)
        try:
            yield
        finally:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))


@needs_postgres
def test_an_unreachable_database_answers_503_and_recovers_by_itself(tmp_path):
    own, cleanup = make_backend("postgresql", tmp_path)
    with own.db.writing() as session:
        account = create_account(session, "outage")
    server = start_server(own, tmp_path)
    try:
        api = Api(server.base_url, account)
        store = api.create_store()
        with cut_off(own.url):
            for response in (
                api.get("/v1/ControlPlane/Stores"),
                api.get(f"/v1/Stores/{store}/Profiles"),
                api.post(f"/v1/Stores/{store}/Profiles", json={"traits": {"Contact": {"email": "a@example.com"}}}),
            ):
                assert response.status_code == 503, response.text
                assert int(response.headers["Retry-After"]) > 0
                assert response.json() == {
                    "code": 20503,
                    "message": response.json()["message"],
                    "more_info": "https://www.twilio.com/docs/api/errors/20503",
                    "status": 503,
                }
        wait_for(lambda: api.get("/v1/ControlPlane/Stores").status_code == 200, timeout=30)
        assert api.get(f"/v1/Stores/{store}/Profiles").status_code == 200
    finally:
        stop_server(server)
        cleanup()
