"""``/v1/ControlPlane/Stores``."""

from fastapi import APIRouter, Body, Request
from fastapi.responses import JSONResponse

from convmem.database.engine import after_commit
from convmem.database.tables import Store
from convmem.operations.service import record_completed
from convmem.stores import service
from convmem.stores.schemas import PatchStoreRequest, ServiceRequest, StoreBody
from convmem.web.controlplane import IF_MATCH, accepted, control_plane_page
from convmem.web.dependencies import (
    Caller,
    LockedStore,
    OwnedStore,
    ReadSession,
    WriteSession,
)
from convmem.web.etags import check_if_match, etag
from convmem.web.pagination import page_body

router = APIRouter(prefix="/v1/ControlPlane/Stores", tags=["Store"])


def store_body(store: Store) -> StoreBody:
    # intelligenceServiceId is required by the contract, null until provisioned.
    return StoreBody(
        id=store.sid,
        displayName=store.display_name,
        description=store.description,
        status=store.status,
        intelligenceServiceId=None,
        version=store.version,
    )


def store_path(store_sid: str) -> str:
    return f"/v1/ControlPlane/Stores/{store_sid}"


@router.post("", status_code=202)
def create_store(request: Request, principal: Caller, session: WriteSession, body: ServiceRequest = Body()):
    store = service.create_store(session, principal, body.displayName, body.description)
    operation = record_completed(session, principal, "CreateStore", store.sid, store_path(store.sid))
    return accepted(request, operation, "Memory Store creation accepted for processing.")


@router.get("")
def list_stores(request: Request, principal: Caller, session: ReadSession):
    page = service.list_page(session, principal, control_plane_page(request, cursor_type=int))
    return page_body("stores", [row.sid for row in page.items], page)


@router.get("/{storeId}", response_model=StoreBody)
def fetch_store(store: OwnedStore):
    body = store_body(store).model_dump(exclude_none=True) | {"intelligenceServiceId": None}
    return JSONResponse(body, headers={"ETag": etag(store.sid, store.version)})


@router.patch("/{storeId}", status_code=202)
def patch_store(
    request: Request,
    principal: Caller,
    session: WriteSession,
    store: LockedStore,
    body: PatchStoreRequest | None = Body(default=None),
    if_match: str | None = IF_MATCH,
):
    check_if_match(if_match, store.sid, store.version)
    service.patch_store(session, principal, store, body.model_dump(exclude_unset=True) if body else {})
    operation = record_completed(session, principal, "PatchStore", store.sid, store_path(store.sid))
    return accepted(request, operation, "Memory Store update request accepted for processing.")


@router.delete("/{storeId}", status_code=202)
def delete_store(request: Request, principal: Caller, session: WriteSession, store: LockedStore):
    for hook in request.app.state.store_deletion_hooks:
        after_commit(session, hook(session, store.id))
    service.delete_store(session, store)
    operation = record_completed(session, principal, "DeleteStore", store.sid, None)
    return accepted(request, operation, "Memory Store deletion request accepted for processing.")
