"""The error contract: the code table in docs/errors.md, and the answers to malformed requests."""

import re
from pathlib import Path

import pytest

from convmem.web.errors import Code
from tests.contract import assert_conforms
from tests.inprocess import app_api
from tests.test_control_plane_stores import assert_error

DOC = Path(__file__).resolve().parents[1] / "docs" / "errors.md"


def test_every_code_is_documented_with_its_number_and_status():
    rows = {
        int(number): (name, int(status))
        for number, name, status in re.findall(r"^\| (\d+) \| `([A-Z_]+)` \| (\d{3}) \|", DOC.read_text(), re.M)
    }
    missing = [member.name for member in Code if member.value not in rows]
    assert not missing, f"docs/errors.md lacks {missing}"
    for member in Code:
        assert rows[member.value][0] == member.name, f"docs/errors.md names {member.value} {rows[member.value][0]}"
    assert set(rows) == {member.value for member in Code}, "docs/errors.md lists codes that Code does not have"


def test_unknown_routes_are_404_in_the_error_format(api):
    for path in ("/v1/Nothing", "/v1/ControlPlane/Stores/mem_store_01jzzzzzzzzzzzzzzzzzzzzzzz/Nothing", "/"):
        assert_error(api.get(path), 404, Code.NOT_FOUND, "path does not exist")


def test_wrong_methods_are_405_in_the_error_format(api, store):
    """``Allow`` names every method the path takes, whichever route declares it."""
    response = api.put("/v1/ControlPlane/Stores", json={})
    assert_error(response, 405, Code.METHOD_NOT_ALLOWED)
    assert response.headers["Allow"] == "GET, POST"
    response = api.post(f"/v1/ControlPlane/Stores/{store}", json={})
    assert_error(response, 405, Code.METHOD_NOT_ALLOWED)
    assert response.headers["Allow"] == "DELETE, GET, PATCH"
    response = api.delete(f"/v1/ControlPlane/Stores/{store}/IdentityResolutionSettings")
    assert_error(response, 405, Code.METHOD_NOT_ALLOWED)
    assert response.headers["Allow"] == "GET, PUT"
    assert api.post("/healthz").headers["Allow"] == "GET"


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("POST", "/v1/ControlPlane/Stores", b"{"),
        ("POST", "/v1/ControlPlane/Stores", b'{"displayName": "a",}'),
        ("POST", "/v1/ControlPlane/Stores/{store}/TraitGroups", b"not json"),
        ("PATCH", "/v1/ControlPlane/Stores/{store}", b"[1, 2"),
        ("PUT", "/v1/ControlPlane/Stores/{store}/IdentityResolutionSettings", b"\xff\xfe"),
    ],
)
def test_malformed_json_is_400(api, store, method, path, body):
    response = api.request(method, path.format(store=store), data=body, headers={"Content-Type": "application/json"})
    assert_error(response, 400, Code.MALFORMED_JSON, "not valid JSON")
    assert_conforms(response)


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("POST", "/v1/ControlPlane/Stores", "null"),
        ("POST", "/v1/ControlPlane/Stores", '"a string"'),
        ("POST", "/v1/ControlPlane/Stores/{store}/TraitGroups", "[]"),
        ("PATCH", "/v1/ControlPlane/Stores/{store}/TraitGroups/Contact", "7"),
        ("PUT", "/v1/ControlPlane/Stores/{store}/IdentityResolutionSettings", "true"),
    ],
)
def test_json_that_is_not_an_object_is_400(api, store, method, path, body):
    response = api.request(method, path.format(store=store), data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["code"] == Code.BAD_REQUEST


def test_a_form_encoded_body_is_400_not_500(api):
    response = api.post("/v1/ControlPlane/Stores", data={"displayName": "form"})
    assert_error(response, 400, Code.BAD_REQUEST)


def test_bodies_over_the_configured_limit_are_413(backend, tmp_path, account):
    with app_api(backend, tmp_path, account, max_body_bytes=200) as api:
        too_big = {"displayName": "big", "description": "d" * 300}
        assert_error(api.post("/v1/ControlPlane/Stores", json=too_big), 413, Code.PAYLOAD_TOO_LARGE, "200-byte")
        chunked = api.post(
            "/v1/ControlPlane/Stores",
            data=iter([b'{"displayName": "big", ', b'"description": "' + b"d" * 300 + b'"}']),
            headers={"Content-Type": "application/json"},
        )
        assert_error(chunked, 413, Code.PAYLOAD_TOO_LARGE)
        assert api.get("/v1/ControlPlane/Stores").json()["stores"] == []
        assert api.post("/v1/ControlPlane/Stores", json={"displayName": "small"}).status_code == 202


def test_every_error_body_has_exactly_the_four_fields(api, store):
    answers = [
        api.get("/v1/ControlPlane/Stores/bad-id"),
        api.get("/v1/ControlPlane/Stores", params={"pageSize": 0}),
        api.post("/v1/ControlPlane/Stores", json={}),
        api.patch(f"/v1/ControlPlane/Stores/{store}", json={}, headers={"If-Match": '"old"'}),
        api.get(f"/v1/ControlPlane/Stores/{store}/TraitGroups/Missing"),
        api.post(f"/v1/ControlPlane/Stores/{store}/TraitGroups", json={"displayName": "Contact"}),
    ]
    for response in answers:
        assert response.status_code >= 400
        body = response.json()
        assert set(body) == {"code", "message", "more_info", "status"}
        assert body["status"] == response.status_code
        assert body["code"] in {member.value for member in Code}
        assert_conforms(response)
