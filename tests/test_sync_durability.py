"""A data mapping's sync survives its worker being killed (kill -9) and convmem's own PostgreSQL
cutting its connections: it ends as an uninterrupted sync of the same rows ends, with nothing
written, counted or reported twice. The sync tests beside the imports' in
test_worker_durability.py and test_outages.py, with real worker processes and a real source table."""

import time

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from convmem.accounts.service import create_account
from convmem.database.engine import normalise_url
from convmem.database.tables import DatasetSync, ProfileHistory, Store
from tests.conftest import POSTGRES_URL, Api, make_backend, start_server, stop_server
from tests.jobs_support import jobs_of, start_worker, stop_worker, store_state, wait_for
from tests.test_dataset_sync import create_dataset, create_mapping, postgres_source
from tests.test_outages import admin_connection, terminate_connections
from tests.test_worker_durability import (  # noqa: F401 (a fixture)
    WORKER_ENV,
    kill_when,
    split_server,
)

ROWS = 600
CONTACT = {"email": "email", "phone": "phone", "first_name": "firstName", "city": "city"}


def messy_rows(count: int) -> list[dict]:
    """Rows that create, update, merge and fail (as the import tests' messy CSV), so that a row
    applied twice or lost shows in the profiles, the counts or the row errors."""
    rows = []
    for i in range(1, count + 1):
        if i % 97 == 0:
            row = (None, None, f"NoId{i}", "Nowhere")
        elif i % 53 == 0:
            row = (f"p{i}@example.com", "12", f"Bad{i}", "Nowhere")
        elif i % 10 == 0:  # ties row i-5's email to row i-3's phone: a merge
            row = (f"p{i - 5}@example.com", f"+1317555{(i - 3) % 10000:04d}", f"Merge{i}", f"M{i}")
        elif i % 7 == 0:  # the same person again, newer city
            row = (f"P{i - 1}@Example.com", None, None, f"Again{i}")
        else:
            row = (f"p{i}@example.com", f"+1317555{i % 10000:04d}", f"N{i}", f"C{i % 11}")
        rows.append(dict(zip(("id", "email", "phone", "first_name", "city"), (i, *row))))
    return rows


def fill_contacts(url: str, rows: list[dict]) -> None:
    engine = create_engine(normalise_url(url))
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE contacts (id INTEGER PRIMARY KEY, email TEXT, phone TEXT, first_name TEXT, city TEXT)"))
        conn.execute(text("INSERT INTO contacts VALUES (:id, :email, :phone, :first_name, :city)"), rows)
    engine.dispose()


def start_sync(api, store: str, source_url: str) -> str:
    """A dataset over the source's contacts table, a mapping of it and a sync of it; the sync's path."""
    dataset = create_dataset(api, store, {"type": "SQL", "url": source_url, "table": "contacts"})
    mapping = create_mapping(api, store, dataset["id"], CONTACT)
    response = api.post(f"/v1/ControlPlane/Stores/{store}/DataMappings/{mapping}/Syncs", json={})
    assert response.status_code == 202, response.text
    return response.headers["Location"].replace(api.base_url, "")


def finished_sync(api, path: str) -> dict | None:
    """The sync once it has ended; None while it runs or while the server answers 503 (an outage)."""
    response = api.get(path)
    if response.status_code == 503:
        return None
    assert response.status_code == 200, response.text
    body = response.json()
    return body if body["status"] not in ("PENDING", "RUNNING") else None


def row_errors(api, path: str) -> list[dict]:
    response = api.get(f"{path}/Errors?pageSize=1000")
    assert response.status_code == 200, response.text
    return response.json()["errors"]


def history_entries(db, store_sid: str) -> int:
    with db.reading() as session:
        return session.scalar(select(func.count()).select_from(ProfileHistory).join(Store).where(Store.sid == store_sid))


def assert_same_outcome(api, db, done_path: str, reference_path: str, stores: tuple[str, str]) -> None:
    done, expected = finished_sync(api, done_path), finished_sync(api, reference_path)
    assert done["status"] == expected["status"] == "COMPLETED", (done, expected)
    assert done["progress"] == expected["progress"]
    assert done["progress"]["rowsRead"] == ROWS and done["progress"]["errors"] > 0
    assert row_errors(api, done_path) == row_errors(api, reference_path)
    interrupted, reference = stores
    assert store_state(db, interrupted) == store_state(db, reference)
    assert store_state(db, reference)["merges"] > 0
    assert history_entries(db, interrupted) == history_entries(db, reference)


def test_a_sync_resumes_after_its_worker_is_killed(own_backend, own_account, split_server, tmp_path):  # noqa: F811
    api = Api(split_server.base_url, own_account)
    with postgres_source() as source_url:
        fill_contacts(source_url, messy_rows(ROWS))
        interrupted, reference = api.create_store(), api.create_store()
        path = start_sync(api, interrupted, source_url)

        worker = start_worker(own_backend, tmp_path, "worker-1.log", WORKER_ENV)
        kill_when(worker, lambda: api.get(path).json()["progress"]["rowsRead"] >= 200)
        killed_at = api.get(path).json()
        assert killed_at["status"] == "RUNNING", "the worker finished before it could be killed"
        assert killed_at["progress"]["rowsRead"] < ROWS

        # The reference runs while the killed worker's lease runs out.
        reference_path = start_sync(api, reference, source_url)
        worker = start_worker(own_backend, tmp_path, "worker-2.log", WORKER_ENV)
        try:
            wait_for(lambda: finished_sync(api, path))
            wait_for(lambda: finished_sync(api, reference_path))
        finally:
            stop_worker(worker)

    assert_same_outcome(api, own_backend.db, path, reference_path, (interrupted, reference))
    assert [job.attempts for job in jobs_of(own_backend.db, interrupted)] == [2]
    assert [job.attempts for job in jobs_of(own_backend.db, reference)] == [1]


@pytest.mark.skipif(not POSTGRES_URL, reason="cutting a database off needs CONVMEM_TEST_POSTGRES_URL")
def test_a_sync_survives_its_connections_being_terminated(tmp_path):
    own, cleanup = make_backend("postgresql", tmp_path)
    with own.db.writing() as session:
        account = create_account(session, "outage")
    server = start_server(own, tmp_path, extra_env={"CONVMEM_JOB_CHUNK_SIZE": "100"})
    try:
        api = Api(server.base_url, account)
        with postgres_source() as source_url:
            fill_contacts(source_url, messy_rows(ROWS))
            interrupted, reference = api.create_store(), api.create_store()
            path = start_sync(api, interrupted, source_url)
            with own.db.reading() as session:
                sync_id = session.scalar(select(DatasetSync.id))
            wait_for(lambda: _rows_read(own.db, sync_id) > 0, interval=0.01)
            # Cut for a second, again and again: only convmem's own database; the source, another database on the server, stays up.
            with admin_connection() as conn:
                deadline = time.monotonic() + 1
                while time.monotonic() < deadline:
                    terminate_connections(conn, make_url(own.url).database)
                    time.sleep(0.02)
            # The reference, untouched by the outage, runs while the interrupted sync is set aside.
            reference_path = start_sync(api, reference, source_url)
            wait_for(lambda: finished_sync(api, path), timeout=45)
            wait_for(lambda: finished_sync(api, reference_path))
        assert_same_outcome(api, own.db, path, reference_path, (interrupted, reference))
    finally:
        stop_server(server)
    try:
        assert [job.attempts for job in jobs_of(own.db, interrupted)] == [1], "a terminated connection used up an attempt"
        log = "".join(file.read_text() for file in tmp_path.glob("server-*.log"))
        assert "no attempt counted" in log, "the sync never met the outage"
    finally:
        cleanup()


def _rows_read(db, sync_id: int) -> int:
    with db.reading() as session:
        return session.get(DatasetSync, sync_id).rows_read
