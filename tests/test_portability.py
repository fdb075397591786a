"""Exports and imports of a store (``convmem export`` / ``import-store``) and the per-profile
export extension (``GET …/Profiles/{profileId}/Export``)."""

import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from convmem.accounts.service import create_account
from convmem.database.tables import MemoryEmbedding, Store
from tests.conftest import make_backend
from tests.inprocess import app_api

CONVERSATION = "conv_conversation_01jd0000000000000000000000"


def run_cli(url: str, *args: str, expect: int = 0) -> subprocess.CompletedProcess:
    env = dict(os.environ, CONVMEM_DATABASE_URL=url)
    result = subprocess.run([sys.executable, "-m", "convmem.cli", *args], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == expect, result.stdout + result.stderr
    return result


def create(api, store: str, **contact) -> str:
    response = api.post(f"/v1/Stores/{store}/Profiles", json={"traits": {"Contact": contact}})
    assert response.status_code == 202, response.text
    return response.json()["id"]


def remember(api, store: str, profile: str, content: str) -> str:
    base = f"/v1/Stores/{store}/Profiles/{profile}"
    body = {"observations": [{"content": content, "source": "agent", "occurredAt": "2025-01-15T10:30:00Z", "conversationIds": [CONVERSATION]}]}
    assert api.post(f"{base}/Observations", json=body).status_code == 202
    summary = {"content": f"recap: {content}", "conversationId": CONVERSATION, "occurredAt": "2025-01-15T11:00:00Z"}
    assert api.post(f"{base}/ConversationSummaries", json={"summaries": [summary]}).status_code == 202
    participant = {"id": "conv_participant_01jd0000000000000000000000", "name": "Agent", "address": "+12025550000", "channel": "SMS"}
    said = {
        "id": f"conv_communication_{profile[-26:]}",  # one per profile, valid as its id is
        "content": {"text": f"said: {content}"},
        "author": participant,
        "recipients": [participant],
        "createdAt": "2025-01-15T10:00:00Z",
    }
    sent = api.post(f"{base}/Communications", json={"conversationId": CONVERSATION, "communications": [said]})
    assert sent.status_code == 202, sent.text
    return api.get(f"{base}/Observations").json()["observations"][0]["id"]


def populate(api, data_dir) -> dict:
    """A store with a merge (and memories written under the merged id), a revised observation,
    an update, a deleted profile and an untouched one."""
    store = api.create_store()
    ann = create(api, store, email="ann@example.com", firstName="Ann")
    ben = create(api, store, phone="+13175550100", firstName="Ben")
    remember(api, store, ben, "Ben likes trains")
    observation = remember(api, store, ann, "Ann prefers email")
    patched = api.patch(f"/v1/Stores/{store}/Profiles/{ann}/Observations/{observation}", json={"content": "Ann prefers SMS"})
    assert patched.status_code == 202, patched.text
    assert create(api, store, email="ann@example.com", phone="+13175550100", city="Paris") == ann
    gone = create(api, store, email="gone@example.com")
    assert api.delete(f"/v1/Stores/{store}/Profiles/{gone}").status_code == 202
    other = create(api, store, email="cy@example.com", lastName="Cy")
    mapping = {
        "displayName": "crm-csv",
        "isEnabled": False,
        "mappingFrom": {"type": "INGRESS", "columns": ["mail"]},
        "mappingTo": {"type": "TRAITS", "mappings": [{"expression": "mail", "traitGroup": "Contact", "traitName": "email"}]},
    }
    created = api.post(f"/v1/ControlPlane/Stores/{store}/DataMappings", json=mapping)
    assert created.status_code == 202, created.text
    operation = created.headers["Location"].rsplit("/", 1)[1]
    data_mapping = api.get(f"/v1/ControlPlane/Operations/{operation}").json()["result"]["id"]
    (data_dir / "datasets").mkdir()
    (data_dir / "datasets" / "crm.csv").write_text("id,mail\n")
    dataset = api.post(
        f"/v1/ControlPlane/Stores/{store}/Datasets",
        json={"displayName": "crm", "source": {"type": "FILE", "location": "crm.csv", "format": "CSV", "secretAccessKey": "hunter2"}, "keyColumn": "id"},
    )
    assert dataset.status_code == 201, dataset.text
    return {"store": store, "ann": ann, "ben": ben, "other": other, "dataMapping": data_mapping, "dataset": dataset.json()["id"]}


@pytest.fixture
def populated(backend, account, tmp_path) -> dict:
    with app_api(backend, tmp_path, account) as api:
        return populate(api, tmp_path)


@pytest.fixture
def target(backend, tmp_path):
    """Another, empty database of the same kind, with one account."""
    other, cleanup = make_backend(backend.name, tmp_path / "target")
    with other.db.writing() as session:
        credentials = create_account(session, "target")
    yield other, credentials
    cleanup()


def lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_an_export_imported_elsewhere_exports_identically_and_old_ids_answer(backend, populated, target, tmp_path):
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    run_cli(backend.url, "export", "--store", populated["store"], "--out", str(first))
    other, credentials = target
    run_cli(other.url, "import-store", "--file", str(first))
    run_cli(other.url, "export", "--store", populated["store"], "--out", str(second))

    assert second.read_text() == first.read_text()
    header, *profiles = lines(first)
    assert header["kind"] == "store" and header["id"] == populated["store"]
    assert [g["displayName"] for g in header["traitGroups"]] == ["Contact"]
    assert [(m["id"], m["displayName"], m["isEnabled"]) for m in header["dataMappings"]] == [
        (populated["dataMapping"], "crm-csv", False)
    ]
    assert [(d["id"], d["displayName"], d["source"]["location"]) for d in header["datasets"]] == [(populated["dataset"], "crm", "crm.csv")]
    assert "hunter2" not in first.read_text() and header["datasets"][0]["sealedCredentials"]
    assert [p["id"] for p in profiles] == [populated["ann"], populated["other"]]
    ann = profiles[0]
    assert ann["traits"]["Contact"] == {"email": "ann@example.com", "firstName": "Ben", "phone": "+13175550100", "city": "Paris"}
    assert ann["traitMeta"]["Contact"]["city"]["source"] == "api:create"
    assert [(i["idType"], i["originProfileId"]) for i in ann["identifiers"]] == [
        ("email", populated["ann"]),
        ("phone", populated["ben"]),
    ]
    assert [a["id"] for a in ann["aliases"]] == [populated["ben"]]
    assert [(m["mergedProfileId"], m["intoProfileId"], m["idType"]) for m in ann["merges"]] == [
        (populated["ben"], populated["ann"], "phone")
    ]
    assert [(o["profileId"], o["content"]) for o in ann["observations"]] == [
        (populated["ben"], "Ben likes trains"),
        (populated["ann"], "Ann prefers SMS"),
    ]
    assert [r["content"] for r in ann["observations"][1]["revisions"]] == ["Ann prefers email", "Ann prefers SMS"]
    assert len(ann["summaries"]) == 2
    assert [(c["profileId"], c["text"]) for c in ann["communications"]] == [
        (populated["ben"], "said: Ben likes trains"),
        (populated["ann"], "said: Ann prefers email"),
    ]

    with app_api(other, tmp_path, credentials) as api:
        mapping = api.get(f"/v1/ControlPlane/Stores/{populated['store']}/DataMappings/{populated['dataMapping']}").json()
        assert mapping["mappingFrom"] == {"type": "INGRESS", "columns": ["mail"]} and mapping["version"] == 1
        base = f"/v1/Stores/{populated['store']}/Profiles"
        moved = api.get(f"{base}/{populated['ben']}")
        assert moved.status_code == 301 and moved.headers["Location"].endswith(f"/Profiles/{populated['ann']}")
        assert api.get(f"{base}/{populated['ann']}").json()["traits"] == ann["traits"]
        found = api.post(f"{base}/Lookup", json={"idType": "phone", "value": "+13175550100"}).json()
        assert found["profiles"] == [populated["ann"]]
        recalled = api.get(f"{base}/{populated['ann']}/Observations").json()["observations"]
        assert {o["content"] for o in recalled} == {"Ben likes trains", "Ann prefers SMS"}
        session_memory = api.post(
            f"{base}/{populated['ann']}/Recall", json={"conversationId": CONVERSATION, "communicationsLimit": 5}
        ).json()["communications"]
        assert {c["content"]["text"] for c in session_memory} == {"said: Ben likes trains", "said: Ann prefers email"}
        # The imported profile's history starts at the import, whole.
        now = api.get(f"{base}/{populated['ann']}/History", params={"asOf": "9999-01-01T00:00:00Z"}).json()
        assert now["traits"] == ann["traits"]
    with other.db.reading() as session:
        pending = session.scalar(select(func.count()).select_from(MemoryEmbedding).where(MemoryEmbedding.vector.is_(None)))
    assert pending == 4, "imported memories are embedded again by the workers"


def test_import_refuses_a_taken_name_or_ids_the_database_holds_and_writes_nothing(backend, populated, account, tmp_path):
    exported = tmp_path / "store.jsonl"
    run_cli(backend.url, "export", "--store", populated["store"], "--out", str(exported))
    with backend.db.reading() as session:
        before = session.scalar(select(func.count()).select_from(Store))

    refused = run_cli(backend.url, "import-store", "--file", str(exported), "--account", account.sid, expect=1)
    assert "already has a store named" in " ".join(refused.stdout.split())

    header, *profiles = exported.read_text().splitlines()
    renamed = json.loads(header) | {"displayName": "a copy", "id": "mem_store_01jd0000000000000000000000"}
    exported.write_text("\n".join([json.dumps(renamed), *profiles]) + "\n")
    refused = run_cli(backend.url, "import-store", "--file", str(exported), "--account", account.sid, expect=1)
    assert "already exists in this database" in " ".join(refused.stdout.split())
    with backend.db.reading() as session:
        assert session.scalar(select(func.count()).select_from(Store)) == before


def test_the_profile_export_is_the_profile_record_and_follows_merged_ids(backend, populated, account, tmp_path):
    exported = tmp_path / "store.jsonl"
    run_cli(backend.url, "export", "--store", populated["store"], "--out", str(exported))
    by_id = {record["id"]: record for record in lines(exported)[1:]}
    with app_api(backend, tmp_path, account) as api:
        base = f"/v1/Stores/{populated['store']}/Profiles"
        response = api.get(f"{base}/{populated['ann']}/Export")
        assert response.status_code == 200, response.text
        assert response.json() == by_id[populated["ann"]]

        moved = api.get(f"{base}/{populated['ben']}/Export")
        assert moved.status_code == 301
        assert moved.headers["Location"].endswith(f"/Profiles/{populated['ann']}/Export")
        assert api.get(f"{base}/mem_profile_01jd0000000000000000000000/Export").status_code == 404
        assert api.post(f"{base}/{populated['ann']}/Export").status_code == 405
        schema = api.get("/openapi.json").json()
        operation = schema["paths"]["/v1/Stores/{storeId}/Profiles/{profileId}/Export"]["get"]
        assert operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/ProfileRecord")


def test_another_accounts_profile_export_is_404(backend, populated, tmp_path):
    with backend.db.writing() as session:
        stranger = create_account(session, "stranger")
    with app_api(backend, tmp_path, stranger) as api:
        response = api.get(f"/v1/Stores/{populated['store']}/Profiles/{populated['ann']}/Export")
        assert response.status_code == 404
        assert response.json()["message"] == f"Store '{populated['store']}' was not found"
