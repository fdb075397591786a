"""Per-request plumbing in one ASGI middleware: request id, body limit, metrics, one log line;
and the log formatter that keeps credentials (always) and trait values (when asked) out of logs."""

import json
import logging
import re
import time
import uuid

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

from convmem.web.errors import ApiError, Code, send_error

log = logging.getLogger("convmem.access")

# Routes that stream their body to disk have their own, larger limit (import uploads: 100 MiB;
# the route also checks the import's declared fileSize).
STREAMED_BODY_LIMITS = {"/v1/Uploads/": 100 * 1024 * 1024}


def note_error(scope, message: str) -> None:
    """Keep an error's message for the request's log line."""
    scope.setdefault("state", {})["error_message"] = message


# Credentials: Basic/Bearer credentials, and the signatures and keys of pre-signed URLs.
_CREDENTIALS = [
    (re.compile(r"(?i)\b(basic|bearer)\s+[A-Za-z0-9+/=._~-]{8,}"), r"\1 [REDACTED]"),
    (re.compile(r"(?i)\b(signature|x-amz-signature|x-amz-credential|x-amz-security-token)=[^&\s\"']+"), r"\1=[REDACTED]"),
]
# Trait values reach logs quoted in messages ("Invalid phone '+1…'"), as SQL parameters in
# database errors, and as pydantic's input_value in tracebacks.
_VALUES = [
    (re.compile(r"\[parameters: [^\n]*"), "[parameters: [REDACTED]]"),
    (re.compile(r"input_value=.*?, input_type="), "input_value=[REDACTED], input_type="),
    (re.compile(r"'(?:[^'\\\n]|\\.)*'"), "'[REDACTED]'"),
    (re.compile(r"\\\"(?:[^\"\\\n]|\\[^\"])*\\\""), '\\"[REDACTED]\\"'),
]


def redact(text: str, *, values: bool) -> str:
    for pattern, replacement in _CREDENTIALS + (_VALUES if values else []):
        text = pattern.sub(replacement, text)
    return text


class RedactingFormatter(logging.Formatter):
    """Formats as usual, tracebacks included, then redacts the whole text."""

    def __init__(self, fmt: str | None = None, *, redact_values: bool = False):
        super().__init__(fmt)
        self.redact_values = redact_values

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), values=self.redact_values)


class Metrics:
    def __init__(self):
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "convmem_requests", "HTTP requests", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "convmem_request_seconds",
            "HTTP request latency",
            ["method", "route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class RequestMiddleware:
    def __init__(self, app, *, metrics: Metrics, max_body_bytes: int):
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        headers = dict(scope["headers"])
        request_id = headers.get(b"x-request-id", b"").decode("latin-1")[:64] or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        status_holder = {"status": 500}

        max_body_bytes = next(
            (limit for prefix, limit in STREAMED_BODY_LIMITS.items() if scope["path"].startswith(prefix)), self.max_body_bytes
        )
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_body_bytes:
            await send_error(send, _too_large(max_body_bytes), [(b"x-request-id", request_id.encode("latin-1"))])
            status_holder["status"] = 413
            self._record(scope, status_holder["status"], started, request_id)
            return

        received = 0
        cut_off = False

        async def limited_receive():
            # Answer 413 here and hand the app a disconnect: an exception raised from receive() would be
            # swallowed by FastAPI's body parsing and come out as a 400.
            nonlocal received, cut_off
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_body_bytes:
                    if not cut_off:
                        cut_off = True
                        status_holder["status"] = 413
                        await send_error(send, _too_large(max_body_bytes), [(b"x-request-id", request_id.encode("latin-1"))])
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message):
            if cut_off:
                return  # the 413 has been sent; the app's answer to the truncated body is dropped
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                message["headers"] = list(message.get("headers", [])) + [
                    (b"x-request-id", request_id.encode("latin-1"))
                ]
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        finally:
            self._record(scope, status_holder["status"], started, request_id)

    def _record(self, scope, status: int, started: float, request_id: str) -> None:
        elapsed = time.perf_counter() - started
        route = getattr(scope.get("route"), "path", None) or "unmatched"
        self.metrics.requests.labels(scope["method"], route, str(status)).inc()
        self.metrics.latency.labels(scope["method"], route).observe(elapsed)
        if log.isEnabledFor(logging.INFO):
            line = {
                "request_id": request_id,
                "method": scope["method"],
                "path": scope["path"],
                "route": route,
                "status": status,
                "duration_ms": round(elapsed * 1000, 3),
                "account": scope.get("state", {}).get("account_sid"),
            }
            error = scope.get("state", {}).get("error_message")
            if error:
                line["error"] = error
            log.info(json.dumps(line))


def _too_large(limit: int) -> ApiError:
    return ApiError(413, Code.PAYLOAD_TOO_LARGE, f"Request body is larger than the {limit}-byte limit")
