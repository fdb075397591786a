"""Contract models of profile imports."""

from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from convmem.kit.ids import PATTERNS
from convmem.kit.text import storable

MAX_FILE_SIZE = 100 * 1024 * 1024
MAX_COLUMN_NAME = 64  # the contract's maxLength of ColumnMappingItem.columnName


class ImportStatus(StrEnum):
    """An import's lifecycle, as the contract names it (stored as these plain strings)."""

    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


Text = Annotated[str, AfterValidator(storable)]


class ColumnMappingItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    columnName: Text = Field(min_length=1, max_length=MAX_COLUMN_NAME)
    traitGroup: Text = Field(min_length=1, max_length=64)
    traitName: Text = Field(min_length=1, max_length=64)


class CreateImportRequest(BaseModel):
    """The contract's body, or (a convmem extension) ``dataMappingId`` in place of ``columnMappings``:
    an INGRESS data mapping whose ``mappingTo`` says which column feeds which trait."""

    model_config = ConfigDict(extra="forbid")

    filename: Text = Field(min_length=1, max_length=255)
    fileSize: int = Field(ge=1, le=MAX_FILE_SIZE)
    columnMappings: list[ColumnMappingItem] | None = Field(default=None, min_length=2, max_length=100)
    dataMappingId: str | None = Field(default=None, pattern=PATTERNS["dataMappingId"].pattern)

    @model_validator(mode="after")
    def _one_source_of_mappings(self):
        if (self.columnMappings is None) == (self.dataMappingId is None):
            raise ValueError("send either 'columnMappings' or 'dataMappingId' (an INGRESS data mapping), not both")
        return self


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
    dataMappingId: str | None = None
    summary: ImportSummary
    progress: ImportProgress
    errorReportUrl: str
    failureReason: str | None = None


class UploadReceived(BaseModel):
    message: str = "File received; the import will be processed."
