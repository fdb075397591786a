"""Lookup, profile fetch and profile list latency with 1,000,000 profiles in one SQLite store,
beside the cheapest authenticated GET (fetch store) on the same server in the same run.

    python -m bench.lookup_bench [--profiles 1000000] [--requests 3000]

The store is filled by inserting rows straight into ``profiles`` and ``profile_identifiers``
in bulk: this measures reads, and a million API creates would take most of an hour without
telling anything about them. The rows are what a create would leave: one live profile with a
phone and an email identifier and three Contact traits each. Latencies are measured by one
client sending requests one after another (concurrency 1), so each is a request's own time.
"""

import argparse
import os
import random
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path

import requests
from sqlalchemy import func, select

from bench.common import BenchServer, LoadResult, load, start
from convmem.background.blobstore import signing_key
from convmem.config import Settings
from convmem.database.tables import Profile, ProfileIdentifier, Store
from convmem.kit.ids import Prefix, new_id
from convmem.web.pagination import PageRequest, PageTokens, encode_token

BATCH = 20_000
DEEP_POSITION = 900_000
ROUNDS = 10


def phone(n: int) -> str:
    return f"+13172{n:06d}"


def email(n: int) -> str:
    return f"user{n}@example.com"


def fill(server: BenchServer, store_sid: str, count: int) -> list[str]:
    """Insert ``count`` profiles into the store; returns their sids, oldest first."""
    now = datetime.now(timezone.utc).replace(microsecond=0)
    at = now.isoformat(timespec="microseconds")
    meta = {"Contact": {name: {"at": at, "source": "bench"} for name in ("phone", "email", "firstName")}}
    sids = []
    with server.db.engine.begin() as conn:
        store_pk = conn.scalar(select(Store.id).where(Store.sid == store_sid))
        first_pk = (conn.scalar(select(func.max(Profile.id))) or 0) + 1
        for offset in range(0, count, BATCH):
            numbers = range(offset, min(offset + BATCH, count))
            batch_sids = [new_id(Prefix.PROFILE) for _ in numbers]
            sids += batch_sids
            conn.execute(
                Profile.__table__.insert(),
                [
                    {
                        "id": first_pk + n,
                        "sid": sid,
                        "store_id": store_pk,
                        "traits": {"Contact": {"phone": phone(n), "email": email(n), "firstName": "Ann"}},
                        "trait_meta": meta,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for n, sid in zip(numbers, batch_sids)
                ],
            )
            conn.execute(
                ProfileIdentifier.__table__.insert(),
                [
                    {
                        "store_id": store_pk,
                        "profile_id": first_pk + n,
                        "id_type": id_type,
                        "value": value,
                        "source": "bench",
                        "origin_profile_id": first_pk + n,
                        "added_at": now,
                    }
                    for n in numbers
                    for id_type, value in (("phone", phone(n)), ("email", email(n)))
                ],
            )
    with server.db.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
    return sids


def cpu_seconds(pid: int) -> float:
    """CPU time a process has used (user + system). Unlike latency, it barely moves when other
    processes compete for the cores, so it shows what a request costs on an idle core."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def create_store(server: BenchServer) -> str:
    headers = {"Authorization": server.auth_header}
    response = requests.post(server.base_url + "/v1/ControlPlane/Stores", json={"displayName": "bench"}, headers=headers)
    return requests.get(response.headers["Location"], headers=headers).json()["result"]["id"]


def check(server: BenchServer, method: str, path: str, body=None) -> dict:
    response = requests.request(method, server.base_url + path, json=body, headers={"Authorization": server.auth_header})
    assert response.status_code == 200, response.text
    return response.json()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=3000)
    args = parser.parse_args()
    os.environ["CONVMEM_EMBEDDED_WORKER"] = "false"  # no job polling beside the measurements

    server = start()
    try:
        store = create_store(server)
        started = time.perf_counter()
        sids = fill(server, store, args.profiles)
        print(f"loaded {args.profiles:,} profiles ({2 * args.profiles:,} identifiers) in {time.perf_counter() - started:.0f} s")

        rng = random.Random(42)
        picks = [rng.randrange(args.profiles) for _ in range(args.requests)]
        lookup_path = f"/v1/Stores/{store}/Profiles/Lookup"
        found = check(server, "POST", lookup_path, {"idType": "phone", "value": "317-2" + phone(picks[0])[6:]})
        assert found["profiles"] == [sids[picks[0]]], found
        deep_position = min(DEEP_POSITION, args.profiles * 9 // 10)
        # A DESC page whose cursor is the profile ``deep_position`` places from the newest starts right after it.
        with server.db.reading() as session:
            deep_cursor = session.scalar(select(Profile.id).where(Profile.sid == sids[args.profiles - 1 - deep_position]))
        # Tokens are sealed with the server's key (kept under its data_dir) for the list's path.
        tokens = PageTokens(signing_key(Settings(data_dir=server.data_dir)))
        profiles_path = f"/v1/Stores/{store}/Profiles"
        deep_token = {
            size: encode_token(PageRequest(size=size, order="DESC", list_path=profiles_path, tokens=tokens), deep_cursor, False)
            for size in (50, 1000)
        }
        deep = check(server, "GET", f"/v1/Stores/{store}/Profiles?pageToken={deep_token[50]}")
        assert deep["profiles"][0] == sids[args.profiles - 2 - deep_position], deep["profiles"][:1]

        def lookup_phone(i):
            n = picks[i]
            return "POST", lookup_path, {"idType": "phone", "value": f"(317) 2{n // 10000:02d}-{n % 10000:04d}"}, 200

        def lookup_email(i):
            return "POST", lookup_path, {"idType": "email", "value": email(picks[i]).upper()}, 200

        def lookup_miss(i):
            return "POST", lookup_path, {"idType": "phone", "value": f"+13173{picks[i]:06d}"}, 200

        big_pages = args.requests // 5
        scenarios = [
            ("baseline GET store", lambda i: ("GET", f"/v1/ControlPlane/Stores/{store}", None, 200), args.requests),
            ("lookup phone (hit)", lookup_phone, args.requests),
            ("lookup email (hit)", lookup_email, args.requests),
            ("lookup phone (miss)", lookup_miss, args.requests),
            ("fetch profile", lambda i: ("GET", f"/v1/Stores/{store}/Profiles/{sids[picks[i]]}", None, 200), args.requests),
            ("list page 1 (50)", lambda i: ("GET", f"/v1/Stores/{store}/Profiles", None, 200), args.requests),
            (f"list {deep_position:,} deep (50)", lambda i: ("GET", f"/v1/Stores/{store}/Profiles?pageToken={deep_token[50]}", None, 200), args.requests),
            ("list page 1 (1000)", lambda i: ("GET", f"/v1/Stores/{store}/Profiles?pageSize=1000", None, 200), big_pages),
            (f"list {deep_position:,} deep (1000)", lambda i: ("GET", f"/v1/Stores/{store}/Profiles?pageToken={deep_token[1000]}", None, 200), big_pages),
        ]
        load(server, scenarios[0][1], 1, 300)  # warm the connection pool and the page cache
        # Interleaved in rounds, so a burst of noise from other processes lands on every line alike.
        results = {name: LoadResult(0, 0.0, [], 0) for name, _, _ in scenarios}
        server_cpu = dict.fromkeys(results, 0.0)
        for round_index in range(ROUNDS):
            for name, make_request, total in scenarios:
                share = total // ROUNDS
                cpu_before = cpu_seconds(server.process.pid)
                part = load(server, lambda i, base=round_index * share, make=make_request: make(base + i), 1, share)
                server_cpu[name] += cpu_seconds(server.process.pid) - cpu_before
                so_far = results[name]
                results[name] = LoadResult(
                    so_far.requests + part.requests,
                    so_far.seconds + part.seconds,
                    so_far.latencies + part.latencies,
                    so_far.errors + part.errors,
                )
        print(f"{args.profiles:,} profiles; one client, one server worker; {args.requests} requests per line ({big_pages} for 1000-item pages)")
        for name, result in results.items():
            assert result.errors == 0, name
            print(f"{result.line(name)}  server CPU {1000 * server_cpu[name] / result.requests:5.2f} ms/req")
    finally:
        server.stop()
        shutil.rmtree(server.data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
