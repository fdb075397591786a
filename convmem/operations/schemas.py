"""Contract models of operations and of the control plane's 202 answer."""

from pydantic import BaseModel


class OperationResult(BaseModel):
    type: str = "RESOURCE_ID"
    id: str


class OperationError(BaseModel):
    type: str | None = None
    title: str | None = None
    code: int | None = None
    detail: str | None = None


class OperationStatus(BaseModel):
    operationId: str
    status: str
    createdAt: str
    statusUrl: str | None = None
    completedAt: str | None = None
    result: OperationResult | None = None
    error: OperationError | None = None
    resultUrl: str | None = None
