"""Merged profiles stay addressable: reads answer 301, writes 308, pointing at the canonical id."""

from fastapi import Request
from fastapi.responses import JSONResponse

from convmem.web.urls import public_base


def moved_response(request: Request, requested_sid: str, canonical_sid: str) -> JSONResponse:
    """301 for GET, 308 for everything else; same path and query with the canonical id."""
    status = 301 if request.method in ("GET", "HEAD") else 308
    path = request.url.path.replace(requested_sid, canonical_sid)
    uri = public_base(request) + path + (f"?{request.url.query}" if request.url.query else "")
    return JSONResponse(
        {"message": "This resource has moved.", "uri": uri},
        status_code=status,
        headers={"Location": uri, "Canonical-Profile-Id": canonical_sid},
    )
