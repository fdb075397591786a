"""Workers die (kill -9) and come back: imports and batches end as an uninterrupted run
ends them. Several workers on PostgreSQL share the work without doing any of it twice."""

import os
import signal

import pytest

from tests.conftest import Api, start_server, stop_server
from tests.jobs_support import (
    create_import,
    error_report,
    fetch_import,
    jobs_of,
    mappings,
    start_worker,
    stop_worker,
    store_state,
    upload,
    wait_bulk,
    wait_for,
    wait_import,
)

# Small chunks and a short lease, so a test sees many commits and a dead worker's job comes back quickly;
# the lease still outlasts a chunk on a loaded machine, or a live worker would lose its job (and count an attempt).
WORKER_ENV = {"CONVMEM_JOB_LEASE_SECONDS": "3", "CONVMEM_JOB_CHUNK_SIZE": "100"}
COLUMNS = mappings({"email": "email", "phone": "phone", "first_name": "firstName", "city": "city"})


def messy_csv(rows: int) -> bytes:
    """Rows that create, update, merge and fail, so that a row applied twice or lost shows."""
    lines = ["email,phone,first_name,city"]
    for i in range(1, rows + 1):
        if i % 97 == 0:
            lines.append(f",,NoId{i},Nowhere")
        elif i % 53 == 0:
            lines.append(f"p{i}@example.com,12,Bad{i},Nowhere")
        elif i % 10 == 0:  # ties row i-5's email to row i-3's phone: a merge
            lines.append(f"p{i - 5}@example.com,+1317555{(i - 3) % 10000:04d},Merge{i},M{i}")
        elif i % 7 == 0:  # the same person again, newer city
            lines.append(f"P{i - 1}@Example.com,,,Again{i}")
        else:
            lines.append(f"p{i}@example.com,+1317555{i % 10000:04d},N{i},C{i % 11}")
    return ("\r\n".join(lines) + "\r\n").encode()


@pytest.fixture
def split_server(own_backend, tmp_path):
    """A server without its embedded worker: workers are separate processes the test controls."""
    server = start_server(own_backend, tmp_path, extra_env={"CONVMEM_EMBEDDED_WORKER": "false"})
    yield server
    stop_server(server)


def kill_when(worker, probe):
    wait_for(probe, timeout=60, interval=0.01)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()


def test_an_import_resumes_after_its_worker_is_killed(own_backend, own_account, split_server, tmp_path):
    api = Api(split_server.base_url, own_account)
    data = messy_csv(3000)
    interrupted, reference = api.create_store(), api.create_store()
    import_id, url = create_import(api, interrupted, data, COLUMNS)
    assert upload(url, data).status_code == 200

    worker = start_worker(own_backend, tmp_path, "worker-1.log", WORKER_ENV)
    kill_when(worker, lambda: fetch_import(api, interrupted, import_id)["progress"]["processedRows"] >= 300)
    killed_at = fetch_import(api, interrupted, import_id)
    assert killed_at["status"] == "PROCESSING", "the worker finished before it could be killed"
    assert killed_at["progress"]["processedRows"] < killed_at["progress"]["totalRows"]

    worker = start_worker(own_backend, tmp_path, "worker-2.log", WORKER_ENV)
    try:
        done = wait_import(api, interrupted, import_id)
        reference_id, reference_url = create_import(api, reference, data, COLUMNS)
        assert upload(reference_url, data).status_code == 200
        expected = wait_import(api, reference, reference_id)
    finally:
        stop_worker(worker)

    assert done["status"] == expected["status"] == "COMPLETED"
    assert done["progress"] == expected["progress"] == {"processedRows": 3000, "totalRows": 3000}
    assert done["summary"] == expected["summary"]
    assert error_report(api, interrupted, import_id) == error_report(api, reference, reference_id)
    assert store_state(own_backend.db, interrupted) == store_state(own_backend.db, reference)
    assert store_state(own_backend.db, reference)["merges"] > 0
    assert [job.attempts for job in jobs_of(own_backend.db, interrupted)] == [2]
    assert [job.attempts for job in jobs_of(own_backend.db, reference)] == [1]


def test_a_bulk_batch_resumes_after_its_worker_is_killed(own_backend, own_account, split_server, tmp_path):
    api = Api(split_server.base_url, own_account)
    profiles = [
        {"traits": {"Contact": {"email": f"b{i % 700}@example.com", "phone": f"+1317556{i % 900:04d}", "city": f"c{i}"}}}
        for i in range(1000)
    ]
    interrupted, reference = api.create_store(), api.create_store()
    status_url = api.put(f"/v1/Stores/{interrupted}/Profiles/Bulk", json={"profiles": profiles}).json()["statusUrl"]
    path = status_url.replace(api.base_url, "")

    worker = start_worker(own_backend, tmp_path, "worker-1.log", WORKER_ENV)
    kill_when(worker, lambda: api.get(path).json()["progress"]["processed"] >= 200)
    assert api.get(path).json()["status"] == "RUNNING", "the worker finished before it could be killed"

    worker = start_worker(own_backend, tmp_path, "worker-2.log", WORKER_ENV)
    try:
        done = wait_bulk(api, status_url)
        reference_url = api.put(f"/v1/Stores/{reference}/Profiles/Bulk", json={"profiles": profiles}).json()["statusUrl"]
        expected = wait_bulk(api, reference_url)
    finally:
        stop_worker(worker)

    assert done["status"] == expected["status"] == "COMPLETED"
    assert done["summary"] == expected["summary"]
    assert [r["index"] for r in done["results"]] == list(range(1000))
    assert [r["status"] for r in done["results"]] == [r["status"] for r in expected["results"]]
    assert store_state(own_backend.db, interrupted) == store_state(own_backend.db, reference)
    assert [job.attempts for job in jobs_of(own_backend.db, interrupted)] == [2]


def test_several_workers_on_postgresql_share_the_work_once(own_backend, own_account, split_server, tmp_path):
    if own_backend.name != "postgresql":
        pytest.skip("several worker processes is a PostgreSQL setup (SKIP LOCKED)")
    api = Api(split_server.base_url, own_account)
    stores = [api.create_store() for _ in range(4)]
    workers = [start_worker(own_backend, tmp_path, f"worker-{n}.log", WORKER_ENV) for n in range(3)]
    try:
        batches = {
            store: [
                api.put(
                    f"/v1/Stores/{store}/Profiles/Bulk",
                    json={"profiles": [{"traits": {"Contact": {"email": f"e{n}@example.com", "city": f"v{version}"}}} for n in range(150)]},
                ).json()["statusUrl"]
                for version in range(5)
            ]
            for store in stores
        }
        data = messy_csv(1000)
        imports = []
        for store in stores[:2]:
            import_id, url = create_import(api, store, data, COLUMNS)
            assert upload(url, data).status_code == 200
            imports.append((store, import_id))
        results = {store: [wait_bulk(api, url) for url in urls] for store, urls in batches.items()}
        finished = [wait_import(api, store, import_id) for store, import_id in imports]
    finally:
        for worker in workers:
            stop_worker(worker)

    for store, outcome in results.items():
        # In arrival order per store: the first batch creates, the others update, the last one's value stays.
        assert [r["summary"] for r in outcome] == [{"created": 150, "updated": 0, "failed": 0}] + [
            {"created": 0, "updated": 150, "failed": 0}
        ] * 4
        profile = outcome[0]["results"][0]["profileId"]
        assert api.get(f"/v1/Stores/{store}/Profiles/{profile}").json()["traits"]["Contact"]["city"] == "v4"
    assert [f["summary"] for f in finished] == [finished[0]["summary"]] * 2
    every_job = [job for store in stores for job in jobs_of(own_backend.db, store)]
    assert len(every_job) == 22 and {job.status for job in every_job} == {"COMPLETED"}
    assert {job.attempts for job in every_job} == {1}, "a job was claimed twice"
    assert len({job.result["completedBy"] for job in every_job}) > 1, "one worker did everything"
