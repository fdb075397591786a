"""``PUT /v1/Stores/{storeId}/Profiles/Bulk`` and the batch status ``GET …/Bulk/{operationId}``."""

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse

from convmem.bulk import service
from convmem.bulk.schemas import BulkAccepted, UpdateProfilesBulkRequest
from convmem.web.auth import Principal, current_principal
from convmem.web.params import BULK_ID, STORE_ID
from convmem.web.urls import absolute

router = APIRouter(prefix="/v1/Stores/{storeId}/Profiles/Bulk", tags=["Profile"])


def _status_url(request: Request, store_sid: str, operation_sid: str) -> str:
    return absolute(request, f"/v1/Stores/{store_sid}/Profiles/Bulk/{operation_sid}")


@router.put("", status_code=202)
def bulk_upsert(
    request: Request,
    storeId: str = STORE_ID,
    body: UpdateProfilesBulkRequest = Body(),
    principal: Principal = Depends(current_principal),
):
    operation_sid = service.accept(request.app.state.db, principal, storeId, body.profiles)
    url = _status_url(request, storeId, operation_sid)
    accepted = BulkAccepted(operationId=operation_sid, statusUrl=url)
    return JSONResponse(accepted.model_dump(), status_code=202, headers={"Operation-Id": operation_sid, "Location": url})


@router.get("/{operationId}")
def bulk_status(
    request: Request,
    storeId: str = STORE_ID,
    operationId: str = BULK_ID,
    principal: Principal = Depends(current_principal),
):
    url = _status_url(request, storeId, operationId)
    return service.status(request.app.state.db, principal, storeId, operationId, url)
