"""Contract models of memory stores."""

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

DISPLAY_NAME = dict(max_length=64, pattern=r"^[a-zA-Z0-9-]+$")
DESCRIPTION = dict(min_length=1, max_length=128)


def _storable(value: str) -> str:
    # PostgreSQL text cannot hold U+0000; refusing it here keeps it from surfacing as a database error.
    if "\x00" in value:
        raise ValueError("must not contain the NUL character (U+0000)")
    return value


Description = Annotated[str, AfterValidator(_storable)]


class ServiceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    displayName: str = Field(**DISPLAY_NAME)
    description: Description | None = Field(default=None, **DESCRIPTION)


class PatchStoreRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    displayName: str | None = Field(default=None, **DISPLAY_NAME)
    description: Description | None = Field(default=None, **DESCRIPTION)


class StoreBody(BaseModel):
    id: str
    displayName: str
    description: str | None = None
    status: str
    intelligenceServiceId: str | None = None
    version: int
