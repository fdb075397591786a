"""Conversation summaries: one per write, editable, each with its embedding computed in the write."""

from sqlalchemy import delete
from sqlalchemy.orm import Session

from convmem.database.tables import ConversationSummary, utcnow
from convmem.kit.ids import Prefix, new_id
from convmem.memory import repository
from convmem.memory.embeddings import Embedder, vectors_for
from convmem.memory.schemas import SummaryCore, SummaryCorePatch
from convmem.memory.scope import MemoryPage, Scope, apply_patch, clamp
from convmem.web.errors import not_found
from convmem.web.pagination import PageRequest, keyset


def create(session: Session, scope: Scope, items: list[SummaryCore], embedder: Embedder | None) -> None:
    now = utcnow()
    vectors = vectors_for(embedder, [item.content for item in items])
    for item, vector in zip(items, vectors, strict=True):
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
            vector,
        )


def list_page(session: Session, scope: Scope, page: PageRequest) -> MemoryPage:
    stmt = repository.summaries_listing(scope.profile.pk, page.filters.get("conversationId"))
    page = clamp(page)
    result = keyset(session, stmt, [ConversationSummary.id], page, key_of=lambda row: row[0].id)
    return MemoryPage([row[0] for row in result.items], result, page.size)


def get(session: Session, scope: Scope, summary_sid: str) -> ConversationSummary:
    summary = repository.find_summary(session, scope.profile.pk, summary_sid)
    if summary is None:
        raise not_found(f"Conversation summary '{summary_sid}' was not found for profile '{scope.requested_sid}'")
    return summary


def patch(session: Session, scope: Scope, summary_sid: str, fields: SummaryCorePatch, embedder: Embedder | None) -> None:
    summary = get(session, scope, summary_sid)
    wanted = {
        "content": fields.content,
        "source": fields.source,
        "occurred_at": fields.occurredAt,
        "conversation_id": fields.conversationId,
    }
    changed = apply_patch(summary, wanted)
    if changed:
        content_changed = "content" in changed
        (vector,) = vectors_for(embedder, [summary.content]) if content_changed else (None,)
        repository.summary_changed(session, summary, content_changed, vector)


def remove(session: Session, scope: Scope, summary_sid: str) -> None:
    summary = get(session, scope, summary_sid)
    session.execute(delete(ConversationSummary).where(ConversationSummary.id == summary.id))
