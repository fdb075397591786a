"""Observations and their revisions: every change records the new full state as a revision.

Writes are committed before the 202 goes out, with the memory's embedding computed in the
request, so a client's next Recall finds its own writes, semantically too.
"""

from dataclasses import replace
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.orm import Session

from convmem.database.tables import Observation, ObservationRevision, utcnow
from convmem.kit.ids import Prefix, new_id
from convmem.memory import repository
from convmem.memory.embeddings import Embedder, vectors_for
from convmem.memory.schemas import ObservationBase, ObservationCreateRequest
from convmem.memory.scope import MemoryPage, Scope, apply_patch, clamp
from convmem.web.errors import not_found
from convmem.web.pagination import PageRequest, keyset


def create(session: Session, scope: Scope, items: list[ObservationCreateRequest], embedder: Embedder | None) -> None:
    now = utcnow()
    vectors = vectors_for(embedder, [item.content for item in items])
    for item, vector in zip(items, vectors, strict=True):
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
            vector,
        )


def list_page(session: Session, scope: Scope, page: PageRequest) -> MemoryPage:
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
    return MemoryPage([row[0] for row in result.items], result, page.size)


def get(session: Session, scope: Scope, observation_sid: str) -> Observation:
    observation = repository.find_observation(session, scope.profile.pk, observation_sid)
    if observation is None:
        raise not_found(f"Observation '{observation_sid}' was not found for profile '{scope.requested_sid}'")
    return observation


def patch(
    session: Session, scope: Scope, observation_sid: str, fields: ObservationBase, embedder: Embedder | None
) -> None:
    """Apply the fields sent; a change records the new full state as a revision."""
    observation = get(session, scope, observation_sid)
    wanted = {
        "content": fields.content,
        "source": fields.source,
        "occurred_at": fields.occurredAt,
        "conversation_ids": fields.conversationIds,
    }
    changed = apply_patch(observation, wanted)
    if changed:
        content_changed = "content" in changed
        (vector,) = vectors_for(embedder, [observation.content]) if content_changed else (None,)
        repository.observation_changed(session, observation, content_changed, vector)


def remove(session: Session, scope: Scope, observation_sid: str) -> None:
    observation = get(session, scope, observation_sid)
    session.execute(delete(Observation).where(Observation.id == observation.id))


def list_revisions(session: Session, scope: Scope, observation_sid: str, page: PageRequest) -> MemoryPage:
    """The observation's revisions (``ObservationRevision`` rows, which share its id)."""
    observation = get(session, scope, observation_sid)
    # Newest first, always: the operation has no orderBy.
    page = replace(clamp(page), order="DESC")
    stmt = repository.revisions_listing(observation.id)
    result = keyset(session, stmt, [ObservationRevision.id], page, key_of=lambda row: row[0].id)
    return MemoryPage([row[0] for row in result.items], result, page.size)


def _instant(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
