"""``/v1/Stores/{storeId}/Suggestions``: the review queue of likely duplicates (a convmem
extension, not part of Twilio's API, under a path it does not use; ``docs/extensions.md``)."""

from typing import Literal

from fastapi import APIRouter, Query, Request

from convmem.kit.timefmt import iso
from convmem.profiles.context import load_context
from convmem.suggestions import service
from convmem.suggestions.schemas import (
    AcceptedSuggestion,
    SuggestionBody,
    SuggestionList,
)
from convmem.web.dependencies import (
    LockedStore,
    OwnedStore,
    ReadSession,
    WriteClockDep,
    WriteSession,
)
from convmem.web.pagination import page_body, parse_page_request
from convmem.web.params import SUGGESTION_ID

router = APIRouter(prefix="/v1/Stores/{storeId}/Suggestions", tags=["Suggestions (convmem extension)"])


@router.get("", response_model=SuggestionList)
def list_suggestions(
    request: Request,
    session: ReadSession,
    store: OwnedStore,
    status: Literal["open", "accepted", "rejected", "closed"] | None = Query(default=None),
):
    page = parse_page_request(request, max_size=1000, filters={"status": status} if status else None)
    views, result = service.list_page(session, store.id, page.filters.get("status"), page)
    return page_body("suggestions", [_body(view) for view in views], result)


@router.get("/{suggestionId}", response_model=SuggestionBody)
def fetch_suggestion(session: ReadSession, store: OwnedStore, suggestionId: str = SUGGESTION_ID):
    return _body(service.fetch(session, store.id, suggestionId))


@router.post("/{suggestionId}/Accept", response_model=AcceptedSuggestion)
def accept_suggestion(session: WriteSession, store: LockedStore, clock: WriteClockDep, suggestionId: str = SUGGESTION_ID):
    """Merge the two profiles through the write path (the earlier created stays)."""
    view, survivor, merged = service.accept(session, load_context(session, store), suggestionId, clock)
    return AcceptedSuggestion(suggestion=_body(view), profileId=survivor, mergedProfileId=merged)


@router.post("/{suggestionId}/Reject", response_model=SuggestionBody)
def reject_suggestion(session: WriteSession, store: LockedStore, suggestionId: str = SUGGESTION_ID):
    """Keep the two profiles apart: a never-merge pair, honoured by resolution."""
    return _body(service.reject(session, store.id, suggestionId))


def _body(view: service.SuggestionView) -> SuggestionBody:
    return SuggestionBody(
        id=view.sid,
        profileIds=list(view.profile_sids),
        score=view.score,
        reasons=view.reasons,
        status=view.status,
        createdAt=iso(view.created_at),
        updatedAt=iso(view.updated_at),
    )
