"""Contract models of profile imports."""

from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from convmem.kit.text import storable

MAX_FILE_SIZE = 100 * 1024 * 1024


class ImportStatus(StrEnum):
    """An import's lifecycle, as the contract names it (stored as these plain strings)."""

    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


Text = Annotated[str, AfterValidator(storable)]


class ColumnMappingItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    columnName: Text = Field(min_length=1, max_length=64)
    traitGroup: Text = Field(min_length=1, max_length=64)
    traitName: Text = Field(min_length=1, max_length=64)


class CreateImportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filename: Text = Field(min_length=1, max_length=255)
    fileSize: int = Field(ge=1, le=MAX_FILE_SIZE)
    columnMappings: list[ColumnMappingItem] = Field(min_length=2, max_length=100)


class ImportCreated(BaseModel):
    importId: str
    url: str


class ImportList(BaseModel):
    imports: list[str]
    meta: dict[str, Any]


class ImportSummary(BaseModel):
    errors: int
    warnings: int


class ImportProgress(BaseModel):
    processedRows: int
    totalRows: int | None = None


class ImportBody(BaseModel):
    importId: str
    status: str
    filename: str
    createdAt: str
    updatedAt: str
    fileSize: int
    columnMappings: list[ColumnMappingItem]
    summary: ImportSummary
    progress: ImportProgress
    errorReportUrl: str
    failureReason: str | None = None


class UploadReceived(BaseModel):
    message: str = "File received; the import will be processed."
