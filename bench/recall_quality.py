"""Recall quality per query class: lexical-only vs semantic-only vs hybrid, at two profile sizes.

The set is generated here from a fixed seed and never used by the tests. Profiles of each
size (200 and 2,000 memories by default) hold 20 planted facts among generated memories of
two hostile kinds next to ordinary filler (orders, calls, purchases, ratings, recaps):
- ``incidental``: for every planted fact, memories sharing exactly one incidental word with
  the fact's paraphrase ("food", "city", "billing"...) and nothing with the fact itself;
- near-duplicate identifiers: every order number, email address and gift-card code asked
  about has three neighbours in the same profile that differ by one digit or character.

Query classes, one known relevant memory each:
- ``words``: shares words with its target (what full-text search is good at);
- ``paraphrase``: shares no content word with its target (checked below), but one with the
  incidental distractors: only a semantic model finds the target, full-text finds the distractors;
- ``order``, ``email``, ``code``: names an identifier among its near-duplicates, which
  sentence embeddings blur and exact token matching pins down.

Reports recall@1/@3/@5 per class, mode and size, and the latency of a hybrid Recall (the
service call: database reads, query embedding, fusion) per size, after the model has loaded.

    python bench/recall_quality.py [--sizes 200 2000] [--profiles 3] [--seed 20261122] [--database-url URL]
"""

import argparse
import random
import string
import sys
import tempfile
import time
from collections.abc import Collection
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
from convmem.memory.memory_cache import MemoryCache
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

# (memory, query sharing words, paraphrase sharing none, an incidental word of the paraphrase)
FACTS = [
    (
        "Prefers an aisle seat on flights",
        "aisle seat flights",
        "likes sitting next to the corridor when flying",
        "corridor",
    ),
    ("Allergic to peanuts and tree nuts", "peanuts allergic", "severe food reaction to legumes", "food"),
    (
        "Wants invoices sent by email",
        "invoices email",
        "billing statements delivered electronically to the inbox",
        "billing",
    ),
    ("Has a golden retriever named Max", "golden retriever", "owns a pet dog", "dog"),
    ("Vegetarian, does not eat meat", "vegetarian meat", "follows a plant-based diet", "diet"),
    (
        "Speaks Spanish at home and prefers Spanish-speaking agents",
        "Spanish speaking agents",
        "which tongue the support staff should talk in",
        "support",
    ),
    ("Lives in Denver, Colorado", "lives in Denver", "home city in the Rocky Mountains", "city"),
    ("Has been a premium tier member since 2019", "premium tier member", "loyalty status level", "loyalty"),
    (
        "Prefers phone calls after 6pm on weekdays",
        "phone calls after 6pm",
        "best time to ring is the evening",
        "evening",
    ),
    ("Recently moved to a new apartment", "moved apartment", "changed residential address lately", "address"),
    (
        "Is hard of hearing and needs written communication",
        "hard of hearing written",
        "deaf customer requires text instead of voice",
        "voice",
    ),
    (
        "Uses a wheelchair and needs step-free access",
        "wheelchair step-free access",
        "mobility impairment, cannot climb stairs",
        "stairs",
    ),
    ("Planning a honeymoon trip to Japan", "honeymoon Japan trip", "newlyweds travelling to Tokyo", "travelling"),
    (
        "Complained twice about late deliveries",
        "complained late deliveries",
        "shipments arrived behind schedule",
        "schedule",
    ),
    ("Prefers to pay with PayPal", "pay with PayPal", "favourite online wallet for checkout", "checkout"),
    ("Works night shifts as a nurse", "nurse night shifts", "hospital employee on overnight hours", "hours"),
    ("Has two children under five", "two children under five", "parent of toddlers", "parent"),
    (
        "Interested in upgrading to fiber internet",
        "upgrading fiber internet",
        "wants faster broadband connection",
        "connection",
    ),
    (
        "Cancelled the gym membership in March",
        "cancelled gym membership",
        "stopped fitness club subscription",
        "subscription",
    ),
    ("Prefers window seats on trains", "window seats trains", "likes views while riding the railway", "railway"),
    ("Is learning to play the guitar", "learning guitar", "taking music lessons on a stringed instrument", "music"),
    ("Dislikes automated phone menus", "automated phone menus", "frustrated by robotic voice systems", "systems"),
    ("Birthday is on July 14", "birthday July", "which day in summer they were born", "summer"),
    ("Drives an electric car", "electric car", "owns a battery-powered vehicle", "battery"),
    ("Prefers paper statements by mail", "paper statements mail", "wants printed documents posted home", "documents"),
    ("Runs a small bakery business", "bakery business", "owns a shop selling bread and pastries", "shop"),
    ("Is training for a marathon", "marathon training", "preparing for a long-distance running race", "running"),
    ("Has lactose intolerance", "lactose intolerance", "cannot digest dairy products like milk", "products"),
    (
        "Frequently travels to London for work",
        "London work travels",
        "regular business trips to the UK capital",
        "business",
    ),
    (
        "Asked to be removed from marketing emails",
        "removed marketing emails",
        "unsubscribe from promotional newsletters",
        "newsletters",
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


INCIDENTAL_TEMPLATES = [
    "Asked whether the {word} page on the website is up to date",
    "Mentioned {word} briefly during a {channel} conversation about {topic}",
    "Gave feedback about {word} in the post-call survey",
    "Wanted to know if {word} is covered by the warranty on {product}",
]
FIRST_NAMES = ["anna", "ben", "carla", "dmitri", "elif", "femi", "grace", "hugo", "ines", "jonas", "kaito", "lena"]
LAST_NAMES = ["berg", "costa", "duval", "evans", "fischer", "garcia", "haddad", "ito", "jensen", "kowalski"]
DOMAINS = ["example.com", "mail.example.org", "corp.example.net"]
PLANTED = 20
SUMMARIES_AMONG_PLANTED = 5
NEAR_DUPLICATES = 3
IDENTIFIER_QUERIES = {"order": 8, "email": 4, "code": 4}
CLASSES = ["words", "paraphrase", "order", "email", "code"]


@dataclass
class Query:
    profile: int
    size: int
    text: str
    kind: str  # one of CLASSES
    target_sid: str
    target_is_summary: bool


def check_paraphrases() -> None:
    """A paraphrase shares no content word (not even a 4-letter stem) with its memory, and
    its incidental word is one of its own."""
    for memory, _, paraphrase, incidental in FACTS:
        memory_stems = {term[:4] for term in query_terms(memory)}
        shared = [term for term in query_terms(paraphrase) if term[:4] in memory_stems]
        if shared:
            raise SystemExit(f"paraphrase of {memory!r} shares {shared}")
        if incidental not in query_terms(paraphrase):
            raise SystemExit(f"{incidental!r} is not a word of {paraphrase!r}")


def occurred(rng: random.Random) -> datetime:
    return datetime(2024, 1, 1, tzinfo=timezone.utc) + timedelta(minutes=rng.randrange(0, 700 * 24 * 60))


def conversation_id(rng: random.Random) -> str:
    return "conv_conversation_0" + "".join(rng.choice("0123456789abcdefghjkmnpqrstvwxyz") for _ in range(25))


def filler(rng: random.Random) -> str:
    kind = rng.randrange(5)
    if kind == 0:
        return f"Order {rng.randrange(10000, 99999)} {rng.choice(ORDER_EVENTS)}"
    if kind == 1:
        return f"Called about {rng.choice(TOPICS)} via {rng.choice(CHANNELS)}"
    if kind == 2:
        return f"Bought {rng.choice(PRODUCTS)} for {rng.randrange(9, 400)} dollars"
    if kind == 3:
        return f"Rated the {rng.choice(CHANNELS)} support experience {rng.randrange(1, 6)} out of 5"
    return f"Asked about {rng.choice(TOPICS)} for {rng.choice(PRODUCTS)}"


def one_character_off(rng: random.Random, value: str, alphabet: str, taken: set[str]) -> str:
    """``value`` with one of its ``alphabet`` characters replaced, not yet in ``taken``."""
    while True:
        positions = [i for i, char in enumerate(value) if char in alphabet]
        i = rng.choice(positions)
        candidate = value[:i] + rng.choice(alphabet.replace(value[i], "")) + value[i + 1 :]
        if candidate not in taken:
            taken.add(candidate)
            return candidate


def order_number(rng: random.Random) -> str:
    return str(rng.randrange(10000, 99999))


def email_address(rng: random.Random) -> str:
    return f"{rng.choice(FIRST_NAMES)}.{rng.choice(LAST_NAMES)}{rng.randrange(1, 99)}@{rng.choice(DOMAINS)}"


def gift_card_code(rng: random.Random) -> str:
    alphabet = string.ascii_uppercase + string.digits
    return (
        "GC-" + "".join(rng.choice(alphabet) for _ in range(4)) + "-" + "".join(rng.choice(alphabet) for _ in range(4))
    )


IDENTIFIERS = {
    # class: (make one, characters a near-duplicate may change, memory template, query template)
    "order": (order_number, string.digits, "Order {value} {event}", "what happened to order {value}"),
    "email": (
        email_address,
        string.ascii_lowercase + string.digits,
        "Received a complaint from {value} about {topic}",
        "messages from {value}",
    ),
    "code": (
        gift_card_code,
        string.ascii_uppercase + string.digits,
        "Gift card {value} was redeemed for {product}",
        "gift card {value}",
    ),
}


def identifier_memory(rng: random.Random, kind: str, value: str) -> str:
    template = IDENTIFIERS[kind][2]
    return template.format(
        value=value, event=rng.choice(ORDER_EVENTS), topic=rng.choice(TOPICS), product=rng.choice(PRODUCTS)
    )


def profile_memories(rng: random.Random, size: int):
    """``(content, is_observation, label, query)`` for one profile, shuffled: labelled ones are
    the targets of ``(kind, query text)``."""
    memories = []
    planted = rng.sample(FACTS, PLANTED)
    as_summary = set(rng.sample(range(PLANTED), SUMMARIES_AMONG_PLANTED))
    for i, (memory, words, paraphrase, incidental) in enumerate(planted):
        memories.append((memory, i not in as_summary, [("words", words), ("paraphrase", paraphrase)]))
        for template in INCIDENTAL_TEMPLATES:
            text = template.format(
                word=incidental, channel=rng.choice(CHANNELS), topic=rng.choice(TOPICS), product=rng.choice(PRODUCTS)
            )
            memories.append((text, True, []))
    for kind, count in IDENTIFIER_QUERIES.items():
        make, alphabet, _, query_template = IDENTIFIERS[kind]
        taken: set[str] = set()
        for _ in range(count):
            value = make(rng)
            taken.add(value)
            memories.append((identifier_memory(rng, kind, value), True, [(kind, query_template.format(value=value))]))
            for _ in range(NEAR_DUPLICATES):
                memories.append(
                    (identifier_memory(rng, kind, one_character_off(rng, value, alphabet, taken)), True, [])
                )
    summaries = size * 15 // 100
    while len(memories) < size - summaries:
        memories.append((filler(rng), True, []))
    while len(memories) < size:
        memories.append((f"Conversation about {rng.choice(TOPICS)}: {rng.choice(OUTCOMES)}", False, []))
    rng.shuffle(memories)
    return memories


def build(db: Database, sizes: list[int], profiles: int, seed: int) -> tuple[list[Scope], list[Query]]:
    rng = random.Random(seed)
    with db.writing() as session:
        credentials = create_account(session, "bench")
        account = session.scalar(select(Account).where(Account.sid == credentials.sid))
        store = create_store(session, Principal(account.id, account.sid), f"bench-{seed}", None)
        session.flush()
        scopes = []
        for _ in range(profiles * len(sizes)):
            profile = Profile(sid=new_id(Prefix.PROFILE), store_id=store.id, traits={}, trait_meta={})
            session.add(profile)
            session.flush()
            scopes.append(Scope(store.id, ProfileRef(profile.id, profile.sid), profile.sid))

    queries: list[Query] = []
    for index, scope in enumerate(scopes):
        size = sizes[index // profiles]
        with db.writing() as session:
            for content, is_observation, labels in profile_memories(rng, size):
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
                if labels:
                    session.flush()
                    sid = session.scalar(
                        select(model.sid).where(model.profile_id == scope.profile.pk).order_by(model.id.desc()).limit(1)
                    )
                    for kind, text in labels:
                        queries.append(Query(index, size, text, kind, sid, not is_observation))
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
CUTOFFS = (1, 3, 5)


def evaluate(db, scopes, queries, embedder) -> dict[tuple[str, int, str], list[int | None]]:
    """(mode, size, class) -> the target's rank for each query (None: not in the first 100)."""
    ranks: dict[tuple[str, int, str], list[int | None]] = {}
    memory_cache = MemoryCache()  # as the server ranks: from the cached vectors after a profile's first query
    for mode, signals in MODES.items():
        for query in queries:
            request = MemoryRetrievalRequest(query=query.text, observationsLimit=100, summariesLimit=100)
            with db.reading() as session:
                found = recall(
                    session,
                    scopes[query.profile],
                    request,
                    embedder,
                    signals=signals,
                    memory_cache=memory_cache,
                )
                rows = found.summaries if query.target_is_summary else found.observations
                ranked = [row.sid for row, _ in rows]
            rank = ranked.index(query.target_sid) + 1 if query.target_sid in ranked else None
            ranks.setdefault((mode, query.size, query.kind), []).append(rank)
    return ranks


def recall_at(ranks: list[int | None], cutoff: int) -> float:
    return sum(rank is not None and rank <= cutoff for rank in ranks) / len(ranks)


def latency_ms(db, scopes, queries, embedder, rounds: int) -> list[float]:
    samples = []
    memory_cache = MemoryCache()
    for _ in range(rounds):
        for query in queries:
            request = MemoryRetrievalRequest(query=query.text)
            started = time.perf_counter()
            with db.reading() as session:
                recall(session, scopes[query.profile], request, embedder, memory_cache=memory_cache)
            samples.append((time.perf_counter() - started) * 1000)
    return samples


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def print_quality(ranks: dict, queries: list[Query], size: int, modes: Collection[str]) -> list[Query]:
    """The recall@1 / @3 / @5 table of one size, a column per mode; returns that size's queries."""
    sized = [query for query in queries if query.size == size]
    counts = ", ".join(f"{sum(q.kind == kind for q in sized)} {kind}" for kind in CLASSES)
    print(f"\n{size} memories per profile: {len(sized)} queries ({counts}); recall@1 / @3 / @5\n")
    print("| class | " + " | ".join(modes) + " |")
    print("|---|" + "---|" * len(modes))
    for kind in CLASSES:
        cells = [" / ".join(f"{recall_at(ranks[(mode, size, kind)], cutoff):.2f}" for cutoff in CUTOFFS) for mode in modes]
        print(f"| {kind} | " + " | ".join(cells) + " |")
    return sized


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[200, 2000], help="memories per profile")
    parser.add_argument("--profiles", type=int, default=3, help="profiles of each size")
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--rounds", type=int, default=2, help="latency passes over every query")
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
    scopes, queries = build(db, args.sizes, args.profiles, args.seed)
    embed_seconds = embed_everything(db, embedder)
    items = sum(args.sizes) * args.profiles

    ranks = evaluate(db, scopes, queries, embedder)
    print(
        f"backend: {'SQLite' if db.is_sqlite else 'PostgreSQL'}; {args.profiles} profiles of each size "
        f"({', '.join(map(str, args.sizes))} memories); seed {args.seed}"
    )
    print(f"model load {load_seconds:.1f} s (excluded below); embedding {items} memories took {embed_seconds:.1f} s")
    for size in args.sizes:
        sized = print_quality(ranks, queries, size, MODES)
        samples = latency_ms(db, scopes, sized, embedder, args.rounds)
        print(
            f"\nhybrid Recall latency at {size} memories over {len(samples)} calls (default limits 20/5): "
            f"p50 {percentile(samples, 0.5):.1f} ms, p95 {percentile(samples, 0.95):.1f} ms, "
            f"p99 {percentile(samples, 0.99):.1f} ms, max {max(samples):.1f} ms"
        )


if __name__ == "__main__":
    main()
