"""What control-plane routes share: ``If-Match``, paging bounds, and the 202 of a write."""

from dataclasses import replace

from fastapi import Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from convmem.database.tables import Operation
from convmem.web.errors import ApiError, Code
from convmem.web.pagination import PageRequest, parse_page_request
from convmem.web.urls import absolute

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


def operation_url(request: Request, operation_sid: str) -> str:
    return absolute(request, f"/v1/ControlPlane/Operations/{operation_sid}")


class OperationAccepted(BaseModel):
    """The 202 body of a control-plane write (headers: ``Operation-Id``, ``Location``, ``Retry-After``)."""

    message: str
    statusUrl: str


def accepted(request: Request, operation: Operation, message: str) -> JSONResponse:
    """The contract's 202 for a control-plane write: where to follow its operation."""
    url = operation_url(request, operation.sid)
    return JSONResponse(
        {"message": message, "statusUrl": url},
        status_code=202,
        headers={"Operation-Id": operation.sid, "Location": url, "Retry-After": "1"},
    )
