"""IdentityResolutionSettings, driven through the official twilio SDK and checked against Twilio's spec."""

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest.memory.v1.identity_resolution_setting import (
    IdentityResolutionSettingList,
)

from convmem.web.errors import Code
from tests.contract import assert_conforms, request_example
from tests.test_control_plane_stores import assert_error

SPEC_EXAMPLE = request_example("UpdateIdentityResolutionSettings", "Basic Configuration")
DEFAULT_CONFIG = {"matchingAlgo": "exact", "matchingThreshold": 75, "limit": 100, "limitPolicy": "fifo", "enforceUnique": True}


def settings_path(store: str) -> str:
    return f"/v1/ControlPlane/Stores/{store}/IdentityResolutionSettings"


def test_a_new_store_matches_on_email_then_phone(twilio_client, api, store):
    settings = twilio_client.memory.v1.identity_resolution_settings(store).fetch()
    assert settings.identifier_configs == [
        {"idType": "email", "normalization": "email", **DEFAULT_CONFIG},
        {"idType": "phone", "normalization": "phone", **DEFAULT_CONFIG},
    ]
    assert settings.matching_rules == ["email", "phone"]
    assert settings.version == 1
    response = api.get(settings_path(store))
    assert response.status_code == 200
    assert_conforms(response)
    assert len(response.headers["ETag"]) <= 100


def test_update_with_the_sdk_and_if_match(twilio_client, store, server):
    irs = twilio_client.memory.v1.identity_resolution_settings(store)
    tag = irs.fetch_with_http_info().headers["etag"]
    updated = irs.update(IdentityResolutionSettingList.IdentityResolutionSettingsCore(SPEC_EXAMPLE), if_match=tag)
    assert updated.message == "Identity Resolution Settings accepted for processing."
    operation = twilio_client.memory.v1.operations(updated.status_url.rsplit("/", 1)[1]).fetch()
    assert operation.status == "COMPLETED"
    assert operation.result == {"type": "RESOURCE_ID", "id": store}
    assert operation.result_url == f"{server.base_url}{settings_path(store)}"

    settings = irs.fetch()
    assert settings.version == 2
    assert settings.matching_rules == ["email", "whatsapp", "phone"]
    assert [c["idType"] for c in settings.identifier_configs] == ["email", "whatsapp", "phone"]
    assert settings.identifier_configs[1] == {"idType": "whatsapp", "normalization": "trim", **DEFAULT_CONFIG}

    with pytest.raises(TwilioRestException) as stale:
        irs.update(
            IdentityResolutionSettingList.IdentityResolutionSettingsCore(
                {"identifierConfigs": [{"idType": "email"}, {"idType": "phone"}], "matchingRules": ["email"]}
            ),
            if_match=tag,
        )
    assert (stale.value.status, stale.value.code) == (412, Code.PRECONDITION_FAILED)
    assert irs.fetch().version == 2


def test_update_answers_conform_and_unquoted_tags_are_accepted(api, store):
    path = settings_path(store)
    tag = api.get(path).headers["ETag"].strip('"')
    response = api.put(path, json=SPEC_EXAMPLE, headers={"If-Match": tag})
    assert response.status_code == 202
    assert_conforms(response)
    assert response.headers["Location"] == response.json()["statusUrl"]
    stale = api.put(path, json=SPEC_EXAMPLE, headers={"If-Match": tag})
    assert_error(stale, 412, Code.PRECONDITION_FAILED)
    assert_conforms(stale)


def test_a_put_that_changes_nothing_keeps_the_version(api, store):
    path = settings_path(store)
    current = api.get(path).json()
    del current["version"]
    assert api.put(path, json=current).status_code == 202
    assert api.put(path, json={"identifierConfigs": [{"idType": "email", "normalization": "email"}, {"idType": "phone", "normalization": "phone"}], "matchingRules": ["email", "phone"]}).status_code == 202
    assert api.get(path).json()["version"] == 1


def test_put_replaces_everything(api, store):
    path = settings_path(store)
    body = {
        "identifierConfigs": [
            {"idType": "email", "normalization": "email", "limit": 3, "limitPolicy": "lifo"},
            {"idType": "phone", "normalization": "phone", "matchingAlgo": "fuzzy", "matchingThreshold": 90},
            {"idType": "user_id", "normalization": "none", "enforceUnique": False},
        ],
        "matchingRules": ["user_id", "email"],
    }
    assert api.put(path, json=body).status_code == 202
    settings = api.get(path).json()
    assert settings["matchingRules"] == ["user_id", "email"]
    configs = {c["idType"]: c for c in settings["identifierConfigs"]}
    assert configs["email"]["limit"] == 3 and configs["email"]["limitPolicy"] == "lifo"
    assert configs["phone"]["matchingAlgo"] == "fuzzy" and configs["phone"]["matchingThreshold"] == 90
    assert configs["user_id"]["enforceUnique"] is False and configs["user_id"]["limit"] == 100


@pytest.mark.parametrize(
    "body, code, fragment",
    [
        ({"identifierConfigs": [{"idType": "email"}], "matchingRules": ["phone"]}, Code.UNKNOWN_ID_TYPE, "matchingRules.0"),
        ({"identifierConfigs": [{"idType": "email"}, {"idType": "email"}], "matchingRules": ["email"]}, Code.INVALID_SETTINGS, "more than once"),
        ({"identifierConfigs": [{"idType": "email"}], "matchingRules": ["email", "email"]}, Code.INVALID_SETTINGS, "more than once"),
        ({"identifierConfigs": [{"idType": "email"}], "matchingRules": ["e" * 31]}, Code.INVALID_SETTINGS, "30 characters"),
        ({"identifierConfigs": [], "matchingRules": ["email"]}, Code.BAD_REQUEST, "identifierConfigs"),
        ({"identifierConfigs": [{"idType": "email"}], "matchingRules": []}, Code.BAD_REQUEST, "matchingRules"),
        ({"identifierConfigs": [{"idType": f"t{i:02d}"} for i in range(16)], "matchingRules": ["t00"]}, Code.BAD_REQUEST, "identifierConfigs"),
        ({"identifierConfigs": [{"idType": "e"}], "matchingRules": ["e"]}, Code.BAD_REQUEST, "identifierConfigs.0.idType"),
        ({"identifierConfigs": [{"idType": "email", "matchingAlgo": "close"}], "matchingRules": ["email"]}, Code.BAD_REQUEST, "matchingAlgo"),
        ({"identifierConfigs": [{"idType": "email", "matchingThreshold": 49}], "matchingRules": ["email"]}, Code.BAD_REQUEST, "matchingThreshold"),
        ({"identifierConfigs": [{"idType": "email", "limit": 101}], "matchingRules": ["email"]}, Code.BAD_REQUEST, "limit"),
        ({"identifierConfigs": [{"idType": "email", "normalization": "upper"}], "matchingRules": ["email"]}, Code.BAD_REQUEST, "normalization"),
        ({"identifierConfigs": [{"idType": "email", "priority": 1}], "matchingRules": ["email"]}, Code.BAD_REQUEST, "priority"),
        ({"matchingRules": ["email"]}, Code.BAD_REQUEST, "identifierConfigs"),
        (None, Code.BAD_REQUEST, "body"),
    ],
)
def test_invalid_settings_are_refused_and_nothing_changes(api, store, body, code, fragment):
    response = api.put(settings_path(store), json=body)
    assert_error(response, 400, code, fragment)
    assert_conforms(response)
    assert api.get(settings_path(store)).json()["version"] == 1


def test_an_id_type_still_promoted_by_a_trait_cannot_be_dropped(api, store):
    response = api.put(settings_path(store), json={"identifierConfigs": [{"idType": "email"}], "matchingRules": ["email"]})
    assert_error(response, 400, Code.UNKNOWN_ID_TYPE, "'phone'", "Contact.phone")
    assert api.get(settings_path(store)).json()["version"] == 1


def test_a_configured_id_type_can_then_be_promoted_by_a_trait(api, store):
    groups = f"/v1/ControlPlane/Stores/{store}/TraitGroups"
    loyalty = {"displayName": "Loyalty", "traits": {"memberId": {"dataType": "STRING", "idTypePromotion": "member_id"}}}
    assert_error(api.post(groups, json=loyalty), 400, Code.UNKNOWN_ID_TYPE, "member_id")
    settings = {
        "identifierConfigs": [{"idType": "email"}, {"idType": "phone"}, {"idType": "member_id"}],
        "matchingRules": ["member_id", "email", "phone"],
    }
    assert api.put(settings_path(store), json=settings).status_code == 202
    assert api.post(groups, json=loyalty).status_code == 202
    settings["identifierConfigs"].pop()
    settings["matchingRules"].remove("member_id")
    assert_error(api.put(settings_path(store), json=settings), 400, Code.UNKNOWN_ID_TYPE, "Loyalty.memberId")


def test_unknown_store_is_404_and_bad_id_is_400(api):
    missing = api.get(settings_path("mem_store_01jzzzzzzzzzzzzzzzzzzzzzzz"))
    assert_error(missing, 404, Code.NOT_FOUND)
    assert_conforms(missing)
    assert_error(api.put(settings_path("mem_store_01jzzzzzzzzzzzzzzzzzzzzzzz"), json=SPEC_EXAMPLE), 404, Code.NOT_FOUND)
    assert_error(api.get(settings_path("store-1")), 400, Code.INVALID_ID, "storeId")
