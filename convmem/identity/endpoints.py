"""``/v1/ControlPlane/Stores/{storeId}/IdentityResolutionSettings``."""

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse

from convmem.database.tables import Store
from convmem.identity import service
from convmem.identity.schemas import IdentityResolutionSettingsCore
from convmem.operations.service import record_completed
from convmem.web.auth import Principal, current_principal
from convmem.web.controlplane import IF_MATCH, accepted
from convmem.web.dependencies import find_owned_store, lock_owned_store
from convmem.web.etags import check_if_match, etag
from convmem.web.params import STORE_ID

router = APIRouter(prefix="/v1/ControlPlane/Stores/{storeId}/IdentityResolutionSettings", tags=["IdentityResolutionSettings"])


def settings_path(store_sid: str) -> str:
    return f"/v1/ControlPlane/Stores/{store_sid}/IdentityResolutionSettings"


def _tagged_id(store: Store) -> str:
    # Short enough that the quoted tag fits If-Match's 100 characters.
    return f"{store.sid}/irs"


@router.get("")
def fetch_settings(request: Request, storeId: str = STORE_ID, principal: Principal = Depends(current_principal)):
    with request.app.state.db.reading() as session:
        store = find_owned_store(session, principal, storeId)
    body = service.current_settings(store).model_dump() | {"version": store.identity_settings_version}
    return JSONResponse(body, headers={"ETag": etag(_tagged_id(store), store.identity_settings_version)})


@router.put("", status_code=202)
def update_settings(
    request: Request,
    storeId: str = STORE_ID,
    body: IdentityResolutionSettingsCore = Body(),
    if_match: str | None = IF_MATCH,
    principal: Principal = Depends(current_principal),
):
    db = request.app.state.db
    with db.writing() as session:
        store = lock_owned_store(db, session, principal, storeId)
        check_if_match(if_match, _tagged_id(store), store.identity_settings_version)
        service.replace_settings(session, store, body)
        operation = record_completed(
            session, principal, "UpdateIdentityResolutionSettings", store.sid, settings_path(store.sid)
        )
    return accepted(request, operation, "Identity Resolution Settings accepted for processing.")
