"""Security at the edge: hosts and proxies, rate limits, who may read docs and metrics,
credentials and trait values kept out of logs, and what one connection can hold."""

import base64
import dataclasses
import json
import random
import socket
import time
import uuid

import pytest
import requests

from convmem.accounts.service import create_account
from convmem.web.hosts import AllowedHosts
from convmem.web.observability import redact
from convmem.web.ratelimit import route_class
from tests.conftest import Api, start_server, stop_server
from tests.jobs_support import mappings

CONTACT = {"email": "email", "phone": "phone"}


def _import_url(api: Api, store: str, **headers) -> requests.Response:
    return api.post(
        f"/v1/Stores/{store}/Profiles/Imports",
        json={"filename": "p.csv", "fileSize": 10, "columnMappings": mappings(CONTACT)},
        headers=headers,
    )


def _new_account(backend):
    with backend.db.writing() as session:
        return create_account(session, "security")


def _assert_error(response: requests.Response, status: int, code: int) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "message", "more_info", "status"}
    assert (body["code"], body["status"]) == (code, status)


# Hosts and proxies


def test_a_foreign_host_is_refused_in_the_contracts_format(api):
    _assert_error(api.get("/v1/ControlPlane/Stores", headers={"Host": "evil.example"}), 400, 20006)
    port = api.base_url.rsplit(":", 1)[1]
    _assert_error(api.get("/v1/ControlPlane/Stores", headers={"Host": f"evil.example:{port}"}), 400, 20006)


def test_loopback_names_with_our_port_are_served_and_shape_urls(api, store):
    port = api.base_url.rsplit(":", 1)[1]
    response = _import_url(api, store, Host=f"localhost:{port}")
    assert response.status_code == 201, response.text
    assert response.json()["url"].startswith(f"http://localhost:{port}/v1/Uploads/")


def test_forwarded_headers_from_an_untrusted_client_are_ignored(api, store):
    response = _import_url(
        api, store, **{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example", "Forwarded": "proto=https;host=evil.example"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["url"].startswith(f"{api.base_url}/v1/Uploads/")


@pytest.fixture(scope="module")
def proxied_server(backend, tmp_path_factory):
    """Behind a trusted proxy on 127.0.0.1, serving api.example.com; docs private, metrics public."""
    server = start_server(
        backend,
        tmp_path_factory.mktemp("proxied"),
        extra_env={
            "CONVMEM_TRUSTED_PROXIES": "127.0.0.1",
            "CONVMEM_ALLOWED_HOSTS": "api.example.com,127.0.0.1",
            "CONVMEM_PUBLIC_DOCS": "false",
            "CONVMEM_PUBLIC_METRICS": "true",
        },
    )
    yield server
    stop_server(server)


def test_forwarded_headers_from_a_trusted_proxy_shape_urls(proxied_server, backend):
    api = Api(proxied_server.base_url, _new_account(backend))
    store = api.create_store()
    forwarded = _import_url(api, store, **{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "api.example.com"})
    assert forwarded.status_code == 201, forwarded.text
    assert forwarded.json()["url"].startswith("https://api.example.com/v1/Uploads/")
    rfc7239 = _import_url(api, store, Forwarded='for=198.51.100.1;proto=https;host="api.example.com"')
    assert rfc7239.json()["url"].startswith("https://api.example.com/v1/Uploads/")
    # The value the proxy appended is the last one; the client's own comes first.
    appended = _import_url(api, store, **{"X-Forwarded-Host": "api.example.com, evil.example"})
    _assert_error(appended, 400, 20006)
    _assert_error(_import_url(api, store, **{"X-Forwarded-Host": "evil.example"}), 400, 20006)


@pytest.mark.parametrize(
    ("entry", "host", "allowed"),
    [
        ("api.example.com", "api.example.com", True),
        ("api.example.com", "API.example.com:8443", True),
        ("api.example.com:8443", "api.example.com:9000", False),
        ("*.example.com", "eu.api.example.com", True),
        ("*.example.com", "example.com.evil.example", False),
        ("*", "anything.example", True),
        ("[::1]", "[::1]:8000", True),
    ],
)
def test_allowed_host_entries(entry, host, allowed):
    assert AllowedHosts([entry], None).allows(host, ("10.0.0.5", 8000)) is allowed


def test_default_hosts_are_loopback_and_the_local_address_with_the_listening_port():
    hosts = AllowedHosts(None, "https://api.example.com")
    for host in ("127.0.0.1:8000", "localhost:8000", "[::1]:8000", "10.0.0.5:8000", "api.example.com"):
        assert hosts.allows(host, ("10.0.0.5", 8000)), host
    for host in ("127.0.0.1:9000", "localhost", "10.0.0.6:8000", "api.example.com:9000"):
        assert not hosts.allows(host, ("10.0.0.5", 8000)), host


# Docs and metrics


def test_metrics_need_credentials_and_docs_do_not_by_default(server, api):
    _assert_error(requests.get(server.base_url + "/metrics", timeout=30), 401, 20003)
    assert api.get("/metrics").status_code == 200
    assert requests.get(server.base_url + "/docs", timeout=30).status_code == 200
    assert requests.get(server.base_url + "/openapi.json", timeout=30).status_code == 200


def test_docs_can_be_made_private_and_metrics_public(proxied_server, backend):
    api = Api(proxied_server.base_url, _new_account(backend))
    for path in ("/docs", "/openapi.json"):
        _assert_error(requests.get(proxied_server.base_url + path, timeout=30), 401, 20003)
        assert api.get(path).status_code == 200
    assert "/v1/ControlPlane/Stores" in api.get("/openapi.json").json()["paths"]
    assert requests.get(proxied_server.base_url + "/metrics", timeout=30).status_code == 200


# Rate limits


@pytest.fixture(scope="module", params=["memory", "redis"])
def limited_server(request, backend, tmp_path_factory):
    """Three reads a minute per account, three failed authentications a minute per address.
    On Redis with two worker processes, which must share the counters."""
    env = {
        "CONVMEM_RATE_LIMIT_READS": "3/minute",
        "CONVMEM_RATE_LIMIT_FAILED_AUTH": "3/minute",
        "CONVMEM_TRUSTED_PROXIES": "127.0.0.1",
    }
    workers = 1
    if request.param == "redis":
        env["CONVMEM_RATE_LIMIT_STORAGE"] = "redis://127.0.0.1:6379/3"
        workers = 2
    server = start_server(backend, tmp_path_factory.mktemp(f"limited-{request.param}"), workers=workers, extra_env=env)
    yield server
    stop_server(server)


def _fresh_get(base_url: str, credentials, path: str = "/v1/ControlPlane/Stores", **headers) -> requests.Response:
    """A new connection each time, so that requests spread over the server's processes."""
    return requests.get(base_url + path, auth=(credentials.sid, credentials.secret), headers=headers, timeout=30)


def _assert_too_many(response: requests.Response) -> None:
    _assert_error(response, 429, 20429)
    assert 1 <= int(response.headers["Retry-After"]) <= 60


def test_an_account_over_its_read_limit_gets_429_and_others_do_not(limited_server, backend):
    busy, other = _new_account(backend), _new_account(backend)
    for _ in range(3):
        assert _fresh_get(limited_server.base_url, busy).status_code == 200
    _assert_too_many(_fresh_get(limited_server.base_url, busy))
    assert _fresh_get(limited_server.base_url, other).status_code == 200
    # Limits are per class: the busy account can still write.
    created = requests.post(
        limited_server.base_url + "/v1/ControlPlane/Stores",
        json={"displayName": "still-writing"},
        auth=(busy.sid, busy.secret),
        timeout=30,
    )
    assert created.status_code == 202, created.text


def test_an_address_with_too_many_failed_authentications_gets_429(limited_server, backend):
    # Documentation addresses, fresh each run: Redis keeps counters between runs.
    guesser = f"203.0.113.7, 2001:db8::{random.getrandbits(16):x}:{random.getrandbits(16):x}"
    honest = f"2001:db8::{random.getrandbits(16):x}:{random.getrandbits(16):x}"
    victim = _new_account(backend)
    wrong = dataclasses.replace(victim, secret="0" * 32)
    for _ in range(3):
        _assert_error(_fresh_get(limited_server.base_url, wrong, **{"X-Forwarded-For": guesser}), 401, 20003)
    # Even the right secret is refused now: a 200 would tell the guesser it guessed right.
    _assert_too_many(_fresh_get(limited_server.base_url, victim, **{"X-Forwarded-For": guesser}))
    assert _fresh_get(limited_server.base_url, victim, **{"X-Forwarded-For": honest}).status_code == 200


# Logs


def _log_text(server) -> str:
    return next(server.data_dir.glob("server-*.log")).read_text()


def _wait_for_log(server, needle: str) -> str:
    deadline = time.time() + 30
    while time.time() < deadline and needle not in _log_text(server):
        time.sleep(0.1)
    return _log_text(server)


def _bad_phone_and_an_upload(server, backend) -> tuple[Api, str, str, str]:
    """An account's credentials, a 400 echoing a phone value, and a signed upload."""
    api = Api(server.base_url, _new_account(backend))
    store = api.create_store()
    phone = f"call-me-{uuid.uuid4().hex[:8]}"
    rejected = api.post(f"/v1/Stores/{store}/Profiles", json={"traits": {"Contact": {"phone": phone}}})
    assert rejected.status_code == 400 and phone in rejected.json()["message"]
    url = _import_url(api, store).json()["url"]
    signature = url.rpartition("signature=")[2]
    requests.put(url, data=b"email\nx@y.z", timeout=30)
    return api, phone, signature, rejected.headers["X-Request-Id"]


def _credentials_absent(log: str, api: Api, signature: str) -> None:
    basic = base64.b64encode(f"{api.credentials.sid}:{api.credentials.secret}".encode()).decode()
    assert api.credentials.secret not in log
    assert basic not in log
    assert signature not in log


@pytest.fixture(scope="module")
def redacting_server(backend, tmp_path_factory):
    """Logs every request, redacts trait values; request heads get a second to arrive."""
    server = start_server(
        backend,
        tmp_path_factory.mktemp("redacting"),
        extra_env={"CONVMEM_LOG_LEVEL": "INFO", "CONVMEM_LOG_REDACT_TRAITS": "true", "CONVMEM_HEADER_TIMEOUT_SECONDS": "1"},
    )
    yield server
    stop_server(server)


def test_logs_keep_credentials_out_and_error_messages_in(backend, tmp_path):
    server = start_server(backend, tmp_path, extra_env={"CONVMEM_LOG_LEVEL": "INFO"})
    try:
        api, phone, signature, request_id = _bad_phone_and_an_upload(server, backend)
        log = _wait_for_log(server, request_id)
    finally:
        stop_server(server)
    _credentials_absent(log, api, signature)
    line = next(json.loads(text) for text in log.splitlines() if request_id in text)
    assert line["status"] == 400 and phone in line["error"]


def test_trait_values_are_redacted_from_logs_when_asked(redacting_server, backend):
    api, phone, signature, request_id = _bad_phone_and_an_upload(redacting_server, backend)
    log = _wait_for_log(redacting_server, request_id)
    _credentials_absent(log, api, signature)
    assert phone not in log
    line = next(json.loads(text) for text in log.splitlines() if request_id in text)
    assert line["status"] == 400 and "[REDACTED]" in line["error"]


# Connections


def _connect(server) -> socket.socket:
    host, port = server.base_url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    return sock


def _read_until_closed(sock: socket.socket) -> bytes:
    """What the server sends before it closes; a reset after an answer keeps the answer."""
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    return received


@pytest.mark.parametrize("piece", [None, 4096], ids=["in-one-go", "in-pieces"])
def test_a_100_kb_header_is_answered_431(redacting_server, piece):
    request = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n"
    with _connect(redacting_server) as sock:
        for start in range(0, len(request), piece or len(request)):
            sock.sendall(request[start : start + (piece or len(request))])
            time.sleep(0.01 if piece else 0)
        answer = _read_until_closed(sock)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431"), answer[:200]
    assert json.loads(body)["code"] == 20431


@pytest.mark.parametrize("sent", [b"", b"GET /healthz HTTP/1.1\r\nHost: 12"], ids=["idle", "half-a-header"])
def test_a_connection_without_a_whole_request_head_is_closed(redacting_server, sent):
    with _connect(redacting_server) as sock:
        sock.sendall(sent)
        sock.settimeout(10)  # the server's deadline is 1 s: 10 s means it never came
        assert _read_until_closed(sock) == b""


def test_a_header_trickled_a_byte_at_a_time_is_cut_off(redacting_server):
    request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"s" * 1000
    closed = False
    with _connect(redacting_server) as sock:
        deadline = time.time() + 10
        for byte in request:
            if time.time() > deadline:
                break
            try:
                sock.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            time.sleep(0.05)
        if not closed:
            sock.settimeout(5)
            try:
                closed = sock.recv(1) == b""
            except ConnectionResetError:
                closed = True
    assert closed


def test_the_formatter_redacts_credentials_always_and_values_when_asked():
    text = (
        "Authorization: Basic QUMxMjM6c2VjcmV0c2VjcmV0 PUT /v1/Uploads/x?expires=1&signature=abc123\n"
        "Invalid phone 'call-me'\n[SQL: INSERT INTO profiles]\n[parameters: ('jo@example.com', 42)]\n"
        "1 validation error [type=string_type, input_value=42, input_type=int]"
    )
    plain = redact(text, values=False)
    assert "QUMxMjM6c2VjcmV0c2VjcmV0" not in plain and "abc123" not in plain
    assert "call-me" in plain and "jo@example.com" in plain
    redacted = redact(text, values=True)
    for value in ("call-me", "jo@example.com", "42)", "input_value=42"):
        assert value not in redacted, value
    assert "[SQL: INSERT INTO profiles]" in redacted


@pytest.mark.parametrize(
    ("method", "path", "klass"),
    [
        ("GET", "/v1/ControlPlane/Stores", "reads"),
        ("POST", "/v1/Stores/s/Profiles/Lookup", "reads"),
        ("POST", "/v1/ControlPlane/Stores", "writes"),
        ("PATCH", "/v1/Stores/s/Profiles/p", "writes"),
        ("POST", "/v1/Stores/s/Profiles/p/Recall", "recall"),
        ("PUT", "/v1/Stores/s/Profiles/Bulk", "bulk"),
        ("GET", "/v1/Stores/s/Profiles/Bulk/op", "reads"),
        ("POST", "/v1/Stores/s/Profiles/Imports", "bulk"),
    ],
)
def test_requests_are_limited_by_route_class(method, path, klass):
    assert route_class(method, path) == klass
