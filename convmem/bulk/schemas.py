"""Contract models of UpdateProfilesBulk, and of the batch status convmem adds."""

from pydantic import BaseModel, ConfigDict, Field

from convmem.profiles.schemas import ProfileData

MAX_BATCH = 1000


class UpdateProfilesBulkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    profiles: list[ProfileData] = Field(min_length=1, max_length=MAX_BATCH)


class BulkAccepted(BaseModel):
    """The spec's body is ``{message}``; ``operationId`` and ``statusUrl`` are what the Python
    SDK's BulkInstance reads, and the issue asks for them (docs/imports-and-bulk.md)."""

    message: str = "Profile batch accepted for processing."
    operationId: str
    statusUrl: str


class BatchProgress(BaseModel):
    processed: int
    total: int


class BatchSummary(BaseModel):
    created: int
    updated: int
    failed: int


class ItemError(BaseModel):
    code: int
    message: str


class ItemResult(BaseModel):
    index: int
    status: str
    profileId: str | None = None
    mergedProfileIds: list[str] | None = None
    error: ItemError | None = None


class BulkStatus(BaseModel):
    """The batch's own status (a convmem extension, docs/imports-and-bulk.md)."""

    operationId: str
    status: str
    createdAt: str
    updatedAt: str
    statusUrl: str
    progress: BatchProgress
    summary: BatchSummary
    results: list[ItemResult]
    completedAt: str | None = None
    error: str | None = None
