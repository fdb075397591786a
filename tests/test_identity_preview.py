"""Previewing identity resolution settings (docs/extensions.md): what would merge and conflict."""

from tests.profile_helpers import (
    EMAIL,
    PHONE,
    add_identifier,
    configure_identity,
    create_profile,
)

CRM_SHARED = {"idType": "crm", "enforceUnique": False}
NAME_SHARED = {"idType": "name", "enforceUnique": False}


def _preview(api, store: str, configs: list[dict], rules: list[str]) -> dict:
    response = api.post(
        f"/v1/ControlPlane/Stores/{store}/IdentityResolutionSettings/Preview",
        json={"identifierConfigs": configs, "matchingRules": rules},
    )
    assert response.status_code == 200, response.text
    return response.json()


def _three_profiles_two_sharing_a_crm_id(api, store: str) -> list[str]:
    configure_identity(api, store, [EMAIL, PHONE, CRM_SHARED], ["email", "phone"])
    profiles = [create_profile(api, store, email=f"{name}@example.com") for name in ("ann", "bob", "cy")]
    for profile, crm in zip(profiles, ("X1", "X1", "X2")):
        add_identifier(api, store, profile, "crm", crm)
    return profiles


def test_a_type_becoming_a_unique_matching_rule_shows_who_would_merge_and_writes_nothing(api, store):
    ann, bob, _cy = _three_profiles_two_sharing_a_crm_id(api, store)
    before = api.get(f"/v1/ControlPlane/Stores/{store}/IdentityResolutionSettings").json()

    result = _preview(api, store, [EMAIL, PHONE, {"idType": "crm"}], ["email", "phone", "crm"])

    assert (result["profilesThatWouldMerge"], result["mergeGroups"], result["conflicts"]) == (2, 1, 0)
    assert result["sampleGroups"] == [{"profileIds": [ann, bob], "causes": [{"idType": "crm", "value": "X1"}]}]
    changes = {(c["idType"], c["change"]): (c["before"], c["after"]) for c in result["changesForLaterWrites"]}
    assert changes[("crm", "unique")] == (False, True)
    assert changes[("crm", "matching")] == (False, True)
    assert api.get(f"/v1/ControlPlane/Stores/{store}/IdentityResolutionSettings").json() == before
    assert len(api.get(f"/v1/Stores/{store}/Profiles").json()["profiles"]) == 3


def test_a_type_becoming_unique_outside_the_matching_rules_shows_the_conflicts(api, store):
    ann, bob, _cy = _three_profiles_two_sharing_a_crm_id(api, store)

    result = _preview(api, store, [EMAIL, PHONE, {"idType": "crm"}], ["email", "phone"])

    assert (result["profilesThatWouldMerge"], result["conflicts"]) == (0, 1)
    assert result["sampleConflicts"] == [{"idType": "crm", "value": "X1", "profileIds": [ann, bob]}]


def test_two_shared_values_of_non_unique_matching_types_tie_profiles(api, store):
    configure_identity(api, store, [EMAIL, PHONE, CRM_SHARED, NAME_SHARED], ["email", "phone"])
    ann, bob, cy = (create_profile(api, store, email=f"{name}@example.com") for name in ("ann", "bob", "cy"))
    for profile in (ann, bob, cy):
        add_identifier(api, store, profile, "crm", "X1")
    for profile in (ann, bob):
        add_identifier(api, store, profile, "name", "Household")

    result = _preview(api, store, [EMAIL, PHONE, CRM_SHARED, NAME_SHARED], ["email", "phone", "crm", "name"])

    assert [group["profileIds"] for group in result["sampleGroups"]] == [[ann, bob]]


def test_fuzzy_matching_compares_close_values(api, store):
    configure_identity(api, store, [EMAIL, PHONE, NAME_SHARED], ["email", "phone"])
    ann, bob, cy = (create_profile(api, store, email=f"{name}@example.com") for name in ("ann", "bob", "cy"))
    for profile, name in ((ann, "jonathan smith"), (bob, "jonathon smith"), (cy, "maria lopez")):
        add_identifier(api, store, profile, "name", name)

    fuzzy_name = {"idType": "name", "matchingAlgo": "fuzzy", "matchingThreshold": 85}
    result = _preview(api, store, [EMAIL, PHONE, fuzzy_name], ["email", "phone", "name"])

    assert [group["profileIds"] for group in result["sampleGroups"]] == [[ann, bob]]


def test_a_changed_normalization_groups_values_it_makes_equal(api, store):
    configure_identity(api, store, [EMAIL, PHONE, {**CRM_SHARED, "normalization": "none"}], ["email", "phone"])
    ann, bob = (create_profile(api, store, email=f"{name}@example.com") for name in ("ann", "bob"))
    add_identifier(api, store, ann, "crm", "X1 ")
    add_identifier(api, store, bob, "crm", "X1")

    result = _preview(api, store, [EMAIL, PHONE, {"idType": "crm", "normalization": "trim"}], ["email", "phone", "crm"])

    assert [group["profileIds"] for group in result["sampleGroups"]] == [[ann, bob]]


def test_settings_the_put_would_refuse_are_refused(api, store):
    response = api.post(
        f"/v1/ControlPlane/Stores/{store}/IdentityResolutionSettings/Preview",
        json={"identifierConfigs": [EMAIL], "matchingRules": ["phone"]},
    )
    assert response.status_code == 400
    assert response.json()["code"] == 80008
