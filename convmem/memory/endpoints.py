"""``/v1/Stores/{storeId}/Profiles/{profileId}/``: Observations, Revisions, ConversationSummaries, Recall.

Merged profile ids: the lists answer 301 and the writes and Recall 308 (the contract's
listing); fetching one observation or summary and listing revisions serve the data of the
canonical profile with ``Canonical-Profile-Id``.
"""

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import JSONResponse

from convmem.memory import embeddings, service
from convmem.memory.schemas import (
    CONVERSATION_ID,
    SOURCE,
    CreateObservationsRequest,
    CreateSummariesRequest,
    MemoryRetrievalRequest,
    ObservationBase,
    SummaryCorePatch,
    Timestamp,
)
from convmem.web.auth import Principal, current_principal
from convmem.web.pagination import parse_page_request
from convmem.web.params import OBSERVATION_ID, PROFILE_ID, STORE_ID, SUMMARY_ID

router = APIRouter(prefix="/v1/Stores/{storeId}/Profiles/{profileId}", tags=["Memory"])

StoreId = Annotated[str, STORE_ID]
ProfileId = Annotated[str, PROFILE_ID]
ObservationId = Annotated[str, OBSERVATION_ID]
SummaryId = Annotated[str, SUMMARY_ID]
ConversationFilter = Annotated[str | None, Query(pattern=CONVERSATION_ID)]
Caller = Annotated[Principal, Depends(current_principal)]
PAGE_SIZE_LIMIT = 1000


def _accepted(message: str) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=202)


# --- observations ---------------------------------------------------------------------


@router.post("/Observations", status_code=202)
def create_observations(
    request: Request, storeId: StoreId, profileId: ProfileId, caller: Caller, body: CreateObservationsRequest = Body()
):
    with request.app.state.db.writing() as session:
        scope = service.resolve(session, caller, storeId, profileId, follow=False)
        service.create_observations(session, scope, body.observations)
    return _accepted("Observations creation accepted")


@router.get("/Observations")
def list_observations(
    request: Request,
    storeId: StoreId,
    profileId: ProfileId,
    caller: Caller,
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
    with request.app.state.db.reading() as session:
        scope = service.resolve(session, caller, storeId, profileId, follow=False)
        return service.list_observations(session, scope, page)


@router.get("/Observations/{observationId}")
def fetch_observation(
    request: Request, storeId: StoreId, profileId: ProfileId, observationId: ObservationId, caller: Caller
):
    with request.app.state.db.reading() as session:
        scope = service.resolve(session, caller, storeId, profileId, follow=True)
        observation = service.get_observation(session, scope, observationId)
        body = service.observation_body(observation, observation.sid)
    return JSONResponse(body, headers=scope.moved_headers)


@router.patch("/Observations/{observationId}", status_code=202)
def patch_observation(
    request: Request,
    storeId: StoreId,
    profileId: ProfileId,
    observationId: ObservationId,
    caller: Caller,
    body: ObservationBase = Body(),
):
    with request.app.state.db.writing() as session:
        scope = service.resolve(session, caller, storeId, profileId, follow=False)
        service.patch_observation(session, scope, observationId, body)
    return _accepted("Observation update accepted")


@router.delete("/Observations/{observationId}", status_code=202)
def delete_observation(
    request: Request, storeId: StoreId, profileId: ProfileId, observationId: ObservationId, caller: Caller
):
    with request.app.state.db.writing() as session:
        scope = service.resolve(session, caller, storeId, profileId, follow=False)
        service.delete_observation(session, scope, observationId)
    return _accepted("Observation deletion accepted")


@router.get("/Observations/{observationId}/Revisions")
def list_revisions(
    request: Request, storeId: StoreId, profileId: ProfileId, observationId: ObservationId, caller: Caller
):
    page = parse_page_request(request, max_size=PAGE_SIZE_LIMIT)
    with request.app.state.db.reading() as session:
        scope = service.resolve(session, caller, storeId, profileId, follow=True)
        body = service.list_revisions(session, scope, observationId, page)
    return JSONResponse(body, headers=scope.moved_headers)


# --- conversation summaries -----------------------------------------------------------


@router.post("/ConversationSummaries", status_code=202)
def create_summaries(
    request: Request, storeId: StoreId, profileId: ProfileId, caller: Caller, body: CreateSummariesRequest = Body()
):
    with request.app.state.db.writing() as session:
        scope = service.resolve(session, caller, storeId, profileId, follow=False)
        service.create_summaries(session, scope, body.summaries)
    return _accepted("Summaries creation accepted")


@router.get("/ConversationSummaries")
def list_summaries(
    request: Request, storeId: StoreId, profileId: ProfileId, caller: Caller, conversationId: ConversationFilter = None
):
    filters = {"conversationId": conversationId} if conversationId else {}
    page = parse_page_request(request, max_size=PAGE_SIZE_LIMIT, filters=filters)
    with request.app.state.db.reading() as session:
        scope = service.resolve(session, caller, storeId, profileId, follow=False)
        return service.list_summaries(session, scope, page)


@router.get("/ConversationSummaries/{summaryId}")
def fetch_summary(request: Request, storeId: StoreId, profileId: ProfileId, summaryId: SummaryId, caller: Caller):
    with request.app.state.db.reading() as session:
        scope = service.resolve(session, caller, storeId, profileId, follow=True)
        body = service.summary_body(service.get_summary(session, scope, summaryId))
    return JSONResponse(body, headers=scope.moved_headers)


@router.patch("/ConversationSummaries/{summaryId}", status_code=202)
def patch_summary(
    request: Request,
    storeId: StoreId,
    profileId: ProfileId,
    summaryId: SummaryId,
    caller: Caller,
    body: SummaryCorePatch = Body(),
):
    with request.app.state.db.writing() as session:
        scope = service.resolve(session, caller, storeId, profileId, follow=False)
        service.patch_summary(session, scope, summaryId, body)
    return _accepted("Conversation summary update accepted")


@router.delete("/ConversationSummaries/{summaryId}", status_code=202)
def delete_summary(request: Request, storeId: StoreId, profileId: ProfileId, summaryId: SummaryId, caller: Caller):
    with request.app.state.db.writing() as session:
        scope = service.resolve(session, caller, storeId, profileId, follow=False)
        service.delete_summary(session, scope, summaryId)
    return _accepted("Conversation summary deletion accepted")


# --- recall ---------------------------------------------------------------------------


@router.post("/Recall")
def recall(
    request: Request,
    storeId: StoreId,
    profileId: ProfileId,
    caller: Caller,
    body: MemoryRetrievalRequest | None = Body(None),
):
    db = request.app.state.db
    with db.reading() as session:
        scope = service.resolve(session, caller, storeId, profileId, follow=False)
        return service.recall(
            session, scope, body or MemoryRetrievalRequest(), embeddings.get_embedder(), sqlite=db.is_sqlite
        )
