"""Contract models of data mappings (``DataMapping*``, ``MappingTraitItem``) and of mapping suggestions."""

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from convmem.kit.ids import PATTERNS
from convmem.kit.text import storable
from convmem.traitgroups.schemas import GROUP_NAME_PATTERN

DISPLAY_NAME_PATTERN = r"^[a-zA-Z][a-zA-Z0-9-.]*$"
TRAIT_NAME_PATTERN = r"^[a-z][a-zA-Z0-9_\-\.]*$"
MAX_MAPPINGS = 100


class DataMappingType(StrEnum):
    """The kind of source: ``mappingFrom.type``, and the list's ``type`` filter."""

    INGRESS = "INGRESS"
    DATASET_CLOUDAPP = "DATASET_CLOUDAPP"
    DATASET_WAREHOUSE = "DATASET_WAREHOUSE"


DATASET_TYPES = frozenset({DataMappingType.DATASET_CLOUDAPP, DataMappingType.DATASET_WAREHOUSE})

Text = Annotated[str, AfterValidator(storable)]
DisplayName = Annotated[str, Field(min_length=1, max_length=64, pattern=DISPLAY_NAME_PATTERN)]
Description = Annotated[Text, Field(min_length=1, max_length=512)]
ColumnName = Annotated[Text, Field(min_length=1, max_length=256)]
DatasetId = Annotated[str, Field(pattern=PATTERNS["datasetId"].pattern)]


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataMappingFromIngress(_Closed):
    """Columns that arrive with the data (a CSV import names the mapping instead of its own column mappings)."""

    type: Literal["INGRESS"]
    columns: list[ColumnName] = Field(min_length=1, max_length=100)


class DataMappingFromCloudAppDataSet(_Closed):
    type: Literal["DATASET_CLOUDAPP"]
    datasetId: DatasetId


class DataMappingFromWarehouseDataSet(_Closed):
    type: Literal["DATASET_WAREHOUSE"]
    datasetId: DatasetId


DataMappingFrom = Annotated[
    DataMappingFromIngress | DataMappingFromCloudAppDataSet | DataMappingFromWarehouseDataSet,
    Field(discriminator="type"),
]


class MappingTraitItem(_Closed):
    """A source field (``expression``) written to ``traitGroup.traitName``."""

    expression: ColumnName
    traitGroup: str = Field(min_length=1, max_length=64, pattern=GROUP_NAME_PATTERN)
    traitName: str = Field(min_length=1, max_length=128, pattern=TRAIT_NAME_PATTERN)


class DataMappingToTraits(_Closed):
    # The contract gives TRAITS as the default yet requires the field; as the discriminator it is required here too.
    type: Literal["TRAITS"]
    mappings: list[MappingTraitItem] = Field(min_length=1, max_length=MAX_MAPPINGS)


DataMappingTo = Annotated[DataMappingToTraits, Field(discriminator="type")]


class CreateDataMappingInput(_Closed):
    """Unknown fields are refused although the contract does not close this body: a misspelt field would
    otherwise be silently ignored (as for stores, docs/control-plane.md)."""

    displayName: DisplayName
    description: Description | None = None
    isEnabled: bool = True
    mappingTo: DataMappingTo
    mappingFrom: DataMappingFrom


class DataMappingCore(_Closed):
    """The PATCH body: every field optional; ``mappingFrom`` cannot be changed."""

    displayName: DisplayName | None = None
    description: Description | None = None
    isEnabled: bool | None = None
    mappingTo: DataMappingTo | None = None


class DataMappingBody(BaseModel):
    displayName: str
    description: str | None = None
    isEnabled: bool
    mappingTo: dict[str, Any]
    mappingFrom: dict[str, Any]
    id: str
    createdAt: str
    updatedAt: str
    version: int


class DataMappingList(BaseModel):
    dataMappings: list[DataMappingBody]
    meta: dict[str, Any]


# --- Mapping suggestions (a convmem extension: the contract defines the result's shapes, no operation) ---

MAX_CSV_SAMPLE = 64 * 1024
Scalar = str | float | bool | None


class SuggestionColumn(_Closed):
    name: ColumnName
    type: Literal["STRING", "NUMBER", "BOOLEAN", "DATE", "ARRAY"] | None = Field(
        default=None, description="The type the source declares for the column, when it declares one"
    )
    samples: list[Scalar | list[Scalar]] = Field(default_factory=list, max_length=20, description="A few of its values")


class SuggestMappingsRequest(_Closed):
    """What to suggest mappings for: described columns, a CSV sample (header and a few rows), or a dataset."""

    columns: list[SuggestionColumn] | None = Field(default=None, min_length=1, max_length=100)
    csvSample: Annotated[Text, Field(min_length=1, max_length=MAX_CSV_SAMPLE)] | None = None
    datasetId: DatasetId | None = None
    minConfidence: float = Field(default=0.6, ge=0, le=1, description="Suggestions below it are left out")

    @model_validator(mode="after")
    def _one_source(self):
        if sum(source is not None for source in (self.columns, self.csvSample, self.datasetId)) != 1:
            raise ValueError("send exactly one of 'columns', 'csvSample' or 'datasetId'")
        return self


class DataMappingSuggestionTraitItem(BaseModel):
    mapping: MappingTraitItem
    confidence: float = Field(ge=0, le=1)
    rationale: str


class DataMappingSuggestionToTraitsResult(BaseModel):
    type: Literal["TRAITS"] = "TRAITS"
    mappings: list[DataMappingSuggestionTraitItem]


class MappingSuggestions(BaseModel):
    """``mappingFrom`` and ``mappingTo`` as the contract's ``DataMappingSuggestion`` shapes them (not stored, so
    no id or expiry); ``unmappedColumns`` are the source's columns no trait was suggested for."""

    mappingFrom: dict[str, Any]
    mappingTo: DataMappingSuggestionToTraitsResult
    unmappedColumns: list[str]
