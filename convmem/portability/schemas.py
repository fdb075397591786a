"""The export format: a store record, then one record per live profile (JSON Lines).

The same profile record is the body of ``GET …/Profiles/{profileId}/Export``. Times are ISO 8601
in UTC with their full precision (not the API's whole seconds), so an import restores them exactly.
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

FORMAT_VERSION = 1


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TraitGroupRecord(Record):
    displayName: str
    description: str | None
    traits: dict = Field(description="traitName -> TraitDefinition, as the control plane shows it")
    version: int
    createdAt: str
    updatedAt: str


class DataMappingRecord(Record):
    id: str
    displayName: str
    description: str | None
    isEnabled: bool
    mappingFrom: dict = Field(description="DataMappingFromTypes, as the control plane shows it")
    mappingTo: dict = Field(description="DataMappingToTypes, as the control plane shows it")
    version: int
    createdAt: str
    updatedAt: str


class DatasetRecord(Record):
    id: str
    displayName: str
    kind: str
    source: dict = Field(description="what is read, without credentials")
    sealedCredentials: str | None = Field(description="encrypted with the exporting server's key: opens only where that key is")
    keyColumn: str
    cursorColumn: str | None
    syncIntervalSeconds: int | None
    columns: list
    createdAt: str
    updatedAt: str


class StoreRecord(Record):
    kind: Literal["store"] = "store"
    formatVersion: int = FORMAT_VERSION
    id: str
    displayName: str
    description: str | None
    status: str
    version: int
    createdAt: str
    updatedAt: str
    identityResolutionSettings: dict
    identityResolutionSettingsVersion: int
    traitGroups: list[TraitGroupRecord]
    # Absent from exports made before data mappings existed: none.
    dataMappings: list[DataMappingRecord] = []
    datasets: list[DatasetRecord] = []


class IdentifierRecord(Record):
    idType: str
    value: str
    source: str = Field(description="What wrote the value (api:create, import:…, bulk:…)")
    originProfileId: str = Field(description="The profile that first held the value (an alias after a merge)")
    addedAt: str


class AliasRecord(Record):
    id: str = Field(description="A profile id merged into this profile; it still answers, with a redirect")
    createdAt: str
    updatedAt: str
    mergedAt: str | None


class MergeRecord(Record):
    mergedProfileId: str
    intoProfileId: str
    idType: str = Field(description="The identifier type whose value tied the profiles together")
    value: str
    trigger: str = Field(description="The write that caused the merge")
    mergedTraits: dict = Field(description="What the merged profile brought: its traits")
    mergedIdentifiers: list = Field(description="What the merged profile brought: its identifiers")
    mergedAt: str


class RevisionRecord(Record):
    content: str
    source: str
    occurredAt: str
    conversationIds: list[str]
    createdAt: str
    updatedAt: str


class ObservationRecord(Record):
    id: str
    profileId: str = Field(description="The profile id it was written under (this profile or one of its aliases)")
    content: str
    source: str
    occurredAt: str
    conversationIds: list[str]
    createdAt: str
    updatedAt: str
    revisions: list[RevisionRecord] = Field(description="Every version, the current one included, oldest first")


class SummaryRecord(Record):
    id: str
    profileId: str = Field(description="The profile id it was written under (this profile or one of its aliases)")
    content: str
    source: str | None
    occurredAt: str
    conversationId: str
    createdAt: str
    updatedAt: str


class CommunicationRecord(Record):
    id: str
    profileId: str = Field(description="The profile id it was sent for (this profile or one of its aliases)")
    conversationId: str
    channelId: str | None
    text: str | None
    author: dict
    recipients: list[dict]
    createdAt: str
    updatedAt: str


class ProfileRecord(Record):
    """One customer's complete record: traits with their provenance, identifiers, merges, memories."""

    kind: Literal["profile"] = "profile"
    id: str
    createdAt: str
    updatedAt: str
    traits: dict = Field(description="groupName -> traitName -> value")
    traitMeta: dict = Field(description="groupName -> traitName -> {at: when it was written, source: by what}")
    identifiers: list[IdentifierRecord] = Field(description="In the order they were added")
    aliases: list[AliasRecord]
    merges: list[MergeRecord] = Field(description="The merge ledger of this profile and its aliases, oldest first")
    observations: list[ObservationRecord]
    summaries: list[SummaryRecord]
    # Left out by exports made before communications were kept.
    communications: list[CommunicationRecord] = Field(default=[], description="Session memory, oldest first")
