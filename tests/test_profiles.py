"""Profiles over HTTP: create/resolve, merge, redirects, patch, delete, list, bad input."""

import pytest

from tests.contract import assert_conforms


def create(api, store, traits):
    response = api.post(f"/v1/Stores/{store}/Profiles", json={"traits": traits})
    assert response.status_code == 202, response.text
    assert_conforms(response)
    return response.json()["id"]


def fetch(api, store, profile, **params):
    return api.get(f"/v1/Stores/{store}/Profiles/{profile}", params=params)


def test_create_resolves_to_the_same_profile_for_the_same_identifier(api, store):
    first = create(api, store, {"Contact": {"email": "Ann@Example.com", "firstName": "Ann"}})
    again = create(api, store, {"Contact": {"email": " ann@example.COM ", "lastName": "Lee"}})
    assert again == first
    response = fetch(api, store, first)
    assert response.status_code == 200
    assert_conforms(response)
    body = response.json()
    assert body["id"] == first
    assert body["traits"]["Contact"] == {"email": " ann@example.COM ", "firstName": "Ann", "lastName": "Lee"}
    assert len(body["createdAt"]) == 20 and body["createdAt"].endswith("Z")


def test_phone_numbers_normalise_to_e164(api, store):
    first = create(api, store, {"Contact": {"phone": "(317) 555-1234"}})
    assert create(api, store, {"Contact": {"phone": "+1 317 555 1234"}}) == first
    assert create(api, store, {"Contact": {"phone": "1-317-555-1234"}}) == first
    assert create(api, store, {"Contact": {"phone": "+44 20 7946 0958"}}) != first


def test_a_request_tying_two_profiles_merges_them_into_the_earliest(api, store):
    by_email = create(api, store, {"Contact": {"email": "a@example.com", "firstName": "Old"}})
    by_phone = create(api, store, {"Contact": {"phone": "+13175550001", "lastName": "Phone"}})
    assert by_email != by_phone
    merged = create(api, store, {"Contact": {"email": "a@example.com", "phone": "+13175550001", "firstName": "New"}})
    assert merged == by_email
    body = fetch(api, store, by_email).json()
    assert body["traits"]["Contact"]["firstName"] == "New"
    assert body["traits"]["Contact"]["lastName"] == "Phone"

    moved = fetch(api, store, by_phone, traitGroups="Contact")
    assert moved.status_code == 301
    assert_conforms(moved)
    assert moved.headers["Canonical-Profile-Id"] == by_email
    assert moved.headers["Location"] == f"{api.base_url}/v1/Stores/{store}/Profiles/{by_email}?traitGroups=Contact"
    assert moved.json()["uri"] == moved.headers["Location"]

    for method in ("PATCH", "DELETE"):
        kwargs = {"json": {"traits": {"Contact": {"city": "X"}}}} if method == "PATCH" else {}
        response = api.request(method, f"/v1/Stores/{store}/Profiles/{by_phone}", **kwargs)
        assert response.status_code == 308
        assert response.headers["Canonical-Profile-Id"] == by_email
        assert_conforms(response)

    listed = api.get(f"/v1/Stores/{store}/Profiles").json()["profiles"]
    assert listed == [by_email]


def test_aliases_follow_a_second_merge(api, store):
    a = create(api, store, {"Contact": {"email": "a@example.com"}})
    b = create(api, store, {"Contact": {"phone": "+13175550002"}})
    c = create(api, store, {"Contact": {"email": "c@example.com"}})
    assert create(api, store, {"Contact": {"phone": "+13175550002", "email": "c@example.com"}}) == b
    assert create(api, store, {"Contact": {"phone": "+13175550002", "email": "a@example.com"}}) == a
    for alias in (b, c):
        response = fetch(api, store, alias)
        assert response.status_code == 301
        assert response.headers["Canonical-Profile-Id"] == a


def test_merge_keeps_the_most_recently_written_trait(api, store):
    older = create(api, store, {"Contact": {"email": "m@example.com", "city": "Paris"}})
    newer = create(api, store, {"Contact": {"phone": "+13175550003", "city": "Rome"}})
    create(api, store, {"Contact": {"email": "m@example.com", "phone": "+13175550003"}})
    assert fetch(api, store, older).json()["traits"]["Contact"]["city"] == "Rome"
    assert fetch(api, store, newer).status_code == 301


def test_patch_merges_traits_and_null_removes(api, store):
    profile = create(api, store, {"Contact": {"email": "p@example.com", "firstName": "Ann", "city": "Oslo"}})
    response = api.patch(
        f"/v1/Stores/{store}/Profiles/{profile}", json={"traits": {"Contact": {"firstName": "Anna", "city": None}}}
    )
    assert response.status_code == 202, response.text
    assert_conforms(response)
    traits = fetch(api, store, profile).json()["traits"]["Contact"]
    assert traits == {"email": "p@example.com", "firstName": "Anna"}


def test_patching_an_identifier_can_merge(api, store):
    a = create(api, store, {"Contact": {"email": "x@example.com"}})
    b = create(api, store, {"Contact": {"phone": "+13175550004"}})
    response = api.patch(f"/v1/Stores/{store}/Profiles/{b}", json={"traits": {"Contact": {"email": "x@example.com"}}})
    assert response.status_code == 202
    assert fetch(api, store, b).headers["Canonical-Profile-Id"] == a
    assert create(api, store, {"Contact": {"phone": "+13175550004"}}) == a


def test_delete_frees_identifier_values(api, store):
    profile = create(api, store, {"Contact": {"email": "d@example.com"}})
    response = api.delete(f"/v1/Stores/{store}/Profiles/{profile}")
    assert response.status_code == 202
    assert_conforms(response)
    assert fetch(api, store, profile).status_code == 404
    assert api.delete(f"/v1/Stores/{store}/Profiles/{profile}").status_code == 404
    assert create(api, store, {"Contact": {"email": "d@example.com"}}) != profile


def test_trait_group_filter(api, store):
    profile = create(api, store, {"Contact": {"email": "f@example.com"}})
    assert fetch(api, store, profile, traitGroups="Other").json()["traits"] == {}
    assert fetch(api, store, profile, traitGroups="Contact").json()["traits"]["Contact"]["email"] == "f@example.com"


def test_list_is_newest_first_and_pages(api, store):
    ids = [create(api, store, {"Contact": {"email": f"l{i}@example.com"}}) for i in range(7)]
    seen, token = [], None
    while True:
        params = {"pageSize": 3, **({"pageToken": token} if token else {})}
        response = api.get(f"/v1/Stores/{store}/Profiles", params=params)
        assert response.status_code == 200
        assert_conforms(response)
        body = response.json()
        assert body["meta"]["key"] == "profiles"
        seen += body["profiles"]
        token = body["meta"].get("nextToken")
        if not token:
            break
    assert seen == list(reversed(ids))
    ascending = api.get(f"/v1/Stores/{store}/Profiles", params={"orderBy": "ASC", "pageSize": 1000}).json()
    assert ascending["profiles"] == ids


@pytest.mark.parametrize(
    "body, code, fragment",
    [
        ({"traits": {"Nope": {"email": "a@example.com"}}}, 80003, "Nope"),
        ({"traits": {"Contact": {"shoeSize": 3, "email": "a@example.com"}}}, 80004, "Contact.shoeSize"),
        ({"traits": {"Contact": {"email": 12}}}, 80005, "Contact.email"),
        ({"traits": {"Contact": {"phone": "not a phone"}}}, 21614, "phone"),
        ({"traits": {"Contact": {"email": "no-at-sign"}}}, 80007, "email"),
        ({"traits": {}}, 20001, "traits"),
        ({}, 20001, "traits"),
        ({"traits": {"Contact": {"firstName": "OnlyAName"}}}, 80006, "identifier"),
        ({"traits": {f"G{i}": {} for i in range(51)}}, 20001, "50"),
        ({"traits": {"Contact": {"email": "a@example.com"}}, "extra": 1}, 20001, "extra"),
        ([1, 2], 20001, "object"),
    ],
)
def test_bad_create_is_400_and_writes_nothing(api, store, body, code, fragment):
    response = api.post(f"/v1/Stores/{store}/Profiles", json=body)
    assert response.status_code == 400, response.text
    assert_conforms(response)
    error = response.json()
    assert error["code"] == code
    assert fragment in error["message"]
    assert api.get(f"/v1/Stores/{store}/Profiles").json()["profiles"] == []


def test_malformed_json_is_400(api, store):
    response = api.post(
        f"/v1/Stores/{store}/Profiles", data="{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["code"] == 20002


def test_bad_ids_are_400_unknown_ids_404(api, store):
    assert api.get(f"/v1/Stores/{store}/Profiles/mem_profile_bad").status_code == 400
    assert api.get(f"/v1/Stores/{store}/Profiles/mem_profile_01m82bvm64ekgv668za1g59wp9").status_code == 404
    assert api.get("/v1/Stores/mem_store_01m82bvm64ekgv668za1g59wp9/Profiles").status_code == 404


@pytest.mark.parametrize("cursor", ['"abc"', "1.5", "true", "[1, 2]", str(2**70)])
def test_forged_page_tokens_are_400(api, store, cursor):
    import base64

    raw = '{"k": %s, "o": "DESC", "s": 5, "b": false, "f": {}}' % cursor
    token = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
    response = api.get(f"/v1/Stores/{store}/Profiles", params={"pageToken": token})
    assert response.status_code == 400
    assert response.json()["code"] == 80012


@pytest.mark.parametrize("value", ["NaN", "Infinity"])
def test_non_finite_numbers_are_400(api, store, value):
    body = '{"traits": {"Contact": {"email": "n@example.com", "firstName": %s}}}' % value
    response = api.post(f"/v1/Stores/{store}/Profiles", data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400


def test_nul_characters_are_400(api, store):
    response = api.post(f"/v1/Stores/{store}/Profiles", json={"traits": {"Contact": {"email": "n@example.com", "city": "a\x00b"}}})
    assert response.status_code == 400
    assert "NUL" in response.json()["message"]


def test_merge_history_names_every_folded_profile_and_its_cause(api, store):
    a = create(api, store, {"Contact": {"email": "h1@example.com"}})
    b = create(api, store, {"Contact": {"phone": "+13175550301"}})
    c = create(api, store, {"Contact": {"email": "h3@example.com"}})
    create(api, store, {"Contact": {"email": "h3@example.com", "phone": "+13175550301"}})  # c into b
    create(api, store, {"Contact": {"email": "h1@example.com", "phone": "+13175550301"}})  # b into a
    response = api.get(f"/v1/Stores/{store}/Profiles/{a}/Merges")
    assert response.status_code == 200
    body = response.json()
    assert body["meta"]["key"] == "merges"
    history = [(m["mergedProfileId"], m["intoProfileId"], m["idType"], m["value"]) for m in body["merges"]]
    # each merged profile is recorded with the value through which the write reached it
    assert history == [(c, b, "email", "h3@example.com"), (b, a, "phone", "+13175550301")]
    assert all(m["source"] == "api:create" and m["mergedAt"].endswith("Z") for m in body["merges"])
    assert api.get(f"/v1/Stores/{store}/Profiles/{c}/Merges").status_code == 301
    assert api.get(f"/v1/Stores/{store}/Profiles/{create(api, store, {'Contact': {'email': 'solo@example.com'}})}/Merges").json()["merges"] == []


# fifo: the merge brings a, b, c; the oldest (a) goes, but the merging write carries a, so it is
# stored again as the newest value and b makes room. lifo: the newest stored value (c) goes.
@pytest.mark.parametrize("policy, kept", [("fifo", ["c@example.com", "a@example.com"]), ("lifo", ["a@example.com", "b@example.com"])])
def test_a_merge_over_the_limit_evicts_by_policy(api, store, policy, kept):
    settings = {
        "identifierConfigs": [
            {"idType": "email", "normalization": "email", "limit": 2, "limitPolicy": policy},
            {"idType": "phone", "normalization": "phone"},
        ],
        "matchingRules": ["email", "phone"],
    }
    assert api.put(f"/v1/ControlPlane/Stores/{store}/IdentityResolutionSettings", json=settings).status_code == 202
    first = create(api, store, {"Contact": {"email": "a@example.com"}})
    api.patch(f"/v1/Stores/{store}/Profiles/{first}", json={"traits": {"Contact": {"email": "b@example.com"}}})
    create(api, store, {"Contact": {"email": "c@example.com", "phone": "+13175550401"}})
    assert create(api, store, {"Contact": {"email": "a@example.com", "phone": "+13175550401"}}) == first
    emails = api.get(f"/v1/Stores/{store}/Profiles/{first}/Identifiers/email").json()["values"]
    assert emails == kept


def test_trait_values_come_back_exactly_as_written(api, store):
    """JSON columns are written with orjson, and with json for integers orjson refuses
    (beyond 64 bits): every value must still read back unchanged, merged or not."""
    group = {"displayName": "Ledger", "traits": {"balance": {"dataType": "NUMBER"}, "notes": {"dataType": "ARRAY"}}}
    assert api.post(f"/v1/ControlPlane/Stores/{store}/TraitGroups", json=group).status_code == 202
    huge, precise = 2**70 + 1, 0.1 + 0.2
    first = create(api, store, {"Contact": {"email": "x@example.com", "firstName": "Zoë 李"}, "Ledger": {"balance": huge}})
    second = create(api, store, {"Contact": {"phone": "+13175550100"}, "Ledger": {"notes": [precise, -(2**64), "ß", True]}})
    merged = create(api, store, {"Contact": {"email": "x@example.com", "phone": "+13175550100"}})
    assert merged == first != second
    traits = fetch(api, store, first).json()["traits"]
    assert traits["Contact"]["firstName"] == "Zoë 李"
    assert traits["Ledger"] == {"balance": huge, "notes": [precise, -(2**64), "ß", True]}
