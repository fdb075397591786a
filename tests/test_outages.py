"""Outages are survived: the database going away answers 503 and pauses background work,
which resumes where it stopped, without using up its attempts, once the database is back."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, func, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from convmem.accounts.service import create_account
from convmem.background.blobstore import open_blob_store
from convmem.background.jobs import (
    MAX_ATTEMPTS,
    JobEnv,
    JobKind,
    JobRunner,
    JobStatus,
    enqueue,
    finish,
)
from convmem.background.worker import OUTAGE_PAUSE_CAP_SECONDS, Worker
from convmem.config import Settings
from convmem.database.engine import normalise_url
from convmem.database.faults import is_transient, is_unavailable
from convmem.database.tables import Account, Job, Profile, Store
from convmem.imports.job import IMPORT_JOBS
from convmem.imports.schemas import ImportStatus
from convmem.kit.clock import WriteClock
from convmem.stores.service import create_store
from convmem.web.auth import Principal
from tests.conftest import (
    POSTGRES_URL,
    Api,
    free_port,
    make_backend,
    process_env,
    start_server,
    stop_server,
)
from tests.jobs_support import (
    create_import,
    fetch_import,
    import_row,
    mappings,
    start_worker,
    stop_worker,
    upload,
    wait_for,
)

needs_postgres = pytest.mark.skipif(not POSTGRES_URL, reason="cutting a database off needs CONVMEM_TEST_POSTGRES_URL")
COLUMNS = mappings({"email": "email", "city": "city"})


def job_env(db, settings: Settings) -> JobEnv:
    # A signing key of its own, so the blob store writes none into the data folder.
    blobs = open_blob_store(settings.model_copy(update={"signing_key": "test-signing-key"}))
    return JobEnv(db=db, settings=settings, clock=WriteClock(), blobs=blobs)


def refused_connection_error() -> OperationalError:
    """What psycopg raises when no PostgreSQL listens: a real failed connection."""
    engine = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/gone")
    try:
        with pytest.raises(OperationalError) as raised:
            engine.connect()
    finally:
        engine.dispose()
    return raised.value


@contextmanager
def locked_sqlite(path):
    """An SQLite database another connection holds the write lock of."""
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE IF NOT EXISTS t (x)")
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield f"sqlite:///{path}"
    finally:
        holder.close()


def locked_database_error(path) -> OperationalError:
    """What SQLite raises once its busy timeout (here none) is over: "database is locked"."""
    with locked_sqlite(path) as url:
        engine = create_engine(url, connect_args={"timeout": 0})
        try:
            with pytest.raises(OperationalError) as raised, engine.connect() as conn:
                conn.exec_driver_sql("INSERT INTO t VALUES (1)")
        finally:
            engine.dispose()
    return raised.value


def outage_error(backend_name: str, tmp_path) -> OperationalError:
    return locked_database_error(tmp_path / "locked.db") if backend_name == "sqlite" else refused_connection_error()


def test_connection_level_errors_are_unavailable_and_others_are_not(backend, tmp_path):
    assert is_unavailable(refused_connection_error())
    assert is_unavailable(locked_database_error(tmp_path / "locked.db"))
    with pytest.raises(DBAPIError) as missing_table, backend.db.reading() as session:
        session.execute(text("SELECT * FROM no_such_table"))
    with pytest.raises(IntegrityError) as duplicate, backend.db.writing() as session:
        session.add(Account(sid="AC" + "0" * 32, token_hash="x"))
        session.add(Account(sid="AC" + "0" * 32, token_hash="x"))
    for error in (missing_table.value, duplicate.value, ValueError("no")):
        assert not is_unavailable(error) and not is_transient(error)


def test_statuses_equal_the_strings_stored():
    assert [JobStatus.PENDING, JobStatus.FAILED] == ["PENDING", "FAILED"]
    assert list(ImportStatus) == ["PENDING", "PROCESSING", "COMPLETED", "FAILED"]


def _aware(moment: datetime) -> datetime:
    # SQLite hands timestamps back without their zone; they are stored as UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


class FlakyKind:
    """A job kind whose run raises the given errors, one per run, then succeeds."""

    def __init__(self, errors: list[Exception]):
        self.errors = list(errors)
        self.kind = JobKind("flaky", self.run, lambda session, claim, reason: None)

    def run(self, env: JobEnv, claim) -> None:
        if self.errors:
            raise self.errors.pop(0)
        with env.db.writing() as session:
            finish(session.get(Job, claim.id), JobStatus.COMPLETED, {"attempts": claim.attempts})


def _job(db, job_id: int) -> Job:
    with db.reading() as session:
        return session.get(Job, job_id)


def _enqueue(db, account) -> int:
    with db.writing() as session:
        store = create_store(session, Principal(account.id, account.sid), "jobs", None)
        return enqueue(session, sid=f"job-{store.id}", kind="flaky", store_pk=store.id, payload={}).id


def _make_due(db, job_id: int) -> None:
    with db.writing() as session:
        past = datetime.now(timezone.utc) - timedelta(seconds=1)
        session.execute(update(Job).where(Job.id == job_id).values(lease_expires_at=past))


def test_a_transient_failure_sets_the_job_aside_without_counting_an_attempt(own_backend, own_account, tmp_path):
    db = own_backend.db
    with db.reading() as session:
        account = session.scalar(select(Account).where(Account.sid == own_account.sid))
    flaky = FlakyKind([outage_error(own_backend.name, tmp_path), outage_error(own_backend.name, tmp_path)])
    runner = JobRunner([flaky.kind], job_env(db, Settings(database_url=own_backend.url)))
    job_id = _enqueue(db, account)

    before = datetime.now(timezone.utc)
    assert runner() is True
    first = _job(db, job_id)
    assert (first.status, first.attempts) == (JobStatus.RUNNING, 0)
    assert _aware(first.lease_expires_at) > before, "set aside for a while"
    assert runner() is False, "not claimable while set aside"

    _make_due(db, job_id)
    before = datetime.now(timezone.utc)
    assert runner() is True
    second = _job(db, job_id)
    assert second.attempts == 0
    assert _aware(second.lease_expires_at) >= before + timedelta(seconds=2), "the wait grows in a continuing outage"

    _make_due(db, job_id)
    assert runner() is True
    done = _job(db, job_id)
    assert (done.status, done.attempts, done.result) == (JobStatus.COMPLETED, 1, {"attempts": 1})


def test_an_outage_longer_than_the_bound_counts_as_a_failed_attempt(own_backend, own_account, tmp_path):
    db = own_backend.db
    with db.reading() as session:
        account = session.scalar(select(Account).where(Account.sid == own_account.sid))
    flaky = FlakyKind([outage_error(own_backend.name, tmp_path)])
    settings = Settings(database_url=own_backend.url, job_outage_seconds=0)
    runner = JobRunner([flaky.kind], job_env(db, settings))
    job_id = _enqueue(db, account)

    assert runner() is True
    assert _job(db, job_id).attempts == 1


def test_the_worker_loop_outlives_an_outage_and_waits_longer_each_round(tmp_path):
    error = refused_connection_error()
    outage = {"on": True}

    def task() -> bool:
        if outage["on"]:
            raise error
        return False

    worker = Worker([task], idle_sleep=0.2)
    pauses = []
    for _ in range(10):
        worker.run_once()
        pauses.append(worker.pause())
    assert pauses == sorted(pauses) and pauses[0] > 0.2 and pauses[-1] == OUTAGE_PAUSE_CAP_SECONDS
    outage["on"] = False
    worker.run_once()
    assert worker.pause() == 0.2


@contextmanager
def admin_connection():
    engine = create_engine(normalise_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def terminate_connections(conn, database: str) -> None:
    conn.execute(
        text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name AND pid <> pg_backend_pid()"),
        {"name": database},
    )


@contextmanager
def cut_off(database_url: str):
    """The database refuses connections and its open ones are terminated, until the block ends."""
    name = make_url(database_url).database
    with admin_connection() as conn:
        conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
        terminate_connections(conn, name)
        try:
            yield
        finally:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))


@needs_postgres
def test_an_unreachable_database_answers_503_and_recovers_by_itself(tmp_path):
    own, cleanup = make_backend("postgresql", tmp_path)
    with own.db.writing() as session:
        account = create_account(session, "outage")
    server = start_server(own, tmp_path)
    try:
        api = Api(server.base_url, account)
        store = api.create_store()
        with cut_off(own.url):
            for response in (
                api.get("/v1/ControlPlane/Stores"),
                api.get(f"/v1/Stores/{store}/Profiles"),
                api.post(f"/v1/Stores/{store}/Profiles", json={"traits": {"Contact": {"email": "a@example.com"}}}),
            ):
                assert response.status_code == 503, response.text
                assert int(response.headers["Retry-After"]) > 0
                assert response.json() == {
                    "code": 20503,
                    "message": response.json()["message"],
                    "more_info": "https://www.twilio.com/docs/api/errors/20503",
                    "status": 503,
                }
        wait_for(lambda: api.get("/v1/ControlPlane/Stores").status_code == 200, timeout=30)
        assert api.get(f"/v1/Stores/{store}/Profiles").status_code == 200
    finally:
        stop_server(server)
        cleanup()


def _fetch_through_outage(api, store: str, import_id: str) -> dict | None:
    response = api.get(f"/v1/Stores/{store}/Profiles/Imports/{import_id}")
    if response.status_code == 503:
        return None
    assert response.status_code == 200, response.text
    body = response.json()
    return body if body["status"] in ("COMPLETED", "FAILED") else None


@needs_postgres
def test_an_import_survives_its_connections_being_terminated(tmp_path):
    own, cleanup = make_backend("postgresql", tmp_path)
    with own.db.writing() as session:
        account = create_account(session, "outage")
    rows = 4000
    data = ("email,city\n" + "".join(f"t{i}@example.com,c{i % 13}\n" for i in range(rows))).encode()
    server = start_server(own, tmp_path, extra_env={"CONVMEM_JOB_CHUNK_SIZE": "100"})
    try:
        api = Api(server.base_url, account)
        store = api.create_store()
        import_id, url = create_import(api, store, data, COLUMNS)
        assert upload(url, data).status_code == 200
        wait_for(lambda: (import_row(own.db, import_id).processed_rows or 0) > 0, interval=0.01)
        with admin_connection() as conn:
            deadline = time.monotonic() + 2
            while time.monotonic() < deadline:
                terminate_connections(conn, make_url(own.url).database)
                time.sleep(0.02)
        done = wait_for(lambda: _fetch_through_outage(api, store, import_id), timeout=45)
    finally:
        stop_server(server)
    try:
        assert done["status"] == "COMPLETED", done
        assert done["progress"] == {"processedRows": rows, "totalRows": rows}
        with own.db.reading() as session:
            profiles = session.scalar(select(func.count()).select_from(Profile).join(Store).where(Store.sid == store))
            attempts = session.scalar(select(Job.attempts).where(Job.sid == import_id))
        assert profiles == rows
        assert attempts == 1, "a terminated connection used up an attempt"
        log = "".join(path.read_text() for path in tmp_path.glob("server-*.log"))
        assert "no attempt counted" in log, "the import never met the outage"
    finally:
        cleanup()


def run_cli(backend, data_dir, *args: str) -> subprocess.CompletedProcess:
    env = process_env(backend, data_dir)
    return subprocess.run([sys.executable, "-m", "convmem.cli", *args], env=env, capture_output=True, text=True, timeout=120)


def test_a_failed_import_is_retried_from_where_it_stopped(own_backend, own_account, tmp_path):
    db = own_backend.db
    server = start_server(own_backend, tmp_path, extra_env={"CONVMEM_EMBEDDED_WORKER": "false"})
    worker_env = {"CONVMEM_JOB_CHUNK_SIZE": "100"}
    rows = 3000
    data = ("email,city\n" + "".join(f"r{i}@example.com,c{i}\n" for i in range(rows))).encode()
    try:
        api = Api(server.base_url, own_account)
        store = api.create_store()
        import_id, url = create_import(api, store, data, COLUMNS)
        assert upload(url, data).status_code == 200
        refused = run_cli(own_backend, tmp_path, "jobs", "retry", import_id)
        assert refused.returncode == 1 and "not FAILED" in refused.stdout

        worker = start_worker(own_backend, tmp_path, "worker-1.log", worker_env)
        wait_for(lambda: fetch_import(api, store, import_id)["progress"]["processedRows"] >= 300, interval=0.01)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
        # Its attempts used up, the next claim gives the job up: FAILED, the rows so far written.
        with db.writing() as session:
            session.execute(
                update(Job)
                .where(Job.sid == import_id)
                .values(attempts=MAX_ATTEMPTS, lease_expires_at=datetime.now(timezone.utc) - timedelta(seconds=1))
            )
        settings = Settings(database_url=own_backend.url, data_dir=tmp_path)
        assert JobRunner([IMPORT_JOBS], job_env(db, settings)).claim(db) is None
        failed = fetch_import(api, store, import_id)
        assert failed["status"] == "FAILED" and "gave up" in failed["failureReason"]
        stopped_at = failed["progress"]["processedRows"]
        assert 0 < stopped_at < rows

        retried = run_cli(own_backend, tmp_path, "jobs", "retry", import_id)
        assert retried.returncode == 0, retried.stdout + retried.stderr
        reopened = fetch_import(api, store, import_id)
        assert reopened["status"] == ImportStatus.PROCESSING and "failureReason" not in reopened
        assert reopened["progress"]["processedRows"] == stopped_at
        with db.reading() as session:
            job = session.scalar(select(Job).where(Job.sid == import_id))
        assert (job.status, job.attempts) == (JobStatus.PENDING, 0) and job.progress.get("offset")

        worker = start_worker(own_backend, tmp_path, "worker-2.log", worker_env)
        try:
            done = wait_for(lambda: _fetch_through_outage(api, store, import_id))
        finally:
            stop_worker(worker)
    finally:
        stop_server(server)
    assert done["status"] == "COMPLETED", done
    assert done["progress"] == {"processedRows": rows, "totalRows": rows}
    with db.reading() as session:
        profiles = session.scalar(select(func.count()).select_from(Profile).join(Store).where(Store.sid == store))
    assert profiles == rows

