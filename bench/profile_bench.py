"""Create-profile throughput and latency at concurrency 16, beside the cheapest
authenticated GET (fetch store) on the same server in the same run.

    python bench/profile_bench.py [--requests 6000] [--concurrency 16] [--database-url URL]
"""

import argparse

import requests

from bench.common import load, start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=6000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--database-url")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()

    server = start(args.database_url, workers=args.workers)
    try:
        store = _create_store(server)
        warmup = load(server, lambda i: ("GET", f"/v1/ControlPlane/Stores/{store}", None, 200), args.concurrency, 500)
        assert warmup.errors == 0
        baseline = load(
            server, lambda i: ("GET", f"/v1/ControlPlane/Stores/{store}", None, 200), args.concurrency, args.requests
        )

        def create(i: int):
            body = {"traits": {"Contact": {"email": f"user{i}@example.com", "phone": f"+1317{5550000 + i:07d}", "firstName": "Ann", "city": "Oslo"}}}
            return "POST", f"/v1/Stores/{store}/Profiles", body, 202

        creates = load(server, create, args.concurrency, args.requests)

        def merge(i: int):
            # Each request ties the email of one earlier profile to the phone of another: one merge of two.
            email, phone = 2 * i, 2 * i + 1
            body = {"traits": {"Contact": {"email": f"user{email}@example.com", "phone": f"+1317{5550000 + phone:07d}"}}}
            return "POST", f"/v1/Stores/{store}/Profiles", body, 202

        merges = load(server, merge, args.concurrency, args.requests // 2)
        print(f"server workers {args.workers}, concurrency {args.concurrency}, {args.requests} requests each")
        print(baseline.line("baseline GET store"))
        print(creates.line("create profile (new)"))
        print(merges.line("create profile (merging)"))
        print(f"create / baseline throughput ratio: {creates.throughput / baseline.throughput:.2f} (target >= 0.50)")
    finally:
        server.stop()


def _create_store(server) -> str:
    headers = {"Authorization": server.auth_header}
    response = requests.post(server.base_url + "/v1/ControlPlane/Stores", json={"displayName": "bench"}, headers=headers)
    operation = requests.get(response.headers["Location"], headers=headers).json()
    return operation["result"]["id"]


if __name__ == "__main__":
    main()
