"""``PUT /v1/Stores/{storeId}/Profiles/Bulk`` and the batch status ``GET …/Bulk/{operationId}``."""

from fastapi import APIRouter, Body, Request, Response
from sqlalchemy.orm import Session

from convmem.bulk import service
from convmem.bulk.schemas import (
    BatchProgress,
    BatchSummary,
    BulkAccepted,
    BulkStatus,
    UpdateProfilesBulkRequest,
)
from convmem.database.tables import Operation
from convmem.kit.timefmt import iso
from convmem.web.auth import Principal
from convmem.web.dependencies import LockedStore, OwnedStore, ReadSession, WriteSession
from convmem.web.params import BULK_ID
from convmem.web.urls import absolute

router = APIRouter(prefix="/v1/Stores/{storeId}/Profiles/Bulk", tags=["Profile"])


def _status_path(store_sid: str, operation_sid: str) -> str:
    return f"/v1/Stores/{store_sid}/Profiles/Bulk/{operation_sid}"


@router.put("", status_code=202, response_model=BulkAccepted)
def bulk_upsert(
    request: Request, response: Response, session: WriteSession, store: LockedStore, body: UpdateProfilesBulkRequest = Body()
):
    operation_sid = service.accept(session, store, body.profiles)
    url = absolute(request, _status_path(store.sid, operation_sid))
    response.headers.update({"Operation-Id": operation_sid, "Location": url})
    return BulkAccepted(operationId=operation_sid, statusUrl=url)


@router.get("/{operationId}", response_model=BulkStatus, response_model_exclude_none=True)
def bulk_status(request: Request, session: ReadSession, store: OwnedStore, operationId: str = BULK_ID):
    batch = service.get(session, store, operationId)
    return BulkStatus(
        operationId=batch.sid,
        status=batch.status,
        createdAt=iso(batch.created_at),
        updatedAt=iso(batch.updated_at),
        statusUrl=absolute(request, _status_path(store.sid, batch.sid)),
        progress=BatchProgress(processed=batch.processed, total=batch.total),
        summary=BatchSummary(created=batch.created, updated=batch.updated, failed=batch.failed),
        results=batch.items,
        completedAt=iso(batch.updated_at) if batch.finished else None,
        error=batch.error,
    )


def batch_as_operation(session: Session, principal: Principal, operation_sid: str) -> Operation | None:
    """The Operations endpoint answers for batch ids too: the app hands it this lookup. The
    batch is seen as a control-plane operation (made for the answer, not stored) whose result
    is the batch itself; the per-item results stay on the batch's own status URL."""
    batch = service.find_for_account(session, principal.account_id, operation_sid)
    if batch is None:
        return None
    return Operation(
        sid=batch.sid,
        status=batch.status,
        created_at=batch.created_at,
        completed_at=batch.updated_at if batch.finished else None,
        resource_id=batch.sid,
        error=_failure(batch) if batch.status == "FAILED" else None,
        result_path=_status_path(batch.store_sid, batch.sid),
    )


def _failure(batch: service.Batch) -> dict:
    detail = batch.error or "The batch could not be processed"
    return {"title": "Bulk batch failed", "detail": detail[:1024]}
