"""Contract models of profile imports."""

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

MAX_FILE_SIZE = 100 * 1024 * 1024


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold U+0000; refusing it here answers both backends alike.
    if "\x00" in value:
        raise ValueError("must not contain the NUL character (U+0000)")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]


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
