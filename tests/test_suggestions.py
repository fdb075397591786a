"""The review queue of likely duplicates (a convmem extension): found in the background from
the history of writes, accepted through the write path, rejected into never-merge pairs."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from convmem.database.tables import Profile, ProfileMerge, Store, Suggestion
from convmem.kit.clock import WriteClock
from convmem.profiles.context import load_context
from convmem.profiles.repository import find_never_merge_pair
from convmem.profiles.service import upsert
from convmem.suggestions import service
from convmem.suggestions.job import SUGGESTION_JOBS, enqueue_behind
from convmem.web.errors import ApiError
from tests.inprocess import app_api
from tests.jobs_support import job_runner
from tests.test_resolution_properties import assert_store_invariants, new_store


def create(api, store, contact: dict) -> str:
    response = api.post(f"/v1/Stores/{store}/Profiles", json={"traits": {"Contact": contact}})
    assert response.status_code == 202, response.text
    return response.json()["id"]


def refresh_queue(backend) -> None:
    """What the worker does: enqueue the job of the stores written to, and run it, until
    every store's cursor has caught up with its history."""
    runner = job_runner(backend, [SUGGESTION_JOBS], chunk_size=7)
    behind: dict[int, int] = {}
    seen = enqueue_behind(backend.db, 0, behind)
    while behind:
        while runner():
            pass
        seen = enqueue_behind(backend.db, seen, behind)


def open_pairs(api, store) -> dict[frozenset, dict]:
    response = api.get(f"/v1/Stores/{store}/Suggestions?status=open")
    assert response.status_code == 200, response.text
    assert response.json()["meta"]["key"] == "suggestions"
    return {frozenset(s["profileIds"]): s for s in response.json()["suggestions"]}


@pytest.fixture
def api(own_backend, own_account, tmp_path):
    with app_api(own_backend, tmp_path, own_account) as client:
        yield client


def test_close_values_normalised_equals_and_names_are_suggested_after_writes(own_backend, api):
    store = api.create_store()
    dotted = create(api, store, {"email": "ann.lee@gmail.com"})
    plain = create(api, store, {"email": "annlee+news@gmail.com"})
    jonathan = create(api, store, {"email": "jonathan.smith@example.com"})
    jonathon = create(api, store, {"email": "jonathon.smith@example.com"})
    zoe = create(api, store, {"email": "z1@example.org", "firstName": "Zoë", "lastName": "Hart"})
    hart = create(api, store, {"email": "q@example.net", "firstName": " zoe", "lastName": "HART"})
    create(api, store, {"email": "someone.else@example.com"})
    assert open_pairs(api, store) == {}
    refresh_queue(own_backend)

    pairs = open_pairs(api, store)
    assert set(pairs) == {frozenset((dotted, plain)), frozenset((jonathan, jonathon)), frozenset((zoe, hart))}
    gmail = pairs[frozenset((dotted, plain))]
    assert gmail["profileIds"] == [dotted, plain]
    assert gmail["reasons"][0] | {"score": 0} == {
        "kind": "normalisedEqual", "normalisation": "gmailDots", "idType": "email", "otherIdType": "email",
        "a": "ann.lee@gmail.com", "b": "annlee+news@gmail.com", "score": 0,
    }
    close = pairs[frozenset((jonathan, jonathon))]
    assert [r["kind"] for r in close["reasons"]] == ["fuzzyIdentifier"] and close["score"] >= 85
    name = pairs[frozenset((zoe, hart))]
    assert name["reasons"] == [{"kind": "sameName", "firstName": "zoe", "lastName": "hart", "score": 60}]
    assert api.get(f"/v1/Stores/{store}/Suggestions/{name['id']}").json() == name


def test_accept_merges_through_the_write_path_and_closes_the_merged_profiles_other_suggestions(own_backend, api):
    store = api.create_store()
    jonathan = create(api, store, {"email": "jonathan.smith@example.com", "firstName": "Jo", "lastName": "Smith"})
    jonathon = create(api, store, {"email": "jonathon.smith@example.com", "city": "Oslo"})
    twin = create(api, store, {"email": "t@example.com", "firstName": "Jo", "lastName": "Smith"})
    refresh_queue(own_backend)
    pairs = open_pairs(api, store)
    assert set(pairs) == {frozenset((jonathan, jonathon)), frozenset((jonathan, twin))}

    accepted = api.post(f"/v1/Stores/{store}/Suggestions/{pairs[frozenset((jonathan, twin))]['id']}/Accept")
    assert accepted.status_code == 200, accepted.text
    assert (accepted.json()["profileId"], accepted.json()["mergedProfileId"]) == (jonathan, twin)
    assert accepted.json()["suggestion"]["status"] == "accepted"
    assert api.get(f"/v1/Stores/{store}/Profiles/{twin}", allow_redirects=False).headers["Canonical-Profile-Id"] == jonathan
    merges = api.get(f"/v1/Stores/{store}/Profiles/{jonathan}/Merges").json()["merges"]
    assert [(m["kind"], m["mergedProfileId"]) for m in merges] == [("merge", twin)]
    again = api.post(f"/v1/Stores/{store}/Suggestions/{pairs[frozenset((jonathan, twin))]['id']}/Accept")
    assert again.status_code == 409

    refresh_queue(own_backend)
    assert set(open_pairs(api, store)) == {frozenset((jonathan, jonathon))}


def test_reject_keeps_the_pair_apart_and_is_not_suggested_again(own_backend, api):
    store = api.create_store()
    first = create(api, store, {"email": "ann.lee@gmail.com", "phone": "+13175550101"})
    second = create(api, store, {"email": "annlee@gmail.com"})
    refresh_queue(own_backend)
    (suggestion,) = open_pairs(api, store).values()
    rejected = api.post(f"/v1/Stores/{store}/Suggestions/{suggestion['id']}/Reject")
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    pairs = api.get(f"/v1/Stores/{store}/NeverMergePairs").json()["pairs"]
    assert [(p["profileIds"], p["reason"]) for p in pairs] == [([first, second], "rejected")]

    # A write that ties them now keeps them apart (the addressed profile keeps its own values).
    response = api.post(f"/v1/Stores/{store}/Profiles/{second}/Identifiers", json={"idType": "phone", "value": "+13175550101"})
    assert response.status_code == 409, response.text
    create(api, store, {"email": "annlee@gmail.com", "firstName": "Ann"})
    refresh_queue(own_backend)
    assert open_pairs(api, store) == {}
    assert api.get(f"/v1/Stores/{store}/Suggestions/{suggestion['id']}").json()["status"] == "rejected"


def test_unknown_suggestion_is_404(api):
    store = api.create_store()
    assert api.get(f"/v1/Stores/{store}/Suggestions/mem_suggestion_01h00000000000000000000000").status_code == 404
    assert api.post(f"/v1/Stores/{store}/Suggestions/mem_suggestion_01h00000000000000000000000/Reject").status_code == 404


# Close emails: every pair of these is a suggestion, and none merges by itself.
EMAILS = ["ann.lee@gmail.com", "annlee@gmail.com", "ann.lee+x@gmail.com", "anne.lee@gmail.com", "ann.lea@gmail.com"]
PHONES = ["+13175550201", "+13175550202"]
steps = st.lists(
    st.one_of(
        st.tuples(st.just("write"), st.sampled_from(EMAILS), st.none() | st.sampled_from(PHONES)),
        st.tuples(st.sampled_from(["accept", "reject"]), st.integers(0, 20), st.none()),
    ),
    min_size=1,
    max_size=10,
)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(plan=steps)
def test_suggestions_name_live_profiles_and_reviews_keep_identity_consistent(backend, plan):
    """Whatever the order of writes, accepts and rejects: open suggestions name two live
    profiles, none is a never-merge pair, and the store's identity invariants hold."""
    _, _, store_pk = new_store(backend.db)
    clock = WriteClock()
    for step, value, phone in plan:
        try:
            _review_or_write(backend, store_pk, clock, step, value, phone)
        except ApiError as refused:
            assert refused.status == 409  # a write tying a rejected pair back together
        refresh_queue(backend)

    assert_store_invariants(backend.db, store_pk)
    with backend.db.reading() as session:
        for suggestion in session.scalars(select(Suggestion).where(Suggestion.store_id == store_pk, Suggestion.status == "open")):
            sides = [session.get(Profile, pk) for pk in (suggestion.first_profile_id, suggestion.second_profile_id)]
            assert all(side.canonical_id is None for side in sides), "an open suggestion names a merged profile"
            assert find_never_merge_pair(session, *(side.id for side in sides)) is None
        merged = session.scalars(select(ProfileMerge.merged_id).where(ProfileMerge.store_id == store_pk)).all()
        assert all(session.get(Profile, pk).canonical_id is not None for pk in merged)


def _review_or_write(backend, store_pk: int, clock: WriteClock, step: str, value, phone) -> None:
    with backend.db.writing() as session:
        backend.db.lock_store(session, store_pk)
        ctx = load_context(session, session.get(Store, store_pk))
        if step == "write":
            contact = {"email": value} | ({"phone": phone} if phone else {})
            upsert(session, ctx, {"Contact": contact}, source="test", clock=clock)
            return
        open_ones = session.scalars(
            select(Suggestion.sid).where(Suggestion.store_id == store_pk, Suggestion.status == "open").order_by(Suggestion.id)
        ).all()
        if open_ones:
            chosen = open_ones[value % len(open_ones)]
            if step == "accept":
                service.accept(session, ctx, chosen, clock)
            else:
                service.reject(session, store_pk, chosen)
