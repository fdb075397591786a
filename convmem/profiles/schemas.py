"""Contract models of profiles."""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ProfileData(BaseModel):
    """Body of CreateProfile and of each UpdateProfilesBulk item; trait values are checked
    against the store's trait definitions, which name the offending group and trait."""

    model_config = ConfigDict(extra="forbid")

    traits: dict[str, Any] | None = Field(default=None)


class ProfilePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    traits: dict[str, Any] | None = Field(default=None)


class ProfileCreated(BaseModel):
    id: str
    message: str = "Profile resolved and accepted for processing."


class ProfileBody(BaseModel):
    id: str
    createdAt: str
    traits: dict[str, dict[str, Any]]


class ProfileAccepted(BaseModel):
    message: str


class ProfileList(BaseModel):
    profiles: list[str]
    meta: dict[str, Any]


class Merge(BaseModel):
    """One entry of the merge ledger (a convmem extension)."""

    mergedProfileId: str
    intoProfileId: str
    mergedAt: str
    idType: str
    value: str
    source: str


class MergeList(BaseModel):
    merges: list[Merge]
    meta: dict[str, Any]
