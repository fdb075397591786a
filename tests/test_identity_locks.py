"""PostgreSQL: creates and patches in one store lock what they can touch, not the whole store.

A create (or a patch) holds its store's lock shared and then locks its identifier values and the profiles
they resolve to (``profiles/writer.py``). Held open, it must keep out exactly the writes that
share an identifier value or a profile with it, and everything holding the store exclusively.
Many clients creating overlapping identities at once must still end in the
state of a serial order: one live profile per connected component of their identifiers.
"""

import random
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from convmem.database.engine import identity_key
from convmem.database.tables import Profile, ProfileIdentifier, Store
from convmem.kit.clock import WriteClock
from convmem.profiles import service
from convmem.profiles.addressing import ProfileMoved
from convmem.profiles.context import load_context
from tests.conftest import Api
from tests.test_concurrency import send
from tests.test_resolution_properties import assert_store_invariants, components

CLOCK = WriteClock()


@pytest.fixture
def postgres(backend):
    if backend.name != "postgresql":
        pytest.skip("SQLite has one writer at a time by design")
    return backend.db


@contextmanager
def create_transaction(db, store_sid: str, contact: dict, *, lock_timeout: str | None = None) -> Iterator[tuple[Session, str]]:
    """A create as the create endpoint makes it (store lock shared, then the writer), its
    transaction left open until the block ends. ``lock_timeout`` makes waiting an error."""
    with db.writing() as session:
        if lock_timeout:
            session.execute(text(f"SET LOCAL lock_timeout = '{lock_timeout}'"))
        store = session.scalar(select(Store).where(Store.sid == store_sid))
        db.share_store(session, store.id)
        outcome = service.upsert(session, load_context(session, store), {"Contact": contact}, source="test", clock=CLOCK)
        yield session, outcome.sid


def create(db, store_sid: str, contact: dict, *, lock_timeout: str | None = None) -> str:
    with create_transaction(db, store_sid, contact, lock_timeout=lock_timeout) as (_, sid):
        return sid


def must_wait(db, store_sid: str, contact: dict) -> None:
    with pytest.raises(OperationalError, match="lock timeout"):
        create(db, store_sid, contact, lock_timeout="200ms")


def test_a_held_create_keeps_out_only_writes_that_share_its_identity(postgres, api, store):
    db = postgres
    other = create(db, store, {"email": "other@example.com", "phone": "+13175550301"})
    holder = create(db, store, {"email": "held@example.com", "phone": "+13175550302"})

    with create_transaction(db, store, {"email": "held@example.com", "firstName": "Held"}):
        # Disjoint: a new profile, and a write to another existing profile, commit meanwhile.
        fresh = create(db, store, {"email": "fresh@example.com"}, lock_timeout="20s")
        assert create(db, store, {"phone": "+13175550301", "firstName": "Other"}, lock_timeout="20s") == other
        # The same value waits on its key; another value of the held profile waits on the profile.
        must_wait(db, store, {"email": "held@example.com"})
        must_wait(db, store, {"phone": "+13175550302"})
        # A merge reaching the held profile through a profile it doesn't lock waits as well.
        must_wait(db, store, {"email": "fresh@example.com", "phone": "+13175550302"})
        # Holding the store exclusively (settings, deletes, imports) waits for every create.
        with pytest.raises(OperationalError, match="lock timeout"), db.writing() as session:
            session.execute(text("SET LOCAL lock_timeout = '200ms'"))
            db.lock_store(session, session.scalar(select(Store.id).where(Store.sid == store)))

    assert create(db, store, {"email": "fresh@example.com", "phone": "+13175550302"}) == holder
    assert fresh != holder
    assert api.get(f"/v1/Stores/{store}/Profiles/{holder}").json()["traits"]["Contact"]["firstName"] == "Held"


def test_a_create_that_waited_resolves_against_what_the_holder_committed(postgres, store):
    """The waiting write re-reads the holders once it has the locks: the value it names moved
    to another profile by a merge it didn't see coming, so it locks that profile too before
    writing to it."""
    db = postgres
    first = create(db, store, {"email": "first@example.com"})
    second = create(db, store, {"phone": "+13175550401", "email": "second@example.com"})
    outcome: list[str] = []
    written, finish = threading.Event(), threading.Event()

    def late_write():
        with create_transaction(db, store, {"email": "second@example.com", "firstName": "Late"}) as (_, sid):
            outcome.append(sid)
            written.set()
            finish.wait(timeout=60)

    with create_transaction(db, store, {"email": "first@example.com", "phone": "+13175550401"}):
        # Names second's email: locks that key (free) and then second's profile, held by the merge.
        waiting = threading.Thread(target=late_write)
        waiting.start()
        wait_for_a_blocked_lock(db)
        assert waiting.is_alive()
    assert written.wait(timeout=60)
    assert outcome == [first]  # second was merged into first meanwhile
    with db.reading() as session:
        first_pk = session.scalar(select(Profile.id).where(Profile.sid == first))
        lock_free = session.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": identity_key("profile", first_pk)})
    assert not lock_free, "the late write changes a profile it does not hold"
    finish.set()
    waiting.join(timeout=60)
    with db.reading() as session:
        assert session.scalar(select(Profile.traits).where(Profile.sid == first))["Contact"]["firstName"] == "Late"
        assert session.scalar(select(Profile.canonical_id).where(Profile.sid == second)) is not None


def patch(db, store_sid: str, profile_sid: str, contact: dict, *, lock_timeout: str | None = None) -> str:
    """A trait patch as the patch endpoint makes it: store lock shared, then the writer."""
    with db.writing() as session:
        if lock_timeout:
            session.execute(text(f"SET LOCAL lock_timeout = '{lock_timeout}'"))
        store = session.scalar(select(Store).where(Store.sid == store_sid))
        db.share_store(session, store.id)
        ctx = load_context(session, store)
        return service.upsert(session, ctx, {"Contact": contact}, source="test", clock=CLOCK, anchor_sid=profile_sid).sid


def test_a_held_create_keeps_out_only_patches_of_what_it_holds(postgres, api, store):
    db = postgres
    other = create(db, store, {"email": "apart@example.com"})
    holder = create(db, store, {"email": "holder@example.com"})
    answers = []
    with create_transaction(db, store, {"email": "holder@example.com", "firstName": "Held"}):
        assert patch(db, store, other, {"firstName": "Apart", "phone": "+13175550501"}, lock_timeout="20s") == other
        # Through the API too: the patch and identifier endpoints hold the store lock shared.
        through_api = threading.Thread(
            target=lambda: answers.extend(
                [
                    api.patch(f"/v1/Stores/{store}/Profiles/{other}", json={"traits": {"Contact": {"lastName": "Api"}}}),
                    api.post(f"/v1/Stores/{store}/Profiles/{other}/Identifiers", json={"idType": "phone", "value": "+13175550502"}),
                ]
            )
        )
        through_api.start()
        through_api.join(timeout=30)
        assert [answer.status_code for answer in answers] == [202, 202], "the API writes waited for the held create"
        with pytest.raises(OperationalError, match="lock timeout"):
            patch(db, store, holder, {"lastName": "Waits"}, lock_timeout="200ms")
        with pytest.raises(OperationalError, match="lock timeout"):  # adds the held value to another profile
            patch(db, store, other, {"email": "holder@example.com"}, lock_timeout="200ms")
    with db.reading() as session:
        assert session.scalar(select(Profile.traits).where(Profile.sid == other))["Contact"]["firstName"] == "Apart"


def test_a_patch_that_waited_on_a_profile_merged_meanwhile_is_redirected(postgres, store):
    db = postgres
    first = create(db, store, {"email": "survivor@example.com"})
    second = create(db, store, {"phone": "+13175550601"})
    outcome: list = []

    def late_patch():
        try:
            outcome.append(patch(db, store, second, {"firstName": "Late"}))
        except ProfileMoved as moved:
            outcome.append(moved)

    with create_transaction(db, store, {"email": "survivor@example.com", "phone": "+13175550601"}):
        waiting = threading.Thread(target=late_patch)  # read second as live, then waits for its lock
        waiting.start()
        wait_for_a_blocked_lock(db)
    waiting.join(timeout=60)
    (moved,) = outcome
    assert isinstance(moved, ProfileMoved) and (moved.requested_sid, moved.canonical_sid) == (second, first)
    with db.reading() as session:
        assert "firstName" not in session.scalar(select(Profile.traits).where(Profile.sid == first))["Contact"]


def wait_for_a_blocked_lock(db) -> None:
    blocked = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
    for _ in range(600):
        with db.reading() as session:
            if session.scalar(blocked):
                return
        threading.Event().wait(0.05)
    raise AssertionError("the second write never waited for a lock")


CLIENTS = 24
CREATES_PER_CLIENT = 8
EMAILS = [f"many{i}@example.com" for i in range(40)]
PHONES = [f"+1317555{1000 + i}" for i in range(40)]


def test_many_clients_creating_overlapping_identities_end_in_the_oracle_state(postgres, api):
    # The session's server: its request threads take the same database locks that server
    # processes would (test_concurrency.py runs three processes, creates and patches mixed).
    for seed in (1, 2):
        many_clients_create(postgres, api, seed)


def many_clients_create(postgres, api: Api, seed: int) -> None:
    store = api.create_store(f"many-{uuid.uuid4().hex[:8]}")
    sent: list[list[tuple[str, str]]] = []
    failures: list[str] = []
    lock = threading.Lock()

    def client(number: int) -> None:
        rng = random.Random(seed * 1000 + number)
        client_api = Api(api.base_url, api.credentials)
        for _ in range(CREATES_PER_CLIENT):
            ids = [("email", rng.choice(EMAILS))] if rng.random() < 0.7 else []
            if not ids or rng.random() < 0.6:
                ids.append(("phone", rng.choice(PHONES)))
            response = send(client_api, "POST", f"/v1/Stores/{store}/Profiles", {"traits": {"Contact": dict(ids)}})
            with lock:
                (sent if response.status_code == 202 else failures).append(ids if response.status_code == 202 else response.text)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)

    assert failures == []
    assert len(sent) == CLIENTS * CREATES_PER_CLIENT
    with postgres.reading() as session:
        store_pk = session.scalar(select(Store.id).where(Store.sid == store))
        rows = session.execute(
            select(ProfileIdentifier.profile_id, ProfileIdentifier.value).where(ProfileIdentifier.store_id == store_pk)
        ).all()
        live = session.scalars(select(Profile.id).where(Profile.store_id == store_pk, Profile.canonical_id.is_(None))).all()
    held: dict[int, set[str]] = {}
    for profile, value in rows:
        held.setdefault(profile, set()).add(value)
    assert {frozenset(values) for values in held.values()} == components(sent)
    assert sorted(held) == sorted(live), "a live profile without identifiers, or identifiers on an alias"
    assert_store_invariants(postgres, store_pk)
