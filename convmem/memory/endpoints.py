"""``/v1/Stores/{storeId}/Profiles/{profileId}/``: Observations, Revisions, ConversationSummaries, Recall,
and Communications (an extension feeding Recall's session memory).

Merged profile ids: the lists answer 301 and the writes and Recall 308 (the contract's
listing); fetching one observation or summary and listing revisions serve the data of the
canonical profile with ``Canonical-Profile-Id``.
"""

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Request, Response

from convmem.database.tables import (
    Communication,
    ConversationSummary,
    Observation,
    ObservationRevision,
)
from convmem.kit.timefmt import iso
from convmem.memory import communications, observations, summaries
from convmem.memory.embeddings import Embedder
from convmem.memory.memory_cache import MemoryCache
from convmem.memory.recall import Recalled
from convmem.memory.recall import recall as recall_memories
from convmem.memory.schemas import (
    CONVERSATION_ID,
    SOURCE,
    AddCommunicationsRequest,
    CommunicationInfo,
    CreateObservationsRequest,
    CreateSummariesRequest,
    ListMeta,
    MemoryAccepted,
    MemoryRetrievalRequest,
    MemoryRetrievalResponse,
    ObservationBase,
    ObservationInfo,
    ObservationList,
    RecallMeta,
    RecallObservationInfo,
    RecallSummaryInfo,
    RevisionList,
    SummaryCorePatch,
    SummaryInfo,
    SummaryList,
    Timestamp,
)
from convmem.memory.scope import MemoryPage, Scope, resolve
from convmem.web.dependencies import (
    LockedStore,
    OwnedStore,
    ReadSession,
    WriteSession,
)
from convmem.web.pagination import parse_page_request
from convmem.web.params import OBSERVATION_ID, PROFILE_ID, SUMMARY_ID

router = APIRouter(prefix="/v1/Stores/{storeId}/Profiles/{profileId}", tags=["Memory"])

ProfileId = Annotated[str, PROFILE_ID]
ObservationId = Annotated[str, OBSERVATION_ID]
SummaryId = Annotated[str, SUMMARY_ID]
ConversationFilter = Annotated[str | None, Query(pattern=CONVERSATION_ID)]
PAGE_SIZE_LIMIT = 1000


def app_embedder(request: Request) -> Embedder | None:
    """The app's one embedder (None: recall is lexical-only)."""
    return request.app.state.embedder


AppEmbedder = Annotated[Embedder | None, Depends(app_embedder)]


def app_memory_cache(request: Request) -> MemoryCache:
    """The app's one cache of decoded profile vectors, shared by its Recalls."""
    return request.app.state.memory_cache


AppMemoryCache = Annotated[MemoryCache, Depends(app_memory_cache)]


def _observation(row: Observation | ObservationRevision, observation_sid: str, info=ObservationInfo, **extra):
    return info(
        id=observation_sid,
        content=row.content,
        source=row.source,
        occurredAt=iso(row.occurred_at),
        conversationIds=list(row.conversation_ids) or None,
        createdAt=iso(row.created_at),
        updatedAt=iso(row.updated_at),
        **extra,
    )


def _summary(row: ConversationSummary, info=SummaryInfo, **extra):
    return info(
        id=row.sid,
        conversationId=row.conversation_id,
        content=row.content,
        source=row.source,
        occurredAt=iso(row.occurred_at),
        createdAt=iso(row.created_at),
        updatedAt=iso(row.updated_at),
        **extra,
    )


def _meta(key: str, found: MemoryPage) -> ListMeta:
    return ListMeta(
        key=key,
        pageSize=len(found.rows) or found.size_asked,
        nextToken=found.page.next_token,
        previousToken=found.page.previous_token,
    )


def _name_canonical(response: Response, scope: Scope) -> None:
    if scope.moved:
        response.headers["Canonical-Profile-Id"] = scope.profile.sid


# --- observations ---------------------------------------------------------------------


@router.post("/Observations", status_code=202, response_model=MemoryAccepted)
def create_observations(
    session: WriteSession,
    store: LockedStore,
    embedder: AppEmbedder,
    profileId: ProfileId,
    body: CreateObservationsRequest = Body(),
):
    observations.create(session, resolve(session, store, profileId, follow=False), body.observations, embedder)
    return MemoryAccepted(message="Observations creation accepted")


@router.get("/Observations", response_model=ObservationList, response_model_exclude_none=True)
def list_observations(
    request: Request,
    session: ReadSession,
    store: OwnedStore,
    profileId: ProfileId,
    source: Annotated[str | None, Query(min_length=1, max_length=100, pattern=SOURCE)] = None,
    createdAfter: Annotated[Timestamp | None, Query()] = None,
    createdBefore: Annotated[Timestamp | None, Query()] = None,
    conversationId: ConversationFilter = None,
):
    filters = {
        "source": source,
        "createdAfter": createdAfter.isoformat() if createdAfter else None,
        "createdBefore": createdBefore.isoformat() if createdBefore else None,
        "conversationId": conversationId,
    }
    page = parse_page_request(
        request, max_size=PAGE_SIZE_LIMIT, filters={name: value for name, value in filters.items() if value}
    )
    found = observations.list_page(session, resolve(session, store, profileId, follow=False), page)
    return ObservationList(
        observations=[_observation(row, row.sid) for row in found.rows], meta=_meta("observations", found)
    )


@router.get("/Observations/{observationId}", response_model=ObservationInfo, response_model_exclude_none=True)
def fetch_observation(
    response: Response, session: ReadSession, store: OwnedStore, profileId: ProfileId, observationId: ObservationId
):
    scope = resolve(session, store, profileId, follow=True)
    observation = observations.get(session, scope, observationId)
    _name_canonical(response, scope)
    return _observation(observation, observation.sid)


@router.patch("/Observations/{observationId}", status_code=202, response_model=MemoryAccepted)
def patch_observation(
    session: WriteSession,
    store: LockedStore,
    embedder: AppEmbedder,
    profileId: ProfileId,
    observationId: ObservationId,
    body: ObservationBase = Body(),
):
    observations.patch(session, resolve(session, store, profileId, follow=False), observationId, body, embedder)
    return MemoryAccepted(message="Observation update accepted")


@router.delete("/Observations/{observationId}", status_code=202, response_model=MemoryAccepted)
def delete_observation(session: WriteSession, store: LockedStore, profileId: ProfileId, observationId: ObservationId):
    observations.remove(session, resolve(session, store, profileId, follow=False), observationId)
    return MemoryAccepted(message="Observation deletion accepted")


@router.get("/Observations/{observationId}/Revisions", response_model=RevisionList, response_model_exclude_none=True)
def list_revisions(
    request: Request,
    response: Response,
    session: ReadSession,
    store: OwnedStore,
    profileId: ProfileId,
    observationId: ObservationId,
):
    page = parse_page_request(request, max_size=PAGE_SIZE_LIMIT)
    scope = resolve(session, store, profileId, follow=True)
    found = observations.list_revisions(session, scope, observationId, page)
    _name_canonical(response, scope)
    # The observation was found by this id: its revisions carry it.
    return RevisionList(revisions=[_observation(row, observationId) for row in found.rows], meta=_meta("revisions", found))


# --- conversation summaries -----------------------------------------------------------


@router.post("/ConversationSummaries", status_code=202, response_model=MemoryAccepted)
def create_summaries(
    session: WriteSession,
    store: LockedStore,
    embedder: AppEmbedder,
    profileId: ProfileId,
    body: CreateSummariesRequest = Body(),
):
    summaries.create(session, resolve(session, store, profileId, follow=False), body.summaries, embedder)
    return MemoryAccepted(message="Summaries creation accepted")


@router.get("/ConversationSummaries", response_model=SummaryList, response_model_exclude_none=True)
def list_summaries(
    request: Request, session: ReadSession, store: OwnedStore, profileId: ProfileId, conversationId: ConversationFilter = None
):
    filters = {"conversationId": conversationId} if conversationId else {}
    page = parse_page_request(request, max_size=PAGE_SIZE_LIMIT, filters=filters)
    found = summaries.list_page(session, resolve(session, store, profileId, follow=False), page)
    return SummaryList(summaries=[_summary(row) for row in found.rows], meta=_meta("summaries", found))


@router.get("/ConversationSummaries/{summaryId}", response_model=SummaryInfo, response_model_exclude_none=True)
def fetch_summary(response: Response, session: ReadSession, store: OwnedStore, profileId: ProfileId, summaryId: SummaryId):
    scope = resolve(session, store, profileId, follow=True)
    summary = summaries.get(session, scope, summaryId)
    _name_canonical(response, scope)
    return _summary(summary)


@router.patch("/ConversationSummaries/{summaryId}", status_code=202, response_model=MemoryAccepted)
def patch_summary(
    session: WriteSession,
    store: LockedStore,
    embedder: AppEmbedder,
    profileId: ProfileId,
    summaryId: SummaryId,
    body: SummaryCorePatch = Body(),
):
    summaries.patch(session, resolve(session, store, profileId, follow=False), summaryId, body, embedder)
    return MemoryAccepted(message="Conversation summary update accepted")


@router.delete("/ConversationSummaries/{summaryId}", status_code=202, response_model=MemoryAccepted)
def delete_summary(session: WriteSession, store: LockedStore, profileId: ProfileId, summaryId: SummaryId):
    summaries.remove(session, resolve(session, store, profileId, follow=False), summaryId)
    return MemoryAccepted(message="Conversation summary deletion accepted")


# --- communications (extension) ---------------------------------------------------------


@router.post("/Communications", status_code=202, response_model=MemoryAccepted)
def add_communications(
    session: WriteSession, store: LockedStore, profileId: ProfileId, body: AddCommunicationsRequest = Body()
):
    """Extension: a conversation's communications, served by Recall as session memory (``communicationsLimit``)
    and used to derive a query when a Recall names the conversation without one."""
    scope = resolve(session, store, profileId, follow=False)
    communications.add(session, scope, body.conversationId, body.communications)
    return MemoryAccepted(message="Communications accepted")


def _communication(row: Communication) -> CommunicationInfo:
    return CommunicationInfo(
        id=row.sid,
        channelId=row.channel_id,
        content={"text": row.text},
        createdAt=iso(row.created_at),
        updatedAt=iso(row.updated_at),
        author=row.author,
        recipients=row.recipients,
    )


# --- recall ---------------------------------------------------------------------------


@router.post("/Recall", response_model=MemoryRetrievalResponse, response_model_exclude_none=True)
def recall(
    session: ReadSession,
    store: OwnedStore,
    embedder: AppEmbedder,
    memory_cache: AppMemoryCache,
    profileId: ProfileId,
    body: MemoryRetrievalRequest | None = Body(None),
):
    scope = resolve(session, store, profileId, follow=False)
    request = body or MemoryRetrievalRequest()
    found = recall_memories(session, scope, request, embedder, memory_cache=memory_cache)
    return recall_answer(found)


def recall_answer(found: Recalled) -> MemoryRetrievalResponse:
    return MemoryRetrievalResponse(
        observations=[_observation(row, row.sid, RecallObservationInfo, score=score) for row, score in found.observations],
        summaries=[_summary(row, RecallSummaryInfo, score=score) for row, score in found.summaries],
        communications=[_communication(row) for row in found.communications],
        meta=RecallMeta(queryTime=found.query_time_ms, searchMode=found.search_mode),
    )
