"""``/v1/ControlPlane/Stores``, and the paging and headers every control-plane resource shares."""

from dataclasses import replace

from fastapi import APIRouter, Body, Depends, Header, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select

from convmem.auth import Principal, current_principal
from convmem.errors import ApiError, Code
from convmem.etags import check_if_match, etag
from convmem.imports import service as imports
from convmem.operations.endpoints import accepted
from convmem.operations.service import record_completed
from convmem.pagination import PageRequest, keyset, page_body, parse_page_request
from convmem.params import STORE_ID
from convmem.stores import service
from convmem.stores.schemas import PatchStoreRequest, ServiceRequest, StoreBody
from convmem.tables import Store

router = APIRouter(prefix="/v1/ControlPlane/Stores", tags=["Store"])
IF_MATCH = Header(default=None, alias="If-Match", max_length=100)
CONTROL_PLANE_MAX_PAGE_SIZE = 100


def control_plane_page(
    request: Request, *, cursor_type: type, max_items: int = CONTROL_PLANE_MAX_PAGE_SIZE, filters: dict | None = None
) -> PageRequest:
    """pageSize 1..100 as the contract allows, clamped to the response array's own cap (``max_items``).

    Tokens are only checked for shape by the pagination module, so a token minted by a different list
    (or by hand) is refused here before its cursor reaches a comparison of the wrong type.
    """
    page = parse_page_request(request, max_size=CONTROL_PLANE_MAX_PAGE_SIZE, filters=filters)
    if page.cursor is not None and (type(page.cursor) is not cursor_type):
        raise ApiError(400, Code.INVALID_PAGE_TOKEN, "pageToken was not issued for this list")
    return replace(page, size=max(1, min(page.size, max_items)))


def store_body(store: Store) -> dict:
    body = StoreBody(
        id=store.sid,
        displayName=store.display_name,
        description=store.description,
        status=store.status,
        intelligenceServiceId=None,
        version=store.version,
    ).model_dump(exclude_none=True)
    body["intelligenceServiceId"] = None  # required by the contract, null until provisioned
    return body


@router.post("", status_code=202)
def create_store(request: Request, body: ServiceRequest = Body(), principal: Principal = Depends(current_principal)):
    with request.app.state.db.writing() as session:
        store = service.create_store(session, principal, body.displayName, body.description)
        operation = record_completed(session, principal, "CreateStore", store.sid, f"/v1/ControlPlane/Stores/{store.sid}")
    return accepted(request, operation, "Memory Store creation accepted for processing.")


@router.get("")
def list_stores(request: Request, principal: Principal = Depends(current_principal)):
    page_request = control_plane_page(request, cursor_type=int)
    with request.app.state.db.reading() as session:
        stmt = select(Store.id, Store.sid).where(Store.account_id == principal.account_id)
        page = keyset(session, stmt, [Store.id], page_request, key_of=lambda row: row.id)
    return page_body("stores", [row.sid for row in page.items], page)


@router.get("/{storeId}")
def fetch_store(request: Request, storeId: str = STORE_ID, principal: Principal = Depends(current_principal)):
    with request.app.state.db.reading() as session:
        store = service.get_owned_store(session, principal, storeId)
    return JSONResponse(store_body(store), headers={"ETag": etag(store.sid, store.version)})


@router.patch("/{storeId}", status_code=202)
def patch_store(
    request: Request,
    storeId: str = STORE_ID,
    body: PatchStoreRequest | None = Body(default=None),
    if_match: str | None = IF_MATCH,
    principal: Principal = Depends(current_principal),
):
    db = request.app.state.db
    with db.writing() as session:
        store = service.lock_owned_store(db, session, principal, storeId)
        check_if_match(if_match, store.sid, store.version)
        service.patch_store(session, principal, store, body.model_dump(exclude_unset=True) if body else {})
        operation = record_completed(session, principal, "PatchStore", store.sid, f"/v1/ControlPlane/Stores/{store.sid}")
    return accepted(request, operation, "Memory Store update request accepted for processing.")


@router.delete("/{storeId}", status_code=202)
def delete_store(request: Request, storeId: str = STORE_ID, principal: Principal = Depends(current_principal)):
    db = request.app.state.db
    with db.writing() as session:
        store = service.lock_owned_store(db, session, principal, storeId)
        uploads = imports.unfinished_uploads(session, store.id)
        service.delete_store(session, store)
        operation = record_completed(session, principal, "DeleteStore", store.sid, None)
    imports.discard_uploads(uploads)
    return accepted(request, operation, "Memory Store deletion request accepted for processing.")
