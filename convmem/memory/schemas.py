"""Request and response bodies of the memory endpoints, as the contract defines them.

``extra="forbid"`` only where the contract sets ``additionalProperties: false`` (the two
batch wrappers); elsewhere unknown fields are ignored. Timestamps are accepted in any
RFC 3339 form and held as UTC; one without an offset is not RFC 3339 and is refused, as
is one that falls outside years 1 to 9999 once converted to UTC. Text refuses NUL, which
PostgreSQL cannot store, so both backends answer it alike.
"""

from datetime import datetime, timezone
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from convmem.kit.text import storable

CONVERSATION_ID = r"^conv_conversation_[0-7][0-9a-z]{25}$"
SOURCE = r"^[a-zA-Z0-9 _.-]+$"


def _must_be_text(value):
    # pydantic would also take a bare number as seconds since the epoch; RFC 3339 is text.
    if not isinstance(value, (str, datetime)):
        raise ValueError("must be an RFC 3339 date-time string, e.g. 2025-01-15T10:15:30Z")
    return value


def _in_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(timezone.utc)
    except OverflowError:
        raise ValueError("is outside years 0001 to 9999 once converted to UTC") from None


Timestamp = Annotated[AwareDatetime, BeforeValidator(_must_be_text), AfterValidator(_in_utc)]
Content = Annotated[str, Field(min_length=1, max_length=4096), AfterValidator(storable)]
Source = Annotated[str, Field(min_length=1, max_length=100, pattern=SOURCE)]
ConversationId = Annotated[str, Field(pattern=CONVERSATION_ID)]
ConversationIds = Annotated[list[ConversationId], Field(max_length=10)]


class _NoNulls(BaseModel):
    """Patch bodies: a field that is sent must hold a value (none of these can be cleared)."""

    def sent_fields(self) -> dict:
        return {name: getattr(self, name) for name in self.model_fields_set}

    @model_validator(mode="after")
    def _sent_fields_hold_values(self):
        for name in sorted(self.model_fields_set):
            if getattr(self, name) is None:
                raise ValueError(f"{name} may be left out but not set to null")
        return self


class ObservationCreateRequest(BaseModel):
    content: Content
    source: Source
    occurredAt: Timestamp
    conversationIds: ConversationIds = []


class CreateObservationsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    observations: Annotated[list[ObservationCreateRequest], Field(min_length=1, max_length=10)]


class ObservationBase(_NoNulls):
    content: Content | None = None
    source: Source | None = None
    occurredAt: Timestamp | None = None
    conversationIds: ConversationIds | None = None


class SummaryCore(BaseModel):
    content: Content
    occurredAt: Timestamp
    conversationId: ConversationId
    source: Source | None = None


class CreateSummariesRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    summaries: Annotated[list[SummaryCore], Field(min_length=1, max_length=10)]


class SummaryCorePatch(_NoNulls):
    content: Content | None = None
    occurredAt: Timestamp | None = None
    conversationId: ConversationId | None = None
    source: Source | None = None


# --- communications (session memory) ---------------------------------------------------
# Shaped like the contract's Communication, Participant and the inline recipient.

COMMUNICATION_ID = r"^conv_communication_[0-7][0-9a-z]{25}$"
PARTICIPANT_ID = r"^conv_participant_[0-7][0-9a-z]{25}$"
PROFILE_SID = r"^mem_profile_[0-7][0-9a-z]{25}$"
ParticipantType = Literal["HUMAN_AGENT", "CUSTOMER", "AI_AGENT", "AGENT", "UNKNOWN"]
Channel = Literal["VOICE", "SMS", "RCS", "EMAIL", "WHATSAPP", "CHAT", "API", "SYSTEM"]
StorableText = Annotated[str, AfterValidator(storable)]


class Participant(BaseModel):
    id: Annotated[str, Field(pattern=PARTICIPANT_ID)]
    name: Annotated[StorableText, Field(max_length=256)]
    type: ParticipantType | None = None
    profileId: Annotated[str, Field(pattern=PROFILE_SID)] | None = None
    address: Annotated[StorableText, Field(max_length=254)]
    channel: Channel


class Recipient(Participant):
    deliveryStatus: Literal["INITIATED", "IN_PROGRESS", "DELIVERED", "COMPLETED", "FAILED"] | None = None


class CommunicationContent(BaseModel):
    text: Annotated[StorableText, Field(max_length=8388608)] | None = None


class Communication(BaseModel):
    id: Annotated[str, Field(pattern=COMMUNICATION_ID)]
    channelId: Annotated[StorableText, Field(max_length=256)] | None = None
    content: CommunicationContent
    createdAt: Timestamp | None = None
    updatedAt: Timestamp | None = None
    author: Participant
    recipients: Annotated[list[Recipient], Field(max_length=100)]


class AddCommunicationsRequest(BaseModel):
    """Extension: a conversation's communications, for Recall's session memory and query expansion."""

    model_config = ConfigDict(extra="forbid")
    conversationId: ConversationId
    communications: Annotated[list[Communication], Field(min_length=1, max_length=100)]


class MemoryRetrievalRequest(BaseModel):
    conversationId: ConversationId | None = None
    query: Annotated[str, Field(max_length=1024)] | None = None
    beginDate: Timestamp | None = None
    endDate: Timestamp | None = None
    communicationsLimit: Annotated[int, Field(ge=0, le=100)] = 0
    observationsLimit: Annotated[int, Field(ge=0, le=100)] = 20
    summariesLimit: Annotated[int, Field(ge=0, le=100)] = 5
    relevanceThreshold: Annotated[float, Field(ge=0, le=1)] = 0.0

    @model_validator(mode="after")
    def _dates_in_order(self):
        if self.beginDate and self.endDate and self.beginDate >= self.endDate:
            raise ValueError("beginDate must be earlier than endDate")
        return self


# --- answers ------------------------------------------------------------------------------
# Their routes answer with ``response_model_exclude_none``: optional fields are left out, not null.


class MemoryAccepted(BaseModel):
    message: str


class ListMeta(BaseModel):
    """ObservationsMeta: pageSize is at least 1, so an empty page reports the size asked for."""

    key: str
    pageSize: int
    nextToken: str | None = None
    previousToken: str | None = None


class ObservationInfo(BaseModel):
    """An observation or one of its revisions (which share its id)."""

    id: str
    content: str
    source: str
    occurredAt: str
    conversationIds: list[str] | None = None  # left out when empty
    createdAt: str
    updatedAt: str


class ObservationList(BaseModel):
    observations: list[ObservationInfo]
    meta: ListMeta


class RevisionList(BaseModel):
    revisions: list[ObservationInfo]
    meta: ListMeta


class SummaryInfo(BaseModel):
    id: str
    conversationId: str
    content: str
    source: str | None = None
    occurredAt: str
    createdAt: str
    updatedAt: str


class SummaryList(BaseModel):
    summaries: list[SummaryInfo]
    meta: ListMeta


class RecallObservationInfo(ObservationInfo):
    score: float | None = None  # only when the query ranked it


class RecallSummaryInfo(SummaryInfo):
    score: float | None = None


class RecallMeta(BaseModel):
    queryTime: int
    searchMode: str


class CommunicationInfo(BaseModel):
    """A stored communication as Recall answers it: ``createdAt`` and ``updatedAt`` always
    (twilio-agent-connect drops an item without ``createdAt``)."""

    id: str
    channelId: str | None = None
    content: CommunicationContent
    createdAt: str
    updatedAt: str
    author: Participant
    recipients: list[Recipient]


class MemoryRetrievalResponse(BaseModel):
    observations: list[RecallObservationInfo]
    summaries: list[RecallSummaryInfo]
    communications: list[CommunicationInfo]
    meta: RecallMeta
