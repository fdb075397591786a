"""Health, readiness, Prometheus metrics, the access log and the OpenAPI page."""

import json
import re
import time

import requests

from tests.conftest import Api, start_server, stop_server


def test_health_and_readiness(server):
    health = requests.get(server.base_url + "/healthz", timeout=30)
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    # Not ready until the embedding model has loaded (about a second after start).
    deadline = time.monotonic() + 60
    ready = requests.get(server.base_url + "/readyz", timeout=30)
    while ready.status_code == 503 and time.monotonic() < deadline:
        time.sleep(0.1)
        ready = requests.get(server.base_url + "/readyz", timeout=30)
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})


def _sample(metrics: str, name: str, **labels: str) -> float:
    """The value of one Prometheus sample with exactly these labels (order-insensitive)."""
    for line in metrics.splitlines():
        match = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if match and dict(re.findall(r'(\w+)="([^"]*)"', match.group(1))) == labels:
            return float(match.group(2))
    return 0.0


def test_metrics_count_requests_by_route_and_status_with_a_latency_histogram(server, api, store):
    route = "/v1/ControlPlane/Stores/{storeId}"
    before = api.get("/metrics").text
    ok_before = _sample(before, "convmem_requests_total", method="GET", route=route, status="200")
    missing_before = _sample(before, "convmem_requests_total", method="GET", route=route, status="404")
    for _ in range(3):
        assert api.get(f"/v1/ControlPlane/Stores/{store}").status_code == 200
    assert api.get("/v1/ControlPlane/Stores/mem_store_01jzzzzzzzzzzzzzzzzzzzzzzz").status_code == 404

    metrics = api.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["Content-Type"].startswith("text/plain")
    text = metrics.text
    assert _sample(text, "convmem_requests_total", method="GET", route=route, status="200") == ok_before + 3
    assert _sample(text, "convmem_requests_total", method="GET", route=route, status="404") == missing_before + 1
    assert "# TYPE convmem_request_seconds histogram" in text
    count = _sample(text, "convmem_request_seconds_count", method="GET", route=route)
    assert count >= 4
    assert _sample(text, "convmem_request_seconds_bucket", method="GET", route=route, le="+Inf") == count


def test_one_structured_log_line_per_request_with_its_request_id(backend, tmp_path, account):
    server = start_server(backend, tmp_path, extra_env={"CONVMEM_LOG_LEVEL": "INFO"})
    try:
        api = Api(server.base_url, account)
        chosen = api.get("/v1/ControlPlane/Stores", headers={"X-Request-Id": "trace-me-123"})
        assert chosen.headers["X-Request-Id"] == "trace-me-123"
        generated = api.post("/v1/ControlPlane/Stores", json={"displayName": "logged"})
        generated_id = generated.headers["X-Request-Id"]
        assert re.fullmatch(r"[0-9a-f]{32}", generated_id)
        log_file = next(tmp_path.glob("server-*.log"))
        deadline = time.time() + 30
        while time.time() < deadline and generated_id not in log_file.read_text():
            time.sleep(0.1)
        lines = [json.loads(line) for line in log_file.read_text().splitlines() if line.startswith("{")]
    finally:
        stop_server(server)
    by_id = {line["request_id"]: line for line in lines}
    assert [line["request_id"] for line in lines].count("trace-me-123") == 1
    assert by_id["trace-me-123"] | {"duration_ms": 0} == {
        "request_id": "trace-me-123",
        "method": "GET",
        "path": "/v1/ControlPlane/Stores",
        "route": "/v1/ControlPlane/Stores",
        "status": 200,
        "duration_ms": 0,
        "account": account.sid,
    }
    assert by_id[generated_id]["status"] == 202 and by_id[generated_id]["method"] == "POST"


def test_openapi_is_served_at_docs(server):
    page = requests.get(server.base_url + "/docs", timeout=30)
    assert page.status_code == 200 and "swagger" in page.text.lower()
    schema = requests.get(server.base_url + "/openapi.json", timeout=30).json()
    for path in (
        "/v1/ControlPlane/Stores",
        "/v1/ControlPlane/Stores/{storeId}",
        "/v1/ControlPlane/Stores/{storeId}/TraitGroups/{traitGroupName}",
        "/v1/ControlPlane/Stores/{storeId}/IdentityResolutionSettings",
        "/v1/ControlPlane/Operations/{operationId}",
    ):
        assert path in schema["paths"]
