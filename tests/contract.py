"""Conformance: check our responses against Twilio's own OpenAPI spec (not our generated one).

The spec is Twilio's published document, taken from the npm package the Twilio CLI is built on
(it ships every API's OpenAPI file). The package is pinned, and so is the file's digest: the
contract the tests hold us to changes only when someone changes these lines. It is fetched
with npm into `.cache/` in the repository on first use, so a fresh clone needs nothing beside it.
"""

import copy
import hashlib
import json
import shutil
import subprocess
import tarfile
import tempfile
from functools import lru_cache
from pathlib import Path

import requests
from openapi_core import OpenAPI
from openapi_core.contrib.requests import (
    RequestsOpenAPIRequest,
    RequestsOpenAPIResponse,
)

SPEC_PACKAGE = "@twilio/cli-core@9.0.0"
SPEC_MEMBER = "package/src/services/twilio-api/twilio_memory_v1.json"
SPEC_SHA256 = "b4a68e5fed0584b212d87375a008af2a6cfa3c16041f9353340a6c6058414870"
CACHE = Path(__file__).resolve().parents[1] / ".cache" / "twilio-cli-core-9.0.0"
SPEC_PATH = CACHE / "twilio_memory_v1.json"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _install_spec() -> None:
    """Fetch the package tarball with npm (no dependencies, no install scripts) and keep the one file."""
    if not shutil.which("npm"):
        raise RuntimeError(f"npm is needed once to fetch Twilio's OpenAPI spec ({SPEC_PACKAGE})")
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        packed = subprocess.run(
            ["npm", "pack", "--silent", "--pack-destination", tmp, SPEC_PACKAGE],
            check=True,
            capture_output=True,
            text=True,
            timeout=600,
        )
        tarball = Path(tmp) / packed.stdout.split()[-1]
        with tarfile.open(tarball) as archive:
            source = archive.extractfile(SPEC_MEMBER)
            staged = Path(tmp) / "spec.json"
            staged.write_bytes(source.read())
        if _sha256(staged) != SPEC_SHA256:
            raise RuntimeError(f"{SPEC_PACKAGE}:{SPEC_MEMBER} is not the pinned document (sha256 differs)")
        # A rename, so a concurrent run never reads half a file.
        staged.replace(SPEC_PATH)


def spec_path() -> Path:
    """The official spec on disk, fetched on first use."""
    if not SPEC_PATH.exists() or _sha256(SPEC_PATH) != SPEC_SHA256:
        _install_spec()
    return SPEC_PATH


@lru_cache
def _official_spec() -> dict:
    return json.loads(spec_path().read_text())


def official_spec() -> dict:
    """Twilio's OpenAPI document, as published (a copy: callers may change it)."""
    return copy.deepcopy(_official_spec())


def request_example(operation_id: str, name: str | None = None) -> dict:
    """The request body the spec gives as an example of ``operation_id``: the one called ``name``,
    or, for an operation with a single unnamed example, that one."""
    for item in _official_spec()["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict) and operation.get("operationId") == operation_id:
                content = operation["requestBody"]["content"]["application/json"]
                example = content["example"] if name is None else content["examples"][name]["value"]
                return copy.deepcopy(example)
    raise KeyError(operation_id)


@lru_cache
def _openapi() -> OpenAPI:
    spec = official_spec()
    # The spec names memory.twilio.com on every path; match any host instead.
    spec["servers"] = [{"url": "/"}]
    for item in spec["paths"].values():
        item.pop("servers", None)
    return OpenAPI.from_dict(spec)


def assert_conforms(response: requests.Response) -> None:
    """Raise unless ``response`` is a valid answer, per the official spec, to its request."""
    _openapi().validate_response(RequestsOpenAPIRequest(response.request), RequestsOpenAPIResponse(response))
