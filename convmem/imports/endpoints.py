"""``/v1/Stores/{storeId}/Profiles/Imports[/{importId}[/Errors]]`` and the upload URL ``/v1/Uploads/{importId}``."""

from dataclasses import replace

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from convmem.background.blobstore import LocalBlobs, UploadRejected, blob_store
from convmem.imports import service
from convmem.imports.schemas import CreateImportRequest
from convmem.web.auth import Principal, current_principal
from convmem.web.errors import ApiError, Code, not_found
from convmem.web.pagination import page_body, parse_page_request
from convmem.web.params import IMPORT_ID, STORE_ID
from convmem.web.urls import absolute, public_base

router = APIRouter(prefix="/v1/Stores/{storeId}/Profiles/Imports", tags=["Profile"])
uploads_router = APIRouter(prefix="/v1/Uploads", tags=["Uploads"])
# The contract caps the imports array at 100 although pageSize goes to 1000.
MAX_LISTED = 100


@router.post("", status_code=201)
def create_import(
    request: Request,
    storeId: str = STORE_ID,
    body: CreateImportRequest = Body(),
    principal: Principal = Depends(current_principal),
):
    created = service.create(request.app.state.db, principal, storeId, body, public_base(request))
    return JSONResponse(created.model_dump(), status_code=201)


@router.get("")
def list_imports(request: Request, storeId: str = STORE_ID, principal: Principal = Depends(current_principal)):
    page_request = parse_page_request(request, max_size=1000)
    page_request = replace(page_request, size=min(page_request.size, MAX_LISTED))
    page = service.list_page(request.app.state.db, principal, storeId, page_request)
    return page_body("imports", [row.sid for row in page.items], page)


@router.get("/{importId}")
def fetch_import(
    request: Request, storeId: str = STORE_ID, importId: str = IMPORT_ID, principal: Principal = Depends(current_principal)
):
    report = absolute(request, f"/v1/Stores/{storeId}/Profiles/Imports/{importId}/Errors")
    return service.fetch(request.app.state.db, principal, storeId, importId, report)


@router.get("/{importId}/Errors")
def import_errors(
    request: Request, storeId: str = STORE_ID, importId: str = IMPORT_ID, principal: Principal = Depends(current_principal)
):
    lines = service.error_report(request.app.state.db, principal, storeId, importId)
    return StreamingResponse(
        lines,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{importId}-errors.csv"'},
    )


@uploads_router.put("/{importId}")
async def upload(
    request: Request,
    importId: str = IMPORT_ID,
    expires: str = Query(default=""),
    signature: str = Query(default=""),
):
    """The pre-signed upload URL convmem serves itself: the signature is the credential."""
    blobs = blob_store(request.app.state.settings)
    db = request.app.state.db
    imported = await run_in_threadpool(service.awaiting_upload, db, importId)
    if not isinstance(blobs, LocalBlobs) or imported is None:
        raise not_found(f"No import '{importId}' is waiting for an upload here")
    try:
        blobs.check_signature(importId, imported.file_size, expires, signature)
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) != imported.file_size:
            raise UploadRejected(
                400, f"Content-Length is {declared} but the import declared a fileSize of {imported.file_size} bytes"
            )
        await blobs.receive(imported.blob_key, request.stream(), imported.file_size)
    except UploadRejected as rejected:
        raise ApiError(rejected.status, Code.INVALID_UPLOAD, str(rejected)) from None
    await run_in_threadpool(service.upload_received, db, imported)
    return JSONResponse({"message": "File received; the import will be processed."}, status_code=200)
