"""The error contract: every 4xx/5xx body is ``{code, message, more_info, status}``.

Codes are stable; ``docs/errors.md`` lists them (a test keeps the two in step).
"""

import json
from enum import IntEnum


class Code(IntEnum):
    BAD_REQUEST = 20001
    MALFORMED_JSON = 20002
    UNAUTHORIZED = 20003
    FORBIDDEN = 20403
    METHOD_NOT_ALLOWED = 20004
    INVALID_ID = 20005
    HOST_NOT_ALLOWED = 20006
    NOT_FOUND = 20404
    CONFLICT = 20409
    PRECONDITION_FAILED = 20412
    PAYLOAD_TOO_LARGE = 20413
    UNSUPPORTED_MEDIA_TYPE = 20415
    TOO_MANY_REQUESTS = 20429
    HEADERS_TOO_LARGE = 20431
    INTERNAL = 20500
    SERVICE_UNAVAILABLE = 20503
    INVALID_PHONE = 21614
    LIMIT_EXCEEDED = 80001
    DUPLICATE_NAME = 80002
    UNKNOWN_TRAIT_GROUP = 80003
    UNKNOWN_TRAIT = 80004
    INVALID_TRAIT_VALUE = 80005
    NO_IDENTIFIER = 80006
    INVALID_IDENTIFIER = 80007
    UNKNOWN_ID_TYPE = 80008
    IDENTIFIER_CONFLICT = 80009
    INVALID_SETTINGS = 80010
    INVALID_UPLOAD = 80011
    INVALID_PAGE_TOKEN = 80012
    IDEMPOTENCY_KEY_REUSED = 80030
    IDEMPOTENCY_KEY_IN_USE = 80031


MORE_INFO = "https://www.twilio.com/docs/api/errors/{code}"


class ApiError(Exception):
    """An error the client caused or must know about, answered in the contract's format."""

    def __init__(self, status: int, code: Code | int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = int(code)
        # A message may quote the request; a lone surrogate from it would make the body unencodable.
        self.message = message[:1024].encode("utf-8", "replace").decode()
        self.headers = headers or {}

    def body(self) -> dict:
        return {
            "code": self.code,
            "message": self.message,
            "more_info": MORE_INFO.format(code=self.code),
            "status": self.status,
        }


def bad_request(message: str, code: Code = Code.BAD_REQUEST) -> ApiError:
    return ApiError(400, code, message)


def not_found(what: str = "The requested resource was not found") -> ApiError:
    return ApiError(404, Code.NOT_FOUND, what)


async def send_error(send, error: ApiError, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    """Answer ``error`` straight from an ASGI middleware, before any route runs."""
    body = json.dumps(error.body()).encode()
    start_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": error.status, "headers": start_headers + (headers or [])})
    await send({"type": "http.response.body", "body": body})
