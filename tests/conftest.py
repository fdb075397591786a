"""Test harness: real servers on SQLite and (when CONVMEM_TEST_POSTGRES_URL is set) PostgreSQL.

Each backend gets a fresh database for the session and a real uvicorn server in a
subprocess; each test gets its own account, so tests never see each other's stores.
"""

import os
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from convmem.accounts.service import Credentials, create_account, create_api_key
from convmem.database.engine import Database, normalise_url
from convmem.database.migrate import upgrade

for name in ("TWILIO_REGION", "TWILIO_EDGE", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
    os.environ.pop(name, None)
os.environ["NO_PROXY"] = "127.0.0.1,localhost"
os.environ["TAC_ANALYTICS_DISABLED"] = "true"

POSTGRES_URL = os.environ.get("CONVMEM_TEST_POSTGRES_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])


@dataclass
class Backend:
    name: str
    url: str
    db: Database


def _fresh_postgres_database() -> tuple[str, str]:
    admin_url = normalise_url(POSTGRES_URL)
    name = f"convmem_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return admin_url, make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def _drop_postgres_database(admin_url: str, url: str) -> None:
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    engine.dispose()


def make_backend(name: str, tmp_dir: Path):
    """Context-free helper: returns (Backend, cleanup)."""
    if name == "sqlite":
        url = f"sqlite:///{tmp_dir / 'convmem.db'}"
        cleanup_args = None
    else:
        admin_url, url = _fresh_postgres_database()
        cleanup_args = (admin_url, url)
    db = Database(url)
    upgrade(db)

    def cleanup():
        db.dispose()
        if cleanup_args:
            _drop_postgres_database(*cleanup_args)

    return Backend(name, url, db), cleanup


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request, tmp_path_factory):
    backend, cleanup = make_backend(request.param, tmp_path_factory.mktemp(request.param))
    yield backend
    cleanup()


@pytest.fixture
def own_backend(backend, tmp_path):
    """A database of the test's own: the session's server runs an embedded worker on the shared
    one, which would take part in the jobs a test counts; and this one can be cut off."""
    isolated, cleanup = make_backend(backend.name, tmp_path)
    yield isolated
    cleanup()


@pytest.fixture
def own_account(own_backend) -> Credentials:
    with own_backend.db.writing() as session:
        return create_account(session, "own")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    base_url: str
    backend: Backend
    process: subprocess.Popen
    data_dir: Path


SEMANTIC = {"CONVMEM_EMBEDDINGS": "auto"}


def process_env(backend: Backend, data_dir: Path, extra_env: dict | None = None) -> dict:
    """The environment of a convmem process (server or worker) on ``backend``."""
    env = dict(os.environ)
    env.update(
        {
            "CONVMEM_DATABASE_URL": backend.url,
            "CONVMEM_DATA_DIR": str(data_dir),
            "CONVMEM_LOG_LEVEL": "WARNING",
            "CONVMEM_SIGNING_KEY": "test-signing-key",
            # The suggestions tests run the suggestions job themselves; elsewhere it would only
            # add background work beside every test that writes.
            "CONVMEM_SUGGESTIONS": "false",
            # Loading the embedding model costs each process seconds of CPU; the shared servers
            # (``server``) and the tests about Recall's model ask for it.
            "CONVMEM_EMBEDDINGS": "off",
        }
    )
    env.pop("CONVMEM_PUBLIC_URL", None)
    env.update(extra_env or {})
    return env


def start_server(backend: Backend, data_dir: Path, *, workers: int = 1, extra_env: dict | None = None) -> Server:
    port = free_port()
    env = process_env(backend, data_dir, extra_env)
    log = open(data_dir / f"server-{port}.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "convmem.cli", "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early; see {log.name}:\n" + Path(log.name).read_text())
        try:
            if requests.get(base_url + "/healthz", timeout=5).status_code == 200:
                return Server(base_url, backend, process, data_dir)
        except requests.RequestException:  # not listening yet, or slow to answer on a busy machine
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("server did not start in 60s")


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@pytest.fixture(scope="session")
def server(backend, tmp_path_factory):
    srv = start_server(backend, tmp_path_factory.mktemp(f"server-{backend.name}"), extra_env=SEMANTIC)
    yield srv
    stop_server(srv)


@pytest.fixture
def account(backend) -> Credentials:
    with backend.db.writing() as session:
        return create_account(session, "test")


@pytest.fixture
def api_key(backend, account) -> Credentials:
    with backend.db.writing() as session:
        return create_api_key(session, account.sid, "test")


class Api:
    """Raw HTTP against the server, authenticated as one account."""

    def __init__(self, base_url: str, credentials: Credentials):
        self.base_url = base_url
        self.session = requests.Session()
        self.session.auth = (credentials.sid, credentials.secret)
        self.credentials = credentials

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("allow_redirects", False)
        kwargs.setdefault("timeout", 60)
        return self.session.request(method, self.base_url + path, **kwargs)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def put(self, path, **kw):
        return self.request("PUT", path, **kw)

    def patch(self, path, **kw):
        return self.request("PATCH", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def create_store(self, name: str | None = None) -> str:
        response = self.post("/v1/ControlPlane/Stores", json={"displayName": name or f"s-{uuid.uuid4().hex[:12]}"})
        assert response.status_code == 202, response.text
        operation = self.get(response.headers["Location"].replace(self.base_url, "")).json()
        assert operation["status"] == "COMPLETED", operation
        return operation["result"]["id"]


@pytest.fixture
def api(server, account) -> Api:
    return Api(server.base_url, account)


@pytest.fixture
def store(api) -> str:
    return api.create_store()


@pytest.fixture
def twilio_client(server, account):
    from twilio.rest import Client

    client = Client(account.sid, account.secret, environment={"_": "1"})
    client.memory.base_url = server.base_url
    return client
