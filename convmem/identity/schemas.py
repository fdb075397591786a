"""Contract models of IdentityResolutionSettings."""

from typing import Literal

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
