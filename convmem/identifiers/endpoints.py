"""``/v1/Stores/{storeId}/Profiles/{profileId}/Identifiers`` and ``…/Identifiers/{idType}``."""

from fastapi import APIRouter, Body, Path, Query

from convmem.identifiers import service
from convmem.identifiers.schemas import (
    Identifier,
    IdentifierAccepted,
    IdentifierList,
    IdentifierSet,
    IdentifierUpdate,
)
from convmem.profiles.context import load_context
from convmem.web.dependencies import (
    LockedStore,
    OwnedStore,
    ReadSession,
    SharedStore,
    WriteClockDep,
    WriteSession,
)
from convmem.web.params import PROFILE_ID

router = APIRouter(prefix="/v1/Stores/{storeId}/Profiles/{profileId}/Identifiers", tags=["Identifiers"])
ID_TYPE = Path(min_length=2, max_length=30)


def _as_schema(found: service.IdentifierSet) -> IdentifierSet:
    return IdentifierSet(idType=found.id_type, values=found.values)


@router.get("", response_model=IdentifierList)
def list_identifiers(session: ReadSession, store: OwnedStore, profileId: str = PROFILE_ID):
    # No meta: the contract pages nothing here, and a meta without ``key`` breaks the Python SDK.
    return IdentifierList(identifiers=[_as_schema(found) for found in service.list_sets(session, store.id, profileId)])


@router.post("", status_code=202, response_model=IdentifierAccepted)
def add_identifier(
    session: WriteSession, store: SharedStore, clock: WriteClockDep, profileId: str = PROFILE_ID, body: Identifier = Body()
):
    service.add(session, load_context(session, store), clock, profileId, body.idType, body.value)
    return IdentifierAccepted(message="Identifier accepted for processing.")


@router.get("/{idType}", response_model=IdentifierSet)
def fetch_identifier(session: ReadSession, store: OwnedStore, profileId: str = PROFILE_ID, idType: str = ID_TYPE):
    return _as_schema(service.fetch_set(session, load_context(session, store), profileId, idType))


@router.patch("/{idType}", status_code=202, response_model=IdentifierAccepted)
def patch_identifier(
    session: WriteSession,
    store: LockedStore,
    clock: WriteClockDep,
    profileId: str = PROFILE_ID,
    idType: str = ID_TYPE,
    body: IdentifierUpdate = Body(),
):
    ctx = load_context(session, store)
    service.replace_value(session, ctx, clock, profileId, idType, body.idType, body.oldValue, body.newValue)
    return IdentifierAccepted(message="Identifier update accepted.")


@router.delete("/{idType}", status_code=202, response_model=IdentifierAccepted)
def delete_identifier(
    session: WriteSession,
    store: LockedStore,
    clock: WriteClockDep,
    profileId: str = PROFILE_ID,
    idType: str = ID_TYPE,
    removeAll: bool = Query(default=False),
):
    service.remove(session, load_context(session, store), clock, profileId, idType, remove_all=removeAll)
    return IdentifierAccepted(message="Identifier removal accepted.")
