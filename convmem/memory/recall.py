"""Recall: the memories of a profile that answer a query, or its most recent ones.

Without a query (nor a conversation to build one from) the newest memories come back
unscored. With one, each kind of memory is ranked by the signals in use (``ranking``):
full-text search always (``lexical``, over the profile's memories in the process), the
embedder's vectors when there is one. A Recall naming a conversation also answers its recent
communications (session memory).
"""

import time
from dataclasses import dataclass

from sqlalchemy.orm import Session

from convmem.database.tables import Communication, ConversationSummary, Observation
from convmem.memory import repository
from convmem.memory.embeddings import Embedder
from convmem.memory.memory_cache import MemoryCache, ProfileMemories
from convmem.memory.ranking import (
    fuse,
    identifier_signal,
    lexical_signal,
    query_terms,
    semantic_ranking,
    semantic_signal,
    term_coverage,
    top,
)
from convmem.memory.schemas import MemoryRetrievalRequest
from convmem.memory.scope import Scope

# Query expansion: how many of a conversation's communications (or memories) make the query,
# and how long it may get.
EXPANSION_ITEMS = 10
EXPANSION_MAX_CHARS = 2000
BOTH_SIGNALS = frozenset({"lexical", "semantic"})


@dataclass(frozen=True)
class Recalled:
    """The rows found, best (or newest) first, each with its score (None when unranked)."""

    observations: list[tuple[Observation, float | None]]
    summaries: list[tuple[ConversationSummary, float | None]]
    communications: list[Communication]  # oldest first
    search_mode: str
    query_time_ms: int


def recall(
    session: Session,
    scope: Scope,
    request: MemoryRetrievalRequest,
    embedder: Embedder | None,
    *,
    signals: frozenset[str] = BOTH_SIGNALS,
    memory_cache: MemoryCache | None = None,
) -> Recalled:
    """``signals`` narrows ranking to one signal (the benchmark's baselines); ``memory_cache``
    keeps profiles' tokenised texts and decoded vectors between calls (the process's one, shared)."""
    started = time.perf_counter()
    canonical_pk = scope.profile.pk
    query = (request.query or "").strip()
    if not query and request.conversationId:
        query = _expanded_query(session, canonical_pk, request.conversationId)
    communications = []
    if request.communicationsLimit and request.conversationId:
        communications = repository.recent_communications(
            session, canonical_pk, request.conversationId, request.communicationsLimit
        )
    kinds = {Observation: request.observationsLimit, ConversationSummary: request.summariesLimit}
    found: dict = {Observation: [], ConversationSummary: []}
    begin, end = request.beginDate, request.endDate

    if not query:
        mode = "recent"
        for model, limit in kinds.items():
            if limit:
                rows = repository.most_recent(session, model, canonical_pk, begin, end, limit)
                found[model] = [(row, None) for row in rows]
    else:
        use_lexical = "lexical" in signals
        use_semantic = "semantic" in signals and embedder is not None
        mode = "hybrid" if use_lexical and use_semantic else ("semantic" if use_semantic else "lexical")
        terms = query_terms(query) if use_lexical else []
        query_vector = embedder.encode([query])[0] if use_semantic else None
        model_name = embedder.name if embedder is not None else None
        for model, limit in kinds.items():
            if not limit:
                continue
            memories = _profile_memories(session, model, canonical_pk, begin, end, model_name, memory_cache)
            ranked_signals = []
            if terms:
                lexical = memories.lexical.evidence(terms)
                coverage = term_coverage(lexical.matches_per_term, lexical.population)
                judged = memories.judged if query_vector is not None else frozenset()
                ranked_signals.append(lexical_signal(lexical.ranked, coverage, judged))
            if query_vector is not None:
                ranked_signals.append(semantic_signal(semantic_ranking(query_vector, memories.keys, memories.matrix)))
            if terms:
                identifiers = identifier_signal(terms, lexical.matches_per_term, ranked_signals)
                if identifiers is not None:
                    ranked_signals.append(identifiers)
            # Ties: the better full-text rank, then the more similar embedding.
            tie_breaks = [signal.order for signal in ranked_signals]
            best = top(fuse(ranked_signals), limit, request.relevanceThreshold, tie_breaks)
            rows = repository.by_keys(session, model, [item_key for item_key, _ in best])
            found[model] = [(rows[item_key], score) for item_key, score in best]

    elapsed_ms = int((time.perf_counter() - started) * 1000)
    return Recalled(found[Observation], found[ConversationSummary], communications, mode, elapsed_ms)


def _profile_memories(
    session: Session,
    model,
    canonical_pk: int,
    begin,
    end,
    model_name: str | None,
    memory_cache: MemoryCache | None,
) -> ProfileMemories:
    """The memories in scope, from the cache while its fingerprint holds, or extended there by
    the memories added since. A date range reads them directly: moving a memory's date changes
    no fingerprint."""
    if memory_cache is None or begin is not None or end is not None:
        return ProfileMemories.of(None, repository.searched_memories(session, model, canonical_pk, model_name, begin, end)[1])
    cache_key = (model.__tablename__, canonical_pk, model_name)
    fingerprint = repository.vector_fingerprint(session, model, canonical_pk, model_name)
    cached = memory_cache.get(cache_key)
    if cached is not None and cached.fingerprint == fingerprint:
        return cached
    entry = None
    if cached is not None and cached.fingerprint.newest_key is not None:
        # Mostly a profile changes by memories written since (an agent writes, then recalls):
        # read those alone, and keep the entry if with them it has the fingerprint just read,
        # which it has only if none of its own memories changed.
        added_fingerprint, added = repository.searched_memories(
            session, model, canonical_pk, model_name, after_key=cached.fingerprint.newest_key
        )
        if added and cached.fingerprint.followed_by(added_fingerprint) == fingerprint:
            entry = cached.extended(fingerprint, added)
    if entry is None:
        entry = ProfileMemories.of(*repository.searched_memories(session, model, canonical_pk, model_name))
    memory_cache.put(cache_key, entry)
    return entry


def _expanded_query(session: Session, canonical_pk: int, conversation_id: str) -> str:
    """The query a conversation stands for: the text of its last 10 communications (the newest
    kept when they run long), or, when none were sent, its newest memories."""
    said = repository.recent_communications(session, canonical_pk, conversation_id, EXPANSION_ITEMS)
    texts = [communication.text for communication in said if communication.text]
    if texts:
        return " ".join(texts)[-EXPANSION_MAX_CHARS:].strip()
    texts = repository.conversation_texts(session, canonical_pk, conversation_id, EXPANSION_ITEMS)
    return " ".join(texts)[:EXPANSION_MAX_CHARS]
