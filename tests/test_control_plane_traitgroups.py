"""Trait groups, driven through the official twilio SDK and checked against Twilio's spec."""

import pytest
from sqlalchemy import select
from twilio.base.exceptions import TwilioRestException
from twilio.rest.memory.v1.trait_group import TraitGroupList

from convmem.database.tables import Profile, Store, TraitGroup
from convmem.traitgroups.schemas import DEFAULT_CONTACT_GROUP
from convmem.web.errors import Code
from tests.contract import assert_conforms, request_example
from tests.test_control_plane_stores import assert_error


def groups_path(store: str) -> str:
    return f"/v1/ControlPlane/Stores/{store}/TraitGroups"


def create_group(api, store: str, body: dict) -> None:
    response = api.post(groups_path(store), json=body)
    assert response.status_code == 202, response.text


def test_every_new_store_has_the_contact_group(twilio_client, store):
    fetched = twilio_client.memory.v1.trait_groups(store, "Contact").fetch()
    group = fetched.trait_group
    assert group["displayName"] == "Contact"
    assert group["version"] == 1
    assert group["traits"] == DEFAULT_CONTACT_GROUP["traits"]
    assert group["traits"]["email"] == {"dataType": "STRING", "description": "Email address", "idTypePromotion": "email"}
    assert group["traits"]["phone"]["idTypePromotion"] == "phone"
    assert fetched.meta == {"key": "traits", "pageSize": len(DEFAULT_CONTACT_GROUP["traits"])}


def test_create_a_custom_group_with_the_sdk(twilio_client, store, server):
    mem = twilio_client.memory.v1
    request = TraitGroupList.TraitGroupRequest(request_example("CreateTraitGroup", "All Trait Types"))
    created = mem.trait_groups(store).create(request)
    assert created.message == "TraitGroup creation request accepted."
    operation = mem.operations(created.status_url.rsplit("/", 1)[1]).fetch()
    assert operation.status == "COMPLETED"
    assert operation.result == {"type": "RESOURCE_ID", "id": "mixedTraits"}
    assert operation.result_url == f"{server.base_url}/v1/ControlPlane/Stores/{store}/TraitGroups/mixedTraits"

    group = mem.trait_groups(store, "mixedTraits").fetch().trait_group
    sent = request_example("CreateTraitGroup", "All Trait Types")
    assert group["description"] == sent["description"]
    assert group["traits"] == sent["traits"]
    assert group["version"] == 1


def test_every_spec_example_is_accepted_and_answers_conform(api, store):
    for name in ("All Trait Types", "With Validation Rules"):
        response = api.post(groups_path(store), json=request_example("CreateTraitGroup", name))
        assert response.status_code == 202, response.text
        assert_conforms(response)
    basic = request_example("CreateTraitGroup", "Basic Traits") | {"displayName": "Basic"}
    create_group(api, store, basic)
    fetched = api.get(f"{groups_path(store)}/Basic")
    assert fetched.status_code == 200
    assert_conforms(fetched)
    for name in ("Update Traits", "With Validation Rules"):
        response = api.patch(f"{groups_path(store)}/Basic", json=request_example("PatchTraitGroup", name))
        assert response.status_code == 202, response.text
        assert_conforms(response)
    traits = api.get(f"{groups_path(store)}/Basic").json()["traitGroup"]["traits"]
    assert set(traits) == {"email", "dob", "phone", "loyaltyPoints", "tags"}
    assert traits["phone"]["validationRule"]["pattern"] == "^\\+?[1-9]\\d{1,16}$"


def test_trait_names_are_normalised_to_lower_camel_case(api, store):
    create_group(
        api,
        store,
        {
            "displayName": "Loyalty",
            "traits": {"loyalty_points": {"dataType": "NUMBER"}, "Member Tier": {"dataType": "STRING"}, "VIP": {"dataType": "BOOLEAN"}},
        },
    )
    traits = api.get(f"{groups_path(store)}/Loyalty").json()["traitGroup"]["traits"]
    assert set(traits) == {"loyaltyPoints", "memberTier", "vip"}


@pytest.mark.parametrize(
    "traits, code, fragment",
    [
        ({"first_name": {"dataType": "STRING"}, "firstName": {"dataType": "STRING"}}, Code.BAD_REQUEST, "same trait"),
        ({"x": {"dataType": "STRING", "validationRule": {"ruleType": "NUMBER"}}}, Code.BAD_REQUEST, "ruleType"),
        ({"x": {"dataType": "STRING", "validationRule": {"ruleType": "STRING", "pattern": "(["}}}, Code.BAD_REQUEST, "pattern"),
        ({"x": {"dataType": "STRING", "validationRule": {"ruleType": "STRING", "minLength": 5, "maxLength": 2}}}, Code.BAD_REQUEST, "minLength"),
        ({"x": {"dataType": "NUMBER", "validationRule": {"ruleType": "NUMBER", "min": 5, "max": 1}}}, Code.BAD_REQUEST, "min"),
        ({"x": {"dataType": "STRING", "idTypePromotion": "loyalty_id"}}, Code.UNKNOWN_ID_TYPE, "loyalty_id"),
        ({"x": {"dataType": "BOOLEAN", "idTypePromotion": "email"}}, Code.BAD_REQUEST, "BOOLEAN"),
        ({"x": {"dataType": ""}}, Code.BAD_REQUEST, "dataType"),
        ({"x": {"dataType": "DATE"}}, Code.BAD_REQUEST, "traits.x.dataType"),
        ({"x": {"dataType": "STRING", "colour": "red"}}, Code.BAD_REQUEST, "colour"),
        ({"x": {"dataType": "STRING", "description": "d" * 1025}}, Code.BAD_REQUEST, "description"),
        ({"x": {"dataType": "STRING", "idTypePromotion": "e" * 31}}, Code.BAD_REQUEST, "idTypePromotion"),
        ({"x": {"dataType": "STRING", "validationRule": {"ruleType": "STRING", "pattern": "p" * 1001}}}, Code.BAD_REQUEST, "pattern"),
        ({"2fast": {"dataType": "STRING"}}, Code.BAD_REQUEST, "2fast"),
        ({"": {"dataType": "STRING"}}, Code.BAD_REQUEST, "trait name"),
        ({f"t{i}": {"dataType": "STRING"} for i in range(96)}, Code.BAD_REQUEST, "traits"),
    ],
)
def test_create_rejects_invalid_definitions_and_writes_nothing(api, store, traits, code, fragment):
    response = api.post(groups_path(store), json={"displayName": "Rejected", "traits": traits})
    assert_error(response, 400, code, fragment)
    assert_conforms(response)
    assert_error(api.get(f"{groups_path(store)}/Rejected"), 404, Code.NOT_FOUND)


@pytest.mark.parametrize(
    "body, fragment",
    [
        ({}, "displayName"),
        ({"displayName": ""}, "displayName"),
        ({"displayName": "has space"}, "displayName"),
        ({"displayName": "x" * 65}, "displayName"),
        ({"displayName": "ok", "description": "d" * 1025}, "description"),
        ({"displayName": "ok", "extra": 1}, "extra"),
    ],
)
def test_create_rejects_invalid_groups(api, store, body, fragment):
    assert_error(api.post(groups_path(store), json=body), 400, Code.BAD_REQUEST, fragment)


def test_display_names_are_unique_per_store(api, store):
    response = api.post(groups_path(store), json=request_example("CreateTraitGroup", "Basic Traits"))
    assert_error(response, 400, Code.DUPLICATE_NAME, "Contact")
    other = api.create_store()
    create_group(api, other, {"displayName": "Shared"})
    create_group(api, store, {"displayName": "Shared"})


def test_a_store_holds_at_most_50_groups(api, store):
    for i in range(49):
        create_group(api, store, {"displayName": f"G{i}"})
    response = api.post(groups_path(store), json={"displayName": "G49"})
    assert_error(response, 400, Code.LIMIT_EXCEEDED, "at most 50 trait groups")


def test_list_omits_traits_unless_asked_and_pages_with_the_sdk(twilio_client, api, store):
    for i in range(4):
        create_group(api, store, {"displayName": f"Group{i}", "traits": {"code": {"dataType": "STRING"}}})
    mem = twilio_client.memory.v1
    groups = list(mem.trait_groups(store).list(page_size=2))
    assert [g.display_name for g in groups] == ["Group3", "Group2", "Group1", "Group0", "Contact"]
    assert all(g.traits is None for g in groups)
    assert all(g.version == 1 for g in groups)
    with_traits = list(mem.trait_groups(store).list(include_traits=True, order_by="ASC", page_size=3))
    assert [g.display_name for g in with_traits] == ["Contact", "Group0", "Group1", "Group2", "Group3"]
    assert with_traits[1].traits == {"code": {"dataType": "STRING"}}


def test_list_pages_conform_and_tokens_keep_include_traits(api, store):
    create_group(api, store, {"displayName": "Extra", "traits": {"code": {"dataType": "STRING"}}})
    first = api.get(groups_path(store), params={"pageSize": 1, "includeTraits": "true", "orderBy": "ASC"})
    assert first.status_code == 200
    assert_conforms(first)
    body = first.json()
    assert body["meta"]["key"] == "traitGroups" and body["meta"]["pageSize"] == 1
    assert body["traitGroups"][0]["displayName"] == "Contact" and "traits" in body["traitGroups"][0]
    second = api.get(groups_path(store), params={"pageToken": body["meta"]["nextToken"]}).json()
    assert second["traitGroups"] == [{"displayName": "Extra", "traits": {"code": {"dataType": "STRING"}}, "version": 1}]
    assert "nextToken" not in second["meta"]


def test_list_clamps_page_size_to_the_50_group_cap(api, store):
    for i in range(50 - 1):
        create_group(api, store, {"displayName": f"G{i}"})
    page = api.get(groups_path(store), params={"pageSize": 100})
    assert page.status_code == 200
    assert len(page.json()["traitGroups"]) == 50
    assert_error(api.get(groups_path(store), params={"pageSize": 101}), 400, Code.BAD_REQUEST, "pageSize")
    assert_error(api.get(groups_path(store), params={"includeTraits": "perhaps"}), 400, Code.BAD_REQUEST, "includeTraits")


def test_fetch_pages_through_the_traits_of_a_group(api, store):
    create_group(api, store, {"displayName": "Wide", "traits": {f"t{i:02d}": {"dataType": "STRING"} for i in range(60)}})
    path = f"{groups_path(store)}/Wide"
    first = api.get(path)
    assert first.status_code == 200
    assert_conforms(first)
    body = first.json()
    assert len(body["traitGroup"]["traits"]) == 50 and body["meta"]["pageSize"] == 50
    rest = api.get(path, params={"pageToken": body["meta"]["nextToken"]}).json()
    assert set(body["traitGroup"]["traits"]) | set(rest["traitGroup"]["traits"]) == {f"t{i:02d}" for i in range(60)}
    assert "nextToken" not in rest["meta"]
    bare = api.get(path, params={"includeTraits": "false"}).json()
    assert "traits" not in bare["traitGroup"] and bare["traitGroup"]["version"] == 1
    assert_error(api.get(path, params={"pageToken": api.get(groups_path(store), params={"pageSize": 1}).json()["meta"]["nextToken"]}), 400, Code.INVALID_PAGE_TOKEN)


def test_patch_with_the_sdk_upserts_deletes_and_honours_if_match(twilio_client, api, store, backend):
    mem = twilio_client.memory.v1
    create_group(
        api,
        store,
        {"displayName": "Loyalty", "traits": {"points": {"dataType": "NUMBER"}, "removeThisTrait": {"dataType": "STRING"}}},
    )
    tag = mem.trait_groups(store, "Loyalty").fetch_with_http_info().headers["etag"]
    patched = mem.trait_groups(store, "Loyalty").patch(
        TraitGroupList.PatchTraitGroupRequest(request_example("PatchTraitGroup", "Add and Delete Traits")), if_match=tag
    )
    assert patched.message == "TraitGroup update request accepted."
    group = mem.trait_groups(store, "Loyalty").fetch().trait_group
    assert group["version"] == 2
    assert group["description"] == "Demonstrates adding and removing traits in one request."
    assert group["traits"] == {
        "points": {"dataType": "NUMBER"},
        "addThisTrait": {"dataType": "STRING", "description": "Example of trait definition being added"},
    }

    with pytest.raises(TwilioRestException) as stale:
        mem.trait_groups(store, "Loyalty").patch(
            TraitGroupList.PatchTraitGroupRequest({"description": "late"}), if_match=tag
        )
    assert (stale.value.status, stale.value.code) == (412, Code.PRECONDITION_FAILED)
    assert mem.trait_groups(store, "Loyalty").fetch().trait_group["version"] == 2


def test_patch_replaces_a_definition_whole_and_changes_nothing_when_equal(api, store):
    create_group(api, store, {"displayName": "Prefs", "traits": {"seat": {"dataType": "STRING", "description": "aisle?"}}})
    path = f"{groups_path(store)}/Prefs"
    assert api.patch(path, json={"traits": {"seat": {"dataType": "STRING"}}}).status_code == 202
    group = api.get(path).json()["traitGroup"]
    assert group["traits"] == {"seat": {"dataType": "STRING"}} and group["version"] == 2
    for body in ({}, None, {"traits": {"seat": {"dataType": "STRING"}}}):
        assert api.patch(path, json=body).status_code == 202
    assert api.get(path).json()["traitGroup"]["version"] == 2


def test_patch_rejections_write_nothing(api, store):
    create_group(api, store, {"displayName": "Prefs", "traits": {"seat": {"dataType": "STRING"}}})
    path = f"{groups_path(store)}/Prefs"
    assert_error(api.patch(path, json={"traits": {"meal": {"dataType": ""}}}), 400, Code.UNKNOWN_TRAIT, "meal")
    assert_error(
        api.patch(path, json={"description": "new", "traits": {"id": {"dataType": "STRING", "idTypePromotion": "nope"}}}),
        400,
        Code.UNKNOWN_ID_TYPE,
        "nope",
    )
    assert_error(api.patch(path, json={"displayName": "Renamed"}), 400, Code.BAD_REQUEST, "displayName")
    assert_error(
        api.patch(path, json={"traits": {f"t{i}": {"dataType": "STRING"} for i in range(95)}}),
        400,
        Code.LIMIT_EXCEEDED,
        "at most 95",
    )
    group = api.get(path).json()["traitGroup"]
    assert group == {"displayName": "Prefs", "traits": {"seat": {"dataType": "STRING"}}, "version": 1}


def test_unknown_groups_are_404_and_names_are_checked(api, store):
    missing = api.get(f"{groups_path(store)}/Nope")
    assert_error(missing, 404, Code.NOT_FOUND, "Nope")
    assert_conforms(missing)
    assert_error(api.patch(f"{groups_path(store)}/Nope", json={}), 404, Code.NOT_FOUND)
    assert_error(api.delete(f"{groups_path(store)}/Nope"), 404, Code.NOT_FOUND)
    assert_error(api.get(f"{groups_path(store)}/{'x' * 65}"), 400, Code.BAD_REQUEST, "traitGroupName")


def _add_profile(backend, store: str, traits: dict) -> int:
    with backend.db.writing() as session:
        store_pk = session.scalar(select(Store.id).where(Store.sid == store))
        meta = {g: {t: {"at": "2026-01-01T00:00:00Z", "source": "test"} for t in values} for g, values in traits.items()}
        profile = Profile(sid=f"mem_profile_01j{store[-23:]}", store_id=store_pk, traits=traits, trait_meta=meta)
        session.add(profile)
        session.flush()
        return profile.id


def _profile(backend, profile_pk: int) -> tuple[dict, dict]:
    with backend.db.reading() as session:
        profile = session.get(Profile, profile_pk)
        return profile.traits, profile.trait_meta


def test_deleting_a_trait_strips_its_values_from_profiles(api, store, backend):
    create_group(api, store, {"displayName": "Loyalty", "traits": {"points": {"dataType": "NUMBER"}, "tier": {"dataType": "STRING"}}})
    profile = _add_profile(backend, store, {"Contact": {"email": "a@example.com"}, "Loyalty": {"points": 5, "tier": "gold"}})
    assert api.patch(f"{groups_path(store)}/Loyalty", json={"traits": {"tier": {"dataType": ""}}}).status_code == 202
    traits, meta = _profile(backend, profile)
    assert traits == {"Contact": {"email": "a@example.com"}, "Loyalty": {"points": 5}}
    assert set(meta["Loyalty"]) == {"points"} and set(meta["Contact"]) == {"email"}


def test_delete_with_the_sdk_removes_the_group_and_its_values(twilio_client, api, store, backend):
    create_group(api, store, {"displayName": "Loyalty", "traits": {"points": {"dataType": "NUMBER"}}})
    profile = _add_profile(backend, store, {"Contact": {"email": "a@example.com"}, "Loyalty": {"points": 5}})
    answer = twilio_client.memory.v1.trait_groups(store, "Loyalty").delete()
    assert answer["message"] == "TraitGroup deletion request accepted."
    operation = twilio_client.memory.v1.operations(answer["statusUrl"].rsplit("/", 1)[1]).fetch()
    assert operation.status == "COMPLETED" and operation.result["id"] == "Loyalty"
    assert_error(api.get(f"{groups_path(store)}/Loyalty"), 404, Code.NOT_FOUND)
    traits, meta = _profile(backend, profile)
    assert traits == {"Contact": {"email": "a@example.com"}}
    assert set(meta) == {"Contact"}
    with backend.db.reading() as session:
        store_pk = session.scalar(select(Store.id).where(Store.sid == store))
        assert set(session.scalars(select(TraitGroup.name).where(TraitGroup.store_id == store_pk))) == {"Contact"}


def test_a_recreated_group_does_not_accept_its_predecessors_etag(api, store):
    create_group(api, store, {"displayName": "Again", "traits": {"a": {"dataType": "STRING"}}})
    path = f"{groups_path(store)}/Again"
    old_tag = api.get(path).headers["ETag"]
    assert len(old_tag) <= 100  # what If-Match accepts
    delete = api.delete(path)
    assert delete.status_code == 202
    assert_conforms(delete)
    create_group(api, store, {"displayName": "Again"})
    assert_error(api.patch(path, json={"description": "x"}, headers={"If-Match": old_tag}), 412, Code.PRECONDITION_FAILED)
    current = api.get(path).headers["ETag"]
    assert api.patch(path, json={"description": "x"}, headers={"If-Match": current}).status_code == 202


@pytest.mark.parametrize(
    "raw, fragment",
    [
        ('{"displayName": "N", "traits": {"n": {"dataType": "NUMBER", "validationRule": {"ruleType": "NUMBER", "min": 1e400}}}}', "min"),
        ('{"displayName": "N", "traits": {"n": {"dataType": "NUMBER", "validationRule": {"ruleType": "NUMBER", "max": NaN}}}}', "max"),
        ('{"displayName": "N", "description": "a\\u0000b"}', "description"),
    ],
)
def test_values_the_database_cannot_hold_are_400_not_500(api, store, raw, fragment):
    response = api.post(groups_path(store), data=raw, headers={"Content-Type": "application/json"})
    assert_error(response, 400, Code.BAD_REQUEST, fragment)
    assert_error(api.get(f"{groups_path(store)}/N"), 404, Code.NOT_FOUND)
    assert_error(api.patch(f"{groups_path(store)}/Contact", json={"description": "\u0000"}), 400, Code.BAD_REQUEST, "description")
    assert_error(api.get(f"{groups_path(store)}/a%00b"), 404, Code.NOT_FOUND)
