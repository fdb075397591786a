"""Contract models of identifiers."""

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from convmem.kit.text import storable

ID_TYPE_FIELD = Field(min_length=2, max_length=30)
VALUE_FIELD = Field(max_length=255)
Value = Annotated[str, AfterValidator(storable)]


class Identifier(BaseModel):
    """Body of CreateProfileIdentifier and of Lookup: a raw value, normalised by the server."""

    model_config = ConfigDict(extra="forbid")

    idType: str = ID_TYPE_FIELD
    value: Value = VALUE_FIELD


class IdentifierUpdate(BaseModel):
    """Body of PatchProfileIdentifier."""

    model_config = ConfigDict(extra="forbid")

    idType: str = ID_TYPE_FIELD
    oldValue: Value = VALUE_FIELD
    newValue: Value = VALUE_FIELD


class IdentifierSet(BaseModel):
    idType: str
    values: list[str]


class IdentifierList(BaseModel):
    identifiers: list[IdentifierSet]


class IdentifierAccepted(BaseModel):
    message: str
