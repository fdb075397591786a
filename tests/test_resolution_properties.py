"""Identity invariants, proved with generated request sequences on the real storage path.

With exact matching and no limit reached, the final grouping of identifier values into
profiles is the connected components of "appeared in the same request", whatever the
order; no two live profiles share a unique value; every alias points at a live profile.
"""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from convmem.accounts.service import create_account
from convmem.database.tables import Account, Profile, ProfileIdentifier, Store
from convmem.kit.clock import WriteClock
from convmem.profiles.addressing import find_canonical
from convmem.profiles.context import load_context
from convmem.profiles.service import upsert
from convmem.stores.service import create_store
from convmem.web.auth import Principal

EMAILS = [f"user{i}@example.com" for i in range(6)]
PHONES = [f"+1317555000{i}" for i in range(6)]
# Contact carries one email and one phone, so a request holds at most one of each.
request_ = st.tuples(st.none() | st.sampled_from(EMAILS), st.none() | st.sampled_from(PHONES)).filter(any).map(
    lambda pair: [(t, v) for t, v in zip(("email", "phone"), pair) if v]
)
sequences = st.lists(request_, min_size=1, max_size=10)


def new_store(db) -> tuple[Principal, str, int]:
    with db.writing() as session:
        credentials = create_account(session)
        account = session.scalar(select(Account).where(Account.sid == credentials.sid))
        principal = Principal(account.id, account.sid)
        store = create_store(session, principal, "props", None)
        session.flush()
        return principal, store.sid, store.id


def replay(db, requests) -> tuple[str, int]:
    principal, store_sid, store_pk = new_store(db)
    clock = WriteClock()
    for number, ids in enumerate(requests):
        traits = {"Contact": {id_type: value for id_type, value in ids}}
        with db.writing() as session:
            ctx = load_context(session, session.get(Store, store_pk))
            upsert(session, ctx, traits, source=f"test:{number}", clock=clock)
    return store_sid, store_pk


def grouping(db, store_pk) -> set[frozenset]:
    with db.reading() as session:
        rows = session.execute(
            select(ProfileIdentifier.profile_id, ProfileIdentifier.value).where(ProfileIdentifier.store_id == store_pk)
        ).all()
    groups: dict[int, set] = {}
    for profile, value in rows:
        groups.setdefault(profile, set()).add(value)
    return {frozenset(g) for g in groups.values()}


def components(requests) -> set[frozenset]:
    parent: dict[str, str] = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for ids in requests:
        values = [v for _, v in ids]
        for v in values:
            find(v)
        for v in values[1:]:
            parent[find(v)] = find(values[0])
    groups: dict[str, set] = {}
    for v in parent:
        groups.setdefault(find(v), set()).add(v)
    return {frozenset(g) for g in groups.values()}


def assert_store_invariants(db, store_pk) -> None:
    with db.reading() as session:
        shared = session.execute(
            select(ProfileIdentifier.id_type, ProfileIdentifier.value)
            .where(ProfileIdentifier.store_id == store_pk)
            .group_by(ProfileIdentifier.id_type, ProfileIdentifier.value)
            .having(func.count(func.distinct(ProfileIdentifier.profile_id)) > 1)
        ).all()
        assert shared == [], "a unique value is held by two profiles"
        holders_alive = session.scalar(
            select(func.count())
            .select_from(ProfileIdentifier)
            .join(Profile, Profile.id == ProfileIdentifier.profile_id)
            .where(ProfileIdentifier.store_id == store_pk, Profile.canonical_id.is_not(None))
        )
        assert holders_alive == 0, "an identifier is held by a merged profile"
        target = aliased(Profile)
        dangling = session.scalar(
            select(func.count())
            .select_from(Profile)
            .join(target, target.id == Profile.canonical_id)
            .where(Profile.store_id == store_pk, target.canonical_id.is_not(None))
        )
        assert dangling == 0, "an alias points at a profile that is itself merged"
        aliases = session.execute(
            select(Profile.sid, Profile.canonical_id).where(Profile.store_id == store_pk, Profile.canonical_id.is_not(None))
        ).all()
        for sid, canonical in aliases:
            assert find_canonical(session, store_pk, sid, follow=True).pk == canonical
        earliest_wins = session.execute(
            select(Profile.id, Profile.canonical_id).where(Profile.store_id == store_pk, Profile.canonical_id.is_not(None))
        ).all()
        assert all(canonical < merged for merged, canonical in earliest_wins)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(requests=sequences, data=st.data())
def test_grouping_is_connected_components_in_any_order(backend, requests, data):
    permuted = data.draw(st.permutations(requests))
    _, first_store = replay(backend.db, requests)
    _, second_store = replay(backend.db, permuted)
    expected = components(requests)
    assert grouping(backend.db, first_store) == expected
    assert grouping(backend.db, second_store) == expected
    assert_store_invariants(backend.db, first_store)
    assert_store_invariants(backend.db, second_store)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(requests=sequences)
def test_canonical_profile_is_the_earliest_of_its_group(backend, requests):
    """Each group's survivor is the first profile any of its values created."""
    store_sid, store_pk = replay(backend.db, requests)
    with backend.db.reading() as session:
        live = dict(
            session.execute(
                select(Profile.id, Profile.created_at).where(Profile.store_id == store_pk, Profile.canonical_id.is_(None))
            ).all()
        )
        minimum_of_group = session.execute(
            select(func.min(Profile.id), func.coalesce(Profile.canonical_id, Profile.id).label("group_id"))
            .where(Profile.store_id == store_pk)
            .group_by("group_id")
        ).all()
    assert {m for m, _ in minimum_of_group} == set(live)
    assert len(live) == len(components(requests))
