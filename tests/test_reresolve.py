"""Re-resolving a store under its current identity resolution settings (docs/extensions.md):
a durable job, its operation RUNNING until the job is done.

The server here runs without its embedded worker and with chunks of 2 profiles, so the test
decides when the job runs, and how far."""

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, update

from convmem.background import jobs
from convmem.background.jobs import JobRunner
from convmem.database.tables import Job, Profile, ProfileHistory, Store
from convmem.profiles.reresolve import RERESOLVE_JOBS
from tests.jobs_support import job_runner, workerless_server
from tests.profile_helpers import (
    EMAIL,
    PHONE,
    add_identifier,
    configure_identity,
    create_profile,
)

CHUNK = 2
CRM_STORED = {"idType": "crm", "enforceUnique": False}
NAME_STORED = {"idType": "name", "enforceUnique": False}
LONG_AGO = datetime(2020, 1, 1, tzinfo=timezone.utc)


@pytest.fixture
def own(backend, tmp_path):
    with workerless_server(backend.name, tmp_path, CHUNK) as (own, api):
        yield own, api, api.create_store()


def runner_of(backend) -> JobRunner:
    return job_runner(backend, [RERESOLVE_JOBS], CHUNK)


def run_jobs(backend) -> None:
    runner = runner_of(backend)
    while runner():
        pass


def reresolve(api, store: str) -> tuple[str, str]:
    """Start a re-resolution: (its operation's path, its progress path)."""
    answer = api.post(f"/v1/ControlPlane/Stores/{store}/IdentityResolutionSettings/Reresolve")
    assert answer.status_code == 202, answer.text
    assert answer.headers["Retry-After"] == "1"
    assert answer.headers["Location"].endswith(answer.headers["Operation-Id"])
    operation_path = answer.headers["Location"].replace(api.base_url, "")
    return operation_path, f"/v1/ControlPlane/Stores/{store}/IdentityResolutionSettings/Reresolve/{answer.headers['Operation-Id']}"


def preview_groups(api, store: str, configs: list[dict], rules: list[str]) -> list[list[str]]:
    response = api.post(
        f"/v1/ControlPlane/Stores/{store}/IdentityResolutionSettings/Preview",
        json={"identifierConfigs": configs, "matchingRules": rules},
    )
    assert response.status_code == 200, response.text
    return [group["profileIds"] for group in response.json()["sampleGroups"]]


def groups_of(backend, store: str) -> list[list[str]]:
    """Each live profile with those merged into it, as the database holds them (one-profile groups left out)."""
    with backend.db.reading() as session:
        store_pk = session.scalar(select(Store.id).where(Store.sid == store))
        rows = session.execute(select(Profile.id, Profile.sid, Profile.canonical_id).where(Profile.store_id == store_pk)).all()
    sid_of = {pk: sid for pk, sid, _ in rows}
    groups: dict[int, list[int]] = {}
    for pk, _sid, canonical in rows:
        groups.setdefault(canonical or pk, []).append(pk)
    return sorted([sid_of[pk] for pk in sorted(members)] for members in groups.values() if len(members) > 1)


def state_of(backend, store: str) -> tuple[list, int]:
    """Every profile's (sid, canonical, updated_at, traits) and the store's count of history rows."""
    with backend.db.reading() as session:
        store_pk = session.scalar(select(Store.id).where(Store.sid == store))
        profiles = session.execute(
            select(Profile.sid, Profile.canonical_id, Profile.updated_at, Profile.traits)
            .where(Profile.store_id == store_pk)
            .order_by(Profile.id)
        ).all()
        history = session.scalar(select(func.count()).select_from(ProfileHistory).where(ProfileHistory.store_id == store_pk))
    return [tuple(row) for row in profiles], history


def age_profiles(backend, store: str) -> None:
    """Date every profile of the store back, so a write to any of them shows in its updated_at."""
    with backend.db.writing() as session:
        store_pk = session.scalar(select(Store.id).where(Store.sid == store))
        session.execute(update(Profile).where(Profile.store_id == store_pk).values(updated_at=LONG_AGO))


def updated_at_of(backend, profile: str):
    with backend.db.reading() as session:
        return session.scalar(select(Profile.updated_at).where(Profile.sid == profile))


def crm_made_a_matching_rule(api, store: str) -> tuple[list[str], list[list[str]]]:
    """Five profiles, two pairs of them sharing a crm id that is only stored; then crm becomes
    a unique matching rule. (profiles, the preview's merge groups)"""
    configure_identity(api, store, [EMAIL, PHONE, CRM_STORED], ["email", "phone"])
    profiles = [create_profile(api, store, email=f"{name}@example.com") for name in ("ann", "bob", "cy", "dee", "eve")]
    for profile, crm in zip(profiles, ("X1", "X2", "X3", "X1", "X2")):
        add_identifier(api, store, profile, "crm", crm)
    configs, rules = [EMAIL, PHONE, {"idType": "crm"}], ["email", "phone", "crm"]
    groups = preview_groups(api, store, configs, rules)
    configure_identity(api, store, configs, rules)
    return profiles, groups


def test_new_settings_apply_to_later_writes_only_until_a_reresolution(own):
    backend, api, store = own
    (ann, bob, cy, dee, eve), groups = crm_made_a_matching_rule(api, store)
    assert sorted(groups) == [[ann, dee], [bob, eve]]
    assert groups_of(backend, store) == []
    age_profiles(backend, store)
    history = state_of(backend, store)[1]

    operation_path, progress_path = reresolve(api, store)
    operation = api.get(operation_path).json()
    assert operation["status"] == "RUNNING"
    assert operation["resultUrl"].endswith(progress_path)
    assert api.get(progress_path).json()["status"] == "RUNNING"
    run_jobs(backend)

    assert api.get(operation_path).json()["status"] == "COMPLETED"
    progress = api.get(progress_path).json()
    assert (progress["status"], progress["profilesWalked"], progress["profilesMerged"], progress["conflicts"]) == ("COMPLETED", 3, 2, 0)
    assert groups_of(backend, store) == sorted(groups)
    after, history_after = state_of(backend, store)
    assert after[2][2] == LONG_AGO  # a profile tied to nothing is not written
    assert history_after > history
    assert set(api.get(f"/v1/Stores/{store}/Profiles").json()["profiles"]) == {ann, bob, cy}


def test_a_second_reresolution_changes_nothing(own):
    backend, api, store = own
    crm_made_a_matching_rule(api, store)
    reresolve(api, store)
    run_jobs(backend)
    age_profiles(backend, store)
    before = state_of(backend, store)

    operation_path, progress_path = reresolve(api, store)
    run_jobs(backend)

    assert api.get(operation_path).json()["status"] == "COMPLETED"
    progress = api.get(progress_path).json()
    assert (progress["profilesWalked"], progress["profilesMerged"], progress["conflicts"]) == (3, 0, 0)
    assert state_of(backend, store) == before


def test_never_merge_pairs_are_honoured(own):
    backend, api, store = own
    configure_identity(api, store, [EMAIL, PHONE, CRM_STORED, NAME_STORED], ["email", "phone"])
    ann = create_profile(api, store, email="ann@example.com", phone="+14155550101")
    split = api.post(f"/v1/Stores/{store}/Profiles/{ann}/Split", json={"identifiers": [{"idType": "phone", "value": "+14155550101"}]})
    assert split.status_code == 201, split.text
    kept_apart = split.json()["profileId"]
    cy = create_profile(api, store, email="cy@example.com")
    for profile in (ann, kept_apart, cy):
        add_identifier(api, store, profile, "crm", "X1")
        add_identifier(api, store, profile, "name", "Household")
    configure_identity(api, store, [EMAIL, PHONE, CRM_STORED, NAME_STORED], ["email", "phone", "crm", "name"])
    age_profiles(backend, store)

    _, progress_path = reresolve(api, store)
    run_jobs(backend)

    assert groups_of(backend, store) == [sorted([ann, cy])]
    assert updated_at_of(backend, kept_apart) == LONG_AGO
    progress = api.get(progress_path).json()
    assert (progress["status"], progress["profilesMerged"], progress["conflicts"]) == ("COMPLETED", 1, 0)


def test_a_lost_lease_between_chunks_resumes_with_the_same_result(own, monkeypatch):
    backend, api, store = own
    _, groups = crm_made_a_matching_rule(api, store)
    operation_path, progress_path = reresolve(api, store)

    class Killed(BaseException):
        """The worker dies between two chunks."""

    real_checkpoint, calls = jobs.checkpoint, []

    def die_at_the_second_chunk(session, claim):
        calls.append(claim.sid)
        if len(calls) == 2:
            raise Killed
        return real_checkpoint(session, claim)

    first = runner_of(backend)
    claim = first.claim(backend.db)
    monkeypatch.setattr(jobs, "checkpoint", die_at_the_second_chunk)
    with pytest.raises(Killed):
        RERESOLVE_JOBS.run(first.env, claim)
    monkeypatch.setattr(jobs, "checkpoint", real_checkpoint)
    walked = api.get(progress_path).json()
    assert (walked["status"], walked["profilesWalked"]) == ("RUNNING", CHUNK)
    assert api.get(operation_path).json()["status"] == "RUNNING"

    with backend.db.writing() as session:  # the dead worker's lease runs out
        session.execute(update(Job).where(Job.id == claim.id).values(lease_expires_at=jobs.now_utc() - timedelta(seconds=1)))
    run_jobs(backend)

    assert api.get(operation_path).json()["status"] == "COMPLETED"
    progress = api.get(progress_path).json()
    assert (progress["profilesWalked"], progress["profilesMerged"], progress["conflicts"]) == (3, 2, 0)
    assert groups_of(backend, store) == sorted(groups)


def test_the_progress_of_an_unknown_reresolution_is_404_and_of_a_malformed_id_400(own):
    _, api, store = own
    missing = api.get(f"/v1/ControlPlane/Stores/{store}/IdentityResolutionSettings/Reresolve/mem_operation_01h455vb4pex5vsknk084sn02q")
    assert missing.status_code == 404
    assert api.get(f"/v1/ControlPlane/Stores/{store}/IdentityResolutionSettings/Reresolve/not-an-id").status_code == 400


def test_deleting_the_store_completes_its_unfinished_reresolution(own):
    backend, api, store = own
    crm_made_a_matching_rule(api, store)
    operation_path, _ = reresolve(api, store)

    assert api.delete(f"/v1/ControlPlane/Stores/{store}").status_code == 202

    assert api.get(operation_path).json()["status"] == "COMPLETED"


def test_a_merge_gathering_values_that_tie_an_earlier_profile_merges_that_one_too(own):
    backend, api, store = own
    city = {"idType": "city", "enforceUnique": False}
    configure_identity(api, store, [EMAIL, PHONE, CRM_STORED, NAME_STORED, city], ["email", "phone"])
    cy, ann, bob = (create_profile(api, store, email=f"{name}@example.com") for name in ("cy", "ann", "bob"))
    for profile, id_type, value in ((cy, "name", "H"), (cy, "city", "Paris"), (ann, "name", "H"), (bob, "city", "Paris")):
        add_identifier(api, store, profile, id_type, value)
    for profile in (ann, bob):
        add_identifier(api, store, profile, "crm", "X1")
    configure_identity(api, store, [EMAIL, PHONE, {"idType": "crm"}, NAME_STORED, city], ["email", "phone", "crm", "name", "city"])

    _, progress_path = reresolve(api, store)
    run_jobs(backend)

    # cy shares one value with ann and one with bob: only once bob is merged into ann do they tie.
    assert groups_of(backend, store) == [sorted([cy, ann, bob])]
    assert api.get(progress_path).json()["profilesMerged"] == 2


def test_the_extension_is_in_the_servers_openapi(own):
    _, api, _ = own
    paths = api.get("/openapi.json").json()["paths"]
    reresolve_path = "/v1/ControlPlane/Stores/{storeId}/IdentityResolutionSettings/Reresolve"
    assert "post" in paths[reresolve_path]
    progress = paths[reresolve_path + "/{operationId}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert progress["$ref"].endswith("/ReresolveProgress")
