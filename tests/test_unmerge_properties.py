"""Unmerge invariants, proved with generated sequences on the real storage path.

1. Merge then unmerge gives back the state before the merge, for every profile no other
   write touched in between: traits, identifiers (in order), aliases, memories.
2. Under any mix of writes, unmerges and the never-merge pairs they leave, the grouping of
   identifier values into live profiles is the connected components of the successful
   writes, cut where an unmerge took a profile back out (a set-level model below), and a
   write that ties two profiles kept apart is refused (every type here is unique).
"""

from datetime import datetime, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from convmem.database.tables import Observation, Profile, ProfileIdentifier, Store
from convmem.kit.clock import WriteClock
from convmem.kit.ids import Prefix, new_id
from convmem.memory.repository import in_scope
from convmem.profiles.context import load_context
from convmem.profiles.service import upsert
from convmem.profiles.unmerge import unmerge
from convmem.web.errors import ApiError
from tests.test_resolution_properties import assert_store_invariants, new_store

EMAILS = [f"user{i}@example.com" for i in range(5)]
PHONES = [f"+1317555000{i}" for i in range(5)]
NAMES = ["Ann", "Bob", "Cy"]

full_request = st.fixed_dictionaries(
    {"email": st.sampled_from(EMAILS), "phone": st.sampled_from(PHONES)},
    optional={"firstName": st.sampled_from(NAMES), "lastName": st.sampled_from(NAMES)},
)
partial_request = st.tuples(st.none() | st.sampled_from(EMAILS), st.none() | st.sampled_from(PHONES)).filter(any).map(
    lambda pair: {t: v for t, v in zip(("email", "phone"), pair) if v}
)
operations = st.lists(st.one_of(partial_request, st.integers(0, 20)), min_size=1, max_size=14)
PROPERTY_SETTINGS = settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


def write(db, store_pk: int, clock: WriteClock, contact: dict) -> str | None:
    """The profile the write went to, or None when it was refused with a conflict."""
    try:
        with db.writing() as session:
            ctx = load_context(session, session.get(Store, store_pk))
            return upsert(session, ctx, {"Contact": contact}, source="test", clock=clock).sid
    except ApiError as error:
        assert error.status == 409, error
        return None


def do_unmerge(db, store_pk: int, clock: WriteClock, survivor: str, merged: str) -> None:
    with db.writing() as session:
        unmerge(session, load_context(session, session.get(Store, store_pk)), clock, survivor, merged)


def remember(db, store_pk: int) -> None:
    """One observation under each live profile."""
    with db.writing() as session:
        now = datetime.now(timezone.utc)
        for pk in session.scalars(select(Profile.id).where(Profile.store_id == store_pk, Profile.canonical_id.is_(None))):
            session.add(Observation(sid=new_id(Prefix.OBSERVATION), store_id=store_pk, profile_id=pk, content=f"memory {pk}",
                                    source="test", occurred_at=now, conversation_ids=[], created_at=now, updated_at=now))


def state(db, store_pk: int) -> dict:
    """Every live profile: trait values, identifiers in order, aliases, memories it reads."""
    with db.reading() as session:
        profiles = session.scalars(select(Profile).where(Profile.store_id == store_pk).order_by(Profile.id)).all()
        by_pk = {p.id: p.sid for p in profiles}
        result = {}
        for profile in profiles:
            if profile.canonical_id is not None:
                continue
            identifiers = session.execute(
                select(ProfileIdentifier.id_type, ProfileIdentifier.value)
                .where(ProfileIdentifier.profile_id == profile.id)
                .order_by(ProfileIdentifier.id)
            ).all()
            memories = session.scalars(select(Observation.content).where(in_scope(Observation, profile.id))).all()
            result[profile.sid] = {
                "traits": profile.traits,
                "identifiers": [tuple(row) for row in identifiers],
                "aliases": sorted(by_pk[p.id] for p in profiles if p.canonical_id == profile.id),
                "memories": sorted(memories),
            }
        return result


@PROPERTY_SETTINGS
@given(initial=st.lists(full_request, min_size=2, max_size=6), data=st.data())
def test_merge_then_unmerge_gives_back_the_state_before_the_merge(backend, initial, data):
    _, _, store_pk = new_store(backend.db)
    clock = WriteClock()
    for contact in initial:
        write(backend.db, store_pk, clock, contact)
    remember(backend.db, store_pk)
    before = state(backend.db, store_pk)
    if len(before) < 2:
        return
    first, second = data.draw(st.permutations(sorted(before)))[:2]
    # The current trait values, so the merging write changes no trait of the profiles.
    email, phone = before[first]["traits"]["Contact"]["email"], before[second]["traits"]["Contact"]["phone"]

    survivor = write(backend.db, store_pk, clock, {"email": email, "phone": phone})
    merged = second if survivor == first else first
    assert merged not in state(backend.db, store_pk)
    do_unmerge(backend.db, store_pk, clock, survivor, merged)

    assert state(backend.db, store_pk) == before
    assert_store_invariants(backend.db, store_pk)


class Model:
    """The set-level reference: live profiles as sets of values, merged ones with the values
    they brought, never-merge pairs between profiles (followed to their live profiles)."""

    def __init__(self):
        self.values: dict[str, set] = {}  # live profile -> its values
        self.parent: dict[str, str] = {}  # alias -> the profile it merged into
        self.brought: dict[str, set] = {}  # alias -> the values it brought
        self.apart: set[frozenset] = set()
        self.order: list[str] = []  # profiles in creation order

    def live(self, profile: str) -> str:
        while profile in self.parent:
            profile = self.parent[profile]
        return profile

    def write(self, contact: dict, result: str | None) -> None:
        wanted = set(contact.values())
        holders = sorted({p for p, held in self.values.items() if held & wanted}, key=self.order.index)
        live_pairs = {frozenset(self.live(p) for p in pair) for pair in self.apart}
        kept_apart = any(len(pair) == 2 and pair <= set(holders) for pair in live_pairs)
        assert (result is None) == kept_apart, "a write tying profiles kept apart is refused, and only such a write"
        if result is None:
            return
        if not holders:
            self.order.append(result)
            self.values[result] = wanted
            return
        target = holders[0]
        assert result == target
        for other in holders[1:]:
            self.brought[other] = self.values.pop(other)
            self.parent[other] = target
            self.values[target] |= self.brought[other]
        self.values[target] |= wanted

    def aliases(self) -> list[tuple[str, str]]:
        return sorted((self.live(a), a) for a in self.parent)

    def unmerge(self, survivor: str, merged: str) -> None:
        # Its own aliases follow it back: their parent is (a descendant of) ``merged``.
        restored = self.brought.pop(merged) & self.values[survivor]
        del self.parent[merged]
        self.values[survivor] -= restored
        self.values[merged] = restored
        self.apart.add(frozenset((survivor, merged)))

    def grouping(self) -> set[frozenset]:
        return {frozenset(v) for v in self.values.values() if v}


def grouping(db, store_pk: int) -> set[frozenset]:
    return {frozenset(v for _, v in entry["identifiers"]) for entry in state(db, store_pk).values() if entry["identifiers"]}


@PROPERTY_SETTINGS
@given(steps=operations)
def test_grouping_is_components_cut_by_unmerges(backend, steps):
    _, _, store_pk = new_store(backend.db)
    clock = WriteClock()
    model = Model()
    for step in steps:
        if isinstance(step, dict):
            model.write(step, write(backend.db, store_pk, clock, step))
        elif aliases := model.aliases():
            survivor, merged = aliases[step % len(aliases)]
            do_unmerge(backend.db, store_pk, clock, survivor, merged)
            model.unmerge(survivor, merged)
        assert grouping(backend.db, store_pk) == model.grouping()
    assert_store_invariants(backend.db, store_pk)
