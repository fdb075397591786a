"""A data mapping's full sync from PostgreSQL next to the same rows through a CSV import, in one run.

    CONVMEM_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test python bench/sync_bench.py [--rows 200000]

The rows are import_bench's (fixed seed, 10 columns, unique email and phone). They go into a
table of a throw-away PostgreSQL database (with an ``updated_at`` cursor, all rows at one
instant: every chunk boundary is a tie) and into a CSV file. Each path then runs against a
fresh SQLite convmem database of its own, in this process: the app (in-process, no sockets)
for the API calls, and the job runner, at the default chunk size, doing the work. The time
counted for each is from the request that starts it to its job's end. Prints both rates and
the ratio.
"""

import argparse
import csv
import io
import os
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from starlette.testclient import TestClient

from bench.import_bench import COLUMNS, LOYALTY, MAPPINGS, profile_rows
from convmem.accounts.service import create_account
from convmem.app import create_app
from convmem.background.jobs import JobEnv, JobRunner
from convmem.config import Settings
from convmem.database.engine import Database, normalise_url
from convmem.database.migrate import upgrade
from convmem.datasets.job import SYNC_JOBS
from convmem.imports.job import IMPORT_JOBS
from convmem.kit.clock import WriteClock


def fill_postgres(admin_url: str, rows: list[list[str]]) -> tuple[str, str]:
    """A fresh database holding the rows in ``people``; (its URL, its name)."""
    name = f"convmem_src_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    engine = create_engine(url)
    with engine.begin() as conn:
        columns = ", ".join(f"{c} TEXT" for c in COLUMNS)
        conn.execute(text(f"CREATE TABLE people (id BIGINT PRIMARY KEY, {columns}, updated_at TIMESTAMP NOT NULL DEFAULT '2026-01-01')"))
        buffer = io.StringIO()
        csv.writer(buffer).writerows([n, *row] for n, row in enumerate(rows))
        raw = conn.connection.driver_connection
        with raw.cursor().copy(f"COPY people (id, {', '.join(COLUMNS)}) FROM STDIN WITH (FORMAT csv)") as copy:
            copy.write(buffer.getvalue())
        conn.execute(text("CREATE INDEX people_cursor ON people (updated_at, id)"))
    engine.dispose()
    return url, name


class Deployment:
    """A fresh SQLite convmem database, its app in this process and a job runner."""

    def __init__(self, work: Path):
        self.settings = Settings(data_dir=work, embedded_worker=False, signing_key="bench", rate_limiting=False)
        self.db = Database(self.settings.resolved_database_url)
        upgrade(self.db)
        with self.db.writing() as session:
            account = create_account(session, "bench")
        self.client = TestClient(create_app(self.settings, self.db), base_url="http://127.0.0.1:8000")
        self.client.auth = (account.sid, account.secret)
        env = JobEnv(db=self.db, settings=self.settings, clock=WriteClock(), blobs=self.client.app.state.blobs)
        self.runner = JobRunner([SYNC_JOBS, IMPORT_JOBS], env)
        created = self.client.post("/v1/ControlPlane/Stores", json={"displayName": "bench"})
        self.store = self.client.get(created.headers["Location"]).json()["result"]["id"]
        assert self.client.post(f"/v1/ControlPlane/Stores/{self.store}/TraitGroups", json=LOYALTY).status_code == 202

    def run_jobs(self) -> None:
        while self.runner():
            pass


def mapping_items() -> list[dict]:
    return [{"expression": column, "traitGroup": target.split(".")[0], "traitName": target.split(".")[1]} for column, target in MAPPINGS.items()]


def timed_sync(deployment: Deployment, source_url: str) -> tuple[float, dict]:
    client, store = deployment.client, deployment.store
    started = time.perf_counter()
    dataset = client.post(
        f"/v1/ControlPlane/Stores/{store}/Datasets",
        json={"displayName": "people", "source": {"type": "SQL", "url": source_url, "table": "people"}, "keyColumn": "id", "cursorColumn": "updated_at"},
    ).json()
    body = {"displayName": "people", "mappingFrom": {"type": "DATASET_WAREHOUSE", "datasetId": dataset["id"]}, "mappingTo": {"type": "TRAITS", "mappings": mapping_items()}}
    assert client.post(f"/v1/ControlPlane/Stores/{store}/DataMappings", json=body).status_code == 202
    mapping = client.get(f"/v1/ControlPlane/Stores/{store}/DataMappings").json()["dataMappings"][0]["id"]
    sync = client.post(f"/v1/ControlPlane/Stores/{store}/DataMappings/{mapping}/Syncs", json={})
    deployment.run_jobs()
    return time.perf_counter() - started, client.get(sync.headers["Location"]).json()


def timed_import(deployment: Deployment, path: Path) -> tuple[float, dict]:
    client, store = deployment.client, deployment.store
    mappings = [{"columnName": c, "traitGroup": t.split(".")[0], "traitName": t.split(".")[1]} for c, t in MAPPINGS.items()]
    started = time.perf_counter()
    created = client.post(f"/v1/Stores/{store}/Profiles/Imports", json={"filename": path.name, "fileSize": path.stat().st_size, "columnMappings": mappings}).json()
    assert client.put(created["url"], content=path.read_bytes()).status_code == 200
    deployment.run_jobs()
    return time.perf_counter() - started, client.get(f"/v1/Stores/{store}/Profiles/Imports/{created['importId']}").json()


def write_csv(path: Path, rows: list[list[str]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        writer.writerows(rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    admin_url = normalise_url(os.environ.get("CONVMEM_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
    rows = list(profile_rows(args.rows))
    source_url, name = fill_postgres(admin_url, rows)
    try:
        with tempfile.TemporaryDirectory(prefix="sync-bench-") as work:
            work = Path(work)
            csv_path = work / "profiles.csv"
            write_csv(csv_path, rows)
            (work / "sync").mkdir()
            (work / "import").mkdir()
            # Phone-number metadata, compiled SQL and the settled heap are loaded once per process:
            # a small import first, so neither measured path pays for them.
            warm_path = work / "warm.csv"
            write_csv(warm_path, rows[:100])
            (work / "warm").mkdir()
            timed_import(Deployment(work / "warm"), warm_path)
            sync_seconds, synced = timed_sync(Deployment(work / "sync"), source_url)
            import_seconds, imported = timed_import(Deployment(work / "import"), csv_path)
    finally:
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()
    assert synced["status"] == "COMPLETED" and synced["progress"]["rowsWritten"] == args.rows, synced
    assert imported["status"] == "COMPLETED" and imported["progress"]["processedRows"] == args.rows, imported
    sync_rate, import_rate = args.rows / sync_seconds, args.rows / import_seconds
    print(f"rows: {args.rows:,}")
    print(f"full sync from PostgreSQL: {sync_seconds:8.1f} s  {sync_rate:10,.0f} rows/s")
    print(f"CSV import (same rows):    {import_seconds:8.1f} s  {import_rate:10,.0f} rows/s")
    print(f"sync / import: {sync_rate / import_rate:.2f}")


if __name__ == "__main__":
    main()
