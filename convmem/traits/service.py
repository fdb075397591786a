"""A profile's traits as one flat list, ordered by (traitGroup, name) and paged by that key."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from convmem.database.tables import Profile
from convmem.profiles.addressing import find_canonical
from convmem.traitgroups.service import defined_while_purging, only_defined
from convmem.web.pagination import Page, PageRequest, paginate_sorted


@dataclass(frozen=True)
class FlatTrait:
    group: str
    name: str
    value: Any
    written_at: datetime | None


def list_page(session: Session, store_pk: int, profile_sid: str, page: PageRequest) -> Page:
    """A page of ``FlatTrait``; ``page.filters["traitGroups"]``, when present, is the allow-list of group names."""
    defined = defined_while_purging(session, store_pk)
    ref = find_canonical(session, store_pk, profile_sid)
    traits, meta = session.execute(select(Profile.traits, Profile.trait_meta).where(Profile.id == ref.pk)).one()
    traits = traits or {}
    if defined is not None:
        traits = only_defined(traits, defined)
    groups = page.filters.get("traitGroups")
    flat = sorted(
        (trait for trait in flatten(traits, meta or {}) if groups is None or trait.group in groups),
        key=sort_key,
    )
    return paginate_sorted(flat, page, key_of=sort_key)


def sort_key(trait: FlatTrait) -> list[str]:
    return [trait.group, trait.name]


def flatten(traits: dict, meta: dict) -> list[FlatTrait]:
    """One item per trait, with when it was last written."""
    items = []
    for group, values in traits.items():
        for name, value in values.items():
            written_at = meta.get(group, {}).get(name, {}).get("at")
            items.append(FlatTrait(group, name, value, datetime.fromisoformat(written_at) if written_at else None))
    return items
