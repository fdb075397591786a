"""``/v1/Stores/{storeId}/Profiles/Imports[/{importId}[/Errors]]`` and the upload URL ``/v1/Uploads/{importId}``."""

from collections.abc import Callable
from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from convmem.background.blobstore import BlobStore, LocalBlobs, UploadRejected
from convmem.imports import service
from convmem.imports.schemas import (
    CreateImportRequest,
    ImportBody,
    ImportCreated,
    ImportList,
    ImportProgress,
    ImportSummary,
    UploadReceived,
)
from convmem.kit.timefmt import iso
from convmem.web.dependencies import (
    AppDatabase,
    Caller,
    LockedStore,
    OwnedStore,
    ReadSession,
    WriteSession,
)
from convmem.web.errors import ApiError, Code, not_found
from convmem.web.pagination import page_body, parse_page_request
from convmem.web.params import IMPORT_ID
from convmem.web.urls import absolute, public_base

router = APIRouter(prefix="/v1/Stores/{storeId}/Profiles/Imports", tags=["Profile"])
uploads_router = APIRouter(prefix="/v1/Uploads", tags=["Uploads"])
# The contract caps the imports array at 100 although pageSize goes to 1000.
MAX_LISTED = 100


def get_blob_store(request: Request) -> BlobStore:
    return request.app.state.blobs


Blobs = Annotated[BlobStore, Depends(get_blob_store)]


@router.post("", status_code=201, response_model=ImportCreated)
def create_import(
    request: Request, principal: Caller, session: WriteSession, store: LockedStore, blobs: Blobs, body: CreateImportRequest = Body()
):
    imported = service.create(session, principal, store, body)
    url = blobs.upload_url(public_base(request), imported.sid, imported.blob_key, imported.file_size)
    return ImportCreated(importId=imported.sid, url=url)


@router.get("", response_model=ImportList)
def list_imports(request: Request, session: ReadSession, store: OwnedStore):
    page_request = parse_page_request(request, max_size=1000)
    page = service.list_page(session, store, replace(page_request, size=min(page_request.size, MAX_LISTED)))
    return page_body("imports", [row.sid for row in page.items], page)


@router.get("/{importId}", response_model=ImportBody, response_model_exclude_none=True)
def fetch_import(request: Request, session: ReadSession, store: OwnedStore, importId: str = IMPORT_ID):
    imported = service.get(session, store, importId)
    return ImportBody(
        importId=imported.sid,
        status=imported.status,
        filename=imported.filename,
        createdAt=iso(imported.created_at),
        updatedAt=iso(imported.updated_at),
        fileSize=imported.file_size,
        columnMappings=imported.column_mappings,
        dataMappingId=imported.data_mapping_sid,
        summary=ImportSummary(errors=imported.errors, warnings=imported.warnings),
        progress=ImportProgress(processedRows=imported.processed_rows, totalRows=imported.total_rows),
        errorReportUrl=absolute(request, f"/v1/Stores/{store.sid}/Profiles/Imports/{imported.sid}/Errors"),
        failureReason=imported.failure or None,
    )


@router.get("/{importId}/Errors")
def import_errors(db: AppDatabase, session: ReadSession, store: OwnedStore, importId: str = IMPORT_ID):
    import_pk = service.get(session, store, importId).id
    # The report streams after the request's transaction has ended; it reads with its own.
    return StreamingResponse(
        service.error_report(db, import_pk),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{importId}-errors.csv"'},
    )


@uploads_router.put("/{importId}", response_model=UploadReceived)
async def upload(
    request: Request,
    db: AppDatabase,
    blobs: Blobs,
    importId: str = IMPORT_ID,
    expires: str = Query(default=""),
    signature: str = Query(default=""),
):
    """The pre-signed upload URL convmem serves itself: the signature is the credential.

    Two short transactions instead of one for the request: the body (up to 100 MiB) streams
    in between, and a transaction held across it would hold a snapshot, and on SQLite the
    writer lock, for as long as the upload takes."""
    imported = await run_in_threadpool(_in_transaction, db.reading, service.awaiting_upload, importId)
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
    if not await run_in_threadpool(_in_transaction, db.writing, service.upload_received, imported):
        # A second PUT that raced the import: its job has read (and deleted) the first file.
        await run_in_threadpool(blobs.delete, imported.blob_key)
        raise ApiError(409, Code.INVALID_UPLOAD, "A file was already uploaded for this import; the URL takes one PUT")
    return UploadReceived()


def _in_transaction(transaction: Callable, action: Callable, *args):
    """``action(session, *args)`` in a transaction of its own (``db.reading`` or ``db.writing``)."""
    with transaction() as session:
        return action(session, *args)
