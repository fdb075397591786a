"""SQL of trait groups, and of removing a group's or a trait's values from a store's profiles."""

from collections.abc import Iterable

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from convmem.database.tables import Profile, TraitGroup

_PROFILE_BATCH = 500


def find_group(session: Session, store_pk: int, name: str) -> TraitGroup | None:
    return session.scalar(select(TraitGroup).where(TraitGroup.store_id == store_pk, TraitGroup.name == name))


def count_groups(session: Session, store_pk: int) -> int:
    return session.scalar(select(func.count()).select_from(TraitGroup).where(TraitGroup.store_id == store_pk))


def strip_profile_values(session: Session, store_pk: int, group: str, traits: Iterable[str] | None = None) -> None:
    """Remove the values of ``traits`` of ``group`` (all of the group when None) from every profile of the store.

    ``traits`` and ``trait_meta`` share the shape ``{group: {trait: …}}``, so both are pruned alike.
    Profiles are walked in id order, a batch at a time, so memory stays flat however big the store is.
    """
    names = None if traits is None else set(traits)
    last_id = 0
    while True:
        rows = session.execute(
            select(Profile.id, Profile.traits, Profile.trait_meta)
            .where(Profile.store_id == store_pk, Profile.id > last_id)
            .order_by(Profile.id)
            .limit(_PROFILE_BATCH)
        ).all()
        if not rows:
            return
        for profile_id, values, meta in rows:
            new_values, new_meta = _pruned(values, group, names), _pruned(meta, group, names)
            if new_values is not values or new_meta is not meta:
                session.execute(
                    update(Profile).where(Profile.id == profile_id).values(traits=new_values, trait_meta=new_meta)
                )
        last_id = rows[-1].id


def _pruned(by_group: dict | None, group: str, names: set[str] | None) -> dict | None:
    """``by_group`` without the selected entries, or ``by_group`` itself when nothing is to be removed."""
    if not by_group or group not in by_group:
        return by_group
    if names is None:
        return {g: v for g, v in by_group.items() if g != group}
    kept = {name: value for name, value in (by_group[group] or {}).items() if name not in names}
    if len(kept) == len(by_group[group] or {}):
        return by_group
    pruned = dict(by_group)
    if kept:
        pruned[group] = kept
    else:
        del pruned[group]
    return pruned
