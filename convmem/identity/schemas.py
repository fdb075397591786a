"""Contract models of IdentityResolutionSettings."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class IdentifierConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    idType: str = Field(min_length=2, max_length=30)
    matchingAlgo: Literal["exact", "fuzzy"] = "exact"
    matchingThreshold: int = Field(default=75, ge=50, le=99)
    limit: int = Field(default=100, ge=1, le=100)
    limitPolicy: Literal["fifo", "lifo"] = "fifo"
    enforceUnique: bool = True
    normalization: Literal["phone", "email", "trim", "none"] = "trim"


class IdentityResolutionSettingsCore(BaseModel):
    model_config = ConfigDict(extra="forbid")

    identifierConfigs: list[IdentifierConfig] = Field(min_length=1, max_length=15)
    matchingRules: list[str] = Field(min_length=1, max_length=15)


class IdentityResolutionSettingsBody(IdentityResolutionSettingsCore):
    """The settings as fetched: with the version their ETag carries."""

    version: int


DEFAULT_SETTINGS = IdentityResolutionSettingsCore(
    identifierConfigs=[
        IdentifierConfig(idType="email", normalization="email"),
        IdentifierConfig(idType="phone", normalization="phone"),
    ],
    matchingRules=["email", "phone"],
)


# convmem extensions (docs/extensions.md): previewing and re-resolving settings.


class PreviewCause(BaseModel):
    idType: str
    value: str


class PreviewMergeGroup(BaseModel):
    profileIds: list[str] = Field(description="The profiles that would merge, canonical (earliest created) first")
    causes: list[PreviewCause] = Field(description="Identifier values tying them (the first few)")


class PreviewConflict(BaseModel):
    idType: str
    value: str
    profileIds: list[str] = Field(description="Profiles holding the value that would not merge")


class PreviewRuleChange(BaseModel):
    idType: str = Field(description="The identifier type, or '*' for the order of matchingRules")
    change: str = Field(description="configured, matching, matchingRules, or a rule field: normalization, fuzzy, "
                        "threshold, limit, lifo, unique")
    before: Any
    after: Any


class IdentityResolutionPreview(BaseModel):
    profilesThatWouldMerge: int = Field(description="Live profiles in a group of two or more that would become one")
    mergeGroups: int = Field(description="How many profiles the merging ones would become")
    sampleGroups: list[PreviewMergeGroup]
    conflicts: int = Field(description="Values of a unique type outside matchingRules held by profiles that would not "
                           "merge: a later write carrying one is refused (409)")
    sampleConflicts: list[PreviewConflict]
    unreadableValues: int = Field(description="Stored values the proposed normalization refuses")
    changesForLaterWrites: list[PreviewRuleChange]
