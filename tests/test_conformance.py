"""Conformance: schemathesis drives every operation convmem implements with requests generated
from Twilio's own OpenAPI spec, and checks that no answer is a server error and every answer
matches the spec's schemas.

Paths name a real store and profile of a test account, so answers are not only 404s. Where
convmem differs from the spec on purpose, the difference is listed, with its reason, in
docs/compatibility.md, and only that check of that operation is left out here.
"""

import os
import uuid

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from convmem.accounts.service import create_account
from convmem.web.errors import Code
from tests.conftest import Api
from tests.contract import official_spec
from tests.test_control_plane_stores import assert_error

CHECKS = [not_a_server_error, response_schema_conformance]
# The deliberate differences of docs/compatibility.md: operation -> the checks its answers would fail.
DIFFERENCES = {
    "UpdateProfilesBulk": [response_schema_conformance],  # the 202 carries operationId and statusUrl
}
# A few examples each keep the whole run well under a minute; raise it to hunt for more.
EXAMPLES_PER_OPERATION = int(os.environ.get("CONVMEM_CONFORMANCE_EXAMPLES", "5"))


def official_schema():
    """The spec's operations, every one of which convmem serves."""
    spec = official_spec()
    # The spec names memory.twilio.com on every path; the test server's URL is given per call.
    spec["servers"] = [{"url": "/"}]
    for item in spec["paths"].values():
        item.pop("servers", None)
    return schemathesis.openapi.from_dict(spec)


schema = official_schema()


class Target:
    """The account the generated requests authenticate as, and the store, profile and data mapping their paths name."""

    def __init__(self, server):
        self.server = server
        self.api = self.new_account()
        self.store = self.api.create_store()
        self.profile = self.new_profile()
        self.data_mapping = self.new_data_mapping()

    def new_account(self) -> Api:
        with self.server.backend.db.writing() as session:
            credentials = create_account(session, f"conformance-{uuid.uuid4().hex[:8]}")
        return Api(self.server.base_url, credentials)

    def new_profile(self) -> str:
        response = self.api.post(f"/v1/Stores/{self.store}/Profiles", json={"traits": {"Contact": {"email": f"{uuid.uuid4().hex}@example.com"}}})
        assert response.status_code == 202, response.text
        return response.json()["id"]

    def new_data_mapping(self) -> str:
        body = {
            "displayName": f"m{uuid.uuid4().hex[:12]}",
            "mappingFrom": {"type": "INGRESS", "columns": ["email"]},
            "mappingTo": {"type": "TRAITS", "mappings": [{"expression": "email", "traitGroup": "Contact", "traitName": "email"}]},
        }
        response = self.api.post(f"/v1/ControlPlane/Stores/{self.store}/DataMappings", json=body)
        assert response.status_code == 202, response.text
        return self.api.get(response.headers["Location"].replace(self.api.base_url, "")).json()["result"]["id"]

    def fill(self, case) -> Api:
        """Point the case's path at our store and profile, and say whom to send it as.

        Deleting gets a fresh profile or data mapping, or a fresh account with a store of its own, so the
        operations after it still have something to work on and no account reaches its
        store limit."""
        operation_id = case.operation.definition.raw["operationId"]
        if operation_id == "DeleteStore":
            owner = self.new_account()
            case.path_parameters["storeId"] = owner.create_store()
            return owner
        if "storeId" in case.path_parameters:
            case.path_parameters["storeId"] = self.store
        if "profileId" in case.path_parameters:
            case.path_parameters["profileId"] = self.new_profile() if operation_id == "DeleteProfile" else self.profile
        if "dataMappingId" in case.path_parameters:
            case.path_parameters["dataMappingId"] = (
                self.new_data_mapping() if operation_id == "DeleteDataMapping" else self.data_mapping
            )
        return self.api


@pytest.fixture(scope="module")
def target(server) -> Target:
    return Target(server)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    phases=[Phase.explicit, Phase.generate],
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_answers_conform_to_the_official_spec(case, target):
    sender = target.fill(case)
    case.call_and_validate(
        base_url=sender.base_url,
        session=sender.session,
        timeout=60,  # the first Recall loads the embedding model
        checks=CHECKS,
        excluded_checks=DIFFERENCES.get(case.operation.definition.raw["operationId"], []),
    )


# What the run above found: PostgreSQL text cannot hold U+0000, and these fields reached the
# database with it (a 500 there, stored as sent on SQLite). Now refused alike on both backends.
NUL_BODIES = {
    "observation content": ("Observations", {"observations": [{"content": "a\x00b", "source": "api", "occurredAt": "2025-01-15T10:15:30Z"}]}),
    "summary content": (
        "ConversationSummaries",
        {"summaries": [{"content": "a\x00b", "occurredAt": "2025-01-15T10:15:30Z", "conversationId": "conv_conversation_01jzzzzzzzzzzzzzzzzzzzzzzz"}]},
    ),
    "identifier value": ("Identifiers", {"idType": "email", "value": "a\x00b@example.com"}),
}


@pytest.mark.parametrize("sub, body", NUL_BODIES.values(), ids=NUL_BODIES.keys())
def test_a_nul_character_is_refused_not_a_server_error(api, store, sub, body):
    profile = api.post(f"/v1/Stores/{store}/Profiles", json={"traits": {"Contact": {"email": "nul@example.com"}}}).json()["id"]
    response = api.post(f"/v1/Stores/{store}/Profiles/{profile}/{sub}", json=body)
    assert_error(response, 400, Code.BAD_REQUEST, "NUL character")


def test_a_lookup_with_a_nul_character_is_refused_not_a_server_error(api, store):
    response = api.post(f"/v1/Stores/{store}/Profiles/Lookup", json={"idType": "email", "value": "a\x00b@example.com"})
    assert_error(response, 400, Code.BAD_REQUEST, "NUL character")
