"""No cold start: the app loads the embedding model at start-up and is not ready before it has."""

import threading
import time
from pathlib import Path

import pytest
import requests
from fastapi.testclient import TestClient

from convmem.app import create_app
from convmem.config import Settings
from convmem.memory.embeddings import Embedder
from tests.conftest import Api, start_server, stop_server
from tests.test_memory_observations import insert_profile


def poll_until(condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


class GatedModel:
    """A stand-in model whose loading finishes only when the test opens the gate."""

    def __init__(self, gate: threading.Event, encoded: list):
        gate.wait(timeout=30)
        self._encoded = encoded

    def encode(self, texts):
        import numpy as np

        self._encoded.append(list(texts))
        return np.ones((len(texts), 384), dtype=np.float32) / np.sqrt(384)


def test_readyz_waits_for_the_model_loaded_at_start_up(own_backend, tmp_path):
    gate, encoded = threading.Event(), []
    settings = Settings(database_url=own_backend.url, data_dir=tmp_path, embedded_worker=False, embeddings="off")
    app = create_app(settings, own_backend.db)
    app.state.embedder = Embedder(loader=lambda: GatedModel(gate, encoded))
    with TestClient(app) as client:
        loading = client.get("/readyz")
        assert loading.status_code == 503
        assert loading.json()["message"] == "The embedding model is loading; retry shortly"
        assert loading.headers["Retry-After"] == "1"
        assert client.get("/healthz").status_code == 200
        gate.set()
        poll_until(lambda: client.get("/readyz").status_code == 200)
        # Loaded by the start-up, and run once so the first Recall pays for nothing.
        assert app.state.embedder.loaded and encoded == [["warm up"]]


def test_without_embeddings_readiness_does_not_wait_for_a_model(own_backend, tmp_path):
    settings = Settings(database_url=own_backend.url, data_dir=tmp_path, embedded_worker=False, embeddings="off")
    with TestClient(create_app(settings, own_backend.db)) as client:
        assert client.get("/readyz").json() == {"status": "ready"}


def test_the_first_recall_after_ready_finds_the_model_loaded(own_backend, own_account, tmp_path):
    if own_backend.name != "sqlite":
        pytest.skip("readiness does not depend on the database; one real server is enough")
    server = start_server(own_backend, tmp_path, extra_env={"CONVMEM_LOG_LEVEL": "INFO", "CONVMEM_EMBEDDINGS": "auto"})
    try:
        log = next(Path(server.data_dir).glob("server-*.log"))
        poll_until(lambda: requests.get(server.base_url + "/readyz", timeout=10).status_code == 200)
        # Ready means loaded: the line is written before the model is handed to Recall.
        assert log.read_text().count("semantic recall ready") == 1
        api = Api(server.base_url, own_account)
        store = api.create_store()
        profile = insert_profile(own_backend, store)
        body = api.post(f"/v1/Stores/{store}/Profiles/{profile}/Recall", json={"query": "seat preference"}).json()
        assert body["meta"]["searchMode"] == "hybrid"
        assert log.read_text().count("semantic recall ready") == 1
    finally:
        stop_server(server)
