"""``/v1/ControlPlane/Operations``: the status handle of every control-plane write.

Other domains whose work has an operation id of its own (bulk batches) answer here too,
through lookups the app wires in (``app.state.operation_lookups``): each takes the request's
session, the caller and the id, and returns the work as an ``Operation`` or ``None``. So
this domain knows nothing of theirs.
"""

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response
from sqlalchemy.orm import Session

from convmem.database.tables import Operation
from convmem.kit.timefmt import iso
from convmem.operations import service
from convmem.operations.schemas import OperationResult, OperationStatus
from convmem.web.auth import Principal
from convmem.web.controlplane import operation_url
from convmem.web.dependencies import Caller, ReadSession
from convmem.web.urls import absolute

OperationLookup = Callable[[Session, Principal, str], Operation | None]


def get_operation_lookups(request: Request) -> list[OperationLookup]:
    return request.app.state.operation_lookups


OperationLookups = Annotated[list[OperationLookup], Depends(get_operation_lookups)]

router = APIRouter(prefix="/v1/ControlPlane/Operations", tags=["Operations"])


@router.get("/{operationId}", response_model=OperationStatus, response_model_exclude_none=True)
def fetch_operation(
    request: Request,
    response: Response,
    principal: Caller,
    session: ReadSession,
    lookups: OperationLookups,
    operationId: str = Path(max_length=512),
):
    operation = _find(lookups, session, principal, operationId)
    response.headers.update({"Operation-Id": operation.sid, "Retry-After": "1"})
    return OperationStatus(
        operationId=operation.sid,
        status=operation.status,
        createdAt=iso(operation.created_at),
        statusUrl=operation_url(request, operation.sid),
        completedAt=iso(operation.completed_at),
        result=OperationResult(id=operation.resource_id) if operation.status == "COMPLETED" and operation.resource_id else None,
        error=operation.error,
        resultUrl=absolute(request, operation.result_path) if operation.result_path else None,
    )


def _find(lookups: list[OperationLookup], session: Session, principal: Principal, operation_sid: str) -> Operation:
    for lookup in lookups:
        operation = lookup(session, principal, operation_sid)
        if operation is not None:
            return operation
    return service.get_operation(session, principal, operation_sid)
