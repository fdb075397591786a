"""Bulk upsert throughput against a plain sqlite3 ``executemany`` baseline, in one run.

    python bench/bulk_bench.py [--batches 1000] [--size 1000]

Sends the import benchmark's rows (same generator, same seed) as ``--batches`` PUT
/Profiles/Bulk requests of ``--size`` profiles to a server on an empty SQLite database whose
worker runs as a separate process, waits until every batch is COMPLETED, and reads the
worker's peak RSS. Then inserts the same rows with sqlite3 executemany, one call per batch,
into a table with unique indexes on email and phone.
"""

import argparse
import json
import time
from itertools import islice

from import_bench import (
    baseline_insert,
    create_store,
    profile_rows,
    row_traits,
    start_stack,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=1000)
    parser.add_argument("--size", type=int, default=1000)
    args = parser.parse_args()
    total = args.batches * args.size

    stack = start_stack()
    try:
        store = create_store(stack)
        rows = profile_rows(total)
        url = f"{stack.base_url}/v1/Stores/{store}/Profiles/Bulk"
        started = time.perf_counter()
        status_urls = []
        for _ in range(args.batches):
            body = {"profiles": [{"traits": row_traits(row)} for row in islice(rows, args.size)]}
            response = stack.session.put(url, json=body)
            assert response.status_code == 202, response.text
            status_urls.append(response.json()["statusUrl"])
        sent = time.perf_counter() - started
        for status_url in status_urls:
            while (status := stack.session.get(status_url).json())["status"] not in ("COMPLETED", "FAILED"):
                time.sleep(0.2)
            assert status["summary"]["failed"] == 0, status["summary"]
        elapsed = time.perf_counter() - started
        peak = stack.worker_peak_rss_mb()
    finally:
        stack.stop()
    bulk_rate = total / elapsed

    all_rows = list(profile_rows(total))
    baseline_seconds = 0.0
    for offset in range(0, total, args.size):
        baseline_seconds += baseline_insert(all_rows[offset : offset + args.size], stack.data_dir / "baseline.db", fresh=offset == 0)
    baseline_rate = total / baseline_seconds
    figures = {
        "profiles": total,
        "batches": args.batches,
        "batch_size": args.size,
        "all_accepted_seconds": round(sent, 1),
        "all_completed_seconds": round(elapsed, 1),
        "bulk_profiles_per_s": round(bulk_rate),
        "worker_peak_rss_mb": round(peak, 1),
        "baseline_executemany_rows_per_s": round(baseline_rate),
        "ratio": round(bulk_rate / baseline_rate, 4),
    }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
