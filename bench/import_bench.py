"""CSV import throughput against a plain sqlite3 ``executemany`` baseline, in one run.

    python -m bench.import_bench [--rows 1000000]
    python -m bench.import_bench --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test [--rows 100000]

Generates a CSV (fixed seed, 10 columns, unique email and phone; ~100 bytes a row) under
bench/out/, starts a server on an empty SQLite database with its worker as a separate
process, imports the file end to end (create, upload, follow until COMPLETED) and reads the
worker's peak RSS (VmHWM). Then inserts the same rows with sqlite3 executemany into a table
with unique indexes on email and phone (the baseline), and, as a second reference, inserts
what convmem's data model stores for them, built ahead of time, into convmem's own schema
with executemany too (the floor: what no import code can go below). Prints the rates and
the ratios.

With ``--database-url`` (a PostgreSQL server, and a database on it to connect to first) the
import runs in a fresh database made on that server, and the floor is the same prebuilt rows
loaded with ``COPY ... FROM STDIN`` (psycopg's ``write_row``) into convmem's schema in an
empty store of a second fresh database, in one transaction. Both databases are dropped at
the end. The sqlite3 baseline is left out there: it measures another database.
"""

import argparse
import csv
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
import requests
from sqlalchemy import select
from sqlalchemy.engine import make_url

from bench.copy_bench import drop_database, fresh_database
from convmem.accounts.service import create_account
from convmem.database.engine import Database, normalise_url
from convmem.database.migrate import upgrade
from convmem.database.tables import Account
from convmem.stores.service import create_store as create_store_row
from convmem.web.auth import Principal

OUT = Path(__file__).parent / "out"
COLUMNS = ["first_name", "last_name", "email", "phone", "street", "city", "state", "postal_code", "country", "tier"]
MAPPINGS = {
    "first_name": "Contact.firstName",
    "last_name": "Contact.lastName",
    "email": "Contact.email",
    "phone": "Contact.phone",
    "street": "Contact.street",
    "city": "Contact.city",
    "state": "Contact.state",
    "postal_code": "Contact.postalCode",
    "country": "Contact.country",
    "tier": "Loyalty.tier",
}
LOYALTY = {"displayName": "Loyalty", "traits": {"tier": {"dataType": "STRING"}}}
FIRST = ["Ann", "Bob", "Carla", "Dev", "Emma", "Farid", "Grace", "Hugo", "Ines", "Jon", "Kai", "Lena", "Marta", "Noor"]
LAST = ["Lee", "Smith", "Garcia", "Khan", "Novak", "Rossi", "Silva", "Tanaka", "Weber", "Young", "Zhou", "Moreau"]
STREETS = ["Main", "Oak", "Pine", "Maple", "Cedar", "Elm", "Lake", "Hill", "Park", "River"]
CITIES = [("Indianapolis", "IN", "317"), ("Chicago", "IL", "312"), ("Austin", "TX", "512"), ("Denver", "CO", "303"),
          ("Seattle", "WA", "206"), ("Boston", "MA", "617"), ("Miami", "FL", "305"), ("Portland", "OR", "503")]
TIERS = ["bronze", "silver", "gold", "platinum"]


def profile_rows(count: int, seed: int = 42):
    """Deterministic rows; email and phone are unique per row."""
    rng = random.Random(seed)
    for n in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        city, state, area = CITIES[n % len(CITIES)]
        rest = n // len(CITIES)
        phone = f"({area}) {200 + rest // 10000}-{rest % 10000:04d}"
        street = f"{rng.randint(1, 9999)} {rng.choice(STREETS)} {rng.choice(['St', 'Ave', 'Rd'])}"
        yield [first, last, f"{first}.{last}.{n}@example.com".lower(), phone, street, city, state,
               f"{rng.randint(10000, 99999)}", "US", rng.choice(TIERS)]


def row_traits(row: list[str]) -> dict[str, dict]:
    """A generated row as a create body's traits, through MAPPINGS."""
    traits: dict[str, dict] = {}
    for column, value in zip(COLUMNS, row):
        group, name = MAPPINGS[column].split(".")
        traits.setdefault(group, {})[name] = value
    return traits


def generate_csv(rows: int) -> Path:
    OUT.mkdir(exist_ok=True)
    path = OUT / f"profiles-{rows}.csv"
    if not path.exists():
        with open(path.with_suffix(".part"), "w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(COLUMNS)
            writer.writerows(profile_rows(rows))
        path.with_suffix(".part").replace(path)
    return path


@dataclass
class Stack:
    """A server without embedded worker, and a worker process whose memory is measured."""

    base_url: str
    session: requests.Session
    server: subprocess.Popen
    worker: subprocess.Popen
    data_dir: Path

    def worker_peak_rss_mb(self) -> float:
        for line in Path(f"/proc/{self.worker.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmHWM")

    def stop(self) -> None:
        for process in (self.worker, self.server):
            process.terminate()
            process.wait(timeout=30)


def start_stack(database_url: str | None = None) -> Stack:
    """The stack on ``database_url`` (an empty database), or on a new SQLite file."""
    data_dir = Path(tempfile.mkdtemp(prefix="convmem-jobs-bench-"))
    url = database_url or f"sqlite:///{data_dir / 'convmem.db'}"
    db = Database(url)
    upgrade(db)
    with db.writing() as session:
        credentials = create_account(session, "bench")
    db.dispose()
    port = _free_port()
    env = dict(os.environ, CONVMEM_DATABASE_URL=url, CONVMEM_DATA_DIR=str(data_dir), CONVMEM_LOG_LEVEL="WARNING",
               CONVMEM_EMBEDDED_WORKER="false", CONVMEM_EMBEDDINGS="off")
    logs = open(data_dir / "processes.log", "w")
    server = subprocess.Popen([sys.executable, "-m", "convmem.cli", "serve", "--port", str(port)], env=env, stdout=logs, stderr=logs)
    worker = subprocess.Popen([sys.executable, "-m", "convmem.cli", "worker"], env=env, stdout=logs, stderr=logs)
    base_url = f"http://127.0.0.1:{port}"
    session = requests.Session()
    session.auth = (credentials.sid, credentials.secret)
    for _ in range(300):
        try:
            if session.get(base_url + "/healthz", timeout=1).ok:
                break
        except (requests.ConnectionError, requests.Timeout):  # not up yet, or slow to answer on a loaded machine
            time.sleep(0.1)
    return Stack(base_url, session, server, worker, data_dir)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def create_store(stack: Stack) -> str:
    response = stack.session.post(stack.base_url + "/v1/ControlPlane/Stores", json={"displayName": f"bench-{time.time_ns()}"})
    store = stack.session.get(response.headers["Location"]).json()["result"]["id"]
    assert stack.session.post(f"{stack.base_url}/v1/ControlPlane/Stores/{store}/TraitGroups", json=LOYALTY).status_code == 202
    return store


def run_import(stack: Stack, store: str, path: Path) -> tuple[float, dict]:
    size = path.stat().st_size
    mappings = [
        {"columnName": column, "traitGroup": target.split(".")[0], "traitName": target.split(".")[1]}
        for column, target in MAPPINGS.items()
    ]
    started = time.perf_counter()
    created = stack.session.post(
        f"{stack.base_url}/v1/Stores/{store}/Profiles/Imports",
        json={"filename": path.name, "fileSize": size, "columnMappings": mappings},
    ).json()
    with open(path, "rb") as body:
        assert requests.put(created["url"], data=body, timeout=600).ok
    while True:
        status = stack.session.get(f"{stack.base_url}/v1/Stores/{store}/Profiles/Imports/{created['importId']}").json()
        if status["status"] in ("COMPLETED", "FAILED"):
            return time.perf_counter() - started, status
        time.sleep(0.2)


def baseline_insert(rows: list[list[str]], db_path: Path, fresh: bool = True) -> float:
    """Plain sqlite3: one table, unique indexes on the identifier values, one executemany
    in one transaction. Returns the seconds the insert took."""
    connection = sqlite3.connect(db_path)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    if fresh:
        connection.execute(f"CREATE TABLE profiles (id INTEGER PRIMARY KEY, {', '.join(c + ' TEXT' for c in COLUMNS)})")
        connection.execute("CREATE UNIQUE INDEX ix_email ON profiles (email)")
        connection.execute("CREATE UNIQUE INDEX ix_phone ON profiles (phone)")
    started = time.perf_counter()
    with connection:
        connection.executemany(f"INSERT INTO profiles ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})", rows)
    elapsed = time.perf_counter() - started
    connection.close()
    return elapsed


FLOOR_SOURCE = "import:mem_import_01m82j3nmres3btezb5x9vjkbf"
FLOOR_AT = "2026-01-01T00:00:00.000000+00:00"
FLOOR_NOW = "2026-01-01 00:00:00.000000"


def floor_store(url: str) -> int:
    """A migrated database at ``url`` holding an account with one empty store; its key."""
    db = Database(url)
    upgrade(db)
    with db.writing() as session:
        credentials = create_account(session, "floor")
        account = session.scalar(select(Account).where(Account.sid == credentials.account_sid))
        store_pk = create_store_row(session, Principal(account.id, account.sid), "floor", None).id
    db.dispose()
    return store_pk


def floor_rows(rows: list[list[str]], store_pk: int) -> tuple[list[tuple], list[tuple]]:
    """What an import of ``rows`` stores, built ahead of time: a profile row with its traits
    and each trait's provenance, an identifier row for the email and one for the phone.
    Profile rows: (id, sid, store_id, traits, trait_meta, created_at, updated_at);
    identifier rows: (store_id, profile_id, id_type, value, source, origin_profile_id, added_at)."""
    profiles, identifiers = [], []
    for pk, row in enumerate(rows, start=1):
        traits = row_traits(row)
        meta = {group: {name: {"at": FLOOR_AT, "source": FLOOR_SOURCE} for name in named} for group, named in traits.items()}
        profiles.append((pk, f"mem_profile_{pk:026d}", store_pk, json.dumps(traits), json.dumps(meta), FLOOR_NOW, FLOOR_NOW))
        phone = "+1" + "".join(ch for ch in row[3] if ch.isdigit())
        for id_type, value in (("email", row[2]), ("phone", phone)):
            identifiers.append((store_pk, pk, id_type, value, FLOOR_SOURCE, pk, FLOOR_NOW))
    return profiles, identifiers


PROFILE_COLUMNS = "id, sid, store_id, traits, trait_meta, created_at, updated_at"
IDENTIFIER_COLUMNS = "store_id, profile_id, id_type, value, source, origin_profile_id, added_at"


def floor_insert(rows: list[list[str]], data_dir: Path) -> float:
    """``floor_rows`` inserted with sqlite3 executemany, 1000 rows a call, in one
    transaction, into an empty store of convmem's own schema. Returns the seconds the
    inserts took."""
    store_pk = floor_store(f"sqlite:///{data_dir / 'floor.db'}")
    profiles, identifiers = floor_rows(rows, store_pk)
    connection = sqlite3.connect(data_dir / "floor.db", isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
        connection.execute(f"PRAGMA {pragma}")
    started = time.perf_counter()
    connection.execute("BEGIN IMMEDIATE")
    for offset in range(0, len(rows), 1000):
        connection.executemany(
            f"INSERT INTO profiles ({PROFILE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)", profiles[offset : offset + 1000]
        )
        connection.executemany(
            f"INSERT INTO profile_identifiers ({IDENTIFIER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            identifiers[2 * offset : 2 * offset + 2000],
        )
    connection.execute("COMMIT")
    elapsed = time.perf_counter() - started
    connection.close()
    return elapsed


def floor_copy(rows: list[list[str]], url: str) -> float:
    """``floor_rows`` loaded with PostgreSQL ``COPY ... FROM STDIN`` (psycopg's
    ``write_row``) into an empty store of convmem's own schema at ``url`` (an empty
    database), in one transaction. Returns the seconds the copy and its commit took."""
    store_pk = floor_store(url)
    profiles, identifiers = floor_rows(rows, store_pk)
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as connection:
        started = time.perf_counter()
        with connection.transaction(), connection.cursor() as cursor:
            for table, columns, values in (
                ("profiles", PROFILE_COLUMNS, profiles),
                ("profile_identifiers", IDENTIFIER_COLUMNS, identifiers),
            ):
                with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for value in values:
                        copy.write_row(value)
        return time.perf_counter() - started


def read_csv(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        next(reader)
        return list(reader)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--database-url",
        help="A PostgreSQL server, as the URL of a database on it to connect to first; without it, SQLite.",
    )
    args = parser.parse_args()
    path = generate_csv(args.rows)
    print(f"CSV: {path} ({path.stat().st_size / 1e6:.1f} MB, {args.rows} rows)")
    if args.database_url:
        figures = postgres_figures(args.rows, path, normalise_url(args.database_url))
    else:
        figures = sqlite_figures(args.rows, path)
    print(json.dumps(figures, indent=2))


def import_once(path: Path, database_url: str | None = None) -> tuple[float, float, Path]:
    """(seconds, the worker's peak RSS in MB, the stack's data folder) of importing ``path``."""
    stack = start_stack(database_url)
    try:
        store = create_store(stack)
        elapsed, status = run_import(stack, store, path)
        peak = stack.worker_peak_rss_mb()
    finally:
        stack.stop()
    assert status["status"] == "COMPLETED" and status["summary"]["errors"] == 0, status
    return elapsed, peak, stack.data_dir


def sqlite_figures(count: int, path: Path) -> dict:
    elapsed, peak, data_dir = import_once(path)
    import_rate = count / elapsed

    parse_started = time.perf_counter()
    rows = read_csv(path)
    parse_seconds = time.perf_counter() - parse_started
    insert_seconds = baseline_insert(rows, data_dir / "baseline.db")
    baseline_rate = count / insert_seconds
    baseline_file_rate = count / (parse_seconds + insert_seconds)
    floor_rate = count / floor_insert(rows, data_dir)
    return {
        "rows": count,
        "csv_mb": round(path.stat().st_size / 1e6, 1),
        "import_seconds": round(elapsed, 1),
        "import_rows_per_s": round(import_rate),
        "worker_peak_rss_mb": round(peak, 1),
        "baseline_executemany_rows_per_s": round(baseline_rate),
        "baseline_csv_plus_executemany_rows_per_s": round(baseline_file_rate),
        "ratio_vs_executemany": round(import_rate / baseline_rate, 4),
        "ratio_vs_csv_plus_executemany": round(import_rate / baseline_file_rate, 4),
        "floor_data_model_executemany_rows_per_s": round(floor_rate),
        "floor_vs_baseline": round(floor_rate / baseline_rate, 4),
        "ratio_vs_floor": round(import_rate / floor_rate, 4),
    }


def postgres_figures(count: int, path: Path, server_url: str) -> dict:
    made: list[str] = []
    try:
        made.append(fresh_database(server_url))
        elapsed, peak, _ = import_once(path, made[-1])
        made.append(fresh_database(server_url))
        floor_seconds = floor_copy(read_csv(path), made[-1])
    finally:
        for url in made:
            drop_database(server_url, url)
    import_rate, floor_rate = count / elapsed, count / floor_seconds
    return {
        "rows": count,
        "csv_mb": round(path.stat().st_size / 1e6, 1),
        "import_seconds": round(elapsed, 1),
        "import_rows_per_s": round(import_rate),
        "worker_peak_rss_mb": round(peak, 1),
        "floor_data_model_copy_rows_per_s": round(floor_rate),
        "ratio_vs_floor": round(import_rate / floor_rate, 4),
    }


if __name__ == "__main__":
    main()
