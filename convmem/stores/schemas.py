"""Contract models of memory stores."""

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from convmem.kit.text import storable

DISPLAY_NAME = dict(max_length=64, pattern=r"^[a-zA-Z0-9-]+$")
DESCRIPTION = dict(min_length=1, max_length=128)


Description = Annotated[str, AfterValidator(storable)]


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
