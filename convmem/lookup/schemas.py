"""Contract model of the Lookup answer (its request body is ``identifiers.schemas.Identifier``)."""

from pydantic import BaseModel

MAX_PROFILES = 100  # the contract caps ``profiles`` at 100 ids


class LookupResult(BaseModel):
    normalizedValue: str
    profiles: list[str]
