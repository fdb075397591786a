"""The official Node `twilio` package (6.x), unmodified, against a running server.

Node is stricter than Python in ways the server must honour: every 2xx needs a JSON body
(DELETE included), lists need `meta.key`, and it sends JSON `null` to remove a trait.
The package is installed from the npm registry into a cache folder on first use; without
node or npm on the machine the test is skipped, and says so.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.dataset_helpers import csv_dataset

NODE_DIR = Path(__file__).parent / "node"
CACHE = Path.home() / ".cache" / "convmem-node-sdk"


def install_node_sdk() -> Path:
    """The folder to put on NODE_PATH, with the pinned `twilio` package in it (skips without node or npm)."""
    if not shutil.which("node") or not shutil.which("npm"):
        pytest.skip("node and npm are needed for the Node SDK test")
    if not (CACHE / "node_modules" / "twilio").exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(CACHE), "twilio@6.2.0"],
            check=True,
            timeout=600,
        )
    return CACHE / "node_modules"


@pytest.fixture(scope="session")
def node_modules() -> Path:
    return install_node_sdk()


def test_node_sdk_round_trip(node_modules, server, account, api, store):
    result = subprocess.run(
        ["node", str(NODE_DIR / "scenario.js"), server.base_url, account.sid, account.secret, store],
        capture_output=True,
        text=True,
        timeout=120,
        env={"NODE_PATH": str(node_modules), "PATH": os.environ["PATH"]},
    )
    out = json.loads(result.stdout or "{}")
    assert result.returncode == 0, (out, result.stderr)
    first, second, merged = out["created"]
    assert merged == first != second
    assert out["traits"] == {"Contact": {"email": "node@example.com", "firstName": "Ann", "lastName": "Lee", "phone": "+13175550199"}}
    assert out["movedId"] is None  # a 301 "succeeds" in Node with an empty instance
    assert out["lookup"] == {"normalizedValue": "+13175550199", "profiles": [first]}
    assert len(out["listed"]) == 4 and first in out["listed"] and len(set(out["listed"])) == 4
    assert out["removed"]["message"] == "Profile accepted for deletion."
    assert out["afterDelete"] == {"status": 404, "code": 20404}


def test_node_sdk_data_mappings(node_modules, server, account, api, store):
    dataset = csv_dataset(api, server, store)
    result = subprocess.run(
        ["node", str(NODE_DIR / "data_mappings.js"), server.base_url, account.sid, account.secret, store, dataset],
        capture_output=True,
        text=True,
        timeout=120,
        env={"NODE_PATH": str(node_modules), "PATH": os.environ["PATH"]},
    )
    out = json.loads(result.stdout or "{}")
    assert result.returncode == 0, (out, result.stderr)
    assert out["created"] == "Data mapping creation request accepted for processing."
    mapping_id = out["fetched"]["id"]
    assert out["fetched"] == {"id": mapping_id, "version": 1, "mappingFrom": {"type": "INGRESS", "columns": ["mail", "given"]}, "isEnabled": True}
    assert out["patched"] == {
        "version": 2,
        "description": None,
        "mappingTo": {"type": "TRAITS", "mappings": [{"expression": "given", "traitGroup": "Contact", "traitName": "firstName"}]},
    }
    assert out["stale"] == {"status": 412, "code": 20412}
    assert out["listed"] == ["node-warehouse", "node-ingress"]
    assert out["ingress"] == [mapping_id]
    assert out["removed"]["message"] == "Data mapping deletion request accepted for processing."
    assert out["afterDelete"] == {"status": 404, "code": 20404}
