"""Store rules: ownership, the 15-store limit, unique names, and what a new store starts with."""

from dataclasses import dataclass

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import ObjectDeletedError

from convmem.auth import Principal
from convmem.database import Database
from convmem.errors import ApiError, Code, bad_request, not_found
from convmem.identity.resolution import ResolutionSettings
from convmem.identity.schemas import DEFAULT_SETTINGS, IdentityResolutionSettingsCore
from convmem.ids import Prefix, new_id
from convmem.tables import Account, Store, TraitGroup, utcnow
from convmem.traitgroups.schemas import DEFAULT_CONTACT_GROUP
from convmem.traitgroups.service import store_schema

MAX_STORES_PER_ACCOUNT = 15


# Prebuilt: every data-plane request runs it.
_OWNED_STORE = select(Store).where(Store.sid == bindparam("sid"), Store.account_id == bindparam("account"))


def get_owned_store(session: Session, principal: Principal, store_sid: str) -> Store:
    """The store, if it belongs to the caller's account; another account's store is 404 too."""
    store = session.scalar(_OWNED_STORE, {"sid": store_sid, "account": principal.account_id})
    if store is None:
        raise not_found(f"Store '{store_sid}' was not found")
    return store


def lock_owned_store(db: Database, session: Session, principal: Principal, store_sid: str) -> Store:
    """The caller's store, locked against other writers of it and as it is once the lock is
    held. On SQLite the write transaction began holding the lock, so the first read is current."""
    store = get_owned_store(session, principal, store_sid)
    db.lock_store(session, store.id)
    if not db.is_sqlite:
        try:
            session.refresh(store)
        except ObjectDeletedError:
            raise not_found(f"Store '{store_sid}' was not found") from None
    return store


def create_store(session: Session, principal: Principal, display_name: str, description: str | None) -> Store:
    # Serialises store creation per account, so the count and name checks below hold (a no-op on SQLite,
    # where write transactions are already serial).
    session.execute(select(Account.id).where(Account.id == principal.account_id).with_for_update())
    count = session.scalar(select(func.count()).select_from(Store).where(Store.account_id == principal.account_id))
    if count >= MAX_STORES_PER_ACCOUNT:
        raise ApiError(
            400, Code.LIMIT_EXCEEDED, f"An account may have at most {MAX_STORES_PER_ACCOUNT} stores; delete one first"
        )
    ensure_unique_name(session, principal, display_name)
    now = utcnow()
    store = Store(
        sid=new_id(Prefix.STORE),
        account_id=principal.account_id,
        display_name=display_name,
        description=description,
        status="ACTIVE",
        version=1,
        identity_settings=DEFAULT_SETTINGS.model_dump(),
        identity_settings_version=1,
        created_at=now,
        updated_at=now,
    )
    session.add(store)
    _flush_naming(session, display_name)
    session.add(
        TraitGroup(
            store_id=store.id,
            name=DEFAULT_CONTACT_GROUP["displayName"],
            description=DEFAULT_CONTACT_GROUP["description"],
            traits=DEFAULT_CONTACT_GROUP["traits"],
            version=1,
            created_at=now,
            updated_at=now,
        )
    )
    return store


def ensure_unique_name(session: Session, principal: Principal, display_name: str, exclude: int | None = None) -> None:
    stmt = select(Store.id).where(Store.account_id == principal.account_id, Store.display_name == display_name)
    if exclude is not None:
        stmt = stmt.where(Store.id != exclude)
    if session.scalar(stmt) is not None:
        raise _duplicate_name(display_name)


def patch_store(session: Session, principal: Principal, store: Store, changes: dict) -> None:
    """Apply the fields sent (``description: null`` clears it); the version moves only on a real change."""
    if "displayName" in changes:
        if changes["displayName"] is None:
            raise bad_request("Invalid 'displayName': must not be null")
        ensure_unique_name(session, principal, changes["displayName"], exclude=store.id)
    display_name = changes.get("displayName", store.display_name)
    description = changes.get("description", store.description)
    if (display_name, description) == (store.display_name, store.description):
        return
    store.display_name, store.description = display_name, description
    store.version += 1
    store.updated_at = utcnow()
    _flush_naming(session, display_name)


def delete_store(session: Session, store: Store) -> None:
    """Everything in the store goes with it: its children reference it ON DELETE CASCADE."""
    session.execute(delete(Store).where(Store.id == store.id))


def _flush_naming(session: Session, display_name: str) -> None:
    """Flush, turning a lost race for the (account, displayName) unique key into the usual 400."""
    try:
        session.flush()
    except IntegrityError:
        raise _duplicate_name(display_name) from None


def _duplicate_name(display_name: str) -> ApiError:
    return bad_request(f"displayName '{display_name}' is already used by another store of this account", Code.DUPLICATE_NAME)


@dataclass(frozen=True)
class StoreContext:
    """What a data-plane write needs to know about its store."""

    pk: int
    sid: str
    settings: ResolutionSettings
    schema: dict[str, dict[str, dict]]


def load_context(session: Session, store: Store) -> StoreContext:
    settings = ResolutionSettings.from_contract(IdentityResolutionSettingsCore.model_validate(store.identity_settings))
    return StoreContext(pk=store.id, sid=store.sid, settings=settings, schema=store_schema(session, store.id))

