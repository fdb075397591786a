"""The history extension over HTTP: provenance of each value, a trait's changes, a profile as of
an instant, retention, and history going with its profile."""

from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from convmem.database.tables import ProfileHistory, Store
from convmem.history import service as history
from convmem.history.retention import apply_retention
from tests.jobs_support import wait_bulk


def create(api, store, traits) -> str:
    response = api.post(f"/v1/Stores/{store}/Profiles", json={"traits": traits})
    assert response.status_code == 202, response.text
    return response.json()["id"]


def patch(api, store, sid, traits) -> None:
    response = api.patch(f"/v1/Stores/{store}/Profiles/{sid}", json={"traits": traits})
    assert response.status_code == 202, response.text


def now() -> str:
    return datetime.now(timezone.utc).isoformat()


def as_of(api, store, sid, at: str) -> dict:
    response = api.get(f"/v1/Stores/{store}/Profiles/{sid}/History", params={"asOf": at})
    assert response.status_code == 200, response.text
    return response.json()


def trait_changes(api, store, sid, group, name) -> list[dict]:
    response = api.get(f"/v1/Stores/{store}/Profiles/{sid}/Traits/{group}/{name}/History")
    assert response.status_code == 200, response.text
    return response.json()["changes"]


def provenance(api, store, sid) -> dict:
    response = api.get(f"/v1/Stores/{store}/Profiles/{sid}/Provenance")
    assert response.status_code == 200, response.text
    return {(v["traitGroup"], v["traitName"]): v for v in response.json()["values"]}


def test_a_traits_history_lists_every_change_with_its_source(api, store):
    sid = create(api, store, {"Contact": {"email": "h@example.com", "firstName": "Ann"}})
    patch(api, store, sid, {"Contact": {"firstName": "Anna"}})
    patch(api, store, sid, {"Contact": {"firstName": "Anna"}})  # the same value again: no change
    patch(api, store, sid, {"Contact": {"firstName": None}})
    changes = trait_changes(api, store, sid, "Contact", "firstName")
    assert [(c["action"], c["oldValue"], c["newValue"], c["source"]) for c in changes] == [
        ("created", None, "Ann", "api:create"),
        ("changed", "Ann", "Anna", "api:patch"),
        ("deleted", "Anna", None, "api:patch"),
    ]
    assert all(c["profileId"] == sid for c in changes)
    assert [c["at"] for c in changes] == sorted(c["at"] for c in changes)


def test_as_of_shows_traits_and_identifiers_as_they_were(api, store):
    sid = create(api, store, {"Contact": {"email": "w@example.com", "firstName": "Ann"}})
    first = now()
    patch(api, store, sid, {"Contact": {"firstName": "Bea", "phone": "+13175550142"}})
    second = now()
    assert api.delete(f"/v1/Stores/{store}/Profiles/{sid}/Identifiers/email").status_code == 202

    assert as_of(api, store, sid, first) == {
        "id": sid,
        "asOf": as_of(api, store, sid, first)["asOf"],
        "traits": {"Contact": {"email": "w@example.com", "firstName": "Ann"}},
        "identifiers": [{"idType": "email", "values": ["w@example.com"]}],
    }
    at_second = as_of(api, store, sid, second)
    assert at_second["traits"] == {"Contact": {"email": "w@example.com", "firstName": "Bea", "phone": "+13175550142"}}
    assert sorted((i["idType"], i["values"]) for i in at_second["identifiers"]) == [
        ("email", ["w@example.com"]), ("phone", ["+13175550142"])
    ]
    assert as_of(api, store, sid, now())["identifiers"] == [{"idType": "phone", "values": ["+13175550142"]}]
    assert as_of(api, store, sid, "2000-01-01T00:00:00Z")["traits"] == {}


def test_a_merged_value_says_which_profile_it_came_from(api, store):
    survivor = create(api, store, {"Contact": {"email": "m@example.com", "firstName": "Old"}})
    merged = create(api, store, {"Contact": {"phone": "+13175550143", "lastName": "Brought"}})
    before = now()
    create(api, store, {"Contact": {"email": "m@example.com", "phone": "+13175550143"}})

    origins = provenance(api, store, survivor)
    assert origins[("Contact", "lastName")]["mergedFrom"] == merged
    assert origins[("Contact", "lastName")]["source"] == "api:create"
    assert origins[("Contact", "firstName")]["mergedFrom"] is None
    brought = trait_changes(api, store, survivor, "Contact", "lastName")
    # The merged profile's own history comes with the survivor's: its creation, then the move.
    assert [(c["profileId"], c["action"], c["via"]) for c in brought] == [
        (merged, "created", None), (survivor, "merged", merged), (merged, "merged", survivor)
    ]
    # The merged id keeps its own history: what it held until it merged, nothing since.
    assert as_of(api, store, merged, before)["traits"] == {"Contact": {"phone": "+13175550143", "lastName": "Brought"}}
    assert as_of(api, store, merged, now()) | {"asOf": None} == {"id": merged, "asOf": None, "traits": {}, "identifiers": []}
    assert api.get(f"/v1/Stores/{store}/Profiles/{merged}/Provenance").json()["mergedInto"] == survivor


def test_bulk_values_name_their_batch(api, store):
    response = api.put(f"/v1/Stores/{store}/Profiles/Bulk", json={"profiles": [{"traits": {"Contact": {"email": "b@example.com"}}}]})
    assert response.status_code == 202, response.text
    assert wait_bulk(api, response.json()["statusUrl"])["status"] == "COMPLETED"
    (sid,) = api.get(f"/v1/Stores/{store}/Profiles").json()["profiles"]
    assert provenance(api, store, sid)[("Contact", "email")]["source"] == f"bulk:{response.json()['operationId']}"


def test_values_removed_with_their_trait_are_recorded_as_purged(api, store):
    group = {"displayName": "Loyalty", "traits": {"tier": {"dataType": "STRING"}}}
    assert api.post(f"/v1/ControlPlane/Stores/{store}/TraitGroups", json=group).status_code in (201, 202)
    sid = create(api, store, {"Contact": {"email": "p@example.com"}, "Loyalty": {"tier": "gold"}})
    assert api.delete(f"/v1/ControlPlane/Stores/{store}/TraitGroups/Loyalty").status_code == 202
    changes = trait_changes(api, store, sid, "Loyalty", "tier")
    assert [(c["action"], c["oldValue"], c["source"]) for c in changes[1:]] == [("purged", "gold", "purge")]


def test_retention_is_a_store_setting(api, store):
    path = f"/v1/ControlPlane/Stores/{store}/HistorySettings"
    assert api.get(path).json() == {"historyRetentionDays": None}
    assert api.put(path, json={"historyRetentionDays": 0}).status_code == 400
    assert api.put(path, json={"historyRetentionDays": 30, "other": 1}).status_code == 400
    assert api.put(path, json={"historyRetentionDays": 30}).json() == {"historyRetentionDays": 30}
    assert api.get(path).json() == {"historyRetentionDays": 30}
    assert api.get(f"/v1/ControlPlane/Stores/{store}").json().keys() >= {"id", "displayName"}
    sid = create(api, store, {"Contact": {"email": "r@example.com"}})
    long_ago = (datetime.now(timezone.utc) - timedelta(days=31)).isoformat()
    response = api.get(f"/v1/Stores/{store}/Profiles/{sid}/History", params={"asOf": long_ago})
    assert response.status_code == 400
    assert "30 days" in response.json()["message"]


def test_retention_folds_old_history_into_a_baseline_and_as_of_stays_exact(api, store, backend):
    sid = create(api, store, {"Contact": {"email": "c@example.com", "firstName": "Ann"}})
    patch(api, store, sid, {"Contact": {"firstName": "Bea", "phone": "+13175550144"}})
    horizon = now()
    patch(api, store, sid, {"Contact": {"firstName": "Cy"}})
    expected = {at: as_of(api, store, sid, at) for at in (horizon, now())}

    assert api.put(f"/v1/ControlPlane/Stores/{store}/HistorySettings", json={"historyRetentionDays": 1}).status_code == 200
    # Run retention as if a day had passed since ``horizon``.
    while apply_retention(backend.db, datetime.fromisoformat(horizon) + timedelta(days=1)):
        pass
    with backend.db.reading() as session:
        store_pk = session.scalar(select(Store.id).where(Store.sid == store))
        actions = session.scalars(select(ProfileHistory.action).where(ProfileHistory.store_id == store_pk).order_by(ProfileHistory.id))
        assert list(actions) == ["changed", "baseline"]
        store_row = session.get(Store, store_pk)
        for at, body in expected.items():
            state = history.profile_as_of(session, store_row, sid, datetime.fromisoformat(at), datetime.fromisoformat(at)).state
            assert state.traits == body["traits"]


def test_history_goes_with_its_profile(api, store, backend):
    sid = create(api, store, {"Contact": {"email": "d@example.com", "firstName": "Ann"}})
    patch(api, store, sid, {"Contact": {"firstName": "Bea"}})
    assert api.delete(f"/v1/Stores/{store}/Profiles/{sid}").status_code == 202
    with backend.db.reading() as session:
        store_pk = session.scalar(select(Store.id).where(Store.sid == store))
        assert session.scalar(select(func.count()).where(ProfileHistory.store_id == store_pk)) == 0


def test_the_extension_is_in_the_servers_openapi(api):
    paths = api.get("/openapi.json").json()["paths"]
    assert "/v1/Stores/{storeId}/Profiles/{profileId}/History" in paths
    assert "/v1/Stores/{storeId}/Profiles/{profileId}/Traits/{traitGroup}/{traitName}/History" in paths
    assert "/v1/Stores/{storeId}/Profiles/{profileId}/Provenance" in paths
    assert set(paths["/v1/ControlPlane/Stores/{storeId}/HistorySettings"]) == {"get", "put"}


def test_unknown_profiles_and_bad_instants_are_refused(api, store):
    sid = create(api, store, {"Contact": {"email": "u@example.com"}})
    assert api.get(f"/v1/Stores/{store}/Profiles/{sid}/History", params={"asOf": "yesterday"}).status_code == 400
    assert api.get(f"/v1/Stores/{store}/Profiles/{sid}/History").status_code == 400
    missing = "mem_profile_01jzzzzzzzzzzzzzzzzzzzzzzz"
    assert api.get(f"/v1/Stores/{store}/Profiles/{missing}/Provenance").status_code == 404
