"""Merged profiles stay addressable: reads answer 301, writes 308, pointing at the canonical id."""

from fastapi import Request
from fastapi.responses import JSONResponse

from convmem.web.urls import public_base


class ProfileMoved(Exception):
    """Raised where a merged (alias) profile id is used; answered by ``moved_response``."""

    def __init__(self, requested_sid: str, canonical_sid: str):
        super().__init__(f"{requested_sid} was merged into {canonical_sid}")
        self.requested_sid = requested_sid
        self.canonical_sid = canonical_sid


def moved_response(request: Request, moved: ProfileMoved) -> JSONResponse:
    """301 for GET, 308 for everything else; same path and query with the canonical id."""
    status = 301 if request.method in ("GET", "HEAD") else 308
    path = request.url.path.replace(moved.requested_sid, moved.canonical_sid)
    uri = public_base(request) + path + (f"?{request.url.query}" if request.url.query else "")
    return JSONResponse(
        {"message": "This resource has moved.", "uri": uri},
        status_code=status,
        headers={"Location": uri, "Canonical-Profile-Id": moved.canonical_sid},
    )
