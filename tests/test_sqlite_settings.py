"""SQLite connection settings the deployment chooses."""

from convmem.config import Settings
from convmem.database.engine import Database


def test_the_wal_autocheckpoint_is_set_on_each_connection(tmp_path, monkeypatch):
    monkeypatch.setenv("CONVMEM_SQLITE_WAL_AUTOCHECKPOINT", "12345")
    database = Database(f"sqlite:///{tmp_path / 'wal.db'}", sqlite_wal_autocheckpoint=Settings().sqlite_wal_autocheckpoint)
    try:
        with database.reading() as session:
            assert session.connection().exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 12345
    finally:
        database.dispose()
