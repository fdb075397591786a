"""The command line: credentials it prints must work, and serve makes sure an account exists."""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect
from twilio.rest import Client
from twilio.rest.memory.v1.store import StoreList

from convmem.accounts.service import Credentials
from tests.conftest import Api, make_backend, start_server, stop_server


def run_cli(backend, *args: str) -> str:
    env = dict(os.environ, CONVMEM_DATABASE_URL=backend.url)
    result = subprocess.run(
        [sys.executable, "-m", "convmem.cli", *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def printed(output: str, label: str) -> str:
    match = re.search(rf"{label}:\s+(\S+)", output)
    assert match, output
    return match.group(1)


def sdk(server, username: str, password: str, **kwargs) -> Client:
    client = Client(username, password, environment={"_": "1"}, **kwargs)
    client.memory.base_url = server.base_url
    return client


def test_accounts_create_and_keys_create_print_working_credentials(backend, server):
    account_output = run_cli(backend, "accounts", "create", "--name", "cli")
    sid, token = printed(account_output, "account SID"), printed(account_output, "auth token")
    assert re.fullmatch(r"AC[0-9a-f]{32}", sid)
    as_account = sdk(server, sid, token)
    created = as_account.memory.v1.stores.create(StoreList.ServiceRequest({"displayName": "from-cli"}))
    store_id = as_account.memory.v1.operations(created.status_url.rsplit("/", 1)[1]).fetch().result["id"]

    key_output = run_cli(backend, "keys", "create", "--account", sid)
    key_sid, secret = printed(key_output, "API key SID"), printed(key_output, "secret")
    assert re.fullmatch(r"SK[0-9a-f]{32}", key_sid)
    as_key = sdk(server, key_sid, secret, account_sid=sid)
    assert as_key.memory.v1.stores(store_id).fetch().display_name == "from-cli"
    assert list(as_key.memory.v1.stores.list()) == [store_id]


def test_keys_create_for_an_unknown_account_fails(backend):
    env = dict(os.environ, CONVMEM_DATABASE_URL=backend.url)
    result = subprocess.run(
        [sys.executable, "-m", "convmem.cli", "keys", "create", "--account", "AC" + "0" * 32],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 1
    assert "No account" in result.stdout


def test_serve_makes_the_configured_account_exist(backend, tmp_path):
    sid, token = "AC" + secrets.token_hex(16), secrets.token_hex(16)
    env = {"CONVMEM_ACCOUNT_SID": sid, "CONVMEM_AUTH_TOKEN": token}
    server = start_server(backend, tmp_path, extra_env=env)
    try:
        api = Api(server.base_url, Credentials(sid=sid, secret=token, account_sid=sid))
        store_id = api.create_store()
        assert api.get(f"/v1/ControlPlane/Stores/{store_id}").status_code == 200
    finally:
        stop_server(server)
    rotated = secrets.token_hex(16)
    server = start_server(backend, tmp_path, extra_env=env | {"CONVMEM_AUTH_TOKEN": rotated})
    try:
        assert Api(server.base_url, Credentials(sid, token, sid)).get("/v1/ControlPlane/Stores").status_code == 401
        assert Api(server.base_url, Credentials(sid, rotated, sid)).get("/v1/ControlPlane/Stores").json()["stores"] == [store_id]
    finally:
        stop_server(server)


@pytest.mark.parametrize("env", [{"CONVMEM_ACCOUNT_SID": "AC" + "1" * 32}, {"CONVMEM_ACCOUNT_SID": "ACnothex", "CONVMEM_AUTH_TOKEN": "t"}])
def test_serve_refuses_half_or_malformed_account_settings(backend, env):
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("CONVMEM_")}
    full_env = inherited | {"CONVMEM_DATABASE_URL": backend.url} | env
    result = subprocess.run(
        [sys.executable, "-m", "convmem.cli", "serve", "--port", "1"], env=full_env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "CONVMEM_ACCOUNT_SID" in result.stdout + result.stderr


def test_serve_on_an_empty_database_prints_a_dev_account_once(backend, tmp_path):
    empty, cleanup = make_backend(backend.name, tmp_path)
    try:
        first_dir, second_dir = tmp_path / "first", tmp_path / "second"
        first_dir.mkdir()
        second_dir.mkdir()
        server = start_server(empty, first_dir)
        try:
            log = next(first_dir.glob("server-*.log")).read_text()
            assert log.count("Created a development account") == 1
            sid, token = printed(log, "account SID"), printed(log, "auth token")
            assert Api(server.base_url, Credentials(sid, token, sid)).get("/v1/ControlPlane/Stores").status_code == 200
        finally:
            stop_server(server)
        server = start_server(empty, second_dir)
        stop_server(server)
        second_log = next(second_dir.glob("server-*.log")).read_text()
        assert "development account" not in second_log and token not in second_log
    finally:
        cleanup()


def test_migrate_creates_the_schema_and_is_idempotent(backend, tmp_path):
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    for url in (fresh, fresh, backend.url):
        env = dict(os.environ, CONVMEM_DATABASE_URL=url)
        result = subprocess.run(
            [sys.executable, "-m", "convmem.cli", "migrate"], env=env, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stderr
        assert "Database is up to date" in result.stdout
    engine = create_engine(fresh)
    try:
        assert {"accounts", "stores", "trait_groups", "profiles", "operations"} <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_the_console_script_is_installed():
    script = Path(sys.executable).parent / "convmem"
    assert script.exists()
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for command in ("serve", "migrate", "accounts", "keys"):
        assert command in result.stdout
