"""Memory rules: observations with revisions, conversation summaries, and Recall.

Writes are committed before the 202 goes out, so a client reads its own writes at once;
only the embeddings are left to the background workers (``embed_pending``).
"""

import logging
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone

from sqlalchemy import delete
from sqlalchemy.orm import Session

from convmem.database.engine import Database
from convmem.database.tables import (
    ConversationSummary,
    Observation,
    ObservationRevision,
    utcnow,
)
from convmem.kit.ids import Prefix, new_id
from convmem.kit.timefmt import iso
from convmem.memory import embeddings, repository
from convmem.memory.recall import (
    fuse,
    lexical_signal,
    query_terms,
    semantic_ranking,
    semantic_signal,
    term_coverage,
    top,
)
from convmem.memory.schemas import (
    MemoryRetrievalRequest,
    ObservationBase,
    ObservationCreateRequest,
    SummaryCore,
    SummaryCorePatch,
)
from convmem.profiles.addressing import ProfileRef, find_canonical
from convmem.web.auth import Principal
from convmem.web.dependencies import find_owned_store
from convmem.web.errors import not_found
from convmem.web.pagination import PageRequest, keyset, page_body

log = logging.getLogger("convmem.memory")

# The contract caps these arrays at 50 while pageSize goes to 1000: larger sizes are clamped.
MAX_PAGE_ITEMS = 50
# Query expansion: how many of a conversation's memories make the query, and how long it may get.
EXPANSION_MEMORIES = 10
EXPANSION_MAX_CHARS = 2000
EMBEDDING_BATCH = 32
BOTH_SIGNALS = frozenset({"lexical", "semantic"})


@dataclass(frozen=True)
class Scope:
    """The store and canonical profile a request addresses, and the profile id it used."""

    store_pk: int
    profile: ProfileRef
    requested_sid: str

    @property
    def moved_headers(self) -> dict[str, str]:
        """``Canonical-Profile-Id`` when the request named a profile that was merged away."""
        return {} if self.profile.sid == self.requested_sid else {"Canonical-Profile-Id": self.profile.sid}


def resolve(session: Session, principal: Principal, store_sid: str, profile_sid: str, *, follow: bool) -> Scope:
    store = find_owned_store(session, principal, store_sid)
    return Scope(store.id, find_canonical(session, store.id, profile_sid, follow=follow), profile_sid)


def clamp(page: PageRequest) -> PageRequest:
    return replace(page, size=min(page.size, MAX_PAGE_ITEMS))


def memory_page(key: str, items: list[dict], result, page: PageRequest) -> dict:
    """The list body; ObservationsMeta needs pageSize >= 1, so an empty page reports the size asked for."""
    body = page_body(key, items, result)
    if not items:
        body["meta"]["pageSize"] = page.size
    return body


# --- observations ---------------------------------------------------------------------


def observation_body(row: Observation | ObservationRevision, observation_sid: str) -> dict:
    """ObservationInfo, of the observation or of one of its revisions (which share its id)."""
    body = {"id": observation_sid, "content": row.content, "source": row.source}
    body["occurredAt"] = iso(row.occurred_at)
    if row.conversation_ids:
        body["conversationIds"] = list(row.conversation_ids)
    body["createdAt"] = iso(row.created_at)
    body["updatedAt"] = iso(row.updated_at)
    return body


def create_observations(session: Session, scope: Scope, items: list[ObservationCreateRequest]) -> None:
    now = utcnow()
    for item in items:
        repository.add_observation(
            session,
            Observation(
                sid=new_id(Prefix.OBSERVATION),
                store_id=scope.store_pk,
                profile_id=scope.profile.pk,
                content=item.content,
                source=item.source,
                occurred_at=item.occurredAt,
                conversation_ids=list(item.conversationIds),
                created_at=now,
                updated_at=now,
            ),
        )


def list_observations(session: Session, scope: Scope, page: PageRequest) -> dict:
    filters = page.filters
    stmt = repository.observations_listing(
        scope.profile.pk,
        filters.get("source"),
        _instant(filters.get("createdAfter")),
        _instant(filters.get("createdBefore")),
        filters.get("conversationId"),
    )
    page = clamp(page)
    result = keyset(session, stmt, [Observation.id], page, key_of=lambda row: row[0].id)
    return memory_page("observations", [observation_body(row[0], row[0].sid) for row in result.items], result, page)


def get_observation(session: Session, scope: Scope, observation_sid: str) -> Observation:
    observation = repository.find_observation(session, scope.profile.pk, observation_sid)
    if observation is None:
        raise not_found(f"Observation '{observation_sid}' was not found for profile '{scope.requested_sid}'")
    return observation


def patch_observation(session: Session, scope: Scope, observation_sid: str, patch: ObservationBase) -> None:
    """Apply the fields sent; a change records the new full state as a revision."""
    observation = get_observation(session, scope, observation_sid)
    wanted = {
        "content": patch.content,
        "source": patch.source,
        "occurred_at": patch.occurredAt,
        "conversation_ids": patch.conversationIds,
    }
    changed = _apply(observation, wanted)
    if changed:
        repository.observation_changed(session, observation, content_changed="content" in changed)


def _apply(record, wanted: dict) -> set[str]:
    """Set the fields sent (not None) whose value differs; ``updated_at`` moves only on a
    change. Returns the changed fields."""
    changes = {field: value for field, value in wanted.items() if value is not None and _differs(getattr(record, field), value)}
    for field, value in changes.items():
        setattr(record, field, value)
    if changes:
        record.updated_at = utcnow()
    return set(changes)


def delete_observation(session: Session, scope: Scope, observation_sid: str) -> None:
    observation = get_observation(session, scope, observation_sid)
    session.execute(delete(Observation).where(Observation.id == observation.id))


def list_revisions(session: Session, scope: Scope, observation_sid: str, page: PageRequest) -> dict:
    observation = get_observation(session, scope, observation_sid)
    # Newest first, always: the operation has no orderBy.
    page = replace(clamp(page), order="DESC")
    stmt = repository.revisions_listing(observation.id)
    result = keyset(session, stmt, [ObservationRevision.id], page, key_of=lambda row: row[0].id)
    revisions = [observation_body(row[0], observation.sid) for row in result.items]
    return memory_page("revisions", revisions, result, page)


# --- summaries ------------------------------------------------------------------------


def summary_body(summary: ConversationSummary) -> dict:
    body = {"id": summary.sid, "conversationId": summary.conversation_id, "content": summary.content}
    if summary.source is not None:
        body["source"] = summary.source
    body["occurredAt"] = iso(summary.occurred_at)
    body["createdAt"] = iso(summary.created_at)
    body["updatedAt"] = iso(summary.updated_at)
    return body


def create_summaries(session: Session, scope: Scope, items: list[SummaryCore]) -> None:
    now = utcnow()
    for item in items:
        repository.add_summary(
            session,
            ConversationSummary(
                sid=new_id(Prefix.SUMMARY),
                store_id=scope.store_pk,
                profile_id=scope.profile.pk,
                content=item.content,
                source=item.source,
                occurred_at=item.occurredAt,
                conversation_id=item.conversationId,
                created_at=now,
                updated_at=now,
            ),
        )


def list_summaries(session: Session, scope: Scope, page: PageRequest) -> dict:
    stmt = repository.summaries_listing(scope.profile.pk, page.filters.get("conversationId"))
    page = clamp(page)
    result = keyset(session, stmt, [ConversationSummary.id], page, key_of=lambda row: row[0].id)
    return memory_page("summaries", [summary_body(row[0]) for row in result.items], result, page)


def get_summary(session: Session, scope: Scope, summary_sid: str) -> ConversationSummary:
    summary = repository.find_summary(session, scope.profile.pk, summary_sid)
    if summary is None:
        raise not_found(f"Conversation summary '{summary_sid}' was not found for profile '{scope.requested_sid}'")
    return summary


def patch_summary(session: Session, scope: Scope, summary_sid: str, patch: SummaryCorePatch) -> None:
    summary = get_summary(session, scope, summary_sid)
    wanted = {
        "content": patch.content,
        "source": patch.source,
        "occurred_at": patch.occurredAt,
        "conversation_id": patch.conversationId,
    }
    changed = _apply(summary, wanted)
    if changed:
        repository.summary_changed(session, summary, content_changed="content" in changed)


def delete_summary(session: Session, scope: Scope, summary_sid: str) -> None:
    summary = get_summary(session, scope, summary_sid)
    session.execute(delete(ConversationSummary).where(ConversationSummary.id == summary.id))


# --- recall ---------------------------------------------------------------------------


def recall(
    session: Session,
    scope: Scope,
    request: MemoryRetrievalRequest,
    embedder: embeddings.Embedder | None,
    *,
    sqlite: bool,
    signals: frozenset[str] = BOTH_SIGNALS,
) -> dict:
    """The MemoryRetrievalResponse; ``signals`` narrows ranking to one signal (the benchmark's baselines)."""
    started = time.perf_counter()
    canonical_pk = scope.profile.pk
    query = (request.query or "").strip()
    if not query and request.conversationId:
        texts = repository.conversation_texts(session, canonical_pk, request.conversationId, EXPANSION_MEMORIES)
        query = " ".join(texts)[:EXPANSION_MAX_CHARS]
    kinds = (
        ("observations", Observation, request.observationsLimit, lambda row: observation_body(row, row.sid)),
        ("summaries", ConversationSummary, request.summariesLimit, summary_body),
    )
    response: dict = {"observations": [], "summaries": [], "communications": []}
    begin, end = request.beginDate, request.endDate

    if not query:
        mode = "recent"
        for key, model, limit, body in kinds:
            if limit:
                response[key] = [
                    body(row) for row in repository.most_recent(session, model, canonical_pk, begin, end, limit)
                ]
    else:
        use_lexical = "lexical" in signals
        use_semantic = "semantic" in signals and embedder is not None
        mode = "hybrid" if use_lexical and use_semantic else ("semantic" if use_semantic else "lexical")
        terms = query_terms(query) if use_lexical else []
        query_vector = embedder.encode([query])[0] if use_semantic else None
        for key, model, limit, body in kinds:
            if not limit:
                continue
            ranked_signals = []
            if terms:
                lexical = repository.lexical_evidence(session, model, canonical_pk, terms, begin, end, sqlite=sqlite)
                coverage = term_coverage(lexical.matches_per_term, lexical.population)
                ranked_signals.append(lexical_signal(lexical.ranked, coverage))
            if query_vector is not None:
                vectors = repository.embedded_vectors(session, model, canonical_pk, begin, end, embedder.name)
                ranked_signals.append(semantic_signal(semantic_ranking(query_vector, vectors)))
            best = top(fuse(ranked_signals), limit, request.relevanceThreshold)
            rows = repository.by_keys(session, model, [item_key for item_key, _ in best])
            response[key] = [{**body(rows[item_key]), "score": round(score, 4)} for item_key, score in best]

    elapsed_ms = int((time.perf_counter() - started) * 1000)
    response["meta"] = {"queryTime": elapsed_ms, "searchMode": mode}
    return response


# --- background -----------------------------------------------------------------------


def embed_pending(db: Database) -> bool:
    """Worker task: embed a batch of memories still waiting for a vector. False when idle."""
    embedder = embeddings.get_embedder()
    if embedder is None:
        return False
    with db.reading() as session:
        pending = repository.pending_embeddings(session, EMBEDDING_BATCH)
    if not pending:
        # Load the model ahead of the first Recall when there is memory to search.
        if not embedder.loaded and _has_memories(db):
            embedder.encode(["warm up"])
        return False
    vectors = embedder.encode([text for _, _, text in pending])
    with db.writing() as session:
        repository.store_embeddings(
            session,
            [
                (embedding_id, generation, vectors[i].tobytes())
                for i, (embedding_id, generation, _) in enumerate(pending)
            ],
            embedder.name,
        )
    return True


def _has_memories(db: Database) -> bool:
    with db.reading() as session:
        return repository.has_memories(session)


def _differs(current, new) -> bool:
    # SQLite hands timestamps back without their zone; they are stored as UTC.
    if isinstance(current, datetime) and current.tzinfo is None:
        current = current.replace(tzinfo=timezone.utc)
    return current != new


def _instant(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
