"""``convmem backup``: SQLite's online backup taken while a server takes writes holds
everything committed before it began, and a server starts on it."""

import os
import subprocess
import sys
import threading

from convmem.accounts.service import create_account
from tests.conftest import Api, Backend, make_backend, start_server, stop_server
from tests.jobs_support import wait_for
from tests.profile_helpers import create_profile


def test_a_backup_taken_while_the_server_writes_serves_what_was_committed_before(tmp_path):
    backend, cleanup = make_backend("sqlite", tmp_path / "live")
    with backend.db.writing() as session:
        account = create_account(session, "backup")
    server = start_server(backend, tmp_path / "live")
    stop = threading.Event()
    try:
        api = Api(server.base_url, account)
        store = api.create_store()
        before = [create_profile(api, store, email=f"before{n}@example.com") for n in range(20)]
        written_during = []

        def keep_writing():
            writer = Api(server.base_url, account)
            n = 0
            while not stop.is_set():
                written_during.append(create_profile(writer, store, email=f"during{n}@example.com"))
                n += 1

        writer = threading.Thread(target=keep_writing)
        writer.start()
        wait_for(lambda: written_during)  # the backup starts with the server busy writing
        destination = tmp_path / "backup.db"
        result = subprocess.run(
            [sys.executable, "-m", "convmem.cli", "backup", "--to", str(destination)],
            env=dict(os.environ, CONVMEM_DATABASE_URL=backend.url),
            capture_output=True,
            text=True,
            timeout=120,
        )
        stop.set()
        writer.join()
        assert result.returncode == 0, result.stdout + result.stderr
    finally:
        stop.set()
        stop_server(server)
        cleanup()

    (tmp_path / "restored").mkdir()
    restored = start_server(Backend("backup", f"sqlite:///{destination}", None), tmp_path / "restored")
    try:
        api = Api(restored.base_url, account)
        for profile in before:
            assert api.get(f"/v1/Stores/{store}/Profiles/{profile}").status_code == 200
        assert create_profile(api, store, email="after@example.com")
    finally:
        stop_server(restored)


def test_backup_refuses_an_existing_file_and_postgresql(tmp_path):
    existing = tmp_path / "there.db"
    existing.write_bytes(b"")
    for url, destination, reason in (
        (f"sqlite:///{tmp_path / 'db.sqlite'}", existing, "exists"),
        ("postgresql+psycopg://postgres@127.0.0.1:5432/x", tmp_path / "new.db", "pg_dump"),
    ):
        result = subprocess.run(
            [sys.executable, "-m", "convmem.cli", "backup", "--to", str(destination)],
            env=dict(os.environ, CONVMEM_DATABASE_URL=url),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 1 and reason in result.stdout, result.stdout + result.stderr
