"""``/v1/Stores/{storeId}/Profiles/{profileId}/Identifiers`` and ``…/Identifiers/{idType}``."""

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.responses import JSONResponse

from convmem.identifiers import service
from convmem.identifiers.schemas import Identifier, IdentifierUpdate
from convmem.web.auth import Principal, current_principal
from convmem.web.params import PROFILE_ID, STORE_ID

router = APIRouter(prefix="/v1/Stores/{storeId}/Profiles/{profileId}/Identifiers", tags=["Identifiers"])
ID_TYPE = Path(min_length=2, max_length=30)


@router.get("")
def list_identifiers(
    request: Request,
    storeId: str = STORE_ID,
    profileId: str = PROFILE_ID,
    principal: Principal = Depends(current_principal),
):
    # No meta: the contract pages nothing here, and a meta without ``key`` breaks the Python SDK.
    return {"identifiers": service.list_sets(request.app.state.db, principal, storeId, profileId)}


@router.post("", status_code=202)
def add_identifier(
    request: Request,
    storeId: str = STORE_ID,
    profileId: str = PROFILE_ID,
    body: Identifier = Body(),
    principal: Principal = Depends(current_principal),
):
    service.add(request.app.state.db, principal, storeId, profileId, body.idType, body.value)
    return JSONResponse({"message": "Identifier accepted for processing."}, status_code=202)


@router.get("/{idType}")
def fetch_identifier(
    request: Request,
    storeId: str = STORE_ID,
    profileId: str = PROFILE_ID,
    idType: str = ID_TYPE,
    principal: Principal = Depends(current_principal),
):
    return service.fetch_set(request.app.state.db, principal, storeId, profileId, idType)


@router.patch("/{idType}", status_code=202)
def patch_identifier(
    request: Request,
    storeId: str = STORE_ID,
    profileId: str = PROFILE_ID,
    idType: str = ID_TYPE,
    body: IdentifierUpdate = Body(),
    principal: Principal = Depends(current_principal),
):
    service.replace_value(
        request.app.state.db, principal, storeId, profileId, idType, body.idType, body.oldValue, body.newValue
    )
    return JSONResponse({"message": "Identifier update accepted."}, status_code=202)


@router.delete("/{idType}", status_code=202)
def delete_identifier(
    request: Request,
    storeId: str = STORE_ID,
    profileId: str = PROFILE_ID,
    idType: str = ID_TYPE,
    removeAll: bool = Query(default=False),
    principal: Principal = Depends(current_principal),
):
    service.remove(request.app.state.db, principal, storeId, profileId, idType, remove_all=removeAll)
    return JSONResponse({"message": "Identifier removal accepted."}, status_code=202)
