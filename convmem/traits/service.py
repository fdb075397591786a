"""A profile's traits as one flat list, ordered by (traitGroup, name) and paged by that key."""

from datetime import datetime

from sqlalchemy import select

from convmem.database.engine import Database
from convmem.database.tables import Profile
from convmem.kit.timefmt import iso
from convmem.profiles.addressing import find_canonical
from convmem.traits.schemas import FullTrait
from convmem.web.auth import Principal
from convmem.web.dependencies import find_owned_store
from convmem.web.pagination import Page, PageRequest, paginate_sorted


def list_page(db: Database, principal: Principal, store_sid: str, profile_sid: str, page: PageRequest) -> Page:
    """``page.filters["traitGroups"]``, when present, is the allow-list of group names."""
    with db.reading() as session:
        store = find_owned_store(session, principal, store_sid)
        ref = find_canonical(session, store.id, profile_sid)
        traits, meta = session.execute(select(Profile.traits, Profile.trait_meta).where(Profile.id == ref.pk)).one()
    groups = page.filters.get("traitGroups")
    flat = sorted(
        (trait for trait in flatten(traits or {}, meta or {}) if groups is None or trait.traitGroup in groups),
        key=sort_key,
    )
    return paginate_sorted(flat, page, key_of=sort_key)


def sort_key(trait: FullTrait) -> list[str]:
    return [trait.traitGroup, trait.name]


def flatten(traits: dict, meta: dict) -> list[FullTrait]:
    """One item per trait; ``timestamp`` is when it was last written, to the second."""
    items = []
    for group, values in traits.items():
        for name, value in values.items():
            written_at = meta.get(group, {}).get(name, {}).get("at")
            timestamp = iso(datetime.fromisoformat(written_at)) if written_at else None
            items.append(FullTrait(name=name, value=value, traitGroup=group, timestamp=timestamp))
    return items
