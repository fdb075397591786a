"""Contract model of one trait in the flattened ListProfileTraits view."""

from typing import Any

from pydantic import BaseModel

MAX_TRAITS_PER_PAGE = 100  # the contract caps the ``traits`` array at 100, below pageSize's 1000


class FullTrait(BaseModel):
    name: str
    value: Any
    traitGroup: str
    timestamp: str | None = None


class TraitList(BaseModel):
    traits: list[FullTrait]
    meta: dict[str, Any]
