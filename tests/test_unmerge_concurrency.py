"""Unmerges racing writes that carry the same identities, through the HTTP API of a real server.

Afterwards: every unmerge succeeded, every write was accepted or refused with a conflict
(never a 5xx), no unique value is on two live profiles, every alias points at a live
profile, each never-merge pair is two live profiles, and no value an accepted write carried
is lost.
"""

import random
import threading

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from convmem.database.tables import NeverMergePair, Profile, ProfileIdentifier, Store
from tests.test_concurrency import send
from tests.test_resolution_properties import assert_store_invariants

PAIRS = 6
WRITERS = 3
WRITES_PER_WRITER = 12


def email(i: int, side: str) -> str:
    return f"race{i}{side}@example.com"


def phone(i: int) -> str:
    return f"+1317555{2000 + i}"


def merged_pairs(api, store) -> list[tuple[str, str]]:
    pairs = []
    for i in range(PAIRS):
        survivor = send(api, "POST", f"/v1/Stores/{store}/Profiles", {"traits": {"Contact": {"email": email(i, "s"), "phone": phone(i)}}}).json()["id"]
        merged = send(api, "POST", f"/v1/Stores/{store}/Profiles", {"traits": {"Contact": {"email": email(i, "m")}}}).json()["id"]
        both = {"traits": {"Contact": {"email": email(i, "m"), "phone": phone(i)}}}
        assert send(api, "POST", f"/v1/Stores/{store}/Profiles", both).json()["id"] == survivor
        pairs.append((survivor, merged))
    return pairs


def test_unmerges_racing_writes_keep_the_identity_invariants(backend, api, store):
    pairs = merged_pairs(api, store)
    statuses: list[tuple[str, int]] = []
    carried: set[tuple[str, str]] = set()
    lock = threading.Lock()

    def unmerger():
        for survivor, merged in pairs:
            response = api.post(f"/v1/Stores/{store}/Profiles/{survivor}/Merges/{merged}/Unmerge")
            with lock:
                statuses.append(("unmerge", response.status_code))

    def writer(number: int):
        rng = random.Random(number)
        for k in range(WRITES_PER_WRITER):
            i = rng.randrange(PAIRS)
            contact = rng.choice(
                [
                    {"email": email(i, "m"), "phone": phone(i)},  # ties both sides of an unmerged pair
                    {"email": email(i, "m"), "firstName": f"w{number}-{k}"},
                    {"email": f"new{number}-{k}@example.com", "phone": phone(i)},
                ]
            )
            response = send(api, "POST", f"/v1/Stores/{store}/Profiles", {"traits": {"Contact": contact}})
            with lock:
                statuses.append(("write", response.status_code))
                if response.status_code == 202:
                    carried.update((t, v) for t, v in contact.items() if t in ("email", "phone"))

    threads = [threading.Thread(target=unmerger)] + [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [s for kind, s in statuses if kind == "unmerge"] == [200] * PAIRS
    assert {s for kind, s in statuses if kind == "write"} <= {202, 409}
    assert_invariants(backend.db, store, carried)


def assert_invariants(db, store_sid: str, carried: set[tuple[str, str]]) -> None:
    with db.reading() as session:
        store_pk = session.scalar(select(Store.id).where(Store.sid == store_sid))
    assert_store_invariants(db, store_pk)  # no unique value on two profiles, aliases point at live ones
    with db.reading() as session:
        held = set(
            session.execute(
                select(ProfileIdentifier.id_type, ProfileIdentifier.value).where(ProfileIdentifier.store_id == store_pk)
            ).tuples()
        )
        assert carried <= held, "a value an accepted write carried is lost"
        first, second = aliased(Profile), aliased(Profile)
        sides = session.execute(
            select(func.coalesce(first.canonical_id, first.id), func.coalesce(second.canonical_id, second.id))
            .select_from(NeverMergePair)
            .join(first, first.id == NeverMergePair.first_profile_id)
            .join(second, second.id == NeverMergePair.second_profile_id)
            .where(NeverMergePair.store_id == store_pk)
        ).all()
        assert len(sides) == PAIRS and all(a != b for a, b in sides), "a never-merge pair was merged"
