"""The in-process test layer: the app over Starlette's test transport, no server process.

For tests that only need a setting changed: they build the app with their own ``Settings``
on the session's database in milliseconds, where a subprocess server takes seconds. Tests
that prove what only a real server shows (the SDKs over HTTP, kill -9, workers, uvicorn's
own limits) keep using ``tests.conftest.start_server``.
"""

import time
from contextlib import contextmanager
from pathlib import Path

from starlette.testclient import TestClient

from convmem.accounts.service import Credentials
from convmem.app import create_app
from convmem.config import Settings
from tests.conftest import Api, Backend

BASE_URL = "http://127.0.0.1:8000"


class InProcessApi(Api):
    """``Api`` over an in-process app: the same helpers, no sockets."""

    def __init__(self, client: TestClient, credentials: Credentials):
        self.base_url = BASE_URL
        self.session = client
        self.credentials = credentials
        client.auth = (credentials.sid, credentials.secret)

    def request(self, method: str, path: str, **kwargs):
        kwargs["follow_redirects"] = kwargs.pop("allow_redirects", False)
        kwargs.pop("timeout", None)
        if "data" in kwargs and not isinstance(kwargs["data"], (dict, str, bytes)):
            kwargs["content"] = kwargs.pop("data")
        return self.session.request(method, self.base_url + path, **kwargs)


class FakeWallClock:
    """Seconds since the epoch that move only when a test says so."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@contextmanager
def app_api(backend: Backend, data_dir: Path, credentials: Credentials, *, wall_clock=time.time, **settings):
    """An ``InProcessApi`` for an app on ``backend`` with ``settings`` changed (no embedded
    worker unless asked for: the session's server already runs one on this database; lexical
    Recall unless ``embeddings="auto"``)."""
    settings.setdefault("embedded_worker", False)
    # No model unless asked for: each app would load one of its own at start-up.
    settings.setdefault("embeddings", "off")
    config = Settings(database_url=backend.url, data_dir=data_dir, signing_key="test-signing-key", **settings)
    with TestClient(create_app(config, backend.db, wall_clock=wall_clock), base_url=BASE_URL) as client:
        yield InProcessApi(client, credentials)
