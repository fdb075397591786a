"""Shared benchmark plumbing: a throw-away server and an async load generator."""

import asyncio
import base64
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import requests

from convmem.accounts.service import create_account
from convmem.database.engine import Database
from convmem.database.migrate import upgrade


@dataclass
class BenchServer:
    base_url: str
    process: subprocess.Popen
    db: Database
    account_sid: str
    token: str
    data_dir: Path

    @property
    def auth_header(self) -> str:
        return "Basic " + base64.b64encode(f"{self.account_sid}:{self.token}".encode()).decode()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(
    database_url: str | None = None,
    workers: int = 1,
    data_dir: Path | None = None,
    account: tuple[str, str] | None = None,
) -> BenchServer:
    """A server on ``database_url`` (a fresh SQLite database by default); ``account`` (SID,
    token) reuses an existing account, as a restart on the same data does."""
    data_dir = data_dir or Path(tempfile.mkdtemp(prefix="convmem-bench-"))
    url = database_url or f"sqlite:///{data_dir / 'convmem.db'}"
    db = Database(url)
    upgrade(db)
    if account is None:
        with db.writing() as session:
            credentials = create_account(session, "bench")
        account = (credentials.sid, credentials.secret)
    port = _free_port()
    # Load generators send far more than any account's rate limit allows.
    env = dict(os.environ, CONVMEM_DATABASE_URL=url, CONVMEM_DATA_DIR=str(data_dir), CONVMEM_LOG_LEVEL="WARNING", CONVMEM_RATE_LIMITING="false")
    process = subprocess.Popen(
        [sys.executable, "-m", "convmem.cli", "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if requests.get(base_url + "/healthz", timeout=5).status_code == 200:
                break
        except requests.RequestException:  # not listening yet, or slow to answer on a busy machine
            time.sleep(0.1)
    return BenchServer(base_url, process, db, account[0], account[1], data_dir)


@dataclass
class LoadResult:
    requests: int
    seconds: float
    latencies: list[float]
    errors: int

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1000

    def line(self, name: str) -> str:
        return (
            f"{name:<28} {self.throughput:8.0f} req/s  p50 {self.percentile(0.5):6.2f} ms  "
            f"p99 {self.percentile(0.99):7.2f} ms  errors {self.errors}"
        )


def load(server: BenchServer, make_request, concurrency: int, total: int) -> LoadResult:
    """Send ``total`` requests from ``concurrency`` workers; ``make_request(i)`` gives
    (method, path, json body or None, expected status)."""

    async def run() -> LoadResult:
        latencies: list[float] = []
        errors = 0
        counter = iter(range(total))
        headers = {"Authorization": server.auth_header}
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(server.base_url, headers=headers, connector=connector) as session:

            async def worker():
                nonlocal errors
                for i in counter:
                    method, path, body, expected = make_request(i)
                    started = time.perf_counter()
                    async with session.request(method, path, json=body) as response:
                        await response.read()
                        if response.status != expected:
                            errors += 1
                    latencies.append(time.perf_counter() - started)

            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            return LoadResult(total, time.perf_counter() - started, latencies, errors)

    return asyncio.run(run())


def median(values) -> float:
    return statistics.median(values)
