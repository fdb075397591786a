"""``asOf`` is exact: at any instant, a profile's history replays to the state the writes up to
that instant left it in. Proved with generated write sequences on the real storage path.

The oracle is independent of the history: after each write commits, the test reads every
profile's stored traits and identifier rows (a merged profile holds none), and notes an instant
after that write and before the next. ``asOf`` at that instant, replayed from the history
table alone, must give the same state; before the first write, nothing.
"""

from datetime import datetime, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from convmem.database.tables import Profile, ProfileIdentifier, Store
from convmem.history import service as history
from convmem.identifiers import service as identifiers
from convmem.kit.clock import WriteClock
from convmem.profiles.addressing import find_canonical
from convmem.profiles.context import load_context
from convmem.profiles.service import upsert
from convmem.web.errors import ApiError
from tests.test_resolution_properties import new_store

EMAILS = [f"user{i}@example.com" for i in range(4)]
PHONES = [f"+1317555000{i}" for i in range(4)]
NAMES = ["Ann", "Bob", None]

create = st.builds(
    lambda email, phone, name: ("create", email, phone, name),
    st.sampled_from(EMAILS), st.none() | st.sampled_from(PHONES), st.sampled_from(NAMES),
)
# A patch names an earlier profile by its index; a null name deletes the trait; an email may tie it to another.
patch = st.builds(
    lambda target, name, email: ("patch", target, name, email),
    st.integers(0, 9), st.sampled_from(NAMES), st.none() | st.sampled_from(EMAILS),
)
remove = st.builds(lambda target, id_type: ("remove", target, id_type), st.integers(0, 9), st.sampled_from(["email", "phone"]))
writes = st.lists(st.one_of(create, patch, remove), min_size=1, max_size=12)


def apply(db, store_pk: int, clock: WriteClock, sids: list[str], write) -> None:
    with db.writing() as session:
        ctx = load_context(session, session.get(Store, store_pk))
        try:
            if write[0] == "create":
                _, email, phone, name = write
                contact = {"email": email, "phone": phone, "firstName": name}
                outcome = upsert(session, ctx, {"Contact": {k: v for k, v in contact.items() if v}}, source="api:create", clock=clock)
                sids.append(outcome.sid)
                return
            if not sids:
                return
            sid = find_canonical(session, store_pk, sids[write[1] % len(sids)], follow=True).sid
            if write[0] == "patch":
                _, _, name, email = write
                contact = {"firstName": name} | ({"email": email} if email else {})
                upsert(session, ctx, {"Contact": contact}, source="api:patch", clock=clock, anchor_sid=sid)
            else:
                identifiers.remove(session, ctx, clock, sid, write[2], remove_all=True)
        except ApiError:
            session.rollback()  # a refused write (409, 404) changes nothing


def stored_states(db, store_pk: int) -> dict[str, tuple[dict, dict]]:
    """Every profile of the store as its rows hold it now: traits, identifier values by type."""
    with db.reading() as session:
        profiles = session.execute(select(Profile.id, Profile.sid, Profile.traits).where(Profile.store_id == store_pk)).all()
        rows = session.execute(
            select(ProfileIdentifier.profile_id, ProfileIdentifier.id_type, ProfileIdentifier.value).where(
                ProfileIdentifier.store_id == store_pk
            )
        ).all()
    states = {}
    for pk, sid, traits in profiles:
        held: dict[str, list[str]] = {}
        for owner, id_type, value in rows:
            if owner == pk:
                held.setdefault(id_type, []).append(value)
        states[sid] = ({g: v for g, v in (traits or {}).items() if v}, {t: sorted(v) for t, v in held.items()})
    return states


def distinct_instant(after: datetime) -> datetime:
    """An instant strictly later than ``after``, so it falls between two writes."""
    now = datetime.now(timezone.utc)
    while now <= after:
        now = datetime.now(timezone.utc)
    return now


def as_of(db, store_pk: int, sid: str, at: datetime) -> tuple[dict, dict]:
    with db.reading() as session:
        store = session.get(Store, store_pk)
        found = history.profile_as_of(session, store, sid, at, at)
    return found.state.traits, {t: sorted(v) for t, v in found.state.identifiers.items()}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=writes)
def test_as_of_equals_the_state_the_writes_up_to_then_left(backend, sequence):
    _, _, store_pk = new_store(backend.db)
    clock = WriteClock()
    sids: list[str] = []
    checkpoints = [(distinct_instant(datetime.now(timezone.utc)), {})]
    for write in sequence:
        apply(backend.db, store_pk, clock, sids, write)
        instant = distinct_instant(datetime.now(timezone.utc))
        checkpoints.append((instant, stored_states(backend.db, store_pk)))
        distinct_instant(instant)
    for instant, states in checkpoints:
        for sid in sids:
            assert as_of(backend.db, store_pk, sid, instant) == states.get(sid, ({}, {})), (sid, instant)
