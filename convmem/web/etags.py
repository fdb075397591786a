"""Optimistic concurrency: ETags on fetch, If-Match on change (412 when stale)."""

import base64
import json

from convmem.web.errors import ApiError, Code


def etag(resource_id: str, version: int) -> str:
    """Quoted base64url of ``{"id": …, "v": …}``, the shape of the contract's example."""
    raw = json.dumps({"id": resource_id, "v": version}, separators=(",", ":")).encode()
    return '"' + base64.urlsafe_b64encode(raw).rstrip(b"=").decode() + '"'


def check_if_match(if_match: str | None, resource_id: str, version: int) -> None:
    """Accept a missing header, ``*``, or the current tag quoted or not; else 412."""
    if if_match is None or if_match.strip() == "*":
        return
    current = etag(resource_id, version).strip('"')
    offered = [tag.strip().removeprefix("W/").strip('"') for tag in if_match.split(",")]
    if current not in offered:
        raise ApiError(
            412, Code.PRECONDITION_FAILED, "If-Match does not match the current ETag: the resource has changed"
        )
