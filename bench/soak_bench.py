"""Soak: mixed traffic for a long while, one CSV import and one restart in the middle.

    python -m bench.soak_bench [--minutes 10] [--concurrency 8] [--database-url URL]

A real ``convmem serve`` (embedded worker) on a fresh database. Clients keep sending a mix of
profile creates (with identifiers that overlap, so merges happen), fetches, patches, lookups,
list pages, observation writes and recalls. At a fifth of the run a CSV import of
``--import-rows`` rows is created, uploaded and followed; at half the run the server is
stopped (SIGTERM) and started again on the same data: traffic pauses for the restart and
resumes. Printed:

* per minute: requests, throughput as a ratio of the first minute's (the baseline from the
  same run), p99, and errors (answers that are not the expected status, and connection
  errors while the server is up);
* the server's RSS after warm-up and at the end of each process's life (target: < 10 % growth);
* the import's outcome and how long the restart took.
"""

import argparse
import asyncio
import csv
import json
import random
import time
import uuid
from collections import defaultdict
from pathlib import Path

import aiohttp
import requests

from bench.common import BenchServer, start

CONTACT_TRAITS = ("firstName", "lastName", "city")
QUERIES = ["window seat", "billing issue", "vegetarian food", "loyalty tier", "delivery address"]


def rss_kib(pid: int) -> int:
    """Resident set size of ``pid`` and its children (uvicorn may fork), in KiB."""
    total = 0
    for candidate in [pid, *_children(pid)]:
        try:
            for line in Path(f"/proc/{candidate}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return total


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


class Traffic:
    """The mixed load: each call of ``one`` picks a request, sends it and records the outcome."""

    def __init__(self, store: str, seed: int = 7):
        self.store = store
        self.random = random.Random(seed)
        self.profiles: list[str] = []
        self.latencies: dict[int, list[float]] = defaultdict(list)
        self.errors: dict[int, list[str]] = defaultdict(list)
        self.counter = 0

    def _pick(self) -> tuple[str, str, dict | None, tuple[int, ...]]:
        base = f"/v1/Stores/{self.store}/Profiles"
        kind = self.random.random()
        self.counter += 1
        n = self.counter
        if kind < 0.30 or not self.profiles:
            # Overlapping identifiers: every tenth create names an earlier email with a new phone.
            person = self.random.randrange(max(1, n // 10)) if n % 10 == 0 else n
            traits = {
                "email": f"soak{person}@example.com",
                "phone": f"+1317{5550000 + n % 10_000_000:07d}"[:12],
                "firstName": self.random.choice(["Ann", "Bob", "Cy"]),
            }
            return "POST", base, {"traits": {"Contact": traits}}, (202,)
        profile = self.random.choice(self.profiles)
        if kind < 0.55:
            return "GET", f"{base}/{profile}", None, (200, 301)
        if kind < 0.65:
            return "PATCH", f"{base}/{profile}", {"traits": {"Contact": {"city": f"City{n % 50}"}}}, (202, 308)
        if kind < 0.75:
            email = f"soak{self.random.randrange(max(1, n))}@example.com"
            return "POST", f"{base}/Lookup", {"idType": "email", "value": email}, (200, 404)
        if kind < 0.80:
            return "GET", f"{base}?pageSize=50", None, (200,)
        if kind < 0.90:
            observation = {"content": f"Customer mentioned {self.random.choice(QUERIES)} on call {n}", "source": "soak", "occurredAt": "2026-11-30T10:00:00Z"}
            body = {"observations": [observation]}
            return "POST", f"{base}/{profile}/Observations", body, (202, 308)
        return "POST", f"{base}/{profile}/Recall", {"query": self.random.choice(QUERIES)}, (200, 308)

    async def one(self, session: aiohttp.ClientSession, minute: int) -> None:
        method, path, body, expected = self._pick()
        started = time.perf_counter()
        try:
            async with session.request(method, path, json=body, allow_redirects=False) as response:
                payload = await response.read()
                status = response.status
        except aiohttp.ClientError as error:
            self.errors[minute].append(f"{method} {path}: {error!r}")
            return
        self.latencies[minute].append(time.perf_counter() - started)
        if status not in expected:
            self.errors[minute].append(f"{method} {path}: {status} {payload[:200]!r}")
        elif method == "POST" and path.endswith("/Profiles") and status == 202:
            self.profiles.append(json.loads(payload)["id"])


async def drive(server: BenchServer, traffic: Traffic, concurrency: int, until: float, started: float) -> None:
    headers = {"Authorization": server.auth_header}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(server.base_url, headers=headers, connector=connector) as session:

        async def client():
            while time.monotonic() < until:
                await traffic.one(session, int((time.monotonic() - started) // 60))

        await asyncio.gather(*(client() for _ in range(concurrency)))


def create_store(server: BenchServer) -> str:
    auth = (server.account_sid, server.token)
    response = requests.post(f"{server.base_url}/v1/ControlPlane/Stores", json={"displayName": f"soak-{uuid.uuid4().hex[:8]}"}, auth=auth, timeout=30)
    response.raise_for_status()
    operation = requests.get(response.headers["Location"], auth=auth, timeout=30).json()
    return operation["result"]["id"]


def start_import(server: BenchServer, store: str, rows: int, folder: Path) -> str:
    path = folder / "soak-import.csv"
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["email", "phone", "first_name"])
        for i in range(rows):
            writer.writerow([f"imported{i}@example.com", f"+1206{5550000 + i:07d}", f"Name{i}"])
    auth = (server.account_sid, server.token)
    body = {
        "filename": path.name,
        "fileSize": path.stat().st_size,
        "columnMappings": [
            {"columnName": "email", "traitGroup": "Contact", "traitName": "email"},
            {"columnName": "phone", "traitGroup": "Contact", "traitName": "phone"},
            {"columnName": "first_name", "traitGroup": "Contact", "traitName": "firstName"},
        ],
    }
    created = requests.post(f"{server.base_url}/v1/Stores/{store}/Profiles/Imports", json=body, auth=auth, timeout=30)
    created.raise_for_status()
    answer = created.json()
    with path.open("rb") as upload:
        requests.put(answer["url"], data=upload, headers={"Content-Length": str(path.stat().st_size)}, timeout=120).raise_for_status()
    return answer["importId"]


def import_status(server: BenchServer, store: str, import_id: str) -> dict:
    auth = (server.account_sid, server.token)
    return requests.get(f"{server.base_url}/v1/Stores/{store}/Profiles/Imports/{import_id}", auth=auth, timeout=30).json()


def restart(server: BenchServer, database_url: str | None) -> tuple[BenchServer, float]:
    server.stop()
    began = time.monotonic()
    again = start(database_url or server.db.url, data_dir=server.data_dir, account=(server.account_sid, server.token))
    return again, time.monotonic() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--import-rows", type=int, default=20_000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    server = start(args.database_url)
    store = create_store(server)
    traffic = Traffic(store)
    total = args.minutes * 60
    began = time.monotonic()
    rss: dict[str, int] = {}

    # First half: warm-up minute, then the import at a fifth of the run.
    asyncio.run(drive(server, traffic, args.concurrency, began + min(60, total / 5), began))
    rss["first process after warm-up"] = rss_kib(server.process.pid)
    import_id = start_import(server, store, args.import_rows, server.data_dir)
    asyncio.run(drive(server, traffic, args.concurrency, began + total / 2, began))
    rss["first process before restart"] = rss_kib(server.process.pid)

    server, restart_seconds = restart(server, args.database_url)
    restarted_at = time.monotonic()
    asyncio.run(drive(server, traffic, args.concurrency, min(began + total, restarted_at + 60), began))
    rss["second process after warm-up"] = rss_kib(server.process.pid)
    asyncio.run(drive(server, traffic, args.concurrency, began + total, began))
    rss["second process at the end"] = rss_kib(server.process.pid)

    status = import_status(server, store, import_id)
    deadline = time.monotonic() + 300
    while status.get("status") not in ("COMPLETED", "FAILED") and time.monotonic() < deadline:
        time.sleep(2)
        status = import_status(server, store, import_id)
    server.stop()

    minutes = sorted(set(traffic.latencies) | set(traffic.errors))
    first = len(traffic.latencies[minutes[0]]) or 1
    print(f"soak: {args.minutes:g} min, concurrency {args.concurrency}, {server.db.url.split(':')[0]}")
    print(f"{'minute':>6} {'requests':>9} {'vs minute 0':>12} {'p99 ms':>8} {'errors':>7}")
    for minute in minutes:
        latencies = sorted(traffic.latencies[minute])
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000 if latencies else 0.0
        print(f"{minute:>6} {len(latencies):>9} {len(latencies) / first:>12.2f} {p99:>8.1f} {len(traffic.errors[minute]):>7}")
    errors = [e for minute in minutes for e in traffic.errors[minute]]
    print(f"errors: {len(errors)} of {sum(len(v) for v in traffic.latencies.values()) + len(errors)} requests")
    for error in errors[:10]:
        print(f"  {error}")
    for name, value in rss.items():
        print(f"RSS {name}: {value / 1024:.0f} MiB")
    first_growth = rss["first process before restart"] / rss["first process after warm-up"] - 1
    second_growth = rss["second process at the end"] / rss["second process after warm-up"] - 1
    print(f"RSS growth: first process {first_growth:+.1%}, second process {second_growth:+.1%} (target < +10%)")
    print(f"restart: {restart_seconds:.1f} s until healthy again")
    print(f"import of {args.import_rows} rows: {status.get('status')}, {status.get('progress')}, {status.get('summary')}")


if __name__ == "__main__":
    main()
