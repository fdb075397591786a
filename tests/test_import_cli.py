"""``convmem import``: creates the import, uploads, follows it and prints the summary."""

import os
import subprocess
import sys


def run_cli(server, account, *args, env_credentials=True):
    env = dict(os.environ)
    env.pop("CONVMEM_ACCOUNT_SID", None)
    env.pop("CONVMEM_AUTH_TOKEN", None)
    if env_credentials:
        env.update({"CONVMEM_ACCOUNT_SID": account.sid, "CONVMEM_AUTH_TOKEN": account.secret})
    return subprocess.run(
        [sys.executable, "-m", "convmem.cli", "import", *args, "--url", server.base_url],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_import_command_uploads_follows_and_summarises(server, account, api, store, tmp_path):
    csv_file = tmp_path / "people.csv"
    csv_file.write_text("email,first_name,shoe\na@example.com,Ann,9\n,Nobody,8\nb@example.com,Bob,7\n")
    result = run_cli(server, account, str(csv_file), "--store", store, "--map", "email=Contact.email", "--map", "first_name=Contact.firstName")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "COMPLETED" in result.stdout
    assert "3 of 3 rows processed" in result.stdout
    assert "errors: 1, warnings: 1" in result.stdout
    assert "no identifier value" in result.stdout
    assert len(api.get(f"/v1/Stores/{store}/Profiles").json()["profiles"]) == 2


def test_import_command_reports_a_failed_import(server, account, store, tmp_path):
    csv_file = tmp_path / "people.csv"
    csv_file.write_text("mail,first_name\na@example.com,Ann\n")
    result = run_cli(
        server, account, str(csv_file), "--store", store, "--map", "email=Contact.email", "--map", "first_name=Contact.firstName"
    )
    assert result.returncode == 1
    assert "FAILED" in result.stdout and "'email'" in result.stdout


def test_import_command_shows_the_servers_refusal(server, account, store, tmp_path):
    csv_file = tmp_path / "people.csv"
    csv_file.write_text("email,x\na@example.com,1\n")
    result = run_cli(
        server, account, str(csv_file), "--store", store, "--map", "email=Contact.email", "--map", "x=Contact.shoeSize",
        env_credentials=False,
    )
    assert result.returncode != 0
    assert "CONVMEM_ACCOUNT_SID" in result.stdout + result.stderr
    result = run_cli(server, account, str(csv_file), "--store", store, "--map", "email=Contact.email", "--map", "x=Contact.shoeSize")
    assert result.returncode == 1
    assert "400" in result.stdout and "shoeSize" in result.stdout


def test_import_command_takes_an_ingress_data_mapping(server, account, api, store, tmp_path):
    mapping = {
        "displayName": "people-csv",
        "mappingFrom": {"type": "INGRESS", "columns": ["email", "first_name"]},
        "mappingTo": {
            "type": "TRAITS",
            "mappings": [
                {"expression": "email", "traitGroup": "Contact", "traitName": "email"},
                {"expression": "first_name", "traitGroup": "Contact", "traitName": "firstName"},
            ],
        },
    }
    created = api.post(f"/v1/ControlPlane/Stores/{store}/DataMappings", json=mapping)
    mapping_id = api.get(created.headers["Location"].replace(api.base_url, "")).json()["result"]["id"]
    csv_file = tmp_path / "people.csv"
    csv_file.write_text("email,first_name\na@example.com,Ann\n")
    result = run_cli(server, account, str(csv_file), "--store", store, "--data-mapping", mapping_id)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 of 1 rows processed" in result.stdout
    both = run_cli(server, account, str(csv_file), "--store", store, "--data-mapping", mapping_id, "--map", "email=Contact.email")
    assert both.returncode != 0 and "not both" in both.stdout + both.stderr
