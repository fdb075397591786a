"""Bodies of the suggestions endpoints (a convmem extension)."""

from typing import Any, Literal

from pydantic import BaseModel, Field


class SuggestionBody(BaseModel):
    """Two live profiles that look like one person, for review."""

    id: str
    profileIds: list[str] = Field(description="The two profiles, the earlier created first")
    score: int = Field(description="0..100: the strongest reason's score, plus 10 for each other kind of reason, at most 99")
    reasons: list[dict[str, Any]] = Field(
        description="Strongest first. kind fuzzyIdentifier (idType, a, b, score), normalisedEqual "
        "(normalisation gmailDots|plusTag|phoneDigits|caseAccents, idType, otherIdType, a, b, score) or "
        "sameName (firstName, lastName, score); a is the first profile's value"
    )
    status: Literal["open", "accepted", "rejected", "closed"]
    createdAt: str
    updatedAt: str


class SuggestionList(BaseModel):
    suggestions: list[SuggestionBody]
    meta: dict[str, Any]


class AcceptedSuggestion(BaseModel):
    suggestion: SuggestionBody
    profileId: str = Field(description="The profile that stays")
    mergedProfileId: str = Field(description="The profile merged into it; its id now redirects")
