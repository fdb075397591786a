"""Lookup over HTTP and through the official SDK: normalisation, canonical ids, shared and fuzzy values, bad input."""

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest.memory.v1.lookup import LookupList

from tests.contract import assert_conforms
from tests.profile_helpers import (
    EMAIL,
    PHONE,
    add_identifier,
    configure_identity,
    create_profile,
    lookup,
)


def test_sdk_lookup_normalises_the_value_and_finds_the_profile(api, store, twilio_client):
    profile = create_profile(api, store, phone="+13175556789", firstName="Ann")
    found = twilio_client.memory.v1.lookup(store).create(
        LookupList.Identifier({"idType": "phone", "value": "1-317-555-6789"})
    )
    assert found.normalized_value == "+13175556789"
    assert found.profiles == [profile]


def test_email_lookup_ignores_case_and_spaces(api, store):
    profile = create_profile(api, store, email="ann@example.com")
    assert lookup(api, store, "email", " Ann@Example.COM ") == {"normalizedValue": "ann@example.com", "profiles": [profile]}


def test_no_match_is_200_with_no_profiles(api, store, twilio_client):
    create_profile(api, store, email="someone@example.com")
    assert lookup(api, store, "email", "nobody@example.com") == {"normalizedValue": "nobody@example.com", "profiles": []}
    found = twilio_client.memory.v1.lookup(store).create(LookupList.Identifier({"idType": "phone", "value": "3175550000"}))
    assert (found.normalized_value, found.profiles) == ("+13175550000", [])


def test_lookup_answers_the_canonical_id_after_a_merge(api, store):
    earlier = create_profile(api, store, email="m@example.com")
    later = create_profile(api, store, phone="+13175550001")
    add_identifier(api, store, later, "email", "m@example.com")
    assert lookup(api, store, "phone", "+13175550001")["profiles"] == [earlier]
    assert lookup(api, store, "email", "m@example.com")["profiles"] == [earlier]
    assert api.get(f"/v1/Stores/{store}/Profiles/{later}").headers["Canonical-Profile-Id"] == earlier


def test_a_shared_non_unique_value_returns_every_holder_earliest_first(api, store):
    account = {"idType": "account", "normalization": "trim", "enforceUnique": False}
    configure_identity(api, store, [EMAIL, PHONE, account], ["email", "phone", "account"])
    first = create_profile(api, store, email="one@example.com")
    second = create_profile(api, store, email="two@example.com")
    create_profile(api, store, email="three@example.com")
    add_identifier(api, store, second, "account", "acme")
    add_identifier(api, store, first, "account", " acme ")
    assert lookup(api, store, "account", "acme  ") == {"normalizedValue": "acme", "profiles": [first, second]}


def test_fuzzy_lookup_returns_the_values_within_the_threshold(api, store, twilio_client):
    name = {"idType": "fullName", "normalization": "trim", "matchingAlgo": "fuzzy", "matchingThreshold": 80, "enforceUnique": False}
    configure_identity(api, store, [EMAIL, PHONE, name], ["email", "phone"])
    jonathan = create_profile(api, store, email="j1@example.com")
    jonathon = create_profile(api, store, email="j2@example.com")
    mary = create_profile(api, store, email="m@example.com")
    add_identifier(api, store, jonathan, "fullName", "jonathan smith")
    add_identifier(api, store, jonathon, "fullName", "jonathon smith")
    add_identifier(api, store, mary, "fullName", "mary jones")
    found = twilio_client.memory.v1.lookup(store).create(
        LookupList.Identifier({"idType": "fullName", "value": "jonathan smyth"})
    )
    assert found.profiles == [jonathan, jonathon]
    assert lookup(api, store, "fullName", "mary jones")["profiles"] == [mary]
    assert lookup(api, store, "fullName", "someone else entirely")["profiles"] == []


def test_exact_types_do_not_match_similar_values(api, store):
    create_profile(api, store, email="ann@example.com")
    assert lookup(api, store, "email", "anne@example.com")["profiles"] == []


@pytest.mark.parametrize(
    "body, code, fragment",
    [
        ({"idType": "shoeSize", "value": "42"}, 80008, "shoeSize"),
        ({"idType": "phone", "value": "not a phone"}, 21614, "phone"),
        ({"idType": "phone", "value": "12"}, 21614, "phone"),
        ({"idType": "email", "value": "no-at-sign"}, 80007, "email"),
        ({"idType": "email", "value": "   "}, 80007, "email"),
        ({"idType": "email"}, 20001, "value"),
        ({"value": "a@example.com"}, 20001, "idType"),
        ({"idType": "e", "value": "a@example.com"}, 20001, "idType"),
        ({"idType": "email", "value": "a" * 256}, 20001, "value"),
        ({"idType": "email", "value": "a@example.com", "extra": 1}, 20001, "extra"),
        ({"idType": "email", "value": 5}, 20001, "value"),
    ],
)
def test_bad_lookup_is_400_naming_the_problem(api, store, body, code, fragment):
    response = api.post(f"/v1/Stores/{store}/Profiles/Lookup", json=body)
    assert response.status_code == 400, response.text
    assert_conforms(response)
    assert response.json()["code"] == code
    assert fragment in response.json()["message"]


def test_sdk_sees_an_unknown_id_type_as_a_400(store, twilio_client):
    with pytest.raises(TwilioRestException) as raised:
        twilio_client.memory.v1.lookup(store).create(LookupList.Identifier({"idType": "loyaltyId", "value": "x"}))
    assert raised.value.status == 400
    assert raised.value.code == 80008
    assert "loyaltyId" in raised.value.msg


def test_unknown_or_foreign_store_is_404(api, server, backend):
    from convmem.accounts.service import create_account
    from tests.conftest import Api

    with backend.db.writing() as session:
        other = Api(server.base_url, create_account(session, "other"))
    foreign = other.create_store()
    for store in (foreign, "mem_store_01m82bvm64ekgv668za1g59wp9"):
        response = api.post(f"/v1/Stores/{store}/Profiles/Lookup", json={"idType": "email", "value": "a@example.com"})
        assert response.status_code == 404
        assert_conforms(response)
    assert api.post("/v1/Stores/mem_store_bad/Profiles/Lookup", json={"idType": "email", "value": "a@b.co"}).status_code == 400


def test_lookup_needs_credentials(server, store):
    import requests

    response = requests.post(f"{server.base_url}/v1/Stores/{store}/Profiles/Lookup", json={"idType": "email", "value": "a@b.co"})
    assert response.status_code == 401


def test_a_type_made_fuzzy_after_its_values_were_stored_matches_them(api, store):
    """The settings change keys the stored values: the fuzzy index sees them straight away,
    and loses them again when the type goes back to exact matching."""
    exact = {"idType": "fullName", "normalization": "trim", "enforceUnique": False}
    configure_identity(api, store, [EMAIL, PHONE, exact], ["email", "phone"])
    jonathan = create_profile(api, store, email="j1@example.com")
    add_identifier(api, store, jonathan, "fullName", "jonathan smith")
    assert lookup(api, store, "fullName", "jonathan smyth")["profiles"] == []
    configure_identity(api, store, [EMAIL, PHONE, {**exact, "matchingAlgo": "fuzzy", "matchingThreshold": 90}], ["email", "phone"])
    assert lookup(api, store, "fullName", "jonathan smyth")["profiles"] == [jonathan]
    # A threshold with another gram size rebuilds the keys.
    configure_identity(api, store, [EMAIL, PHONE, {**exact, "matchingAlgo": "fuzzy", "matchingThreshold": 75}], ["email", "phone"])
    assert lookup(api, store, "fullName", "jonathon smyth")["profiles"] == [jonathan]
    configure_identity(api, store, [EMAIL, PHONE, exact], ["email", "phone"])
    assert lookup(api, store, "fullName", "jonathan smyth")["profiles"] == []
