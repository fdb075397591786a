"""``convmem copy``: a SQLite deployment populated through the API (merges and aliases, an
import with row errors, a bulk batch, observations and summaries) is copied to PostgreSQL and
back; a server on each copy answers the same reads and takes new writes. An interrupted copy
resumes; a target that holds data is refused.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from convmem.accounts.service import create_account
from convmem.database.copy import copy_database
from convmem.database.engine import Database
from convmem.database.migrate import upgrade
from convmem.database.tables import Base, Job, Profile
from tests.conftest import (
    POSTGRES_URL,
    Api,
    Backend,
    _drop_postgres_database,
    _fresh_postgres_database,
    make_backend,
    start_server,
    stop_server,
)
from tests.jobs_support import (
    create_import,
    mappings,
    upload,
    wait_bulk,
    wait_for,
    wait_import,
)
from tests.profile_helpers import EMAIL, PHONE, configure_identity, create_profile

NO_EMBEDDINGS = {"CONVMEM_EMBEDDINGS": "off"}
# Integers past 64 bits and a lone surrogate: JSON columns must come back as the same text.
CONVERSATION = "conv_conversation_01jd0000000000000000000000"
ODD_JSON = '{"rows": 123456789012345678901234567890, "note": "\\ud800"}'


def run_copy(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "convmem.cli", "copy", *args], capture_output=True, text=True, timeout=120, env=dict(os.environ)
    )


def populate(api: Api, data_dir: Path) -> tuple[str, list]:
    """Fill a store through the API; returns it and the reads to repeat on a copy."""
    store = api.create_store()
    # A fuzzy email rule gives its values blocking keys (only a value as good as equal matches).
    configure_identity(api, store, [{**EMAIL, "matchingAlgo": "fuzzy", "matchingThreshold": 99}, PHONE], ["email", "phone"])
    by_email = create_profile(api, store, email="ann@example.com", firstName="Ann")
    by_phone = create_profile(api, store, phone="+13175550001", lastName="Lee")
    assert create_profile(api, store, email="ann@example.com", phone="+13175550001") == by_email
    for n in range(4):
        create_profile(api, store, email=f"p{n}@example.com")
    csv = b"email,first_name\ngrace@example.com,Grace\nnot-an-email,Bad\nalan@example.com,Alan\n"
    import_id, upload_url = create_import(api, store, csv, mappings({"email": "email", "first_name": "firstName"}))
    assert upload(upload_url, csv).status_code == 200
    assert wait_import(api, store, import_id)["status"] == "COMPLETED"
    batch = api.put(
        f"/v1/Stores/{store}/Profiles/Bulk",
        json={"profiles": [{"traits": {"Contact": {"email": f"bulk{n}@example.com"}}} for n in range(3)]},
    )
    assert batch.status_code == 202, batch.text
    assert wait_bulk(api, batch.json()["statusUrl"])["status"] == "COMPLETED"
    memories = f"/v1/Stores/{store}/Profiles/{by_email}"
    observations = [
        {"content": "Prefers a call back in the morning", "source": "api", "occurredAt": "2025-01-15T10:00:00Z", "conversationIds": [CONVERSATION]},
        {"content": "Allergic to peanuts", "source": "api", "occurredAt": "2025-01-16T10:00:00Z"},
    ]
    assert api.post(f"{memories}/Observations", json={"observations": observations}).status_code == 202
    summary = {"content": "Asked about a refund; resolved.", "conversationId": CONVERSATION, "occurredAt": "2025-01-15T10:30:00Z"}
    assert api.post(f"{memories}/ConversationSummaries", json={"summaries": [summary]}).status_code == 202
    participant = {"id": "conv_participant_01jd0000000000000000000000", "name": "Agent", "address": "+12025550000", "channel": "SMS"}
    said = {"id": "conv_communication_01jd0000000000000000000000", "content": {"text": "Call me tomorrow morning"}, "author": participant, "recipients": [participant]}
    communications = {"conversationId": CONVERSATION, "communications": [said]}
    assert api.post(f"{memories}/Communications", json=communications).status_code == 202
    # An unmerge leaves a never-merge pair; a write with an Idempotency-Key leaves its key.
    assert api.post(f"/v1/Stores/{store}/Profiles/{by_email}/Merges/{by_phone}/Unmerge").status_code == 200
    keyed = {"traits": {"Contact": {"email": "keyed@example.com"}}}
    assert api.post(f"/v1/Stores/{store}/Profiles", json=keyed, headers={"Idempotency-Key": "copy-1"}).status_code == 202

    mapping = {
        "displayName": "crm-csv",
        "mappingFrom": {"type": "INGRESS", "columns": ["mail"]},
        "mappingTo": {"type": "TRAITS", "mappings": [{"expression": "mail", "traitGroup": "Contact", "traitName": "email"}]},
    }
    assert api.post(f"/v1/ControlPlane/Stores/{store}/DataMappings", json=mapping).status_code == 202
    # A dataset, a mapping of it and the sync the worker starts for it, with a row error.
    (data_dir / "datasets").mkdir()
    (data_dir / "datasets" / "crm.csv").write_text("id,mail\n1,synced@example.com\n2,\n")
    dataset = api.post(
        f"/v1/ControlPlane/Stores/{store}/Datasets",
        json={"displayName": "crm", "source": {"type": "FILE", "location": "crm.csv", "format": "CSV"}, "keyColumn": "id"},
    ).json()["id"]
    synced = dict(mapping, displayName="crm-sync", mappingFrom={"type": "DATASET_CLOUDAPP", "datasetId": dataset})
    created = api.post(f"/v1/ControlPlane/Stores/{store}/DataMappings", json=synced)
    synced_id = api.get(created.headers["Location"].replace(api.base_url, "")).json()["result"]["id"]
    syncs = f"/v1/ControlPlane/Stores/{store}/DataMappings/{synced_id}/Syncs"
    sync = wait_for(lambda: next((s for s in api.get(syncs).json()["syncs"] if s["status"] == "COMPLETED"), None))
    # The last writes: a likely duplicate, which the worker's suggestions job finds. It reads the
    # history in order, so once it has suggested this pair it has seen every earlier write too.
    create_profile(api, store, email="ann.lee@gmail.com")
    create_profile(api, store, email="annlee@gmail.com")
    wait_for(lambda: any(
        {r.get("a"), r.get("b")} == {"ann.lee@gmail.com", "annlee@gmail.com"}
        for s in api.get(f"/v1/Stores/{store}/Suggestions").json()["suggestions"]
        for r in s["reasons"]
    ))

    reads = [
        ("GET", f"/v1/ControlPlane/Stores/{store}", None),
        ("GET", memories, None),
        ("GET", f"/v1/Stores/{store}/Profiles/{by_phone}", None),
        ("POST", f"/v1/Stores/{store}/Profiles/Lookup", {"idType": "phone", "value": "(317) 555-0001"}),
        ("GET", f"{memories}/Identifiers", None),
        ("GET", f"{memories}/Observations", None),
        ("GET", f"{memories}/ConversationSummaries", None),
        ("GET", f"/v1/Stores/{store}/Profiles/Imports/{import_id}", None),
        ("GET", f"/v1/Stores/{store}/Profiles/Imports/{import_id}/Errors", None),
        ("GET", batch.json()["statusUrl"].replace(api.base_url, ""), None),
        ("GET", f"/v1/Stores/{store}/NeverMergePairs", None),
        ("GET", f"/v1/Stores/{store}/Suggestions", None),
        ("GET", f"{memories}/Merges", None),
        ("GET", f"{memories}/History?asOf=9999-01-01T00:00:00Z", None),
        ("GET", f"/v1/ControlPlane/Stores/{store}/DataMappings", None),
        ("GET", f"/v1/ControlPlane/Stores/{store}/Datasets/{dataset}", None),
        ("GET", f"{syncs}/{sync['id']}", None),
        ("GET", f"{syncs}/{sync['id']}/Errors", None),
    ]
    page = f"/v1/Stores/{store}/Profiles?pageSize=3"
    while page:  # every page, by the tokens the original server gave
        reads.append(("GET", page, None))
        token = api.get(page).json()["meta"].get("nextToken")
        page = f"/v1/Stores/{store}/Profiles?pageSize=3&pageToken={token}" if token else None
    return store, reads


def answers(api: Api, reads: list) -> list:
    out = []
    for method, path, body in reads:
        response = api.request(method, path, json=body)
        headers = {name: response.headers.get(name, "").replace(api.base_url, "") for name in ("ETag", "Location")}
        out.append((method, path, response.status_code, headers, without_tokens(response.text.replace(api.base_url, ""))))
    return out


def without_tokens(body: str):
    """Page tokens are sealed afresh on every answer (a new IV each time): what must match is
    which pages exist, and the old tokens still being answered (they are among the reads)."""
    if not body.startswith("{"):
        return body
    document = json.loads(body)
    meta = document.get("meta", {})
    for name in ("nextToken", "previousToken"):
        if name in meta:
            meta[name] = bool(meta[name])
    return document


def recalled(api: Api, store: str, reads: list) -> list[str]:
    profile = reads[1][1]
    response = api.post(f"{profile}/Recall", json={"query": "morning call", "conversationId": CONVERSATION, "communicationsLimit": 5})
    assert response.status_code == 200, response.text
    body = response.json()
    return sorted(item["content"] for item in body["observations"]) + [c["content"]["text"] for c in body["communications"]]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    """A stopped SQLite deployment, the account, its store and what the server answered."""
    backend, cleanup = make_backend("sqlite", tmp_path_factory.mktemp("source"))
    with backend.db.writing() as session:
        account = create_account(session, "copy")
    server = start_server(backend, tmp_path_factory.mktemp("source-data"), extra_env=NO_EMBEDDINGS | {"CONVMEM_SUGGESTIONS": "true"})
    try:
        api = Api(server.base_url, account)
        store, reads = populate(api, server.data_dir)
        expected = answers(api, reads)
        recall = recalled(api, store, reads)
    finally:
        stop_server(server)
    with backend.db.engine.begin() as conn:
        conn.execute(Job.__table__.update().values(progress=text(f"'{ODD_JSON}'")).where(Job.id == 1))
        conn.exec_driver_sql("UPDATE memory_embeddings SET model = 'test', vector = X'00ff10' WHERE id = 1")
    yield backend, account, store, reads, expected, recall
    cleanup()


def check_copy(url: str, deployment, data_dir) -> None:
    source, account, store, reads, expected, recall = deployment
    backend = Backend("copy", url, None)
    data_dir.mkdir()
    server = start_server(backend, data_dir, extra_env=NO_EMBEDDINGS)
    try:
        api = Api(server.base_url, account)
        assert answers(api, reads) == expected
        assert recalled(api, store, reads) == recall
        # Writes continue after the copied keys.
        created = create_profile(api, store, email="new@example.com")
        assert api.post(
            f"/v1/Stores/{store}/Profiles/{created}/Observations",
            json={"observations": [{"content": "New here", "source": "api", "occurredAt": "2025-02-01T00:00:00Z"}]},
        ).status_code == 202
    finally:
        stop_server(server)
    engine = create_engine(url)
    try:
        with engine.connect() as conn, source.db.engine.connect() as before:
            assert conn.scalar(select(func.count()).select_from(Profile)) == before.scalar(select(func.count()).select_from(Profile)) + 1
            assert conn.scalar(text("SELECT CAST(progress AS TEXT) FROM jobs WHERE id = 1")) == ODD_JSON
            assert bytes(conn.scalar(text("SELECT vector FROM memory_embeddings WHERE id = 1"))) == b"\x00\xff\x10"
    finally:
        engine.dispose()


def test_a_sqlite_copy_answers_the_same_and_takes_writes(deployment, tmp_path):
    target = f"sqlite:///{tmp_path / 'copy.db'}"
    result = run_copy("--from", deployment[0].url, "--to", target, "--batch-size", "4")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "the target equals the source" in result.stdout
    check_copy(target, deployment, tmp_path / "data")


@pytest.mark.skipif(not POSTGRES_URL, reason="CONVMEM_TEST_POSTGRES_URL is not set")
def test_a_copy_to_postgresql_and_back_answers_the_same_and_takes_writes(deployment, tmp_path):
    admin_url, postgres = _fresh_postgres_database()
    try:
        result = run_copy("--from", deployment[0].url, "--to", postgres, "--batch-size", "4")
        assert result.returncode == 0, result.stdout + result.stderr
        back = f"sqlite:///{tmp_path / 'back.db'}"
        result = run_copy("--from", postgres, "--to", back)
        assert result.returncode == 0, result.stdout + result.stderr
        check_copy(postgres, deployment, tmp_path / "postgres-data")
        check_copy(back, deployment, tmp_path / "back-data")
    finally:
        _drop_postgres_database(admin_url, postgres)


class Interrupted(Exception):
    pass


class StopAfter:
    """A progress reporter that stops the copy after a few batches, as Ctrl-C would."""

    def __init__(self, batches: int):
        self.batches = batches

    def table_started(self, table: str, total: int, copied: int) -> None:
        pass

    def rows_copied(self, table: str, rows: int) -> None:
        self.batches -= 1
        if self.batches == 0:
            raise Interrupted


@pytest.fixture(params=["sqlite"] + (["postgresql"] if POSTGRES_URL else []))
def empty_target(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'target.db'}"
        return
    admin_url, url = _fresh_postgres_database()
    yield url
    _drop_postgres_database(admin_url, url)


def test_an_interrupted_copy_resumes_and_ends_equal(deployment, empty_target):
    with pytest.raises(Interrupted):
        copy_database(deployment[0].url, empty_target, batch_size=2, progress=StopAfter(6))
    again = run_copy("--from", deployment[0].url, "--to", empty_target)
    assert again.returncode == 1 and "--resume" in again.stdout, again.stdout
    resumed = run_copy("--from", deployment[0].url, "--to", empty_target, "--resume", "--batch-size", "2")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "the target equals the source" in resumed.stdout


def test_a_target_holding_data_is_refused_unless_forced(deployment, empty_target):
    db = Database(empty_target)
    upgrade(db)
    with db.writing() as session:
        create_account(session, "already here")
    db.dispose()
    refused = run_copy("--from", deployment[0].url, "--to", empty_target)
    assert refused.returncode == 1 and "not empty" in refused.stdout, refused.stdout
    forced = run_copy("--from", deployment[0].url, "--to", empty_target, "--force")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert "the target equals the source" in forced.stdout


def test_every_table_of_the_model_is_compared(deployment, tmp_path):
    report = copy_database(deployment[0].url, f"sqlite:///{tmp_path / 'all.db'}")
    assert report.ok
    assert [check.table for check in report.tables] == [table.name for table in Base.metadata.sorted_tables]
    assert all(check.source_rows > 0 for check in report.tables if check.table != "api_keys"), report.tables
