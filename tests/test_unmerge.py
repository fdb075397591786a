"""Unmerge, split and never-merge pairs over HTTP (convmem extensions, docs/extensions.md)."""

from tests.profile_helpers import identifiers_of


def create(api, store, contact: dict) -> str:
    response = api.post(f"/v1/Stores/{store}/Profiles", json={"traits": {"Contact": contact}})
    assert response.status_code == 202, response.text
    return response.json()["id"]


def traits_of(api, store, profile) -> dict:
    response = api.get(f"/v1/Stores/{store}/Profiles/{profile}")
    assert response.status_code == 200, response.text
    return response.json()["traits"].get("Contact", {})


def unmerge(api, store, survivor, merged):
    return api.post(f"/v1/Stores/{store}/Profiles/{survivor}/Merges/{merged}/Unmerge")


def ledger(api, store, profile) -> list[tuple]:
    response = api.get(f"/v1/Stores/{store}/Profiles/{profile}/Merges")
    assert response.status_code == 200, response.text
    return [(m["kind"], m["mergedProfileId"], m["intoProfileId"]) for m in response.json()["merges"]]


def merged_pair(api, store, prefix: str) -> tuple[str, str]:
    """S (email, phone, firstName Sam) and M (email, firstName Max, lastName), merged into S
    by a write carrying M's email and S's phone."""
    survivor = create(api, store, {"email": f"{prefix}s@example.com", "phone": "+13175550401", "firstName": "Sam"})
    merged = create(api, store, {"email": f"{prefix}m@example.com", "firstName": "Max", "lastName": "Moe"})
    assert create(api, store, {"email": f"{prefix}m@example.com", "phone": "+13175550401"}) == survivor
    assert api.get(f"/v1/Stores/{store}/Profiles/{merged}").status_code == 301
    return survivor, merged


def test_unmerge_brings_the_merged_profile_back_with_what_it_brought(api, store):
    survivor, merged = merged_pair(api, store, "u1")
    assert traits_of(api, store, survivor)["firstName"] == "Max"  # the newer value won the merge

    response = unmerge(api, store, survivor, merged)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["profileId"] == merged and body["fromProfileId"] == survivor
    assert body["restoredIdentifiers"] == [{"idType": "email", "value": "u1m@example.com"}]
    assert body["identifiersKeptBySurvivor"] == [] and body["traitsKeptBySurvivor"] == []

    assert api.get(f"/v1/Stores/{store}/Profiles/{merged}").status_code == 200  # no redirect any more
    assert traits_of(api, store, merged) == {"email": "u1m@example.com", "firstName": "Max", "lastName": "Moe"}
    assert traits_of(api, store, survivor) == {"email": "u1s@example.com", "phone": "+13175550401", "firstName": "Sam"}
    assert identifiers_of(api, store, merged) == {"email": ["u1m@example.com"]}
    assert identifiers_of(api, store, survivor) == {"email": ["u1s@example.com"], "phone": ["+13175550401"]}
    assert ledger(api, store, survivor) == [("merge", merged, survivor), ("unmerge", merged, survivor)]
    assert ledger(api, store, merged) == [("merge", merged, survivor), ("unmerge", merged, survivor)]


def test_a_value_a_later_write_changed_stays_on_the_survivor_and_is_reported(api, store):
    survivor, merged = merged_pair(api, store, "u2")
    patched = api.patch(f"/v1/Stores/{store}/Profiles/{survivor}", json={"traits": {"Contact": {"firstName": "Maxine"}}})
    assert patched.status_code == 202

    body = unmerge(api, store, survivor, merged).json()
    assert body["traitsKeptBySurvivor"] == [{"group": "Contact", "trait": "firstName"}]
    assert traits_of(api, store, survivor)["firstName"] == "Maxine"
    assert traits_of(api, store, merged) == {"email": "u2m@example.com", "lastName": "Moe"}


def test_a_unique_value_the_survivor_holds_in_its_own_right_stays_with_it(api, store):
    survivor, merged = merged_pair(api, store, "u3")
    assert api.delete(f"/v1/Stores/{store}/Profiles/{survivor}/Identifiers/email", params={"removeAll": "true"}).status_code == 202
    added = api.post(f"/v1/Stores/{store}/Profiles/{survivor}/Identifiers", json={"idType": "email", "value": "u3m@example.com"})
    assert added.status_code == 202

    body = unmerge(api, store, survivor, merged).json()
    assert body["identifiersKeptBySurvivor"] == [{"idType": "email", "value": "u3m@example.com"}]
    assert body["restoredIdentifiers"] == []
    assert identifiers_of(api, store, survivor)["email"] == ["u3m@example.com"]
    assert "email" not in identifiers_of(api, store, merged)


def test_memories_written_under_the_merged_profile_come_back_with_it(api, store):
    survivor = create(api, store, {"email": "u4s@example.com"})
    merged = create(api, store, {"email": "u4m@example.com", "phone": "+13175550402"})
    observation = {"content": "Likes tea", "source": "api", "occurredAt": "2025-01-15T10:15:30Z"}
    url = f"/v1/Stores/{store}/Profiles/{{}}/Observations"
    assert api.post(url.format(merged), json={"observations": [observation]}).status_code == 202
    assert create(api, store, {"email": "u4s@example.com", "phone": "+13175550402"}) == survivor
    assert [o["content"] for o in api.get(url.format(survivor)).json()["observations"]] == ["Likes tea"]

    assert unmerge(api, store, survivor, merged).status_code == 200
    assert [o["content"] for o in api.get(url.format(merged)).json()["observations"]] == ["Likes tea"]
    assert api.get(url.format(survivor)).json()["observations"] == []


def test_an_alias_of_the_merged_profile_points_at_it_again(api, store):
    survivor = create(api, store, {"email": "u5s@example.com"})
    merged = create(api, store, {"email": "u5m@example.com"})
    alias = create(api, store, {"phone": "+13175550403"})
    assert create(api, store, {"email": "u5m@example.com", "phone": "+13175550403"}) == merged  # alias into merged
    assert create(api, store, {"email": "u5s@example.com", "phone": "+13175550403"}) == survivor  # merged into survivor
    assert api.get(f"/v1/Stores/{store}/Profiles/{alias}", allow_redirects=False).headers["Canonical-Profile-Id"] == survivor

    body = unmerge(api, store, survivor, merged).json()
    assert body["aliases"] == [alias]
    assert api.get(f"/v1/Stores/{store}/Profiles/{alias}", allow_redirects=False).headers["Canonical-Profile-Id"] == merged
    assert identifiers_of(api, store, merged) == {"email": ["u5m@example.com"], "phone": ["+13175550403"]}
    assert identifiers_of(api, store, survivor) == {"email": ["u5s@example.com"]}


def test_an_unmerged_pair_is_not_merged_back_until_the_pair_is_deleted(api, store):
    survivor, merged = merged_pair(api, store, "u6")
    assert unmerge(api, store, survivor, merged).status_code == 200
    again = api.post(f"/v1/Stores/{store}/Profiles", json={"traits": {"Contact": {"email": "u6m@example.com", "phone": "+13175550401"}}})
    assert again.status_code == 409 and again.json()["code"] == 80009
    assert identifiers_of(api, store, merged) == {"email": ["u6m@example.com"]}
    # A write tying only one of them is fine.
    assert create(api, store, {"email": "u6m@example.com", "city": "Oslo"}) == merged

    pairs = api.get(f"/v1/Stores/{store}/NeverMergePairs").json()
    assert pairs["meta"]["key"] == "pairs"
    (pair,) = pairs["pairs"]
    assert sorted(pair["profileIds"]) == sorted([survivor, merged]) and pair["reason"] == "unmerge"
    assert api.delete(f"/v1/Stores/{store}/NeverMergePairs/{pair['id']}").status_code == 204
    assert api.delete(f"/v1/Stores/{store}/NeverMergePairs/{pair['id']}").status_code == 404
    assert create(api, store, {"email": "u6m@example.com", "phone": "+13175550401"}) == survivor


def test_unmerge_refuses_what_is_not_a_merge(api, store):
    survivor, merged = merged_pair(api, store, "u7")
    other = create(api, store, {"email": "u7o@example.com"})
    assert unmerge(api, store, survivor, other).status_code == 404
    moved = api.post(f"/v1/Stores/{store}/Profiles/{merged}/Merges/{merged}/Unmerge", allow_redirects=False)
    assert moved.status_code == 308 and moved.headers["Canonical-Profile-Id"] == survivor
    assert unmerge(api, store, survivor, merged).status_code == 200
    assert unmerge(api, store, survivor, merged).status_code == 404


def test_split_moves_identifiers_and_traits_into_a_new_profile(api, store):
    profile = create(api, store, {"email": "u8a@example.com", "phone": "+13175550404", "firstName": "Pat", "lastName": "Lee"})
    response = api.post(
        f"/v1/Stores/{store}/Profiles/{profile}/Split",
        json={"identifiers": [{"idType": "phone", "value": "(317) 555-0404"}], "traits": {"Contact": ["lastName"]}},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    new = body["profileId"]
    assert body["fromProfileId"] == profile and new != profile
    assert body["identifiers"] == [{"idType": "phone", "value": "+13175550404"}]
    assert body["traits"] == [{"group": "Contact", "trait": "lastName"}]
    assert identifiers_of(api, store, new) == {"phone": ["+13175550404"]}
    assert identifiers_of(api, store, profile) == {"email": ["u8a@example.com"]}
    assert traits_of(api, store, new) == {"lastName": "Lee"}
    assert "lastName" not in traits_of(api, store, profile)
    assert ledger(api, store, profile) == [("split", new, profile)]
    refused = api.post(f"/v1/Stores/{store}/Profiles", json={"traits": {"Contact": {"email": "u8a@example.com", "phone": "+13175550404"}}})
    assert refused.status_code == 409


def test_split_refuses_values_the_profile_lacks_and_leaving_it_without_identifiers(api, store):
    profile = create(api, store, {"email": "u9a@example.com", "firstName": "Pat"})
    url = f"/v1/Stores/{store}/Profiles/{profile}/Split"
    assert api.post(url, json={"identifiers": [{"idType": "email", "value": "other@example.com"}]}).status_code == 400
    assert api.post(url, json={"identifiers": [{"idType": "email", "value": "u9a@example.com"}]}).status_code == 400
    assert api.post(url, json={"identifiers": []}).status_code == 400
    assert identifiers_of(api, store, profile) == {"email": ["u9a@example.com"]}


def test_history_as_of_after_an_unmerge_and_a_split_reads_what_each_profile_holds(api, store):
    survivor, merged = merged_pair(api, store, "u9")
    assert unmerge(api, store, survivor, merged).status_code == 200
    split = api.post(
        f"/v1/Stores/{store}/Profiles/{survivor}/Split",
        json={"identifiers": [{"idType": "phone", "value": "+13175550401"}]},
    )
    assert split.status_code == 201, split.text
    split_off = split.json()["profileId"]

    def identifiers_as_of_now(profile) -> set:
        body = api.get(f"/v1/Stores/{store}/Profiles/{profile}/History", params={"asOf": "9999-01-01T00:00:00Z"})
        assert body.status_code == 200, body.text
        return {(i["idType"], value) for i in body.json()["identifiers"] for value in i["values"]}

    assert identifiers_as_of_now(merged) == {("email", "u9m@example.com")}
    assert identifiers_as_of_now(survivor) == {("email", "u9s@example.com")}
    assert identifiers_as_of_now(split_off) == {("phone", "+13175550401")}
