"""Conformance: check our responses against Twilio's own OpenAPI spec (not our generated one)."""

import json
from functools import lru_cache
from pathlib import Path

import requests
from openapi_core import OpenAPI
from openapi_core.contrib.requests import (
    RequestsOpenAPIRequest,
    RequestsOpenAPIResponse,
)

SPEC_PATH = Path(__file__).resolve().parents[2] / "shared" / "spec" / "twilio_memory_v1.json"


@lru_cache
def _openapi() -> OpenAPI:
    spec = json.loads(SPEC_PATH.read_text())
    # The spec names memory.twilio.com on every path; match any host instead.
    spec["servers"] = [{"url": "/"}]
    for item in spec["paths"].values():
        item.pop("servers", None)
    return OpenAPI.from_dict(spec)


def assert_conforms(response: requests.Response) -> None:
    """Raise unless ``response`` is a valid answer, per the official spec, to its request."""
    _openapi().validate_response(RequestsOpenAPIRequest(response.request), RequestsOpenAPIResponse(response))
