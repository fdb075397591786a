"""Models of datasets and of data mappings' syncs (extensions, ``docs/data-mappings.md``)."""

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from convmem.kit.text import storable

DISPLAY_NAME_PATTERN = r"^[a-zA-Z][a-zA-Z0-9-.]*$"

Text = Annotated[str, AfterValidator(storable)]
ColumnName = Annotated[Text, Field(min_length=1, max_length=255)]


class SyncStatus(StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    # The mapping was disabled (``isEnabled: false``) or its dataset deleted while it ran.
    STOPPED = "STOPPED"


UNFINISHED_SYNCS = (SyncStatus.PENDING, SyncStatus.RUNNING)


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SqlSourceInput(_Closed):
    """A table or a query of a database SQLAlchemy reaches. ``url`` may hold a password: it is
    stored encrypted and never shown again."""

    type: Literal["SQL"]
    url: Text = Field(min_length=1, max_length=2048, description="e.g. postgresql://user:pw@host/db, mysql://…, sqlite:///file.db")
    table: Text | None = Field(default=None, min_length=1, max_length=255)
    schema_: Text | None = Field(default=None, alias="schema", min_length=1, max_length=255)
    query: Text | None = Field(default=None, min_length=1, max_length=20000, description="one SELECT")

    @model_validator(mode="after")
    def _one_of_table_or_query(self):
        if (self.table is None) == (self.query is None):
            raise ValueError("a SQL source names either a table or a query")
        return self


class FileSourceInput(_Closed):
    """A CSV or Parquet file, under the server's dataset file root or at ``s3://bucket/key``."""

    type: Literal["FILE"]
    location: Text = Field(min_length=1, max_length=2048)
    format: Literal["CSV", "PARQUET"]
    endpointUrl: Text | None = Field(default=None, max_length=2048)
    region: Text | None = Field(default=None, max_length=64)
    accessKeyId: Text | None = Field(default=None, max_length=256)
    secretAccessKey: Text | None = Field(default=None, max_length=256)


SourceInput = Annotated[SqlSourceInput | FileSourceInput, Field(discriminator="type")]
DatasetKind = Literal["DATASET_WAREHOUSE", "DATASET_CLOUDAPP"]


class CreateDatasetInput(_Closed):
    displayName: str = Field(min_length=1, max_length=64, pattern=DISPLAY_NAME_PATTERN)
    kind: DatasetKind = "DATASET_WAREHOUSE"
    source: SourceInput
    keyColumn: ColumnName = Field(description="a column whose values are unique: the order rows are read in, after the cursor")
    cursorColumn: ColumnName | None = Field(default=None, description="e.g. updated_at: syncs after the first read only rows past it")
    syncIntervalSeconds: int | None = Field(default=None, ge=10, le=366 * 86400)


class PatchDatasetInput(_Closed):
    """Fields left out are kept; ``cursorColumn`` or ``syncIntervalSeconds`` null removes it."""

    displayName: str | None = Field(default=None, min_length=1, max_length=64, pattern=DISPLAY_NAME_PATTERN)
    source: SourceInput | None = None
    keyColumn: ColumnName | None = None
    cursorColumn: ColumnName | None = None
    syncIntervalSeconds: int | None = Field(default=None, ge=10, le=366 * 86400)


class DatasetColumn(BaseModel):
    name: str
    type: str
    kind: str = Field(description="STRING, NUMBER, BOOLEAN, DATE, ARRAY or OTHER: which traits its values fit")
    samples: list[Any]


class DatasetBody(BaseModel):
    id: str
    displayName: str
    kind: str
    source: dict[str, Any] = Field(description="what is read, without credentials")
    hasCredentials: bool
    keyColumn: str
    cursorColumn: str | None
    syncIntervalSeconds: int | None
    columns: list[DatasetColumn]
    createdAt: str
    updatedAt: str


class DatasetList(BaseModel):
    datasets: list[DatasetBody]
    meta: dict[str, Any]


class StartSyncInput(_Closed):
    full: bool = Field(default=False, description="read the whole source again instead of what is past the last position")


class SyncProgress(BaseModel):
    rowsRead: int
    rowsWritten: int
    errors: int


class SyncBody(BaseModel):
    id: str
    dataMappingId: str
    status: SyncStatus
    trigger: str = Field(description="SCHEDULE (the first sync and each interval) or MANUAL")
    full: bool
    progress: SyncProgress
    position: dict[str, Any] | None = Field(description="the last row applied: its cursor and key values")
    failureReason: str | None = None
    createdAt: str
    updatedAt: str
    finishedAt: str | None = None


class SyncList(BaseModel):
    syncs: list[SyncBody]
    meta: dict[str, Any]


class SyncRowError(BaseModel):
    rowKey: str
    column: str
    reason: str


class SyncErrorList(BaseModel):
    errors: list[SyncRowError]
    meta: dict[str, Any]
