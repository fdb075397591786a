"""Removing the values of a deleted trait group or trait: what fits in one chunk goes in the
request, the rest in a durable job, the operation RUNNING until that job is done.

The server here runs without its embedded worker and with chunks of 2 profiles, so the test
decides when the job runs."""


import pytest
from sqlalchemy import select

from convmem.background.jobs import MAX_ATTEMPTS
from convmem.database.tables import Job, Profile, Store
from convmem.traitgroups.purge import PURGE_JOBS
from tests.jobs_support import job_runner, workerless_server

CHUNK = 2
LOYALTY = {"displayName": "Loyalty", "traits": {"points": {"dataType": "NUMBER"}, "tier": {"dataType": "STRING"}}}


@pytest.fixture
def own(backend, tmp_path):
    with workerless_server(backend.name, tmp_path, CHUNK) as (own, api):
        yield own, api


def run_jobs(backend) -> None:
    runner = job_runner(backend, [PURGE_JOBS], CHUNK)
    while runner():
        pass


def groups_path(store: str) -> str:
    return f"/v1/ControlPlane/Stores/{store}/TraitGroups"


def add_profiles(api, store: str, count: int) -> list[str]:
    sids = []
    for n in range(count):
        traits = {"Contact": {"email": f"p{n}@example.com"}, "Loyalty": {"points": n, "tier": "gold"}}
        response = api.post(f"/v1/Stores/{store}/Profiles", json={"traits": traits})
        assert response.status_code == 202, response.text
        sids.append(response.json()["id"])
    return sids


def operation_of(api, answer) -> dict:
    assert answer.status_code == 202, answer.text
    return api.get(answer.headers["Location"].replace(api.base_url, "")).json()


def stored(backend, store: str) -> list[tuple[dict, dict]]:
    """(traits, trait_meta) of every profile of the store, as the database holds them."""
    with backend.db.reading() as session:
        store_pk = session.scalar(select(Store.id).where(Store.sid == store))
        rows = session.execute(select(Profile.traits, Profile.trait_meta).where(Profile.store_id == store_pk))
        return [(traits, meta) for traits, meta in rows]


def seen(api, store: str, sid: str) -> tuple[dict, set[tuple[str, str]]]:
    """The profile's traits as a fetch shows them, and (group, name) of what ListProfileTraits shows."""
    traits = api.get(f"/v1/Stores/{store}/Profiles/{sid}").json()["traits"]
    listed = api.get(f"/v1/Stores/{store}/Profiles/{sid}/Traits").json()["traits"]
    return traits, {(item["traitGroup"], item["name"]) for item in listed}


def setup_store(api, count: int = 5) -> tuple[str, list[str]]:
    store = api.create_store()
    assert api.post(groups_path(store), json=LOYALTY).status_code == 202
    return store, add_profiles(api, store, count)


def test_deleting_a_group_is_running_until_its_job_removed_every_value(own):
    backend, api = own
    store, sids = setup_store(api)
    operation = operation_of(api, api.delete(f"{groups_path(store)}/Loyalty"))
    assert operation["status"] == "RUNNING" and "completedAt" not in operation
    assert any("Loyalty" in traits for traits, _ in stored(backend, store)), "the job has not run yet"
    for sid in sids:
        traits, listed = seen(api, store, sid)
        assert set(traits) == {"Contact"} and {group for group, _ in listed} == {"Contact"}

    run_jobs(backend)
    operation = api.get(f"/v1/ControlPlane/Operations/{operation['operationId']}").json()
    assert operation["status"] == "COMPLETED" and operation["completedAt"]
    assert operation["result"]["id"] == "Loyalty"
    assert all(set(traits) == {"Contact"} and set(meta) == {"Contact"} for traits, meta in stored(backend, store))


def test_a_patch_deleting_a_trait_is_running_until_its_job_is_done(own):
    backend, api = own
    store, sids = setup_store(api)
    operation = operation_of(api, api.patch(f"{groups_path(store)}/Loyalty", json={"traits": {"tier": {"dataType": ""}}}))
    assert operation["status"] == "RUNNING"
    for sid in sids:
        assert ("Loyalty", "tier") not in seen(api, store, sid)[1]

    run_jobs(backend)
    operation = api.get(f"/v1/ControlPlane/Operations/{operation['operationId']}").json()
    assert operation["status"] == "COMPLETED" and operation["completedAt"]
    for traits, meta in stored(backend, store):
        assert set(traits["Loyalty"]) == {"points"} and set(meta["Loyalty"]) == {"points"}


def test_a_store_that_fits_in_one_chunk_is_done_in_the_request(own):
    backend, api = own
    store, _ = setup_store(api, count=CHUNK - 1)
    operation = operation_of(api, api.delete(f"{groups_path(store)}/Loyalty"))
    assert operation["status"] == "COMPLETED"
    assert [set(traits) for traits, _ in stored(backend, store)] == [{"Contact"}]
    with backend.db.reading() as session:
        assert session.scalar(select(Job.id).where(Job.kind == PURGE_JOBS.name)) is None


def test_old_values_never_come_back_under_a_group_created_again(own):
    backend, api = own
    store, sids = setup_store(api)
    assert api.delete(f"{groups_path(store)}/Loyalty").status_code == 202
    assert api.post(groups_path(store), json=LOYALTY).status_code == 202
    for sid in sids:
        assert "Loyalty" not in seen(api, store, sid)[0]
    assert all("Loyalty" not in traits for traits, _ in stored(backend, store))

    patch = {"traits": {"Loyalty": {"points": 42}}}
    assert api.patch(f"/v1/Stores/{store}/Profiles/{sids[-1]}", json=patch).status_code == 202
    run_jobs(backend)
    assert seen(api, store, sids[-1])[0]["Loyalty"] == {"points": 42}, "the job leaves the new group's values alone"


def test_values_a_merge_carries_behind_the_walk_are_removed_too(own):
    backend, api = own
    store = api.create_store()
    assert api.post(groups_path(store), json=LOYALTY).status_code == 202
    traits = [{"email": "first@example.com"}] + [{"email": f"p{n}@example.com"} for n in range(3)]
    traits.append({"phone": "+13175550001"})
    for n, contact in enumerate(traits):
        body = {"traits": {"Contact": contact, "Loyalty": {"points": n}}}
        assert api.post(f"/v1/Stores/{store}/Profiles", json=body).status_code == 202
    assert operation_of(api, api.delete(f"{groups_path(store)}/Loyalty"))["status"] == "RUNNING"
    # The request stripped the first chunk; this folds the last profile, not yet stripped, into the first.
    merging = {"traits": {"Contact": {"email": "first@example.com", "phone": "+13175550001"}}}
    assert api.post(f"/v1/Stores/{store}/Profiles", json=merging).status_code == 202

    run_jobs(backend)
    assert all("Loyalty" not in traits and "Loyalty" not in meta for traits, meta in stored(backend, store))


def test_deleting_the_store_completes_its_unfinished_removals(own):
    _, api = own
    store, _ = setup_store(api)
    operation = operation_of(api, api.delete(f"{groups_path(store)}/Loyalty"))
    assert operation["status"] == "RUNNING"
    assert api.delete(f"/v1/ControlPlane/Stores/{store}").status_code == 202
    operation = api.get(f"/v1/ControlPlane/Operations/{operation['operationId']}").json()
    assert operation["status"] == "COMPLETED"


def test_values_stay_hidden_when_the_job_gives_up(own):
    backend, api = own
    store, sids = setup_store(api)
    operation = operation_of(api, api.delete(f"{groups_path(store)}/Loyalty"))
    with backend.db.writing() as session:
        job = session.scalar(select(Job).where(Job.sid == operation["operationId"]))
        job.attempts = MAX_ATTEMPTS  # the next claim is one too many

    run_jobs(backend)
    operation = api.get(f"/v1/ControlPlane/Operations/{operation['operationId']}").json()
    assert operation["status"] == "FAILED" and operation["error"]["title"]
    assert any("Loyalty" in traits for traits, _ in stored(backend, store))
    for sid in sids:
        assert "Loyalty" not in seen(api, store, sid)[0]
