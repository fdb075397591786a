"""Stores and operations, driven through the official twilio SDK and checked against Twilio's spec."""

import base64
import json
import uuid

import pytest
from sqlalchemy import func, select
from twilio.base.exceptions import TwilioRestException
from twilio.rest.memory.v1.store import StoreList

from convmem.database.tables import Profile, ProfileIdentifier, Store, TraitGroup
from convmem.web.errors import Code
from tests.contract import assert_conforms

STORES = "/v1/ControlPlane/Stores"


def unique_name() -> str:
    return f"s-{uuid.uuid4().hex[:12]}"


def assert_error(response, status: int, code: Code, *fragments: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "message", "more_info", "status"}
    assert body["code"] == code and body["status"] == status
    assert body["more_info"].endswith(str(int(code)))
    for fragment in fragments:
        assert fragment in body["message"], body["message"]
    return body


def test_create_store_with_the_sdk_and_wait_for_its_operation(twilio_client, server):
    mem = twilio_client.memory.v1
    created = mem.stores.create(StoreList.ServiceRequest({"displayName": "support-desk", "description": "Support"}))
    assert created.message == "Memory Store creation accepted for processing."
    operation_id = created.status_url.rsplit("/", 1)[1]
    assert created.status_url == f"{server.base_url}/v1/ControlPlane/Operations/{operation_id}"

    operation = mem.operations(operation_id).fetch()
    assert operation.operation_id == operation_id
    assert operation.status == "COMPLETED"
    store_id = operation.result["id"]
    assert operation.result["type"] == "RESOURCE_ID"
    assert store_id.startswith("mem_store_")
    assert operation.result_url == f"{server.base_url}/v1/ControlPlane/Stores/{store_id}"

    store = mem.stores(store_id).fetch()
    assert (store.id, store.display_name, store.description) == (store_id, "support-desk", "Support")
    assert store.status == "ACTIVE"
    assert store.version == 1
    assert store.intelligence_service_id is None


def test_create_answers_202_with_operation_headers_as_the_spec_says(api):
    response = api.post(STORES, json={"displayName": unique_name()})
    assert response.status_code == 202
    assert_conforms(response)
    body = response.json()
    operation_id = response.headers["Operation-Id"]
    assert body["statusUrl"] == response.headers["Location"] == f"{api.base_url}/v1/ControlPlane/Operations/{operation_id}"
    assert response.headers["Retry-After"] == "1"

    operation = api.get(f"/v1/ControlPlane/Operations/{operation_id}")
    assert operation.status_code == 200
    assert_conforms(operation)
    assert operation.headers["Operation-Id"] == operation_id
    result = operation.json()
    assert result["status"] == "COMPLETED" and result["completedAt"].endswith("Z")
    fetched = api.get(f"{STORES}/{result['result']['id']}")
    assert fetched.status_code == 200
    assert_conforms(fetched)
    assert fetched.json()["intelligenceServiceId"] is None


def test_fetch_has_an_etag_of_id_and_version(api, store):
    response = api.get(f"{STORES}/{store}")
    tag = response.headers["ETag"]
    assert tag.startswith('"') and tag.endswith('"')
    decoded = json.loads(base64.urlsafe_b64decode(tag.strip('"') + "=="))
    assert decoded == {"id": store, "v": 1}


def test_list_pages_through_every_store_with_the_sdk(twilio_client, api):
    created = {api.create_store() for _ in range(5)}
    listed = list(twilio_client.memory.v1.stores.list(page_size=2))
    assert set(listed) == created
    assert len(listed) == 5


def test_list_pages_are_keyset_in_both_orders_and_walk_back(api):
    created = [api.create_store() for _ in range(5)]
    first = api.get(STORES, params={"pageSize": 2})
    assert first.status_code == 200
    assert_conforms(first)
    body = first.json()
    assert body["stores"] == created[::-1][:2]  # newest first by default
    assert body["meta"]["key"] == "stores" and body["meta"]["pageSize"] == 2
    assert "previousToken" not in body["meta"]

    second = api.get(STORES, params={"pageToken": body["meta"]["nextToken"]}).json()
    assert second["stores"] == created[::-1][2:4]
    back = api.get(STORES, params={"pageToken": second["meta"]["previousToken"]}).json()
    assert back["stores"] == created[::-1][:2]

    ascending, token = [], None
    while True:
        params = {"pageSize": 3, "orderBy": "ASC"} | ({"pageToken": token} if token else {})
        page = api.get(STORES, params=params).json()
        ascending += page["stores"]
        token = page["meta"].get("nextToken")
        if not token:
            break
    assert ascending == created


@pytest.mark.parametrize(
    "params, fragment",
    [
        ({"pageSize": 0}, "pageSize"),
        ({"pageSize": 101}, "pageSize"),
        ({"pageSize": "ten"}, "pageSize"),
        ({"orderBy": "UP"}, "orderBy"),
    ],
)
def test_list_rejects_bad_paging_parameters(api, params, fragment):
    response = api.get(STORES, params=params)
    assert_error(response, 400, Code.BAD_REQUEST, fragment)
    assert_conforms(response)


def test_list_rejects_tokens_it_did_not_issue(api, store):
    foreign = base64.urlsafe_b64encode(json.dumps({"k": "Contact", "o": "DESC", "s": 2, "b": False, "f": {}}).encode())
    for token in ("not-a-token", foreign.decode().rstrip("=")):
        response = api.get(STORES, params={"pageToken": token})
        assert_error(response, 400, Code.INVALID_PAGE_TOKEN, "pageToken")


def test_a_sixteenth_store_is_refused_and_nothing_is_written(api):
    for _ in range(15):
        api.create_store()
    response = api.post(STORES, json={"displayName": "one-too-many"})
    assert_error(response, 400, Code.LIMIT_EXCEEDED, "at most 15 stores")
    assert_conforms(response)
    listed = api.get(STORES, params={"pageSize": 100}).json()["stores"]
    assert len(listed) == 15


@pytest.mark.parametrize(
    "body, code, fragment",
    [
        ({}, Code.BAD_REQUEST, "'displayName'"),
        ({"displayName": "has space"}, Code.BAD_REQUEST, "'displayName'"),
        ({"displayName": "x" * 65}, Code.BAD_REQUEST, "'displayName'"),
        ({"displayName": "ok", "description": ""}, Code.BAD_REQUEST, "'description'"),
        ({"displayName": "ok", "description": "d" * 129}, Code.BAD_REQUEST, "'description'"),
        ({"displayName": 5}, Code.BAD_REQUEST, "'displayName'"),
        ({"displayName": "ok", "colour": "red"}, Code.BAD_REQUEST, "colour"),
        ([{"displayName": "ok"}], Code.BAD_REQUEST, "JSON object"),
    ],
)
def test_create_rejects_what_the_contract_forbids(api, body, code, fragment):
    response = api.post(STORES, json=body)
    assert_error(response, 400, code, fragment)
    assert api.get(STORES).json()["stores"] == []


def test_create_rejects_malformed_json(api):
    response = api.post(STORES, data=b'{"displayName": ', headers={"Content-Type": "application/json"})
    assert_error(response, 400, Code.MALFORMED_JSON, "not valid JSON")


def test_display_names_are_unique_per_account_only(api, server, backend):
    from convmem.accounts.service import create_account
    from tests.conftest import Api

    api.create_store("shared-name")
    response = api.post(STORES, json={"displayName": "shared-name"})
    assert_error(response, 400, Code.DUPLICATE_NAME, "shared-name")
    with backend.db.writing() as session:
        other = Api(server.base_url, create_account(session, "other"))
    assert other.create_store("shared-name").startswith("mem_store_")


def test_patch_with_the_sdk_changes_only_what_is_sent_and_honours_if_match(twilio_client, api):
    mem = twilio_client.memory.v1
    store_id = api.create_store("before")
    fetched = mem.stores(store_id).fetch_with_http_info()
    tag = fetched.headers["etag"]

    patched = mem.stores(store_id).patch(StoreList.PatchStoreRequest({"description": "now described"}), if_match=tag)
    assert patched.message == "Memory Store update request accepted for processing."
    store = mem.stores(store_id).fetch()
    assert (store.display_name, store.description, store.version) == ("before", "now described", 2)

    with pytest.raises(TwilioRestException) as stale:
        mem.stores(store_id).patch(StoreList.PatchStoreRequest({"displayName": "after"}), if_match=tag)
    assert stale.value.status == 412
    assert stale.value.code == Code.PRECONDITION_FAILED
    assert mem.stores(store_id).fetch().display_name == "before"

    fresh = mem.stores(store_id).fetch_with_http_info().headers["etag"]
    mem.stores(store_id).patch(StoreList.PatchStoreRequest({"displayName": "after"}), if_match=fresh.strip('"'))
    store = mem.stores(store_id).fetch()
    assert (store.display_name, store.description, store.version) == ("after", "now described", 3)


def test_patch_responses_conform_and_412_carries_the_error_body(api, store):
    path = f"{STORES}/{store}"
    response = api.patch(path, json={"description": "one"}, headers={"If-Match": api.get(path).headers["ETag"]})
    assert response.status_code == 202
    assert_conforms(response)
    assert api.get(f"/v1/ControlPlane/Operations/{response.headers['Operation-Id']}").json()["result"]["id"] == store

    stale = api.patch(path, json={"description": "two"}, headers={"If-Match": '"stale"'})
    assert_error(stale, 412, Code.PRECONDITION_FAILED, "ETag")
    assert_conforms(stale)
    assert api.get(path).json()["description"] == "one"


def test_patch_that_changes_nothing_keeps_the_version(api):
    store = api.create_store("steady")
    path = f"{STORES}/{store}"
    assert api.patch(path, json={}).status_code == 202
    assert api.patch(path).status_code == 202
    assert api.patch(path, json={"displayName": "steady"}).status_code == 202
    assert api.get(path).json()["version"] == 1


def test_patch_can_clear_the_description_but_not_the_name(api):
    store = api.post(STORES, json={"displayName": unique_name(), "description": "temporary"})
    store_id = api.get(store.headers["Location"].replace(api.base_url, "")).json()["result"]["id"]
    path = f"{STORES}/{store_id}"
    assert api.patch(path, json={"description": None}).status_code == 202
    body = api.get(path).json()
    assert "description" not in body and body["version"] == 2
    assert_error(api.patch(path, json={"displayName": None}), 400, Code.BAD_REQUEST, "'displayName'")


def test_patch_refuses_a_name_another_store_has_and_invalid_fields(api):
    api.create_store("taken")
    store = api.create_store("mine")
    path = f"{STORES}/{store}"
    assert_error(api.patch(path, json={"displayName": "taken"}), 400, Code.DUPLICATE_NAME, "taken")
    assert_error(api.patch(path, json={"displayName": "bad name!"}), 400, Code.BAD_REQUEST, "'displayName'")
    assert_error(api.patch(path, json={"status": "FAILED"}), 400, Code.BAD_REQUEST, "status")
    assert_error(api.patch(path, json={"description": "x"}, headers={"If-Match": "x" * 101}), 400, Code.BAD_REQUEST, "If-Match")
    body = api.get(path).json()
    assert (body["displayName"], body["version"]) == ("mine", 1)


def test_delete_removes_the_store_and_everything_in_it(twilio_client, api, backend):
    store_id = api.create_store()
    with backend.db.writing() as session:
        store_pk = session.scalar(select(Store.id).where(Store.sid == store_id))
        profile = Profile(sid="mem_profile_01jfake0000000000000000000", store_id=store_pk, traits={}, trait_meta={})
        session.add(profile)
        session.flush()
        session.add(
            ProfileIdentifier(
                store_id=store_pk, profile_id=profile.id, id_type="email", value="a@example.com",
                source="test", origin_profile_id=profile.id,
            )
        )

    answer = twilio_client.memory.v1.stores(store_id).delete()
    assert answer["message"] == "Memory Store deletion request accepted for processing."
    operation_id = answer["statusUrl"].rsplit("/", 1)[1]
    operation = twilio_client.memory.v1.operations(operation_id).fetch()
    assert (operation.status, operation.result["id"]) == ("COMPLETED", store_id)

    assert_error(api.get(f"{STORES}/{store_id}"), 404, Code.NOT_FOUND, store_id)
    assert_error(api.get(f"{STORES}/{store_id}/TraitGroups"), 404, Code.NOT_FOUND)
    assert_error(api.delete(f"{STORES}/{store_id}"), 404, Code.NOT_FOUND)
    assert store_id not in api.get(STORES).json()["stores"]
    with backend.db.reading() as session:
        for table in (Profile, ProfileIdentifier, TraitGroup):
            assert session.scalar(select(func.count()).select_from(table).where(table.store_id == store_pk)) == 0


def test_delete_answers_202_as_the_spec_says(api, store):
    response = api.delete(f"{STORES}/{store}")
    assert response.status_code == 202
    assert_conforms(response)
    assert response.headers["Location"] == response.json()["statusUrl"]


def test_ids_that_do_not_match_their_pattern_are_400(api):
    for path in (f"{STORES}/not-a-store", f"{STORES}/mem_store_9zzzzzzzzzzzzzzzzzzzzzzzzz", f"{STORES}/mem_store_ABC"):
        response = api.get(path)
        assert_error(response, 400, Code.INVALID_ID, "storeId")
        assert_conforms(response)
    assert_error(api.delete(f"{STORES}/bad"), 400, Code.INVALID_ID, "storeId")


def test_unknown_store_and_operation_are_404(api):
    missing = api.get(f"{STORES}/mem_store_01jzzzzzzzzzzzzzzzzzzzzzzz")
    assert_error(missing, 404, Code.NOT_FOUND)
    assert_conforms(missing)
    operation = api.get("/v1/ControlPlane/Operations/mem_operation_nothing")
    assert_error(operation, 404, Code.NOT_FOUND)
    assert_conforms(operation)
    assert_error(api.get("/v1/ControlPlane/Operations/" + "x" * 513), 400, Code.BAD_REQUEST, "operationId")


def test_text_the_database_cannot_hold_is_400_not_500(api, store):
    assert_error(api.post(STORES, json={"displayName": "nul", "description": "a\u0000b"}), 400, Code.BAD_REQUEST, "'description'", "NUL")
    assert_error(api.patch(f"{STORES}/{store}", json={"description": "\u0000"}), 400, Code.BAD_REQUEST, "'description'")
    assert_error(api.get("/v1/ControlPlane/Operations/a%00b"), 404, Code.NOT_FOUND)
    assert api.get(f"{STORES}/{store}").json()["version"] == 1
