"""``/v1/ControlPlane/Operations`` and the 202 answer every control-plane write gives."""

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse

from convmem.bulk import service as bulk_service
from convmem.database.tables import Operation
from convmem.kit.ids import Prefix
from convmem.kit.timefmt import iso
from convmem.operations import service
from convmem.operations.schemas import OperationResult, OperationStatus
from convmem.web.auth import Principal, current_principal
from convmem.web.urls import absolute

router = APIRouter(prefix="/v1/ControlPlane/Operations", tags=["Operations"])


def status_url(request: Request, operation: Operation) -> str:
    return absolute(request, f"/v1/ControlPlane/Operations/{operation.sid}")


def accepted(request: Request, operation: Operation, message: str) -> JSONResponse:
    url = status_url(request, operation)
    return JSONResponse(
        {"message": message, "statusUrl": url},
        status_code=202,
        headers={"Operation-Id": operation.sid, "Location": url, "Retry-After": "1"},
    )


@router.get("/{operationId}", response_model=OperationStatus, response_model_exclude_none=True)
def fetch_operation(
    request: Request,
    operationId: str = Path(max_length=512),
    principal: Principal = Depends(current_principal),
):
    if operationId.startswith(f"{Prefix.BULK.value}_"):
        return _bulk_operation(request, principal, operationId)
    with request.app.state.db.reading() as session:
        operation = service.get_operation(session, principal, operationId)
    body = OperationStatus(
        operationId=operation.sid,
        status=operation.status,
        createdAt=iso(operation.created_at),
        statusUrl=status_url(request, operation),
        completedAt=iso(operation.completed_at),
        result=OperationResult(id=operation.resource_id) if operation.status == "COMPLETED" and operation.resource_id else None,
        error=operation.error,
        resultUrl=absolute(request, operation.result_path) if operation.result_path else None,
    )
    return JSONResponse(body.model_dump(exclude_none=True), headers={"Operation-Id": operation.sid, "Retry-After": "1"})


def _bulk_operation(request: Request, principal: Principal, operation_sid: str) -> JSONResponse:
    body, store_sid = bulk_service.as_operation(request.app.state.db, principal, operation_sid)
    body["statusUrl"] = absolute(request, f"/v1/ControlPlane/Operations/{operation_sid}")
    body["resultUrl"] = absolute(request, f"/v1/Stores/{store_sid}/Profiles/Bulk/{operation_sid}")
    return JSONResponse(body, headers={"Operation-Id": operation_sid, "Retry-After": "1"})
