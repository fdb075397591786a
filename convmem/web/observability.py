"""Per-request plumbing in one ASGI middleware: request id, body limit, metrics, one log line."""

import json
import logging
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
            log.info(
                json.dumps(
                    {
                        "request_id": request_id,
                        "method": scope["method"],
                        "path": scope["path"],
                        "route": route,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 3),
                        "account": scope.get("state", {}).get("account_sid"),
                    }
                )
            )


def _too_large(limit: int) -> ApiError:
    return ApiError(413, Code.PAYLOAD_TOO_LARGE, f"Request body is larger than the {limit}-byte limit")
