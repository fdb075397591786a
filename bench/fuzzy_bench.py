"""The cost of a profile write with a fuzzy identifier type, through the blocking keys and
through a full scan of the type's values (the matching before the keys), in one run; and an
exact-only batch of creates, for comparing two convmem trees.

    python -m bench.fuzzy_bench [--sizes 2000 20000] [--writes 200] [--threshold 85]
    python bench/fuzzy_bench.py --exact-only 20000

The first form fills a fresh SQLite store with N profiles, each with a unique email and a
``handle`` (a random user name, a fuzzy matching rule at ``--threshold``), by inserting
the rows and their keys directly, then times ``writer.write`` of new profiles one transaction
each: with the keys, then with the full scan (``match_index.holders`` replaced by the old
query). Prints the median per write and the ratio, per size.

The second form creates N profiles with an exact email and phone through ``writer.write_many``
in transactions of 500, as bulk and imports do. It uses only what every convmem tree has, so
``farm-bench --vs`` can time it on this tree against another (``PYTHONPATH`` picks the tree).
"""

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import select

from convmem.accounts.service import create_account
from convmem.database.engine import Database
from convmem.database.migrate import upgrade
from convmem.database.tables import Account, ProfileIdentifier, Store
from convmem.identity.resolution import Held
from convmem.identity.schemas import IdentifierConfig, IdentityResolutionSettingsCore
from convmem.kit.clock import WriteClock
from convmem.kit.ids import Prefix, new_id
from convmem.profiles import repository, writer
from convmem.profiles.context import load_context
from convmem.stores.service import create_store
from convmem.web.auth import Principal

LETTERS = "abcdefghijklmnopqrstuvwxyz"
FILL_BATCH = 5000
EXACT_BATCH = 500


def handle(rng: random.Random) -> str:
    """A user name: 8 to 16 letters and two digits. Random ones rarely match each other, so a
    write's time is finding candidates, not merging."""
    return "".join(rng.choice(LETTERS) for _ in range(rng.randint(8, 16))) + f"{rng.randrange(100):02d}"


def new_database(tmp: Path, settings: IdentityResolutionSettingsCore) -> tuple[Database, int]:
    db = Database(f"sqlite:///{tmp / 'bench.db'}")
    upgrade(db)
    with db.writing() as session:
        credentials = create_account(session, "bench")
        account = session.scalar(select(Account).where(Account.sid == credentials.sid))
        store = create_store(session, Principal(account.id, account.sid), "bench", None)
        store.identity_settings = settings.model_dump()
        session.flush()
        return db, store.id


def fill(db: Database, store_pk: int, count: int, rng: random.Random) -> None:
    from convmem.profiles import match_index

    for offset in range(0, count, FILL_BATCH):
        with db.writing() as session:
            ctx = load_context(session, session.get(Store, store_pk))
            numbers = range(offset, min(offset + FILL_BATCH, count))
            pks = repository.insert_profiles(
                session, [{"sid": new_id(Prefix.PROFILE), "store_id": store_pk, "traits": {}, "trait_meta": {}} for _ in numbers]
            )
            rows = [
                {"store_id": store_pk, "profile_id": pk, "origin_profile_id": pk, "id_type": t, "value": v, "source": "bench"}
                for pk, n in zip(pks.values(), numbers)
                for t, v in (("email", f"user{n}@example.com"), ("handle", handle(rng)))
            ]
            inserted = repository.insert_identifiers(session, rows, returning_ids=True)
            match_index.index_identifiers(session, store_pk, ctx.settings, inserted)


def scan_holders(session, store_pk, settings, wanted, *, fuzzy_types):
    """The matching before the keys: every stored value of a fuzzy type."""
    held = repository.holders(session, store_pk, wanted)
    for id_type in set(fuzzy_types):
        rows = session.execute(
            select(ProfileIdentifier.profile_id, ProfileIdentifier.value).where(
                ProfileIdentifier.store_id == store_pk, ProfileIdentifier.id_type == id_type
            )
        )
        held += [Held(profile, id_type, value) for profile, value in rows]
    return held


def time_writes(db: Database, store_pk: int, writes: int, rng: random.Random, tag: str) -> float:
    clock = WriteClock()
    took = []
    for n in range(writes):
        wanted = [("email", f"new-{tag}-{n}@example.com"), ("handle", handle(rng))]
        traits = {"Contact": {"email": wanted[0][1]}}
        start = time.perf_counter()
        with db.writing() as session:
            ctx = load_context(session, session.get(Store, store_pk))
            writer.write(session, ctx, traits, wanted, source="bench", clock=clock)
        took.append(time.perf_counter() - start)
    return statistics.median(took) * 1000


def fuzzy_writes(sizes: list[int], writes: int, threshold: int) -> None:
    from convmem.profiles import match_index

    settings = IdentityResolutionSettingsCore(
        identifierConfigs=[
            IdentifierConfig(idType="email", normalization="email"),
            IdentifierConfig(idType="handle", matchingAlgo="fuzzy", matchingThreshold=threshold),
        ],
        matchingRules=["email", "handle"],
    )
    print(f"{'stored':>8} {'keys ms':>9} {'scan ms':>9} {'scan/keys':>10}")
    for size in sizes:
        rng = random.Random(size)
        with tempfile.TemporaryDirectory(prefix="convmem-fuzzy-") as tmp:
            db, store_pk = new_database(Path(tmp), settings)
            fill(db, store_pk, size, rng)
            keyed = time_writes(db, store_pk, writes, rng, "keys")
            indexed_holders = match_index.holders
            match_index.holders = scan_holders
            try:
                scanned = time_writes(db, store_pk, writes, rng, "scan")
            finally:
                match_index.holders = indexed_holders
            db.engine.dispose()
        print(f"{size:>8} {keyed:>9.2f} {scanned:>9.2f} {scanned / keyed:>10.1f}")


def exact_only(count: int) -> None:
    settings = IdentityResolutionSettingsCore(
        identifierConfigs=[IdentifierConfig(idType="email", normalization="email"), IdentifierConfig(idType="phone", normalization="phone")],
        matchingRules=["email", "phone"],
    )
    with tempfile.TemporaryDirectory(prefix="convmem-exact-") as tmp:
        db, store_pk = new_database(Path(tmp), settings)
        clock = WriteClock()
        start = time.perf_counter()
        for offset in range(0, count, EXACT_BATCH):
            bodies = []
            for n in range(offset, min(offset + EXACT_BATCH, count)):
                email, phone = f"user{n}@example.com", f"+1317{n:07d}"
                bodies.append(({"Contact": {"email": email, "phone": phone}}, [("email", email), ("phone", phone)]))
            with db.writing() as session:
                ctx = load_context(session, session.get(Store, store_pk))
                writer.write_many(session, ctx, bodies, source="bench", clock=clock)
        print(f"{count} exact creates: {count / (time.perf_counter() - start):.0f}/s")
        db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 20000])
    parser.add_argument("--writes", type=int, default=200)
    parser.add_argument("--threshold", type=int, default=85)
    parser.add_argument("--exact-only", type=int, metavar="N")
    args = parser.parse_args()
    if args.exact_only:
        exact_only(args.exact_only)
    else:
        fuzzy_writes(args.sizes, args.writes, args.threshold)


if __name__ == "__main__":
    sys.exit(main())
