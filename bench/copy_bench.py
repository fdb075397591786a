"""``convmem copy`` from SQLite to PostgreSQL: rows/s and the copy process's peak RSS, beside a
baseline in the same run: PostgreSQL ``COPY`` of the same profile and identifier rows, read
straight from the SQLite file (the floor of moving these rows between the two).

    python -m bench.copy_bench --postgres postgresql://postgres@127.0.0.1:5432/test [--profiles 1000000]

The SQLite database is filled as ``bench/lookup_bench.py`` fills it (rows inserted directly:
one live profile with a phone and an email identifier each). Two fresh PostgreSQL databases
are made on that server (and dropped): one for the copy, one for the baseline.
"""

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import psycopg
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.lookup_bench import fill
from convmem.accounts.service import create_account
from convmem.database.engine import Database, normalise_url
from convmem.database.migrate import upgrade
from convmem.database.tables import Base, Store
from convmem.kit.ids import Prefix, new_id

BASELINE_TABLES = ("accounts", "stores", "profiles", "profile_identifiers")


def build_source(path: Path, profiles: int) -> str:
    url = f"sqlite:///{path}"
    db = Database(url)
    upgrade(db)
    with db.writing() as session:
        account = create_account(session, "bench")
    store_sid = new_id(Prefix.STORE)
    with db.engine.begin() as conn:
        account_pk = conn.scalar(text("SELECT id FROM accounts WHERE sid = :sid"), {"sid": account.sid})
        conn.execute(
            Store.__table__.insert(),
            {"sid": store_sid, "account_id": account_pk, "display_name": "bench", "identity_settings": {}},
        )
    fill(SimpleNamespace(db=db), store_sid, profiles)
    db.dispose()
    return url


def fresh_database(admin_url: str) -> str:
    name = f"convmem_copy_bench_{uuid.uuid4().hex[:8]}"
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_database(admin_url: str, url: str) -> None:
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    engine.dispose()


def baseline(sqlite_path: Path, postgres_url: str) -> tuple[int, float]:
    """COPY the same rows (account, store, profiles, identifiers) into a migrated database; returns (rows, seconds)."""
    import sqlite3

    db = Database(postgres_url)
    upgrade(db)
    db.dispose()
    source = sqlite3.connect(sqlite_path)
    rows = 0
    started = time.perf_counter()
    with psycopg.connect(make_url(postgres_url).set(drivername="postgresql").render_as_string(hide_password=False)) as target:
        for table in BASELINE_TABLES:
            columns = [column.name for column in Base.metadata.tables[table].columns]
            with target.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in source.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY id"):
                    copy.write_row(row)
                    rows += 1
    seconds = time.perf_counter() - started
    source.close()
    return rows, seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--postgres", required=True, help="A PostgreSQL server URL (a database to connect to first).")
    parser.add_argument("--batch-size", type=int, default=5000)
    args = parser.parse_args()
    admin_url = normalise_url(args.postgres)
    work = Path(tempfile.mkdtemp(prefix="convmem-copy-bench-"))
    targets = []
    try:
        started = time.perf_counter()
        source_url = build_source(work / "source.db", args.profiles)
        print(f"built {args.profiles:,} profiles ({2 * args.profiles:,} identifiers) in SQLite in {time.perf_counter() - started:.0f} s")

        copy_target = fresh_database(admin_url)
        targets.append(copy_target)
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "convmem.cli", "copy", "--from", source_url, "--to", copy_target, "--batch-size", str(args.batch_size)],
            capture_output=True,
            text=True,
        )
        copy_seconds = time.perf_counter() - started
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        peak_rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

        baseline_target = fresh_database(admin_url)
        targets.append(baseline_target)
        baseline_rows, baseline_seconds = baseline(work / "source.db", baseline_target)

        copy_rate = baseline_rows / copy_seconds
        baseline_rate = baseline_rows / baseline_seconds
        print(f"convmem copy: {baseline_rows:,} rows in {copy_seconds:.1f} s = {copy_rate:,.0f} rows/s (with migrating, verifying); peak RSS {peak_rss_mb:.0f} MB")
        print(f"baseline COPY: {baseline_rows:,} rows in {baseline_seconds:.1f} s = {baseline_rate:,.0f} rows/s")
        print(f"ratio: {100 * copy_rate / baseline_rate:.1f} % of the baseline")
    finally:
        for url in targets:
            drop_database(admin_url, url)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
