"""Store rules: the 15-store limit, unique names, what a new store starts with, and deleting one."""

from collections.abc import Callable

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from convmem.database.tables import Account, Store, TraitGroup, utcnow
from convmem.identity.schemas import DEFAULT_SETTINGS
from convmem.kit.ids import Prefix, new_id
from convmem.traitgroups.schemas import DEFAULT_CONTACT_GROUP
from convmem.web.auth import Principal
from convmem.web.errors import ApiError, Code, bad_request
from convmem.web.pagination import Page, PageRequest, keyset

MAX_STORES_PER_ACCOUNT = 15

# Another domain's part in deleting a store, wired in by the app: called in the deletion's
# transaction, it returns what to do once the deletion has committed (delete files, say).
StoreDeletionHook = Callable[[Session, int], Callable[[], None]]


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


def list_page(session: Session, principal: Principal, page: PageRequest) -> Page:
    stmt = select(Store.id, Store.sid).where(Store.account_id == principal.account_id)
    return keyset(session, stmt, [Store.id], page, key_of=lambda row: row.id)


def account_stores(session: Session, principal: Principal) -> list[Store]:
    """Every store of the account (at most ``MAX_STORES_PER_ACCOUNT``), oldest first."""
    return list(session.scalars(select(Store).where(Store.account_id == principal.account_id).order_by(Store.id)))
