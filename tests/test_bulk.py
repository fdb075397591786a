"""Bulk upserts: the 202 with a status handle, validation of the whole batch, per-store order,
and the same result as sending the profiles one by one."""

import pytest
from openapi_core.validation.response.exceptions import InvalidData

from tests.contract import assert_conforms
from tests.jobs_support import store_state, wait_bulk


def bulk(api, store, profiles):
    return api.put(f"/v1/Stores/{store}/Profiles/Bulk", json={"profiles": profiles})


def accepted(api, store, profiles) -> dict:
    response = bulk(api, store, profiles)
    assert response.status_code == 202, response.text
    return response.json()


def contact(**traits):
    return {"traits": {"Contact": traits}}


def test_a_batch_is_accepted_with_a_status_handle_and_processed(api, store):
    response = bulk(api, store, [contact(email="a@example.com", firstName="Ann"), contact(phone="+13175550100")])
    assert response.status_code == 202
    body = response.json()
    assert body["message"] == "Profile batch accepted for processing."
    assert body["operationId"].startswith("mem_bulk_")
    assert body["statusUrl"] == f"{api.base_url}/v1/Stores/{store}/Profiles/Bulk/{body['operationId']}"
    assert response.headers["Location"] == body["statusUrl"]
    # The deviation, on purpose: the spec's 202 is {message} with maxProperties 1.
    with pytest.raises(InvalidData):
        assert_conforms(response)

    done = wait_bulk(api, body["statusUrl"])
    assert done["status"] == "COMPLETED"
    assert done["progress"] == {"processed": 2, "total": 2}
    assert done["summary"] == {"created": 2, "updated": 0, "failed": 0}
    assert [item["status"] for item in done["results"]] == ["CREATED", "CREATED"]
    first = done["results"][0]["profileId"]
    profile = api.get(f"/v1/Stores/{store}/Profiles/{first}").json()
    assert profile["traits"] == {"Contact": {"email": "a@example.com", "firstName": "Ann"}}
    assert done["createdAt"].endswith("Z") and done["completedAt"].endswith("Z")


def test_the_result_equals_sending_the_profiles_one_by_one(api, backend):
    profiles = [
        contact(email="ann@example.com", firstName="Ann", city="Paris"),
        contact(phone="+13175550101", lastName="Lee"),
        contact(email="ANN@example.com ", city="Lyon"),  # same person: city overwritten
        contact(email="bob@example.com", phone="+13175550102"),
        contact(email="ann@example.com", phone="+13175550101", firstName="Annie"),  # ties two profiles: merge
        contact(phone="(317) 555-0102", lastName="Bobson"),  # normalised to Bob's phone
        contact(email="cy@example.com", street="1 Main St"),
        contact(email="cy@example.com", street="2 Main St", state="CA"),
    ]
    seed = [contact(email="bob@example.com", firstName="Robert"), contact(phone="+13175550199", firstName="Pre")]
    one_by_one, batched = api.create_store(), api.create_store()
    for store in (one_by_one, batched):
        for body in seed:
            assert api.post(f"/v1/Stores/{store}/Profiles", json=body).status_code == 202
    for body in profiles:
        assert api.post(f"/v1/Stores/{one_by_one}/Profiles", json=body).status_code == 202

    done = wait_bulk(api, accepted(api, batched, profiles)["statusUrl"])
    assert done["status"] == "COMPLETED"
    assert [item["status"] for item in done["results"]] == [
        "CREATED", "CREATED", "UPDATED", "UPDATED", "UPDATED", "UPDATED", "CREATED", "UPDATED",
    ]
    assert done["results"][4]["mergedProfileIds"] == [done["results"][1]["profileId"]]
    expected, actual = store_state(backend.db, one_by_one), store_state(backend.db, batched)
    assert actual["merges"] == expected["merges"] == 1
    assert [p for p, _ in actual["profiles"]] == [p for p, _ in expected["profiles"]]
    # Same identifiers; their provenance says which path wrote them.
    strip = lambda state: [[i[:2] for i in ids] for _, ids in state["profiles"]]  # noqa: E731
    assert strip(actual) == strip(expected)
    assert {i[2] for _, ids in actual["profiles"] for i in ids} == {"api", "bulk"}


def test_batches_of_a_store_apply_in_the_order_they_arrived(api, store):
    urls = [
        accepted(api, store, [contact(email=f"u{n}@example.com", city=f"city-{batch}") for n in range(50)])["statusUrl"]
        for batch in range(5)
    ]
    results = [wait_bulk(api, url) for url in urls]
    assert [r["summary"] for r in results] == [{"created": 50, "updated": 0, "failed": 0}] + [
        {"created": 0, "updated": 50, "failed": 0}
    ] * 4
    profile = results[0]["results"][7]["profileId"]
    assert api.get(f"/v1/Stores/{store}/Profiles/{profile}").json()["traits"]["Contact"]["city"] == "city-4"


@pytest.mark.parametrize(
    "profiles, index, problem",
    [
        ([contact(email="a@example.com"), contact(email="b@example.com", shoeSize="9")], 1, "Unknown trait 'Contact.shoeSize'"),
        ([contact(email="a@example.com"), contact(email="b@example.com"), contact(firstName="NoId")], 2, "identifier"),
        ([contact(phone="12"), contact(email="b@example.com")], 0, "not a valid phone number"),
        ([{"traits": {"Nope": {"x": 1}}}], 0, "Unknown trait group 'Nope'"),
        ([contact(email="a@example.com"), {"traits": {"Contact": {"email": "b@example.com"}}, "extra": 1}], 1, "extra"),
        ([contact(email=5)], 0, "must be a string"),
    ],
)
def test_a_malformed_batch_is_refused_whole_naming_the_item(api, store, profiles, index, problem):
    response = bulk(api, store, profiles)
    assert response.status_code == 400, response.text
    assert_conforms(response)
    message = response.json()["message"]
    assert f"profiles[{index}]" in message or f"profiles.{index}" in message, message
    assert problem in message, message
    assert api.get(f"/v1/Stores/{store}/Profiles").json()["profiles"] == []


@pytest.mark.parametrize("body", [{"profiles": []}, {}, {"profiles": [contact(email=f"{n}@x.com") for n in range(1001)]}])
def test_batch_size_is_one_to_a_thousand(api, store, body):
    response = api.put(f"/v1/Stores/{store}/Profiles/Bulk", json=body)
    assert response.status_code == 400, response.text
    assert "profiles" in response.json()["message"]


def test_status_of_unknown_or_foreign_batches_is_404(api, store):
    other = api.create_store()
    operation = accepted(api, store, [contact(email="a@example.com")])["operationId"]
    assert api.get(f"/v1/Stores/{other}/Profiles/Bulk/{operation}").status_code == 404
    assert api.get(f"/v1/Stores/{store}/Profiles/Bulk/mem_bulk_01jzzzzzzzzzzzzzzzzzzzzzzz").status_code == 404


def test_the_python_sdk_reads_the_handle(twilio_client, api, store):
    from twilio.rest.memory.v1.bulk import BulkList

    result = twilio_client.memory.v1.bulk(store).update(
        BulkList.UpdateProfilesBulkRequest({"profiles": [{"traits": {"Contact": {"email": "sdk@example.com"}}}]})
    )
    assert result.message == "Profile batch accepted for processing."
    assert result.operation_id.startswith("mem_bulk_")
    assert wait_bulk(api, result.status_url)["summary"]["created"] == 1


def test_the_operations_endpoint_answers_for_a_batch(twilio_client, api, store):
    operation = accepted(api, store, [contact(email="op@example.com")])["operationId"]
    done = wait_bulk(api, f"{api.base_url}/v1/Stores/{store}/Profiles/Bulk/{operation}")
    assert done["status"] == "COMPLETED"
    response = api.get(f"/v1/ControlPlane/Operations/{operation}")
    assert response.status_code == 200
    assert_conforms(response)
    body = response.json()
    assert body["status"] == "COMPLETED"
    assert body["result"] == {"type": "RESOURCE_ID", "id": operation}
    assert body["resultUrl"] == f"{api.base_url}/v1/Stores/{store}/Profiles/Bulk/{operation}"
    fetched = twilio_client.memory.v1.operations(operation).fetch()
    assert fetched.status == "COMPLETED"
    assert api.get("/v1/ControlPlane/Operations/mem_bulk_01jzzzzzzzzzzzzzzzzzzzzzzz").status_code == 404


def test_an_operation_id_that_only_starts_like_a_batch_id_is_404(api):
    """Not looked up as a batch: NUL is text PostgreSQL cannot compare."""
    for operation in ("mem_bulk_a%00b", "mem_bulk_nothing"):
        response = api.get(f"/v1/ControlPlane/Operations/{operation}")
        assert response.status_code == 404, response.text
        assert response.json()["message"] == f"Operation '{operation.replace('%00', chr(0))}' was not found"
