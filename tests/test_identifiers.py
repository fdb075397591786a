"""Profile identifiers over HTTP and through the official SDK: add (and merge), list, fetch,
replace, remove, limits with fifo and lifo, redirects of merged ids, bad input."""

import pytest
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest.memory.v1.identifier import IdentifierList

from tests.contract import assert_conforms
from tests.profile_helpers import (
    EMAIL,
    PHONE,
    add_identifier,
    configure_identity,
    create_profile,
    identifiers_of,
    lookup,
)


def path(store, profile, id_type=None):
    base = f"/v1/Stores/{store}/Profiles/{profile}/Identifiers"
    return f"{base}/{id_type}" if id_type else base


def set_phone_limit(api, store, limit, policy):
    configure_identity(api, store, [EMAIL, PHONE | {"limit": limit, "limitPolicy": policy}], ["email", "phone"])


def test_sdk_adds_lists_and_fetches_identifiers(api, store, twilio_client):
    profile = create_profile(api, store, email="Ann@Example.com")
    identifiers = twilio_client.memory.v1.identifiers(store, profile)
    created = identifiers.create(IdentifierList.Identifier({"idType": "phone", "value": "(317) 555-0100"}))
    assert created.message == "Identifier accepted for processing."
    identifiers.create(IdentifierList.Identifier({"idType": "phone", "value": "+44 20 7946 0958"}))

    listed = {item.id_type: item.values for item in identifiers.list()}
    assert listed == {"email": ["ann@example.com"], "phone": ["+13175550100", "+442079460958"]}

    fetched = twilio_client.memory.v1.identifiers(store, profile, "phone").fetch()
    assert (fetched.id_type, fetched.values) == ("phone", ["+13175550100", "+442079460958"])
    response = api.get(path(store, profile, "phone"))
    assert response.status_code == 200
    assert_conforms(response)
    assert response.json() == {"idType": "phone", "values": ["+13175550100", "+442079460958"]}


def test_adding_a_value_already_held_changes_nothing(api, store):
    profile = create_profile(api, store, email="a@example.com", phone="+13175550100")
    add_identifier(api, store, profile, "email", "A@EXAMPLE.COM")
    assert identifiers_of(api, store, profile) == {"email": ["a@example.com"], "phone": ["+13175550100"]}


def test_adding_another_profiles_value_merges_into_the_earliest(api, store):
    earlier = create_profile(api, store, email="e@example.com", firstName="Early")
    later = create_profile(api, store, phone="+13175550101", lastName="Late")
    add_identifier(api, store, later, "email", "e@example.com")

    moved = api.get(path(store, later))
    assert moved.status_code == 301
    assert moved.headers["Canonical-Profile-Id"] == earlier
    assert identifiers_of(api, store, earlier) == {"email": ["e@example.com"], "phone": ["+13175550101"]}
    traits = api.get(f"/v1/Stores/{store}/Profiles/{earlier}").json()["traits"]["Contact"]
    assert traits["firstName"] == "Early" and traits["lastName"] == "Late"


def test_adding_a_later_profiles_value_to_the_earlier_one_folds_the_later(api, store):
    earlier = create_profile(api, store, email="first@example.com")
    later = create_profile(api, store, phone="+13175550102")
    add_identifier(api, store, earlier, "phone", "3175550102")
    assert api.get(f"/v1/Stores/{store}/Profiles/{later}").headers["Canonical-Profile-Id"] == earlier
    assert lookup(api, store, "phone", "+13175550102")["profiles"] == [earlier]


def test_values_are_listed_oldest_first(api, store):
    profile = create_profile(api, store, email="o@example.com")
    for number in ("+13175550003", "+13175550001", "+13175550002"):
        add_identifier(api, store, profile, "phone", number)
    assert identifiers_of(api, store, profile)["phone"] == ["+13175550003", "+13175550001", "+13175550002"]


def test_fifo_limit_evicts_the_oldest(api, store):
    set_phone_limit(api, store, 2, "fifo")
    profile = create_profile(api, store, phone="+13175550001")
    add_identifier(api, store, profile, "phone", "+13175550002")
    add_identifier(api, store, profile, "phone", "+13175550003")
    assert identifiers_of(api, store, profile)["phone"] == ["+13175550002", "+13175550003"]
    assert lookup(api, store, "phone", "+13175550001")["profiles"] == []


def test_lifo_limit_evicts_the_most_recent_stored_value_and_keeps_the_new_one(api, store):
    set_phone_limit(api, store, 2, "lifo")
    profile = create_profile(api, store, phone="+13175550001")
    add_identifier(api, store, profile, "phone", "+13175550002")
    add_identifier(api, store, profile, "phone", "+13175550003")
    assert identifiers_of(api, store, profile)["phone"] == ["+13175550001", "+13175550003"]


def test_fetch_of_a_configured_type_without_values_is_an_empty_set(api, store):
    profile = create_profile(api, store, email="n@example.com")
    response = api.get(path(store, profile, "phone"))
    assert response.status_code == 200
    assert_conforms(response)
    assert response.json() == {"idType": "phone", "values": []}


def test_sdk_patch_replaces_a_value_and_the_new_one_goes_last(api, store, twilio_client):
    profile = create_profile(api, store, phone="+13175550001")
    add_identifier(api, store, profile, "phone", "+13175550002")
    updated = twilio_client.memory.v1.identifiers(store, profile, "phone").patch(
        IdentifierList.IdentifierUpdate({"idType": "phone", "oldValue": "317-555-0001", "newValue": "(317) 555-0009"})
    )
    assert updated.message == "Identifier update accepted."
    assert identifiers_of(api, store, profile)["phone"] == ["+13175550002", "+13175550009"]
    assert lookup(api, store, "phone", "+13175550001")["profiles"] == []
    assert lookup(api, store, "phone", "+13175550009")["profiles"] == [profile]


def test_patch_to_another_profiles_value_merges(api, store):
    earlier = create_profile(api, store, email="a@example.com")
    later = create_profile(api, store, email="b@example.com")
    response = api.patch(
        path(store, later, "email"), json={"idType": "email", "oldValue": "b@example.com", "newValue": "a@example.com"}
    )
    assert response.status_code == 202, response.text
    assert_conforms(response)
    assert api.get(f"/v1/Stores/{store}/Profiles/{later}").headers["Canonical-Profile-Id"] == earlier
    assert identifiers_of(api, store, earlier) == {"email": ["a@example.com"]}
    assert lookup(api, store, "email", "b@example.com")["profiles"] == []


def test_patch_to_a_unique_value_that_cannot_merge_is_409_and_writes_nothing(api, store):
    badge = {"idType": "badge", "normalization": "trim"}
    configure_identity(api, store, [EMAIL, PHONE, badge], ["email", "phone"])
    holder = create_profile(api, store, email="h@example.com")
    other = create_profile(api, store, email="o@example.com")
    add_identifier(api, store, holder, "badge", "B-1")
    add_identifier(api, store, other, "badge", "B-2")
    response = api.patch(path(store, other, "badge"), json={"idType": "badge", "oldValue": "B-2", "newValue": "B-1"})
    assert response.status_code == 409, response.text
    assert_conforms(response)
    assert response.json()["code"] == 80009
    assert identifiers_of(api, store, other)["badge"] == ["B-2"]
    assert identifiers_of(api, store, holder)["badge"] == ["B-1"]


@pytest.mark.parametrize(
    "body, status, code, fragment",
    [
        ({"idType": "email", "oldValue": "+13175550001", "newValue": "+13175550002"}, 400, 20001, "email"),
        ({"idType": "phone", "oldValue": "+13175550001"}, 400, 20001, "newValue"),
        ({"idType": "phone", "newValue": "+13175550002"}, 400, 20001, "oldValue"),
        ({"oldValue": "+13175550001", "newValue": "+13175550002"}, 400, 20001, "idType"),
        ({"idType": "phone", "oldValue": "+13175550001", "newValue": "nope"}, 400, 21614, "newValue"),
        ({"idType": "phone", "oldValue": "+13175550001", "newValue": "+13175550002", "x": 1}, 400, 20001, "x"),
        ({"idType": "phone", "oldValue": "+13175550077", "newValue": "+13175550002"}, 404, 20404, "+13175550077"),
    ],
)
def test_bad_patch_is_refused_and_writes_nothing(api, store, body, status, code, fragment):
    profile = create_profile(api, store, phone="+13175550001")
    response = api.patch(path(store, profile, "phone"), json=body)
    assert response.status_code == status, response.text
    assert_conforms(response)
    assert response.json()["code"] == code
    assert fragment in response.json()["message"]
    assert identifiers_of(api, store, profile) == {"phone": ["+13175550001"]}


def test_delete_without_remove_all_follows_the_limit_policy(api, store, twilio_client):
    profile = create_profile(api, store, phone="+13175550001")
    for number in ("+13175550002", "+13175550003"):
        add_identifier(api, store, profile, "phone", number)
    removed = twilio_client.memory.v1.identifiers(store, profile, "phone").delete()
    assert removed == {"message": "Identifier removal accepted."}
    assert identifiers_of(api, store, profile)["phone"] == ["+13175550002", "+13175550003"]

    set_phone_limit(api, store, 100, "lifo")
    response = api.delete(path(store, profile, "phone"))
    assert response.status_code == 202
    assert_conforms(response)
    assert identifiers_of(api, store, profile)["phone"] == ["+13175550002"]


def test_remove_all_removes_every_value_and_frees_them(api, store, twilio_client):
    profile = create_profile(api, store, email="r@example.com", phone="+13175550001")
    add_identifier(api, store, profile, "phone", "+13175550002")
    twilio_client.memory.v1.identifiers(store, profile, "phone").delete(remove_all=True)
    assert identifiers_of(api, store, profile) == {"email": ["r@example.com"]}
    assert lookup(api, store, "phone", "+13175550001")["profiles"] == []
    assert create_profile(api, store, phone="+13175550001") != profile

    response = api.delete(path(store, profile, "phone"), params={"removeAll": "true"})
    assert response.status_code == 404
    assert_conforms(response)


def test_merged_ids_redirect_reads_with_301_and_writes_with_308(api, store, twilio_client):
    canonical = create_profile(api, store, email="c@example.com")
    alias = create_profile(api, store, phone="+13175550001")
    add_identifier(api, store, alias, "email", "c@example.com")

    for read in (path(store, alias), path(store, alias, "email")):
        response = api.get(read)
        assert response.status_code == 301
        assert_conforms(response)
        assert response.headers["Canonical-Profile-Id"] == canonical
        assert response.headers["Location"] == api.base_url + read.replace(alias, canonical)
        assert response.json()["uri"] == response.headers["Location"]

    writes = [
        ("POST", path(store, alias), {"json": {"idType": "phone", "value": "+13175550002"}}),
        ("PATCH", path(store, alias, "phone"), {"json": {"idType": "phone", "oldValue": "+13175550001", "newValue": "+13175550003"}}),
        ("DELETE", path(store, alias, "phone") + "?removeAll=true", {}),
    ]
    for method, target, kwargs in writes:
        response = api.request(method, target, **kwargs)
        assert response.status_code == 308, (method, response.text)
        assert_conforms(response)
        assert response.headers["Canonical-Profile-Id"] == canonical
        assert response.headers["Location"] == api.base_url + target.replace(alias, canonical)
    assert identifiers_of(api, store, canonical) == {"email": ["c@example.com"], "phone": ["+13175550001"]}

    with pytest.raises(TwilioRestException) as raised:
        twilio_client.memory.v1.identifiers(store, alias, "phone").delete(remove_all=True)
    assert raised.value.status == 308
    with pytest.raises(TwilioException):
        twilio_client.memory.v1.identifiers(store, alias).create(
            IdentifierList.Identifier({"idType": "phone", "value": "+13175550004"})
        )
    assert twilio_client.memory.v1.identifiers(store, alias, "email").fetch().values is None


@pytest.mark.parametrize(
    "body, code, fragment",
    [
        ({"idType": "shoeSize", "value": "42"}, 80008, "shoeSize"),
        ({"idType": "phone", "value": "555"}, 21614, "phone"),
        ({"idType": "email", "value": "nobody"}, 80007, "email"),
        ({"idType": "phone"}, 20001, "value"),
        ({"value": "+13175550002"}, 20001, "idType"),
        ({"idType": "phone", "value": "+13175550002", "source": "x"}, 20001, "source"),
        ({}, 20001, "idType"),
    ],
)
def test_bad_add_is_400_and_writes_nothing(api, store, body, code, fragment):
    profile = create_profile(api, store, phone="+13175550001")
    response = api.post(path(store, profile), json=body)
    assert response.status_code == 400, response.text
    assert_conforms(response)
    assert response.json()["code"] == code
    assert fragment in response.json()["message"]
    assert identifiers_of(api, store, profile) == {"phone": ["+13175550001"]}


def test_unknown_id_types_are_400_on_fetch_and_delete(api, store):
    profile = create_profile(api, store, email="u@example.com")
    for method in ("GET", "DELETE"):
        response = api.request(method, path(store, profile, "shoeSize"))
        assert response.status_code == 400
        assert_conforms(response)
        assert response.json()["code"] == 80008
        assert "shoeSize" in response.json()["message"]
    assert api.get(path(store, profile, "x")).status_code == 400


def test_bad_and_unknown_profile_ids(api, store):
    assert api.get(path(store, "mem_profile_bad")).status_code == 400
    missing = "mem_profile_01m82bvm64ekgv668za1g59wp9"
    for method, target, kwargs in [
        ("GET", path(store, missing), {}),
        ("POST", path(store, missing), {"json": {"idType": "email", "value": "a@example.com"}}),
        ("GET", path(store, missing, "email"), {}),
        ("DELETE", path(store, missing, "email"), {}),
    ]:
        response = api.request(method, target, **kwargs)
        assert response.status_code == 404, (method, target)
        assert_conforms(response)
