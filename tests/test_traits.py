"""ListProfileTraits over HTTP and through the official SDK: flattening, order, paging, filters, redirects."""

import re

import pytest
from twilio.base.exceptions import TwilioException

from tests.contract import assert_conforms
from tests.profile_helpers import add_identifier, create_profile


def traits_path(store, profile):
    return f"/v1/Stores/{store}/Profiles/{profile}/Traits"


def create_group(api, store, name, traits: dict):
    response = api.post(f"/v1/ControlPlane/Stores/{store}/TraitGroups", json={"displayName": name, "traits": traits})
    assert response.status_code == 202, response.text


def loyal_profile(api, store) -> str:
    create_group(api, store, "Loyalty", {"tier": {"dataType": "STRING"}, "points": {"dataType": "NUMBER"}})
    response = api.post(
        f"/v1/Stores/{store}/Profiles",
        json={"traits": {"Contact": {"email": "l@example.com", "firstName": "Alyssa"}, "Loyalty": {"tier": "gold", "points": 1250}}},
    )
    assert response.status_code == 202, response.text
    return response.json()["id"]


def walk(api, store, profile, **params) -> list[dict]:
    """Every page, following nextToken with nothing but the token, as the SDK's *_with_http_info does."""
    items, query = [], params
    while True:
        response = api.get(traits_path(store, profile), params=query)
        assert response.status_code == 200, response.text
        assert_conforms(response)
        body = response.json()
        assert body["meta"]["key"] == "traits"
        assert body["meta"]["pageSize"] == len(body["traits"])
        items += body["traits"]
        if not body["meta"].get("nextToken"):
            return items
        query = {"pageToken": body["meta"]["nextToken"]}


def test_sdk_lists_flattened_traits_by_group_and_name_descending(api, store, twilio_client):
    profile = loyal_profile(api, store)
    listed = twilio_client.memory.v1.traits(store, profile).list()
    assert [(t.trait_group, t.name, t.value) for t in listed] == [
        ("Loyalty", "tier", "gold"),
        ("Loyalty", "points", 1250),
        ("Contact", "firstName", "Alyssa"),
        ("Contact", "email", "l@example.com"),
    ]
    assert all(t.timestamp is not None and t.timestamp.tzinfo is not None for t in listed)

    ascending = twilio_client.memory.v1.traits(store, profile).list(order_by="ASC", trait_groups="Loyalty")
    assert [(t.trait_group, t.name) for t in ascending] == [("Loyalty", "points"), ("Loyalty", "tier")]


def test_items_carry_the_contract_fields_with_whole_second_timestamps(api, store):
    profile = loyal_profile(api, store)
    response = api.get(traits_path(store, profile), params={"traitGroups": "Contact"})
    assert response.status_code == 200
    assert_conforms(response)
    body = response.json()
    assert body["meta"] == {"key": "traits", "pageSize": 2}
    for item in body["traits"]:
        assert set(item) == {"name", "value", "traitGroup", "timestamp"}
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", item["timestamp"])


def test_pages_in_both_directions_and_tokens_keep_the_filter(api, store):
    profile = loyal_profile(api, store)
    api.patch(f"/v1/Stores/{store}/Profiles/{profile}", json={"traits": {"Contact": {"city": "Oslo", "lastName": "Mock"}}})
    everything = walk(api, store, profile, pageSize=2, orderBy="ASC")
    keys = [(t["traitGroup"], t["name"]) for t in everything]
    assert keys == sorted(keys) and len(keys) == 6
    assert walk(api, store, profile, pageSize=1) == list(reversed(everything))
    contact = walk(api, store, profile, pageSize=1, traitGroups="Contact,Nope", orderBy="ASC")
    assert [t["name"] for t in contact] == ["city", "email", "firstName", "lastName"]

    first = api.get(traits_path(store, profile), params={"pageSize": 2, "orderBy": "ASC"}).json()
    second = api.get(traits_path(store, profile), params={"pageToken": first["meta"]["nextToken"]}).json()
    back = api.get(traits_path(store, profile), params={"pageToken": second["meta"]["previousToken"]}).json()
    assert back["traits"] == first["traits"]


def test_page_size_up_to_1000_is_accepted_and_a_page_holds_at_most_100(api, store):
    names = [f"t{i:02d}" for i in range(60)]
    for group in ("Wide1", "Wide2"):
        create_group(api, store, group, {name: {"dataType": "STRING"} for name in names})
    profile = create_profile(api, store, email="w@example.com")
    patch = {group: {name: f"{group}-{name}" for name in names} for group in ("Wide1", "Wide2")}
    assert api.patch(f"/v1/Stores/{store}/Profiles/{profile}", json={"traits": patch}).status_code == 202

    first = api.get(traits_path(store, profile), params={"pageSize": 1000})
    assert first.status_code == 200
    assert_conforms(first)
    assert len(first.json()["traits"]) == 100
    assert len(walk(api, store, profile, pageSize=1000)) == 121


def test_profile_without_traits_of_a_group_lists_nothing(api, store, twilio_client):
    profile = create_profile(api, store, email="e@example.com")
    assert twilio_client.memory.v1.traits(store, profile).list(trait_groups="Loyalty") == []


def test_merged_id_redirects_with_301_keeping_the_query(api, store, twilio_client):
    canonical = create_profile(api, store, email="c@example.com")
    alias = create_profile(api, store, phone="+13175550001")
    add_identifier(api, store, alias, "email", "c@example.com")
    response = api.get(traits_path(store, alias), params={"traitGroups": "Contact", "pageSize": 5})
    assert response.status_code == 301
    assert_conforms(response)
    assert response.headers["Canonical-Profile-Id"] == canonical
    assert response.headers["Location"] == f"{api.base_url}{traits_path(store, canonical)}?traitGroups=Contact&pageSize=5"
    followed = api.get(traits_path(store, alias), allow_redirects=True)
    assert {t["name"] for t in followed.json()["traits"]} == {"email", "phone"}
    with pytest.raises(TwilioException):
        twilio_client.memory.v1.traits(store, alias).list()


@pytest.mark.parametrize(
    "params, code",
    [
        ({"pageSize": 0}, 20001),
        ({"pageSize": 1001}, 20001),
        ({"pageSize": "many"}, 20001),
        ({"orderBy": "UP"}, 20001),
        ({"pageToken": "not-a-token"}, 80012),
        ({"traitGroups": ""}, 20001),
        ({"traitGroups": "x" * 257}, 20001),
    ],
)
def test_bad_list_parameters_are_400(api, store, params, code):
    profile = create_profile(api, store, email="b@example.com")
    response = api.get(traits_path(store, profile), params=params)
    assert response.status_code == 400, response.text
    assert_conforms(response)
    assert response.json()["code"] == code


def test_a_token_from_another_list_is_refused(api, store):
    for i in range(3):
        create_profile(api, store, email=f"p{i}@example.com")
    profile = create_profile(api, store, email="t@example.com")
    token = api.get(f"/v1/Stores/{store}/Profiles", params={"pageSize": 1}).json()["meta"]["nextToken"]
    response = api.get(traits_path(store, profile), params={"pageToken": token})
    assert response.status_code == 400
    assert response.json()["code"] == 80012


def test_unknown_and_bad_profile_ids(api, store):
    assert api.get(traits_path(store, "mem_profile_01m82bvm64ekgv668za1g59wp9")).status_code == 404
    assert api.get(traits_path(store, "mem_profile_nope")).status_code == 400
