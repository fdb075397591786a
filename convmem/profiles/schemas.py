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
    """One entry of the identity ledger (a convmem extension). ``kind`` is ``merge`` (the
    profile ``mergedProfileId`` was folded into ``intoProfileId``), ``unmerge`` (it came back
    out of it) or ``split`` (it was split off ``intoProfileId``); ``mergedAt`` is when."""

    kind: str = "merge"
    mergedProfileId: str
    intoProfileId: str
    mergedAt: str
    idType: str
    value: str
    source: str


class MergeList(BaseModel):
    merges: list[Merge]
    meta: dict[str, Any]


class IdentifierPair(BaseModel):
    model_config = ConfigDict(extra="forbid")

    idType: str = Field(min_length=1, max_length=30)
    value: str = Field(min_length=1, max_length=255)


class TraitName(BaseModel):
    group: str
    trait: str


class Unmerged(BaseModel):
    """Answer of an unmerge (a convmem extension)."""

    profileId: str = Field(description="The profile brought back, live again under its own id")
    fromProfileId: str = Field(description="The canonical profile it was merged into")
    restoredIdentifiers: list[IdentifierPair]
    identifiersKeptBySurvivor: list[IdentifierPair] = Field(
        description="Values of unique types the merged profile brought that the survivor holds in its own right"
    )
    traitsKeptBySurvivor: list[TraitName] = Field(
        description="Traits the merged profile brought that a later write changed on the survivor: the later value stays there"
    )
    aliases: list[str] = Field(description="Profiles merged into it earlier, which point at it again")


class SplitRequest(BaseModel):
    """Body of a split (a convmem extension): what moves into the new profile."""

    model_config = ConfigDict(extra="forbid")

    identifiers: list[IdentifierPair] = Field(min_length=1, max_length=100)
    traits: dict[str, list[str]] = Field(default_factory=dict, description="group -> names of the trait values that move")


class SplitDone(BaseModel):
    profileId: str = Field(description="The new profile")
    fromProfileId: str
    identifiers: list[IdentifierPair]
    traits: list[TraitName]


class NeverMergePairBody(BaseModel):
    """Two profiles identity resolution keeps apart (a convmem extension)."""

    id: str
    profileIds: list[str] = Field(description="The two profiles as recorded")
    liveProfileIds: list[str] = Field(description="The live profiles they stand for now (after later merges)")
    reason: str = Field(description="unmerge, split, or rejected (a rejected suggestion)")
    createdAt: str


class NeverMergePairList(BaseModel):
    pairs: list[NeverMergePairBody]
    meta: dict[str, Any]


class ReresolveProgress(BaseModel):
    """A re-resolution of a store and what it has done so far (a convmem extension)."""

    operationId: str
    status: str = Field(description="The operation's status: RUNNING until every live profile is walked, then COMPLETED or FAILED")
    createdAt: str
    completedAt: str | None = None
    profilesWalked: int = Field(description="Live profiles resolved again so far")
    profilesMerged: int = Field(description="Profiles merged into another so far")
    conflicts: int = Field(description="Profiles whose identifiers a write would now be refused for (409): left as they are")
