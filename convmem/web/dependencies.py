"""What every route asks for: one unit of work, the caller, and the caller's store.

A request gets one database session from a dependency and never opens another:

* ``ReadSession`` reads (SQLite: a deferred transaction beside the writers, WAL).
* ``WriteSession`` is one write transaction (SQLite: ``BEGIN IMMEDIATE`` behind the process's
  writer mutex), committed when the handler returns and rolled back when it raises. It begins
  by reserving the request's ``Idempotency-Key``, if any (``web/idempotency.py``).

Both are ``scope="function"``: they end when the handler ends, *before* the answer is sent,
so a 2xx is only ever sent for a committed write, and a failed commit is answered as an error.

``OwnedStore`` is the caller's store for reading; ``LockedStore`` is the caller's store in the
write transaction, locked against the store's other writers (PostgreSQL: an advisory lock per
store; SQLite: the write transaction itself) and read as it is once the lock is held.
``SharedStore`` holds that PostgreSQL lock in shared mode instead, beside other shared holders:
only for the writes that go through ``profiles.writer.write`` alone (profile creates, trait
patches, added identifiers), which lock the identifiers and profiles they touch themselves
(``profiles/writer.py``). Everything else keeps ``LockedStore``.
"""

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import ObjectDeletedError

from convmem.config import Settings
from convmem.database.engine import Database
from convmem.database.tables import Store
from convmem.kit.clock import WriteClock
from convmem.web.auth import Principal, current_principal
from convmem.web.errors import not_found
from convmem.web.idempotency import reserve as reserve_idempotency_key
from convmem.web.params import STORE_ID


def get_database(request: Request) -> Database:
    return request.app.state.db


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_write_clock(request: Request) -> WriteClock:
    return request.app.state.clock


def read_session(db: Annotated[Database, Depends(get_database)]) -> Iterator[Session]:
    with db.reading() as session:
        yield session


def write_session(
    request: Request, db: Annotated[Database, Depends(get_database)], principal: Annotated[Principal, Depends(current_principal)]
) -> Iterator[Session]:
    with db.writing() as session:
        # An Idempotency-Key commits with the write it guards, or rolls back with it.
        reserve_idempotency_key(session, request, principal.account_id)
        yield session


AppDatabase = Annotated[Database, Depends(get_database)]
AppSettings = Annotated[Settings, Depends(get_settings)]
WriteClockDep = Annotated[WriteClock, Depends(get_write_clock)]
ReadSession = Annotated[Session, Depends(read_session, scope="function")]
WriteSession = Annotated[Session, Depends(write_session, scope="function")]
Caller = Annotated[Principal, Depends(current_principal)]

# Prebuilt: every store-scoped request runs it.
_OWNED_STORE = select(Store).where(Store.sid == bindparam("sid"), Store.account_id == bindparam("account"))


def find_owned_store(session: Session, principal: Principal, store_sid: str) -> Store:
    """The store, if it belongs to the caller's account; another account's store is 404 too."""
    store = session.scalar(_OWNED_STORE, {"sid": store_sid, "account": principal.account_id})
    if store is None:
        raise not_found(f"Store '{store_sid}' was not found")
    return store


def lock_owned_store(db: Database, session: Session, principal: Principal, store_sid: str, *, shared: bool = False) -> Store:
    """The caller's store, locked against other writers of it (``shared``: against those
    holding it exclusively) and as it is once the lock is held. On SQLite the write
    transaction began holding the lock, so the first read is current."""
    store = find_owned_store(session, principal, store_sid)
    if shared:
        db.share_store(session, store.id)
    else:
        db.lock_store(session, store.id)
    if not db.is_sqlite:
        try:
            session.refresh(store)
        except ObjectDeletedError:
            raise not_found(f"Store '{store_sid}' was not found") from None
    return store


def owned_store(principal: Caller, session: ReadSession, storeId: str = STORE_ID) -> Store:
    return find_owned_store(session, principal, storeId)


def locked_store(principal: Caller, db: AppDatabase, session: WriteSession, storeId: str = STORE_ID) -> Store:
    return lock_owned_store(db, session, principal, storeId)


def shared_store(principal: Caller, db: AppDatabase, session: WriteSession, storeId: str = STORE_ID) -> Store:
    return lock_owned_store(db, session, principal, storeId, shared=True)


OwnedStore = Annotated[Store, Depends(owned_store)]
LockedStore = Annotated[Store, Depends(locked_store)]
SharedStore = Annotated[Store, Depends(shared_store)]
