"""Bodies of the history extension (not part of Twilio's contract; see docs/extensions.md)."""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# A century: a retention beyond it is a typo, not a policy.
MAX_RETENTION_DAYS = 36500


class IdentifierValues(BaseModel):
    idType: str
    values: list[str]


class ProfileAsOfBody(BaseModel):
    id: str
    asOf: str
    traits: dict[str, dict[str, Any]]
    identifiers: list[IdentifierValues]


class TraitChangeBody(BaseModel):
    profileId: str = Field(description="The profile the change happened on: this one, or one merged into it")
    at: str
    action: str = Field(description="created, set, changed, deleted, purged, merged or baseline")
    oldValue: Any = None
    newValue: Any = None
    source: str
    via: str | None = Field(default=None, description="The other profile of a merge")


class TraitHistoryBody(BaseModel):
    traitGroup: str
    traitName: str
    changes: list[TraitChangeBody]


class ValueProvenance(BaseModel):
    traitGroup: str
    traitName: str
    value: Any
    setAt: str
    source: str = Field(description="api:create, api:patch, bulk:<id>, import:<id>, mapping:<id> (reserved)")
    mergedFrom: str | None = Field(default=None, description="For a value a merge brought: the profile it was written on")


class ProvenanceBody(BaseModel):
    id: str
    mergedInto: str | None = None
    values: list[ValueProvenance]


class HistorySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    historyRetentionDays: int | None = Field(
        default=None, ge=1, le=MAX_RETENTION_DAYS, description="Days of profile history kept; null keeps all of it"
    )
