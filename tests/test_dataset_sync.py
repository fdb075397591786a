"""Datasets and data mappings' syncs (extensions): real tables in PostgreSQL and MariaDB, a
Parquet file through DuckDB, a SQLite file; merges across sources, incremental syncs, a source
that goes away, a worker killed mid-sync, expressions that try to inject SQL."""

import os
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import boto3
import duckdb
import pytest
from moto import mock_aws
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from convmem.background.blobstore import open_blob_store
from convmem.background.jobs import JobEnv, JobRunner
from convmem.config import Settings
from convmem.database.engine import normalise_url
from convmem.database.tables import DatasetSync, Job, ProfileHistory
from convmem.datasets.job import SYNC_JOBS
from convmem.datasets.schedule import start_due_syncs
from convmem.datasets.sources import SqlSource
from convmem.kit.clock import WriteClock
from tests.conftest import POSTGRES_URL
from tests.inprocess import app_api
from tests.test_outages import run_cli

MYSQL_ADMIN_URL = os.environ.get("CONVMEM_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306")
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


@contextmanager
def throwaway_database(admin_url: str):
    """A database of the test's own on the server at ``admin_url``; its URL."""
    name = f"convmem_src_{uuid.uuid4().hex[:10]}"
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}"))
    except Exception as error:
        engine.dispose()
        pytest.skip(f"no database server at {make_url(admin_url).render_as_string()}: {error}")
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        engine.dispose()


def postgres_source():
    if not POSTGRES_URL:
        pytest.skip("CONVMEM_TEST_POSTGRES_URL is not set")
    return throwaway_database(normalise_url(POSTGRES_URL))


def fill(url: str, table: str, rows: list[tuple]) -> None:
    """(id, email, first_name, updated_at) rows into a fresh ``table``."""
    engine = create_engine(normalise_url(url))
    with engine.begin() as conn:
        conn.execute(text(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, email VARCHAR(100), first_name VARCHAR(100), updated_at TIMESTAMP)"))
        insert_rows(conn, table, rows)
    engine.dispose()


def insert_rows(conn, table: str, rows: list[tuple]) -> None:
    conn.execute(
        text(f"INSERT INTO {table} (id, email, first_name, updated_at) VALUES (:id, :email, :name, :at)"),
        [{"id": i, "email": e, "name": n, "at": a.replace(tzinfo=None)} for i, e, n, a in rows],
    )


def execute(url: str, statement: str, **params) -> None:
    engine = create_engine(normalise_url(url))
    with engine.begin() as conn:
        conn.execute(text(statement), params)
    engine.dispose()


def people(count: int, *, start: int = 1, at: datetime = T0, domain: str = "crm.example") -> list[tuple]:
    return [(i, f"p{i}@{domain}", f"Name{i}", at) for i in range(start, start + count)]


@pytest.fixture
def files(tmp_path) -> Path:
    root = tmp_path / "files"
    root.mkdir()
    return root


@pytest.fixture
def dapi(own_backend, own_account, tmp_path, files):
    with app_api(own_backend, tmp_path, own_account, dataset_file_root=files) as api:
        yield api


@pytest.fixture
def shared_api(backend, account, tmp_path, files):
    """For tests that run no job: the session's database (no fresh one to make), the test's own account."""
    with app_api(backend, tmp_path, account, dataset_file_root=files) as api:
        yield api


@pytest.fixture
def runner(own_backend, tmp_path, files):
    return sync_runner(own_backend, tmp_path, files, chunk_size=4)


def sync_runner(backend, tmp_path, files, chunk_size: int) -> JobRunner:
    settings = Settings(job_chunk_size=chunk_size, data_dir=tmp_path, signing_key="test-signing-key", dataset_file_root=files)
    return JobRunner([SYNC_JOBS], JobEnv(db=backend.db, settings=settings, clock=WriteClock(), blobs=open_blob_store(settings)))


def run_jobs(runner: JobRunner) -> None:
    while runner():
        pass


def create_dataset(api, store: str, source: dict, **fields) -> dict:
    body = {"displayName": f"ds-{uuid.uuid4().hex[:8]}", "source": source, "keyColumn": "id", **fields}
    response = api.post(f"/v1/ControlPlane/Stores/{store}/Datasets", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def create_mapping(api, store: str, dataset_id: str, mappings: dict, kind: str = "DATASET_WAREHOUSE") -> str:
    body = {
        "displayName": f"m-{uuid.uuid4().hex[:8]}",
        "mappingFrom": {"type": kind, "datasetId": dataset_id},
        "mappingTo": {"type": "TRAITS", "mappings": [{"expression": e, "traitGroup": "Contact", "traitName": t} for e, t in mappings.items()]},
    }
    response = api.post(f"/v1/ControlPlane/Stores/{store}/DataMappings", json=body)
    assert response.status_code == 202, response.text
    listed = api.get(f"/v1/ControlPlane/Stores/{store}/DataMappings").json()["dataMappings"]
    return next(m["id"] for m in listed if m["displayName"] == body["displayName"])


def sync_now(api, runner, store: str, mapping_id: str, **body) -> dict:
    response = api.post(f"/v1/ControlPlane/Stores/{store}/DataMappings/{mapping_id}/Syncs", json=body)
    assert response.status_code == 202, response.text
    run_jobs(runner)
    return api.get(response.headers["Location"].replace(api.base_url, "")).json()


def profiles(api, store: str) -> list[dict]:
    found, path = [], f"/v1/Stores/{store}/Profiles?pageSize=1000"
    for profile_id in api.get(path).json()["profiles"]:
        found.append(api.get(f"/v1/Stores/{store}/Profiles/{profile_id}").json())
    return found


def by_email(api, store: str) -> dict:
    return {p["traits"]["Contact"]["email"]: p["traits"]["Contact"] for p in profiles(api, store)}


def test_a_postgres_table_syncs_in_full_then_only_what_changed(dapi, runner, own_backend):
    with postgres_source() as url:
        fill(url, "crm_contacts", people(10))
        store = dapi.create_store()
        dataset = create_dataset(dapi, store, {"type": "SQL", "url": url, "table": "crm_contacts"}, cursorColumn="updated_at")
        assert "password" not in str(dataset) and dataset["columns"][1]["kind"] == "STRING"
        mapping = create_mapping(dapi, store, dataset["id"], {"email": "email", "first_name": "firstName"})

        first = sync_now(dapi, runner, store, mapping)
        assert first["status"] == "COMPLETED" and first["full"] is True, first
        assert first["progress"] == {"rowsRead": 10, "rowsWritten": 10, "errors": 0}
        assert by_email(dapi, store)["p3@crm.example"]["firstName"] == "Name3"

        # Two rows change and one arrives, all at one instant: the ties are all read, once.
        later = T0 + timedelta(hours=1)
        execute(url, "UPDATE crm_contacts SET first_name = 'Changed', updated_at = :at WHERE id IN (3, 7)", at=later.replace(tzinfo=None))
        execute(url, "INSERT INTO crm_contacts VALUES (11, 'p11@crm.example', 'Eleven', :at)", at=later.replace(tzinfo=None))
        second = sync_now(dapi, runner, store, mapping)
        assert second["status"] == "COMPLETED" and second["full"] is False, second
        assert second["progress"] == {"rowsRead": 3, "rowsWritten": 3, "errors": 0}
        found = by_email(dapi, store)
        assert len(found) == 11 and found["p3@crm.example"]["firstName"] == "Changed" and found["p11@crm.example"]["firstName"] == "Eleven"

        assert sync_now(dapi, runner, store, mapping)["progress"]["rowsRead"] == 0
        with own_backend.db.reading() as session:
            sources = set(session.scalars(select(ProfileHistory.source)))
        assert sources == {f"mapping:{mapping}"}


def test_a_crm_table_and_a_warehouse_file_merge_into_one_profile_per_person(dapi, runner, files):
    with postgres_source() as url:
        fill(url, "crm", [(i, f"p{i}@shared.example", f"Crm{i}", T0) for i in range(1, 6)])
        with duckdb.connect() as conn:
            conn.execute(
            f"COPY (SELECT i AS id, 'P' || i || '@SHARED.example' AS mail, '+1415555' || lpad(i::VARCHAR, 4, '0') AS phone "
            f"FROM range(1, 9) t(i)) TO '{files / 'warehouse.parquet'}' (FORMAT PARQUET)"
        )
        store = dapi.create_store()
        crm = create_dataset(dapi, store, {"type": "SQL", "url": url, "table": "crm"})
        warehouse = create_dataset(dapi, store, {"type": "FILE", "location": "warehouse.parquet", "format": "PARQUET"}, kind="DATASET_CLOUDAPP")
        crm_mapping = create_mapping(dapi, store, crm["id"], {"email": "email", "first_name": "firstName"})
        warehouse_mapping = create_mapping(dapi, store, warehouse["id"], {"lower(mail)": "email", "phone": "phone"}, kind="DATASET_CLOUDAPP")

        assert sync_now(dapi, runner, store, crm_mapping)["progress"]["rowsWritten"] == 5
        assert sync_now(dapi, runner, store, warehouse_mapping)["progress"]["rowsWritten"] == 8

        found = profiles(dapi, store)
        assert len(found) == 8
        merged = {p["traits"]["Contact"]["email"]: p["traits"]["Contact"] for p in found}
        assert merged["p2@shared.example"] == {"email": "p2@shared.example", "firstName": "Crm2", "phone": "+14155550002"}
        assert "firstName" not in merged["p7@shared.example"]


def test_a_mariadb_table_syncs(dapi, runner):
    with throwaway_database(MYSQL_ADMIN_URL) as url:
        fill(url, "customers", people(6, domain="maria.example") + [(7, None, "NoEmail", T0)])
        store = dapi.create_store()
        dataset = create_dataset(dapi, store, {"type": "SQL", "url": url, "table": "customers"}, cursorColumn="updated_at")
        mapping = create_mapping(dapi, store, dataset["id"], {"email": "email", "CONCAT(first_name, '!')": "firstName"})
        done = sync_now(dapi, runner, store, mapping)
        assert done["progress"] == {"rowsRead": 7, "rowsWritten": 6, "errors": 1}, done
        assert by_email(dapi, store)["p4@maria.example"]["firstName"] == "Name4!"
        errors = dapi.get(f"/v1/ControlPlane/Stores/{store}/DataMappings/{mapping}/Syncs/{done['id']}/Errors").json()["errors"]
        assert errors[0]["rowKey"] == "7" and "identifier" in errors[0]["reason"]


def test_a_source_that_goes_away_mid_sync_fails_clearly_and_the_next_sync_resumes(dapi, runner, files, own_backend, monkeypatch, tmp_path):
    url = f"sqlite:///{files / 'crm.db'}"
    fill(url, "contacts", people(10))
    store = dapi.create_store()
    dataset = create_dataset(dapi, store, {"type": "SQL", "url": "sqlite:///crm.db", "table": "contacts"}, cursorColumn="updated_at")
    mapping = create_mapping(dapi, store, dataset["id"], {"email": "email"})

    read = SqlSource.read
    reads = []

    def table_dropped_after_the_first_chunk(self, *args):
        if reads:
            execute(url, "ALTER TABLE contacts RENAME TO contacts_gone")
        reads.append(1)
        return read(self, *args)

    monkeypatch.setattr(SqlSource, "read", table_dropped_after_the_first_chunk)
    started = dapi.post(f"/v1/ControlPlane/Stores/{store}/DataMappings/{mapping}/Syncs", json={})
    run_jobs(runner)
    monkeypatch.setattr(SqlSource, "read", read)
    failed = dapi.get(started.headers["Location"].replace(dapi.base_url, "")).json()
    assert failed["status"] == "FAILED" and "could not be read" in failed["failureReason"] and "contacts" in failed["failureReason"], failed
    assert failed["progress"]["rowsWritten"] == 4
    refused = run_cli(own_backend, tmp_path, "jobs", "retry", failed["id"])
    assert refused.returncode == 1 and "start a new sync" in refused.stdout, refused.stdout + refused.stderr

    execute(url, "ALTER TABLE contacts_gone RENAME TO contacts")
    resumed = sync_now(dapi, runner, store, mapping)
    assert resumed["status"] == "COMPLETED" and resumed["progress"]["rowsRead"] == 6, resumed
    with own_backend.db.reading() as session:
        created = session.scalars(select(ProfileHistory.profile_id).where(ProfileHistory.action == "created")).all()
    assert len(created) == len(set(created)) == 10


class WorkerKilled(BaseException):
    """Stops the worker where it is, as kill -9 would: nothing of it runs on, its lease is left to run out."""


def test_a_killed_worker_s_successor_resumes_after_the_last_committed_chunk(dapi, files, own_backend, tmp_path, monkeypatch):
    fill(f"sqlite:///{files / 'crm.db'}", "contacts", people(10))
    store = dapi.create_store()
    dataset = create_dataset(dapi, store, {"type": "SQL", "url": "sqlite:///crm.db", "table": "contacts"})
    mapping = create_mapping(dapi, store, dataset["id"], {"email": "email", "first_name": "firstName"})
    dapi.post(f"/v1/ControlPlane/Stores/{store}/DataMappings/{mapping}/Syncs", json={})

    read = SqlSource.read
    reads = []

    def dies_before_the_second_chunk(self, *args):
        if reads:
            raise WorkerKilled
        reads.append(1)
        return read(self, *args)

    monkeypatch.setattr(SqlSource, "read", dies_before_the_second_chunk)
    with pytest.raises(WorkerKilled):
        sync_runner(own_backend, tmp_path, files, chunk_size=4)()
    monkeypatch.setattr(SqlSource, "read", read)
    with own_backend.db.reading() as session:
        assert session.scalar(select(DatasetSync.rows_written)) == 4
    with own_backend.db.writing() as session:
        job = session.scalar(select(Job).where(Job.kind == "dataset_sync"))
        assert job.status == "RUNNING"
        job.lease_expires_at = datetime.now(timezone.utc) - timedelta(seconds=1)
    run_jobs(sync_runner(own_backend, tmp_path, files, chunk_size=4))
    with own_backend.db.reading() as session:
        sync = session.scalar(select(DatasetSync))
        created = session.scalars(select(ProfileHistory.profile_id).where(ProfileHistory.action == "created")).all()
    assert sync.status == "COMPLETED" and sync.rows_read == 10 and sync.rows_written == 10
    assert len(created) == len(set(created)) == 10


def test_the_scheduler_starts_the_first_sync_then_each_interval_and_stops_when_disabled(dapi, runner, files, own_backend):
    fill(f"sqlite:///{files / 'crm.db'}", "contacts", people(3))
    store = dapi.create_store()
    dataset = create_dataset(dapi, store, {"type": "SQL", "url": "sqlite:///crm.db", "table": "contacts"}, cursorColumn="updated_at", syncIntervalSeconds=60)
    mapping = create_mapping(dapi, store, dataset["id"], {"email": "email"})
    now = datetime.now(timezone.utc)
    assert start_due_syncs(own_backend.db, now) == 1
    assert start_due_syncs(own_backend.db, now) == 0  # one is already pending
    run_jobs(runner)
    assert start_due_syncs(own_backend.db, now + timedelta(seconds=30)) == 0
    assert start_due_syncs(own_backend.db, now + timedelta(seconds=61)) == 1
    run_jobs(runner)
    syncs = dapi.get(f"/v1/ControlPlane/Stores/{store}/DataMappings/{mapping}/Syncs").json()["syncs"]
    assert [s["trigger"] for s in syncs] == ["SCHEDULE", "SCHEDULE"] and {s["status"] for s in syncs} == {"COMPLETED"}

    patched = dapi.patch(f"/v1/ControlPlane/Stores/{store}/DataMappings/{mapping}", json={"isEnabled": False})
    assert patched.status_code == 202, patched.text
    assert start_due_syncs(own_backend.db, now + timedelta(days=1)) == 0
    refused = dapi.post(f"/v1/ControlPlane/Stores/{store}/DataMappings/{mapping}/Syncs", json={})
    assert refused.status_code == 409 and "isEnabled" in refused.json()["message"]


INJECTIONS = [
    "email; DROP TABLE contacts",
    "(SELECT email FROM contacts LIMIT 1)",
    "email' OR '1'='1",
    "load_extension('x')",
    "count(*)",
    "other.email",
    "password",
    "\"email\" FROM contacts --",
]


def test_expressions_that_are_not_one_scalar_over_the_source_are_refused(shared_api, files):
    fill(f"sqlite:///{files / 'crm.db'}", "contacts", people(1))
    store = shared_api.create_store()
    dataset = create_dataset(shared_api, store, {"type": "SQL", "url": "sqlite:///crm.db", "table": "contacts"})
    for expression in INJECTIONS:
        body = {
            "displayName": "m",
            "mappingFrom": {"type": "DATASET_WAREHOUSE", "datasetId": dataset["id"]},
            "mappingTo": {"type": "TRAITS", "mappings": [{"expression": expression, "traitGroup": "Contact", "traitName": "email"}]},
        }
        response = shared_api.post(f"/v1/ControlPlane/Stores/{store}/DataMappings", json=body)
        assert response.status_code == 400, (expression, response.text)
        assert "expression" in response.json()["message"], expression
    assert shared_api.get(f"/v1/ControlPlane/Stores/{store}/DataMappings").json()["dataMappings"] == []


def test_credentials_are_sealed_and_files_outside_the_root_are_refused(shared_api, files, backend, tmp_path):
    store = shared_api.create_store()
    outside = tmp_path / "secret.csv"
    outside.write_text("id,email\n1,a@b.c\n")
    refused = shared_api.post(
        f"/v1/ControlPlane/Stores/{store}/Datasets",
        json={"displayName": "x", "source": {"type": "FILE", "location": "../secret.csv", "format": "CSV"}, "keyColumn": "id"},
    )
    assert refused.status_code == 400 and "outside the dataset file root" in refused.json()["message"]

    (files / "people.csv").write_text("id,email\n1,a@b.c\n")
    dataset = create_dataset(
        shared_api, store, {"type": "FILE", "location": "people.csv", "format": "CSV", "accessKeyId": "AKIAEXAMPLE", "secretAccessKey": "hunter2-secret"}
    )
    assert dataset["hasCredentials"] is True and "hunter2" not in str(dataset) and "AKIA" not in str(dataset)
    with backend.db.reading() as session:
        stored = session.execute(text("SELECT source, sealed_credentials FROM datasets WHERE sid = :sid"), {"sid": dataset["id"]}).one()
    assert "hunter2" not in str(stored) and stored[1].startswith("gAAAA")
    fetched = shared_api.get(f"/v1/ControlPlane/Stores/{store}/Datasets/{dataset['id']}").json()
    assert fetched["columns"][1] == {"name": "email", "type": "VARCHAR", "kind": "STRING", "samples": ["a@b.c"]}


def test_datasets_are_managed_and_a_dataset_in_use_is_not_deleted(dapi, runner, files, own_backend):
    fill(f"sqlite:///{files / 'crm.db'}", "contacts", people(2))
    store = dapi.create_store()
    path = f"/v1/ControlPlane/Stores/{store}/Datasets"
    dataset = create_dataset(dapi, store, {"type": "SQL", "url": "sqlite:///crm.db", "table": "contacts"}, displayName="crm")
    taken = dapi.post(path, json={"displayName": "crm", "source": {"type": "SQL", "url": "sqlite:///crm.db", "table": "contacts"}, "keyColumn": "id"})
    assert taken.status_code == 409
    no_column = dapi.patch(f"{path}/{dataset['id']}", json={"cursorColumn": "changed_at"})
    assert no_column.status_code == 400 and "changed_at" in no_column.json()["message"]
    patched = dapi.patch(f"{path}/{dataset['id']}", json={"cursorColumn": "updated_at", "syncIntervalSeconds": 3600}).json()
    assert (patched["cursorColumn"], patched["syncIntervalSeconds"], patched["keyColumn"]) == ("updated_at", 3600, "id")
    execute(f"sqlite:///{files / 'crm.db'}", "ALTER TABLE contacts ADD COLUMN tier VARCHAR(10)")
    columns = dapi.get(f"{path}/{dataset['id']}/Columns").json()
    assert [c["name"] for c in columns] == ["id", "email", "first_name", "updated_at", "tier"]
    assert columns[1]["samples"] == ["p1@crm.example", "p2@crm.example"]
    assert [d["id"] for d in dapi.get(path).json()["datasets"]] == [dataset["id"]]

    mapping = create_mapping(dapi, store, dataset["id"], {"email": "email"})
    in_use = dapi.delete(f"{path}/{dataset['id']}")
    assert in_use.status_code == 409 and mapping in in_use.json()["message"]
    # A sync whose mapping is deleted before it runs ends its job, with nothing to come back to.
    assert dapi.post(f"/v1/ControlPlane/Stores/{store}/DataMappings/{mapping}/Syncs", json={}).status_code == 202
    assert dapi.delete(f"/v1/ControlPlane/Stores/{store}/DataMappings/{mapping}").status_code == 202
    run_jobs(runner)
    with own_backend.db.reading() as session:
        assert session.scalars(select(Job.status).where(Job.kind == "dataset_sync")).all() == ["COMPLETED"]
    assert dapi.delete(f"{path}/{dataset['id']}").status_code == 204
    assert dapi.get(f"{path}/{dataset['id']}").status_code == 404

    query = {"type": "SQL", "url": "sqlite:///crm.db", "query": "SELECT id, lower(email) AS mail FROM contacts WHERE id > 1"}
    from_query = create_dataset(dapi, store, query)
    assert [(c["name"], c["samples"]) for c in from_query["columns"]] == [("id", [2]), ("mail", ["p2@crm.example"])]
    mapping = create_mapping(dapi, store, from_query["id"], {"mail": "email"})
    assert sync_now(dapi, runner, store, mapping)["progress"] == {"rowsRead": 1, "rowsWritten": 1, "errors": 0}
    for writing in ("DELETE FROM contacts", "SELECT 1; DROP TABLE contacts", "SELECT * INTO copy FROM contacts"):
        refused = dapi.post(path, json={"displayName": "w", "source": dict(query, query=writing), "keyColumn": "id"})
        assert refused.status_code == 400 and "query" in refused.json()["message"], (writing, refused.text)

    paths = dapi.get("/openapi.json").json()["paths"]
    assert set(paths["/v1/ControlPlane/Stores/{storeId}/Datasets/{datasetId}"]) == {"get", "patch", "delete"}
    syncs = "/v1/ControlPlane/Stores/{storeId}/DataMappings/{dataMappingId}/Syncs"
    assert set(paths[syncs]) == {"get", "post"} and f"{syncs}/{{syncId}}/Errors" in paths


def test_a_parquet_file_in_s3_syncs(dapi, runner, tmp_path):
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="exports")
        parquet = tmp_path / "people.parquet"
        with duckdb.connect() as conn:
            conn.execute(f"COPY (SELECT i AS id, 'p' || i || '@s3.example' AS email FROM range(1, 6) t(i)) TO '{parquet}' (FORMAT PARQUET)")
        s3.put_object(Bucket="exports", Key="crm/people.parquet", Body=parquet.read_bytes())
        store = dapi.create_store()
        source = {"type": "FILE", "location": "s3://exports/crm/people.parquet", "format": "PARQUET", "region": "us-east-1",
                  "accessKeyId": "testing", "secretAccessKey": "testing"}
        dataset = create_dataset(dapi, store, source)
        assert dataset["hasCredentials"] and "secretAccessKey" not in dataset["source"]
        mapping = create_mapping(dapi, store, dataset["id"], {"email": "email"})
        assert sync_now(dapi, runner, store, mapping)["progress"]["rowsWritten"] == 5
    assert sorted(by_email(dapi, store)) == [f"p{i}@s3.example" for i in range(1, 6)]


def test_suggestions_for_a_dataset_read_its_columns_and_samples(shared_api, files):
    fill(f"sqlite:///{files / 'crm.db'}", "contacts", people(3))
    store = shared_api.create_store()
    dataset = create_dataset(shared_api, store, {"type": "SQL", "url": "sqlite:///crm.db", "table": "contacts"})
    response = shared_api.post(f"/v1/ControlPlane/Stores/{store}/DataMappingSuggestions", json={"datasetId": dataset["id"]})
    assert response.status_code == 200, response.text
    body = response.json()
    suggested = {(m["mapping"]["expression"], m["mapping"]["traitName"]) for m in body["mappingTo"]["mappings"]}
    assert ("email", "email") in suggested and ("first_name", "firstName") in suggested, body
    assert body["mappingFrom"] == {"type": "DATASET_WAREHOUSE", "datasetId": dataset["id"]}
