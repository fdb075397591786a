"""Fuzzy matching's blocking keys are complete: every stored value a full scan would match
is among the candidates the keys find (so using them changes no merge and no lookup)."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rapidfuzz import fuzz
from sqlalchemy import select

from convmem.database.tables import IdentifierMatchKey, Store
from convmem.identity.fuzzy_keys import keys_of, probe, segments
from convmem.identity.resolution import IdentifierRule, ResolutionSettings, values_match
from convmem.identity.schemas import IdentifierConfig, IdentityResolutionSettingsCore
from convmem.profiles import match_index, repository
from tests.test_resolution_properties import new_store

# A small alphabet makes similar values, and repeated grams, common.
values = st.text(alphabet="abc.@1", min_size=1, max_size=24)
thresholds = st.integers(min_value=50, max_value=99)


@settings(max_examples=500, deadline=None)
@given(a=values, b=values, threshold=thresholds)
def test_a_match_holds_one_of_the_probed_keys(a, b, threshold):
    if fuzz.ratio(a, b) >= threshold:
        assert set(keys_of(b, threshold)) & probe(a, threshold), (a, b, threshold)


@settings(max_examples=150, deadline=None)
@given(a=st.text(min_size=1, max_size=80), edits=st.lists(st.tuples(st.booleans(), st.integers(0, 80), st.characters()), max_size=12), threshold=thresholds)
def test_a_close_long_value_holds_one_of_the_probed_keys(a, edits, threshold):
    """Long values with a few insertions and deletions: the matches random pairs rarely give."""
    b = a
    for insert, position, char in edits:
        position %= len(b) + 1
        b = b[:position] + char + b[position:] if insert or not b else b[:position] + b[position + 1 :]
    if b and fuzz.ratio(a, b) >= threshold:
        assert set(keys_of(b, threshold)) & probe(a, threshold), (a, b, threshold)


def test_segments_cover_the_value_and_probes_stay_few_at_a_high_threshold():
    value = "jonathan.smith@example.com"
    cuts = segments(len(value), 90)
    assert [c.start for c in cuts] == sorted(c.start for c in cuts) and sum(c.length for c in cuts) == len(value)
    assert keys_of(value, 90)[0] == str(len(value))
    assert len(probe(value, 90)) < 1000
    assert keys_of("ab", 60) == ["2"]


def _store_with_fuzzy_handles(db, threshold: int) -> tuple[int, ResolutionSettings]:
    _, _, store_pk = new_store(db)
    core = IdentityResolutionSettingsCore(
        identifierConfigs=[
            IdentifierConfig(idType="email", normalization="email"),
            IdentifierConfig(idType="handle", matchingAlgo="fuzzy", matchingThreshold=threshold, enforceUnique=False),
        ],
        matchingRules=["email"],
    )
    with db.writing() as session:
        session.get(Store, store_pk).identity_settings = core.model_dump()
    return store_pk, ResolutionSettings.from_contract(core)


def _insert_handles(db, store_pk: int, settings_: ResolutionSettings, handles: list[str]) -> None:
    with db.writing() as session:
        pks = repository.insert_profiles(
            session, [{"sid": f"MP{store_pk:08d}{i:024d}", "store_id": store_pk, "traits": {}, "trait_meta": {}} for i in range(len(handles))]
        )
        rows = [
            {"store_id": store_pk, "profile_id": pk, "origin_profile_id": pk, "id_type": "handle", "value": handle, "source": "test"}
            for pk, handle in zip(pks.values(), handles)
        ]
        inserted = repository.insert_identifiers(session, rows, returning_ids=True)
        match_index.index_identifiers(session, store_pk, settings_, inserted)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(stored=st.lists(values, min_size=1, max_size=30), wanted=values, threshold=thresholds)
def test_index_candidates_contain_every_full_scan_match(backend, stored, wanted, threshold):
    store_pk, resolution = _store_with_fuzzy_handles(backend.db, threshold)
    _insert_handles(backend.db, store_pk, resolution, stored)
    rule: IdentifierRule = resolution.rules["handle"]
    with backend.db.reading() as session:
        candidates = {h.value for h in match_index.similar_candidates(session, store_pk, rule, wanted)}
    assert {value for value in stored if values_match(rule, wanted, value)} <= candidates


def test_keys_are_written_only_for_fuzzy_types_and_go_with_their_identifier(backend):
    store_pk, resolution = _store_with_fuzzy_handles(backend.db, 80)
    _insert_handles(backend.db, store_pk, resolution, ["alice.smith"])
    with backend.db.writing() as session:
        match_index.index_identifiers(session, store_pk, resolution, [(0, "email", "x@example.com")])
        keyed = session.execute(select(IdentifierMatchKey.id_type).where(IdentifierMatchKey.store_id == store_pk)).scalars().all()
        assert set(keyed) == {"handle"}
        assert len(keyed) == len(keys_of("alice.smith", 80))
        ids = [i for i, _ in repository.values_of_type(session, store_pk, "handle", 0, 10)]
        repository.delete_identifiers(session, ids)
        assert session.scalar(select(IdentifierMatchKey.key).where(IdentifierMatchKey.store_id == store_pk)) is None
