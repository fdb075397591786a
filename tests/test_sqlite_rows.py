"""``database.sqlite_rows`` stores what SQLAlchemy's own insert stores, with the ids SQLite gives."""

import sqlite3
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import insert, select

from convmem.accounts.service import create_account
from convmem.database import sqlite_rows
from convmem.database.engine import Database
from convmem.database.migrate import upgrade
from convmem.database.tables import Account, Profile, ProfileHistory, ProfileIdentifier
from convmem.stores.service import create_store
from convmem.web.auth import Principal

NOW = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=timezone.utc)
ELSEWHERE = datetime(2026, 3, 1, 14, 30, 15, tzinfo=timezone(timedelta(hours=2)))
TRAITS = {"Contact": {"firstName": "Zoë", "note": "\u2028 \"quoted\" \\"}, "Big": {"n": 2**70, "f": 1.5, "ok": True}}


@pytest.fixture
def db(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'rows.db'}")
    upgrade(database)
    yield database
    database.dispose()


@pytest.fixture
def store_pk(db) -> int:
    with db.writing() as session:
        credentials = create_account(session, "rows")
        account = session.scalar(select(Account).where(Account.sid == credentials.account_sid))
        return create_store(session, Principal(account.id, account.sid), "rows", None).id


def _stored(db: Database, table: str, row_id: int, unlike: str) -> list[tuple[str, object]]:
    """The row as SQLite holds it: each column's storage class and value, but for its id and
    the column ``unlike`` (unique, so it differs between the rows compared)."""
    connection = sqlite3.connect(db.engine.url.database)
    try:
        names = [column[1] for column in connection.execute(f"PRAGMA table_info({table})") if column[1] not in ("id", unlike)]
        selected = ", ".join(f"typeof({name}), {name}" for name in names)
        row = connection.execute(f"SELECT {selected} FROM {table} WHERE id = ?", (row_id,)).fetchone()
    finally:
        connection.close()
    return list(zip(row[::2], row[1::2]))


def _assert_stored_alike(db: Database, table, rows: list[dict], unlike: str) -> None:
    """``rows`` inserted through SQLAlchemy Core and again (``unlike`` changed) through
    ``insert_rows`` are stored alike."""
    again = [{**row, unlike: f"{row[unlike]}-again"} for row in rows]
    with db.writing() as session:
        core = list(session.scalars(insert(table).returning(table.c.id), rows))
        fast = list(sqlite_rows.insert_rows(session, table, again, allocate_ids=True))
    assert [_stored(db, table.name, pk, unlike) for pk in fast] == [_stored(db, table.name, pk, unlike) for pk in core]


def _profile(store_pk: int, sid: str, traits: dict | None = None) -> dict:
    meta = {group: {name: {"at": "2026-03-01T12:30:15.123456+00:00", "source": "import:x"} for name in named} for group, named in (traits or {}).items()}
    return {"sid": sid, "store_id": store_pk, "traits": traits or {}, "trait_meta": meta, "created_at": NOW, "updated_at": ELSEWHERE}


def test_profile_rows_are_stored_as_sqlalchemy_stores_them(db, store_pk):
    _assert_stored_alike(db, Profile.__table__, [_profile(store_pk, "mem_profile_a", TRAITS), _profile(store_pk, "mem_profile_b")], "sid")


def test_identifier_and_history_rows_are_stored_as_sqlalchemy_stores_them(db, store_pk):
    with db.writing() as session:
        (profile_pk,) = sqlite_rows.insert_rows(session, Profile.__table__, [_profile(store_pk, "mem_profile_a")], allocate_ids=True)
    identifier = {"store_id": store_pk, "profile_id": profile_pk, "origin_profile_id": profile_pk, "id_type": "email", "source": "import:x"}
    _assert_stored_alike(
        db, ProfileIdentifier.__table__,
        [{**identifier, "value": "a@example.com", "added_at": NOW}, {**identifier, "value": "b@example.com", "added_at": ELSEWHERE}],
        "value",
    )
    event = {"store_id": store_pk, "profile_id": profile_pk, "source": "import:x", "via": None}
    _assert_stored_alike(
        db, ProfileHistory.__table__,
        [
            {**event, "at": NOW, "kind": "profile", "action": "created", "subject_group": None, "subject_name": None,
             "old_value": None, "new_value": {"traits": TRAITS, "identifiers": [["email", "a@example.com"]]}},
            {**event, "at": ELSEWHERE, "kind": "trait", "action": "changed", "subject_group": "Big", "subject_name": "ok",
             "old_value": False, "new_value": 2**70, "via": "mem_profile_b"},
        ],
        "source",
    )


def test_allocated_ids_are_the_ones_sqlite_would_give(db, store_pk):
    def profile(sid: str) -> dict:
        return _profile(store_pk, sid)

    with db.writing() as session:
        table = Profile.__table__
        first = list(session.scalars(insert(table).returning(table.c.id), [profile("p1"), profile("p2"), profile("p3")]))
        session.execute(table.delete().where(table.c.id == first[-1]))
        allocated = list(sqlite_rows.insert_rows(session, table, [profile("p4"), profile("p5")], allocate_ids=True))
        after = session.scalar(insert(table).returning(table.c.id), profile("p6"))
        stored = dict(session.execute(select(table.c.sid, table.c.id)).tuples().all())
    assert allocated == [first[-1], first[-1] + 1]
    assert after == allocated[-1] + 1
    assert stored["p4"] == allocated[0] and stored["p5"] == allocated[1]
