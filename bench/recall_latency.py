"""Recall latency at scale: profiles of 2,000 memories, in a small store and in a store of 1,000,000.

Memories are written straight into convmem's tables (SQLAlchemy Core, in chunks), with
random unit vectors as their embeddings: how long a Recall takes does not depend on what
the vectors say. Their texts come from the templates of ``bench/recall_quality.py``, so
full-text search meets realistic term frequencies ("order" is in a fifth of all memories).

1. ``--profiles`` profiles of ``--per-profile`` memories are loaded and measured: the
   hybrid Recall service call with the default limits, over words, paraphrase and
   order-number queries, after one warm-up pass (which also fills the vector cache, as a
   server's first Recall of a profile does). The whole call is timed, and apart from it the
   query's embedding (it does not depend on the store) and the rest of the call (database
   reads, fusion), next to a trivial read timed in the same loop as the machine's floor;
2. other profiles of the same size fill the store up to ``--store-memories``, and the
   same profiles are measured again.

    python bench/recall_latency.py [--database-url URL] [--store-memories 1000000] [--per-profile 2000]
"""

import argparse
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone

import numpy as np
from sqlalchemy import func, insert, select

from bench.recall_quality import FACTS, filler, percentile
from convmem.accounts.service import create_account
from convmem.config import Settings
from convmem.database.engine import Database
from convmem.database.migrate import upgrade
from convmem.database.tables import Account, MemoryEmbedding, Observation, Profile
from convmem.kit.ids import Prefix, new_id
from convmem.memory.embeddings import DIMENSIONS, embedder_for
from convmem.memory.memory_cache import MemoryCache
from convmem.memory.recall import recall
from convmem.memory.schemas import MemoryRetrievalRequest
from convmem.memory.scope import Scope
from convmem.profiles.addressing import ProfileRef
from convmem.stores.service import create_store
from convmem.web.auth import Principal

CHUNK = 5000


class Loader:
    """Writes profiles full of memories and their vectors, ids assigned here."""

    def __init__(self, db: Database, store_pk: int, model_name: str, seed: int):
        self.db = db
        self.store_pk = store_pk
        self.model_name = model_name
        self.rng = random.Random(seed)
        self.vectors = np.random.default_rng(seed)
        with db.reading() as session:
            self.next_observation = (session.scalar(select(func.max(Observation.id))) or 0) + 1
            self.next_embedding = (session.scalar(select(func.max(MemoryEmbedding.id))) or 0) + 1

    def profiles(self, count: int) -> list[Scope]:
        with self.db.writing() as session:
            rows = [
                Profile(sid=new_id(Prefix.PROFILE), store_id=self.store_pk, traits={}, trait_meta={})
                for _ in range(count)
            ]
            session.add_all(rows)
            session.flush()
            return [Scope(self.store_pk, ProfileRef(row.id, row.sid), row.sid) for row in rows]

    def fill(self, scopes: list[Scope], per_profile: int) -> None:
        pending = [(scope.profile.pk, text) for scope in scopes for text in self.texts(per_profile)]
        for start in range(0, len(pending), CHUNK):
            self.write(pending[start : start + CHUNK])

    def texts(self, count: int) -> list[str]:
        facts = [fact[0] for fact in self.rng.sample(FACTS, 20)]
        return facts + [filler(self.rng) for _ in range(count - len(facts))]

    def write(self, chunk: list[tuple[int, str]]) -> None:
        base = datetime(2024, 1, 1, tzinfo=timezone.utc)
        matrix = self.vectors.standard_normal((len(chunk), DIMENSIONS), dtype=np.float32)
        matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
        observations, embeddings = [], []
        for i, (profile_pk, text) in enumerate(chunk):
            when = base + timedelta(minutes=self.rng.randrange(0, 700 * 24 * 60))
            observations.append(
                {
                    "id": self.next_observation,
                    "sid": new_id(Prefix.OBSERVATION),
                    "store_id": self.store_pk,
                    "profile_id": profile_pk,
                    "content": text,
                    "source": "bench",
                    "occurred_at": when,
                    "conversation_ids": [],
                    "created_at": when,
                    "updated_at": when,
                }
            )
            embeddings.append(
                {
                    "id": self.next_embedding,
                    "observation_id": self.next_observation,
                    "generation": 1,
                    "model": self.model_name,
                    "vector": matrix[i].tobytes(),
                }
            )
            self.next_observation += 1
            self.next_embedding += 1
        with self.db.writing() as session:
            session.execute(insert(Observation), observations)
            session.execute(insert(MemoryEmbedding), embeddings)


def queries(rng: random.Random, count: int) -> list[str]:
    kinds = [
        lambda: rng.choice(FACTS)[1],
        lambda: rng.choice(FACTS)[2],
        lambda: f"what happened to order {rng.randrange(10000, 99999)}",
    ]
    return [kinds[i % len(kinds)]() for i in range(count)]


class Precomputed:
    """Answers Recall's query embedding with the vector computed just before, so the model's
    time (measured on its own) is not counted twice."""

    def __init__(self, name: str, vector):
        self.name = name
        self.vector = vector

    def encode(self, _texts):
        return [self.vector]


def measure(db: Database, scopes: list[Scope], embedder, texts: list[str]) -> dict[str, list[float]]:
    """Milliseconds per query embedding, per Recall service call without it (database reads,
    fusion), and per trivial read (``SELECT 1`` in a session: the machine's floor at that moment),
    over every profile and text."""
    samples: dict[str, list[float]] = {
        "recall with embedding": [],
        "query embedding": [],
        "recall without embedding": [],
        "floor (SELECT 1)": [],
    }
    memory_cache = MemoryCache()  # the server's: one per process, warmed by the first pass
    for warm_up in (True, False):
        for scope in scopes:
            for text in texts:
                started = time.perf_counter()
                vector = embedder.encode([text])[0]
                embedded = time.perf_counter()
                with db.reading() as session:
                    request = MemoryRetrievalRequest(query=text)
                    recall(
                        session,
                        scope,
                        request,
                        Precomputed(embedder.name, vector),
                        memory_cache=memory_cache,
                    )
                recalled = time.perf_counter()
                with db.reading() as session:
                    session.execute(select(1)).all()
                finished = time.perf_counter()
                if not warm_up:
                    samples["recall with embedding"].append((recalled - started) * 1000)
                    samples["query embedding"].append((embedded - started) * 1000)
                    samples["recall without embedding"].append((recalled - embedded) * 1000)
                    samples["floor (SELECT 1)"].append((finished - recalled) * 1000)
    return samples


def report(label: str, samples: dict[str, list[float]]) -> None:
    for name, values in samples.items():
        print(
            f"| {label} | {name} | {len(values)} | {percentile(values, 0.5):.1f} | {percentile(values, 0.95):.1f} | "
            f"{percentile(values, 0.99):.1f} | {max(values):.1f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="default: a fresh SQLite file in a temporary folder")
    parser.add_argument("--per-profile", type=int, default=2000)
    parser.add_argument("--profiles", type=int, default=5, help="profiles measured")
    parser.add_argument("--store-memories", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=60, help="queries per measured profile")
    parser.add_argument("--seed", type=int, default=20261201)
    args = parser.parse_args()

    embedder = embedder_for(Settings())
    if embedder is None:
        sys.exit("an embedding model is needed: recall latency is measured in hybrid mode")
    db = Database(args.database_url or f"sqlite:///{tempfile.mkdtemp()}/latency.db")
    upgrade(db)
    with db.writing() as session:
        credentials = create_account(session, "latency")
        account = session.scalar(select(Account).where(Account.sid == credentials.sid))
        store = create_store(session, Principal(account.id, account.sid), "latency", None)
        session.flush()
        store_pk = store.id
    loader = Loader(db, store_pk, embedder.name, args.seed)
    texts = queries(random.Random(args.seed), args.queries)
    embedder.encode(["load the model"])

    measured = loader.profiles(args.profiles)
    loader.fill(measured, args.per_profile)
    print(f"backend: {'SQLite' if db.is_sqlite else 'PostgreSQL'}; {args.per_profile} memories per profile\n")
    print("| store | timed | calls | p50 ms | p95 ms | p99 ms | max ms |")
    print("|---|---|---|---|---|---|---|")
    report(f"{args.profiles * args.per_profile:,} memories", measure(db, measured, embedder, texts))

    others = max(0, args.store_memories // args.per_profile - args.profiles)
    started = time.perf_counter()
    for start in range(0, others, 20):
        loader.fill(loader.profiles(min(20, others - start)), args.per_profile)
    load_seconds = time.perf_counter() - started
    if not db.is_sqlite:  # what autovacuum does on its own in a while
        with db.engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE")
            connection.commit()
    total = (others + args.profiles) * args.per_profile
    report(f"{total:,} memories", measure(db, measured, embedder, texts))
    print(f"\nloading {others * args.per_profile:,} memories took {load_seconds:.0f} s")


if __name__ == "__main__":
    main()
