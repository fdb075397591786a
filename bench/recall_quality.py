"""Recall quality and latency: lexical-only vs semantic-only vs hybrid, on a labelled set.

The set is generated here from a fixed seed and never used by the tests. Each profile holds
about 200 memories (observations and summaries): ~20 planted facts whose queries are known,
the rest distractors built from templates (orders, calls, purchases, ratings...). Three
kinds of query per profile:
- ``words``: shares words with its target (what full-text search is good at);
- ``paraphrase``: shares no content word with its target (checked below), which only a
  semantic model can find;
- ``identifier``: names an order number among many near-identical order memories, which
  sentence embeddings blur and full-text search pins down.

Reports recall@5 and MRR per mode and query kind, and the p99 latency of a hybrid Recall
(the service call: database reads, query embedding, fusion) at ~200 items per profile,
after the model has loaded once.

    python bench/recall_quality.py [--profiles 5] [--seed 20261122] [--database-url URL]
"""

import argparse
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from convmem.accounts.service import create_account
from convmem.config import Settings
from convmem.database.engine import Database
from convmem.database.migrate import upgrade
from convmem.database.tables import Account, ConversationSummary, Observation, Profile
from convmem.kit.ids import Prefix, new_id
from convmem.memory import observations as observations_service
from convmem.memory import summaries as summaries_service
from convmem.memory.embedding_task import embed_pending
from convmem.memory.embeddings import Embedder, embedder_for
from convmem.memory.ranking import query_terms
from convmem.memory.recall import recall
from convmem.memory.schemas import (
    MemoryRetrievalRequest,
    ObservationCreateRequest,
    SummaryCore,
)
from convmem.memory.scope import Scope
from convmem.profiles.addressing import ProfileRef
from convmem.stores.service import create_store
from convmem.web.auth import Principal

# (memory, query sharing words, paraphrase sharing none)
FACTS = [
    ("Prefers an aisle seat on flights", "aisle seat flights", "likes sitting next to the corridor when flying"),
    ("Allergic to peanuts and tree nuts", "peanuts allergic", "severe food reaction to legumes"),
    ("Wants invoices sent by email", "invoices email", "billing statements delivered electronically to the inbox"),
    ("Has a golden retriever named Max", "golden retriever", "owns a pet dog"),
    ("Vegetarian, does not eat meat", "vegetarian meat", "follows a plant-based diet"),
    (
        "Speaks Spanish at home and prefers Spanish-speaking agents",
        "Spanish speaking agents",
        "which tongue the support staff should talk in",
    ),
    ("Lives in Denver, Colorado", "lives in Denver", "home city in the Rocky Mountains"),
    ("Has been a premium tier member since 2019", "premium tier member", "loyalty status level"),
    ("Prefers phone calls after 6pm on weekdays", "phone calls after 6pm", "best time to ring is the evening"),
    ("Recently moved to a new apartment", "moved apartment", "changed residential address lately"),
    (
        "Is hard of hearing and needs written communication",
        "hard of hearing written",
        "deaf customer requires text instead of voice",
    ),
    (
        "Uses a wheelchair and needs step-free access",
        "wheelchair step-free access",
        "mobility impairment, cannot climb stairs",
    ),
    ("Planning a honeymoon trip to Japan", "honeymoon Japan trip", "newlyweds travelling to Tokyo"),
    ("Complained twice about late deliveries", "complained late deliveries", "shipments arrived behind schedule"),
    ("Prefers to pay with PayPal", "pay with PayPal", "favourite online wallet for checkout"),
    ("Works night shifts as a nurse", "nurse night shifts", "hospital employee on overnight hours"),
    ("Has two children under five", "two children under five", "parent of toddlers"),
    ("Interested in upgrading to fiber internet", "upgrading fiber internet", "wants faster broadband connection"),
    ("Cancelled the gym membership in March", "cancelled gym membership", "stopped fitness club subscription"),
    ("Prefers window seats on trains", "window seats trains", "likes views while riding the railway"),
    ("Is learning to play the guitar", "learning guitar", "taking music lessons on a stringed instrument"),
    ("Dislikes automated phone menus", "automated phone menus", "frustrated by robotic voice systems"),
    ("Birthday is on July 14", "birthday July", "which day in summer they were born"),
    ("Drives an electric car", "electric car", "owns a battery-powered vehicle"),
    ("Prefers paper statements by mail", "paper statements mail", "wants printed documents posted home"),
    ("Runs a small bakery business", "bakery business", "owns a shop selling bread and pastries"),
    ("Is training for a marathon", "marathon training", "preparing for a long-distance running race"),
    ("Has lactose intolerance", "lactose intolerance", "cannot digest dairy products like milk"),
    ("Frequently travels to London for work", "London work travels", "regular business trips to the UK capital"),
    (
        "Asked to be removed from marketing emails",
        "removed marketing emails",
        "unsubscribe from promotional newsletters",
    ),
]

TOPICS = [
    "billing",
    "a password reset",
    "router setup",
    "a refund",
    "the warranty",
    "a missing parcel",
    "account security",
    "a price match",
    "a duplicate charge",
    "the mobile app",
    "a store visit",
    "a gift card",
    "the return policy",
    "an installation appointment",
    "a loyalty reward",
]
PRODUCTS = [
    "a car seat",
    "a train set",
    "a phone case",
    "a dog bed",
    "running shoes",
    "a coffee grinder",
    "noise-cancelling headphones",
    "a desk lamp",
    "a travel backpack",
    "a yoga mat",
    "a smart speaker",
    "winter tyres",
    "a baby monitor",
    "a guitar stand",
    "an electric kettle",
]
CHANNELS = ["chat", "phone", "email", "SMS", "in-store"]
ORDER_EVENTS = [
    "shipped",
    "arrived on time",
    "was delayed at the depot",
    "arrived damaged",
    "was returned",
    "was partially refunded",
]
OUTCOMES = [
    "resolved on the first contact",
    "escalated to a supervisor",
    "a follow-up was scheduled",
    "the customer was satisfied",
    "a credit was issued",
]


@dataclass
class Query:
    profile: int
    text: str
    kind: str  # words | paraphrase | identifier
    target_sid: str
    target_is_summary: bool


def check_paraphrases() -> None:
    """A paraphrase must share no content word, not even a shared stem, with its memory."""
    for memory, _, paraphrase in FACTS:
        memory_stems = {term[:4] for term in query_terms(memory)}
        shared = [term for term in query_terms(paraphrase) if term[:4] in memory_stems]
        if shared:
            raise SystemExit(f"paraphrase of {memory!r} shares {shared}")


def occurred(rng: random.Random) -> datetime:
    return datetime(2024, 1, 1, tzinfo=timezone.utc) + timedelta(minutes=rng.randrange(0, 700 * 24 * 60))


def conversation_id(rng: random.Random) -> str:
    return "conv_conversation_0" + "".join(rng.choice("0123456789abcdefghjkmnpqrstvwxyz") for _ in range(25))


def distractor(rng: random.Random, order_number: int) -> str:
    kind = rng.randrange(5)
    if kind == 0:
        return f"Order {order_number} {rng.choice(ORDER_EVENTS)}"
    if kind == 1:
        return f"Called about {rng.choice(TOPICS)} via {rng.choice(CHANNELS)}"
    if kind == 2:
        return f"Bought {rng.choice(PRODUCTS)} for {rng.randrange(9, 400)} dollars"
    if kind == 3:
        return f"Rated the {rng.choice(CHANNELS)} support experience {rng.randrange(1, 6)} out of 5"
    return f"Asked about {rng.choice(TOPICS)} for {rng.choice(PRODUCTS)}"


def build(db: Database, profiles: int, seed: int) -> tuple[list[Scope], list[Query]]:
    rng = random.Random(seed)
    with db.writing() as session:
        credentials = create_account(session, "bench")
        account = session.scalar(select(Account).where(Account.sid == credentials.sid))
        store = create_store(session, Principal(account.id, account.sid), f"bench-{seed}", None)
        session.flush()
        scopes = []
        for _ in range(profiles):
            profile = Profile(sid=new_id(Prefix.PROFILE), store_id=store.id, traits={}, trait_meta={})
            session.add(profile)
            session.flush()
            scopes.append(Scope(store.id, ProfileRef(profile.id, profile.sid), profile.sid))

    queries: list[Query] = []
    for index, scope in enumerate(scopes):
        planted = rng.sample(FACTS, 20)
        as_summary = set(rng.sample(range(20), 5))
        order_numbers = rng.sample(range(10000, 99999), 60)
        identifier_orders = set(rng.sample(order_numbers, 8))
        observations = [(fact[0], i not in as_summary, fact) for i, fact in enumerate(planted)]
        observations += [(f"Order {n} {rng.choice(ORDER_EVENTS)}", True, ("order", n)) for n in order_numbers]
        while len(observations) < 170:
            observations.append((distractor(rng, rng.randrange(10000, 99999)), True, None))
        summaries_needed = 200 - len(observations)
        rng.shuffle(observations)

        with db.writing() as session:
            planted_sids: dict[tuple, tuple[str, bool]] = {}
            for content, is_observation, label in observations:
                if is_observation:
                    observations_service.create(
                        session,
                        scope,
                        [ObservationCreateRequest(content=content, source="bench", occurredAt=occurred(rng))],
                        None,  # embedded below, in batches
                    )
                    model = Observation
                else:
                    summaries_service.create(
                        session,
                        scope,
                        [
                            SummaryCore(
                                content=content,
                                source="bench",
                                occurredAt=occurred(rng),
                                conversationId=conversation_id(rng),
                            )
                        ],
                        None,
                    )
                    model = ConversationSummary
                if label is not None:
                    session.flush()
                    sid = session.scalar(
                        select(model.sid).where(model.profile_id == scope.profile.pk).order_by(model.id.desc()).limit(1)
                    )
                    planted_sids[label] = (sid, not is_observation)
            for _ in range(summaries_needed):
                summaries_service.create(
                    session,
                    scope,
                    [
                        SummaryCore(
                            content=f"Conversation about {rng.choice(TOPICS)}: {rng.choice(OUTCOMES)}",
                            source="bench",
                            occurredAt=occurred(rng),
                            conversationId=conversation_id(rng),
                        )
                    ],
                    None,
                )

        for fact in planted:
            sid, is_summary = planted_sids[fact]
            queries.append(Query(index, fact[1], "words", sid, is_summary))
            queries.append(Query(index, fact[2], "paraphrase", sid, is_summary))
        for number in identifier_orders:
            sid, _ = planted_sids[("order", number)]
            queries.append(Query(index, f"what happened to order {number}", "identifier", sid, False))
    return scopes, queries


def embed_everything(db: Database, embedder: Embedder) -> float:
    started = time.perf_counter()
    while embed_pending(db, embedder):
        pass
    return time.perf_counter() - started


MODES = {
    "lexical": frozenset({"lexical"}),
    "semantic": frozenset({"semantic"}),
    "hybrid": frozenset({"lexical", "semantic"}),
}


def evaluate(db, scopes, queries, embedder) -> dict:
    results: dict[str, dict[str, list[float]]] = {}
    for mode, signals in MODES.items():
        reciprocal: dict[str, list[float]] = {}
        for query in queries:
            request = MemoryRetrievalRequest(query=query.text, observationsLimit=100, summariesLimit=100)
            with db.reading() as session:
                found = recall(session, scopes[query.profile], request, embedder, sqlite=db.is_sqlite, signals=signals)
                rows = found.summaries if query.target_is_summary else found.observations
                ranked = [row.sid for row, _ in rows]
            rank = ranked.index(query.target_sid) + 1 if query.target_sid in ranked else None
            reciprocal.setdefault(query.kind, []).append(1.0 / rank if rank else 0.0)
        results[mode] = reciprocal
    return results


def latency_ms(db, scopes, queries, embedder, rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        for query in queries:
            request = MemoryRetrievalRequest(query=query.text)
            started = time.perf_counter()
            with db.reading() as session:
                recall(session, scopes[query.profile], request, embedder, sqlite=db.is_sqlite)
            samples.append((time.perf_counter() - started) * 1000)
    return samples


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profiles", type=int, default=5)
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--rounds", type=int, default=3, help="latency passes over every query")
    parser.add_argument("--database-url", help="default: a fresh SQLite file in a temporary folder")
    args = parser.parse_args()

    check_paraphrases()
    embedder = embedder_for(Settings())
    if embedder is None:
        sys.exit("semantic recall is off (CONVMEM_EMBEDDINGS=off) or its packages are missing")
    db = Database(args.database_url or f"sqlite:///{tempfile.mkdtemp()}/bench.db")
    upgrade(db)

    started = time.perf_counter()
    embedder.encode(["load the model"])
    load_seconds = time.perf_counter() - started
    scopes, queries = build(db, args.profiles, args.seed)
    embed_seconds = embed_everything(db, embedder)
    items = 200 * args.profiles

    results = evaluate(db, scopes, queries, embedder)
    samples = latency_ms(db, scopes, queries, embedder, args.rounds)

    kinds = ["words", "paraphrase", "identifier"]
    print(
        f"backend: {'SQLite' if db.is_sqlite else 'PostgreSQL'}; {args.profiles} profiles x 200 memories; "
        f"{len(queries)} queries ({', '.join(f'{sum(q.kind == k for q in queries)} {k}' for k in kinds)}); "
        f"seed {args.seed}"
    )
    print(f"model load {load_seconds:.1f} s (excluded below); embedding {items} memories took {embed_seconds:.1f} s\n")
    print("| mode | recall@5 | MRR | recall@5 words | recall@5 paraphrase | recall@5 identifier |")
    print("|---|---|---|---|---|---|")
    for mode, by_kind in results.items():
        every = [value for kind in kinds for value in by_kind[kind]]
        hit = lambda values: sum(value >= 1 / 5 for value in values) / len(values)  # noqa: E731
        print(
            f"| {mode} | {hit(every):.3f} | {statistics.fmean(every):.3f} | "
            + " | ".join(f"{hit(by_kind[kind]):.3f}" for kind in kinds)
            + " |"
        )
    print(
        f"\nhybrid Recall latency over {len(samples)} calls (default limits 20/5): "
        f"p50 {percentile(samples, 0.5):.1f} ms, p95 {percentile(samples, 0.95):.1f} ms, "
        f"p99 {percentile(samples, 0.99):.1f} ms, max {max(samples):.1f} ms"
    )


if __name__ == "__main__":
    main()
