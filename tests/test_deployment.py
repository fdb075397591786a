"""The documented deployment of docs/deployment.md: two ``convmem serve`` processes (embedded
worker off) and two ``convmem worker`` processes on one PostgreSQL, uploads in S3 (moto), all
with one signing key. Writes through either server keep the identity invariants, either worker
takes imports, a worker killed mid-import loses and repeats nothing, and a page token issued by
one server is accepted by the other."""

import os
import random
import signal
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
import requests
from sqlalchemy import select

from convmem.accounts.service import create_account
from convmem.database.tables import Job, Store
from tests.conftest import (
    POSTGRES_URL,
    Api,
    free_port,
    make_backend,
    start_server,
    stop_server,
)
from tests.jobs_support import (
    create_import,
    error_report,
    fetch_import,
    jobs_of,
    start_worker,
    stop_worker,
    store_state,
    upload,
    wait_for,
    wait_import,
)
from tests.test_resolution_properties import (
    assert_store_invariants,
    components,
    grouping,
)
from tests.test_worker_durability import COLUMNS, messy_csv

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason="several processes share one PostgreSQL (CONVMEM_TEST_POSTGRES_URL)")

BUCKET = "convmem-deployment"
AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
# Short leases and small chunks, so that a killed worker's import comes back quickly, after many commits.
WORKER_ENV = {"CONVMEM_JOB_LEASE_SECONDS": "3", "CONVMEM_JOB_CHUNK_SIZE": "100"}


class Deployment:
    def __init__(self, backend, tmp_path_factory, shared_env: dict):
        self.backend = backend
        self.tmp = tmp_path_factory
        self.env = shared_env
        # Each process has a folder of its own: nothing is shared through local files.
        self.servers = [start_server(backend, tmp_path_factory.mktemp(f"serve-{n}"), extra_env=shared_env) for n in range(2)]
        self.workers = [self.start_worker(n) for n in range(2)]

    def start_worker(self, number: int):
        return start_worker(self.backend, self.tmp.mktemp(f"worker-{number}"), "worker.log", self.env | WORKER_ENV)

    def stop(self):
        for worker in self.workers:
            stop_worker(worker)
        for server in self.servers:
            stop_server(server)


@pytest.fixture(scope="module")
def s3_endpoint():
    from moto.server import ThreadedMotoServer

    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    moto.start()
    endpoint = f"http://127.0.0.1:{port}"
    credentials = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **credentials).create_bucket(Bucket=BUCKET)
    yield endpoint
    moto.stop()


@pytest.fixture(scope="module")
def deployment(s3_endpoint, tmp_path_factory):
    backend, cleanup = make_backend("postgresql", tmp_path_factory.mktemp("deployment-db"))
    shared = {
        "CONVMEM_EMBEDDED_WORKER": "false",
        "CONVMEM_SIGNING_KEY": "deployment-signing-key",
        "CONVMEM_S3_BUCKET": BUCKET,
        "CONVMEM_S3_ENDPOINT_URL": s3_endpoint,
        **AWS_ENV,
    }
    running = Deployment(backend, tmp_path_factory, shared)
    yield running
    running.stop()
    cleanup()


@pytest.fixture(scope="module")
def apis(deployment) -> list[Api]:
    with deployment.backend.db.writing() as session:
        credentials = create_account(session, "deployment")
    return [Api(server.base_url, credentials) for server in deployment.servers]


def store_pk(db, sid: str) -> int:
    with db.reading() as session:
        return session.scalar(select(Store.id).where(Store.sid == sid))


def test_concurrent_overlapping_writes_through_both_servers_keep_the_identity_invariants(deployment, apis):
    store = apis[0].create_store()
    emails = [f"user{i}@example.com" for i in range(12)]
    phones = [f"+1317555{i:04d}" for i in range(12)]
    rng = random.Random(16)
    writes = []
    for _ in range(80):
        ids = [("email", rng.choice(emails)), ("phone", rng.choice(phones))]
        writes.append(rng.sample(ids, rng.choice((1, 2))))

    def send(numbered):
        number, ids = numbered
        api = apis[number % 2]
        traits = {"Contact": dict(ids) | {"city": f"c{number}"}}
        response = requests.post(
            f"{api.base_url}/v1/Stores/{store}/Profiles", json={"traits": traits}, auth=api.session.auth, timeout=60
        )
        return response.status_code, response.text

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(send, enumerate(writes)))

    assert all(status == 202 for status, _ in answers), [text for status, text in answers if status != 202][:3]
    pk = store_pk(deployment.backend.db, store)
    assert_store_invariants(deployment.backend.db, pk)
    assert grouping(deployment.backend.db, pk) == components(writes)
    live = apis[1].get(f"/v1/Stores/{store}/Profiles", params={"pageSize": 1000}).json()["profiles"]
    assert len(live) == len(components(writes)) < 80, "the writes were meant to merge"


def test_a_page_token_of_one_server_is_accepted_by_the_other(apis):
    store = apis[0].create_store()
    for n in range(5):
        assert apis[n % 2].post(f"/v1/Stores/{store}/Profiles", json={"traits": {"Contact": {"email": f"p{n}@example.com"}}}).status_code == 202
    everything = apis[0].get(f"/v1/Stores/{store}/Profiles", params={"pageSize": 5}).json()["profiles"]

    first = apis[0].get(f"/v1/Stores/{store}/Profiles", params={"pageSize": 2}).json()
    second = apis[1].get(f"/v1/Stores/{store}/Profiles", params={"pageToken": first["meta"]["nextToken"]})
    assert second.status_code == 200, second.text
    third = apis[0].get(f"/v1/Stores/{store}/Profiles", params={"pageToken": second.json()["meta"]["nextToken"]}).json()
    assert first["profiles"] + second.json()["profiles"] + third["profiles"] == everything


def test_imports_are_shared_by_the_workers_and_survive_one_killed_mid_import(deployment, apis):
    db = deployment.backend.db
    large, small = messy_csv(2000), messy_csv(600)
    interrupted, reference = apis[0].create_store(), apis[1].create_store()
    shared = [apis[0].create_store() for _ in range(4)]
    import_id, url = create_import(apis[1], interrupted, large, COLUMNS)
    assert upload(url, large).status_code == 200
    for number, store in enumerate(shared):
        _, small_url = create_import(apis[number % 2], store, small, COLUMNS)
        assert upload(small_url, small).status_code == 200
    reference_id, reference_url = create_import(apis[0], reference, large, COLUMNS)
    assert upload(reference_url, large).status_code == 200

    def owner_once_started():
        with db.reading() as session:
            job = session.scalar(select(Job).where(Job.store_id == store_pk(db, interrupted)))
        progress = fetch_import(apis[0], interrupted, import_id)["progress"]["processedRows"]
        return job.lease_owner if job.lease_owner and 300 <= progress < 2000 else None

    victim_pid = int(wait_for(owner_once_started, timeout=60, interval=0.01).split(":")[1])
    victim = next(worker for worker in deployment.workers if worker.pid == victim_pid)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    deployment.workers[deployment.workers.index(victim)] = deployment.start_worker(2)

    done = wait_import(apis[0], interrupted, import_id, timeout=90)
    expected = wait_import(apis[1], reference, reference_id, timeout=90)
    for store in shared:
        wait_for(lambda store=store: jobs_of(db, store)[0].status == "COMPLETED", timeout=60)

    assert done["status"] == expected["status"] == "COMPLETED"
    assert done["progress"] == expected["progress"] == {"processedRows": 2000, "totalRows": 2000}
    assert done["summary"] == expected["summary"]
    assert error_report(apis[0], interrupted, import_id) == error_report(apis[1], reference, reference_id)
    assert store_state(db, interrupted) == store_state(db, reference), "a row was lost or written twice"
    assert [job.attempts for job in jobs_of(db, interrupted)] == [2]
    completed_by = {jobs_of(db, store)[0].result["completedBy"].split(":")[1] for store in (*shared, interrupted, reference)}
    assert len(completed_by) > 1, "one worker did everything"
    assert len({str(store_state(db, store)) for store in shared}) == 1, "the same file made different stores"
