"""Helpers of the bulk, import and worker tests: waiting for jobs, importing, comparing stores."""

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
from sqlalchemy import func, select

from convmem.accounts.service import create_account
from convmem.background.blobstore import open_blob_store
from convmem.background.jobs import JobEnv, JobKind, JobRunner
from convmem.config import Settings
from convmem.database.tables import (
    Import,
    Job,
    Profile,
    ProfileIdentifier,
    ProfileMerge,
    Store,
)
from convmem.kit.clock import WriteClock
from tests.conftest import (
    Api,
    Backend,
    make_backend,
    process_env,
    start_server,
    stop_server,
)

CONTACT = {"email": "email", "phone": "phone", "first_name": "firstName", "last_name": "lastName", "city": "city"}


def wait_for(probe, timeout: float = 60, interval: float = 0.05):
    """Call ``probe`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"gave up waiting after {timeout}s")


def wait_bulk(api, status_url: str, timeout: float = 60) -> dict:
    path = status_url.replace(api.base_url, "")

    def finished():
        body = api.get(path).json()
        return body if body["status"] in ("COMPLETED", "FAILED") else None

    return wait_for(finished, timeout)


def mappings(columns: dict, group: str = "Contact") -> list[dict]:
    return [{"columnName": column, "traitGroup": group, "traitName": trait} for column, trait in columns.items()]


def create_import(api, store: str, data: bytes, column_mappings: list[dict], filename: str = "profiles.csv") -> tuple[str, str]:
    response = api.post(
        f"/v1/Stores/{store}/Profiles/Imports",
        json={"filename": filename, "fileSize": len(data), "columnMappings": column_mappings},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return body["importId"], body["url"]


def upload(url: str, data: bytes) -> requests.Response:
    return requests.put(url, data=data, timeout=60)


def fetch_import(api, store: str, import_id: str) -> dict:
    response = api.get(f"/v1/Stores/{store}/Profiles/Imports/{import_id}")
    assert response.status_code == 200, response.text
    return response.json()


def wait_import(api, store: str, import_id: str, timeout: float = 60) -> dict:
    def finished():
        body = fetch_import(api, store, import_id)
        return body if body["status"] in ("COMPLETED", "FAILED") else None

    return wait_for(finished, timeout)


def import_csv(api, store: str, data: bytes, column_mappings: list[dict]) -> dict:
    import_id, url = create_import(api, store, data, column_mappings)
    response = upload(url, data)
    assert response.status_code == 200, response.text
    return wait_import(api, store, import_id)


def error_report(api, store: str, import_id: str) -> list[list[str]]:
    import csv
    import io

    response = api.get(f"/v1/Stores/{store}/Profiles/Imports/{import_id}/Errors")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.text)))


def store_state(db, store_sid: str) -> dict:
    """What a store holds, independent of ids and times: each live profile's traits and
    identifier values (with their provenance), and how many profiles were merged away."""
    with db.reading() as session:
        store_pk = session.scalar(select(Store.id).where(Store.sid == store_sid))
        profiles = session.execute(
            select(Profile.id, Profile.traits).where(Profile.store_id == store_pk, Profile.canonical_id.is_(None))
        ).all()
        identifiers: dict[int, list] = {}
        for profile_pk, id_type, value, source in session.execute(
            select(ProfileIdentifier.profile_id, ProfileIdentifier.id_type, ProfileIdentifier.value, ProfileIdentifier.source)
            .where(ProfileIdentifier.store_id == store_pk)
            .order_by(ProfileIdentifier.id)
        ):
            identifiers.setdefault(profile_pk, []).append((id_type, value, source.split(":")[0]))
        merges = session.scalar(select(func.count()).select_from(ProfileMerge).where(ProfileMerge.store_id == store_pk))
    live = sorted((json.dumps(traits, sort_keys=True), tuple(identifiers.get(pk, []))) for pk, traits in profiles)
    return {"profiles": live, "merges": merges}


def jobs_of(db, store_sid: str) -> list[Job]:
    with db.reading() as session:
        store_pk = session.scalar(select(Store.id).where(Store.sid == store_sid))
        return list(session.scalars(select(Job).where(Job.store_id == store_pk).order_by(Job.id)))


def import_row(db, import_sid: str) -> Import:
    with db.reading() as session:
        return session.scalar(select(Import).where(Import.sid == import_sid))


def start_worker(backend, data_dir: Path, log_name: str, extra_env: dict | None = None) -> subprocess.Popen:
    """A ``convmem worker`` process beside a server started with the embedded worker off."""
    env = process_env(backend, data_dir, extra_env)
    log = open(data_dir / log_name, "w")
    return subprocess.Popen([sys.executable, "-m", "convmem.cli", "worker"], env=env, stdout=log, stderr=subprocess.STDOUT)


def stop_worker(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def workerless_server(backend_name: str, tmp_path: Path, chunk_size: int) -> Iterator[tuple[Backend, Api]]:
    """A server with no embedded worker on a database of its own (no other test's worker can
    run its jobs), writing ``chunk_size`` rows per job chunk; the test runs the jobs itself."""
    own, cleanup = make_backend(backend_name, tmp_path / "db")
    server = start_server(
        own, tmp_path, extra_env={"CONVMEM_EMBEDDED_WORKER": "false", "CONVMEM_JOB_CHUNK_SIZE": str(chunk_size)}
    )
    try:
        with own.db.writing() as session:
            credentials = create_account(session, "jobs")
        yield own, Api(server.base_url, credentials)
    finally:
        stop_server(server)
        cleanup()


def job_runner(backend: Backend, kinds: list[JobKind], chunk_size: int) -> JobRunner:
    """A runner of ``kinds`` on ``backend``, as a worker process would make it."""
    settings = Settings(job_chunk_size=chunk_size, data_dir=Path(tempfile.mkdtemp(prefix="jobs-")), signing_key="test-signing-key")
    env = JobEnv(db=backend.db, settings=settings, clock=WriteClock(), blobs=open_blob_store(settings))
    return JobRunner(kinds, env)
