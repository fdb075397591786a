"""SQL of trait groups, and of removing a group's or a trait's values from a store's profiles."""

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from convmem.database.tables import DataMapping, Job, Profile, TraitGroup
from convmem.history import record

# The job kind that removes values of deleted groups and traits (``traitgroups.purge``).
PURGE_KIND = "trait_purge"
# Until its job completes, a removal may have left values behind: also when the job failed for good.
_NOT_DONE = Job.status != "COMPLETED"
_PROFILE_BATCH = 500


def find_group(session: Session, store_pk: int, name: str) -> TraitGroup | None:
    return session.scalar(select(TraitGroup).where(TraitGroup.store_id == store_pk, TraitGroup.name == name))


def count_groups(session: Session, store_pk: int) -> int:
    return session.scalar(select(func.count()).select_from(TraitGroup).where(TraitGroup.store_id == store_pk))


def mapping_names_writing(session: Session, store_pk: int, group: str, traits: Collection[str] | None = None) -> list[str]:
    """The display names of the store's data mappings that write to ``group`` (to one of ``traits`` when given)."""
    names = []
    for name, mapping_to in session.execute(
        select(DataMapping.display_name, DataMapping.mapping_to).where(DataMapping.store_id == store_pk).order_by(DataMapping.id)
    ):
        items = mapping_to.get("mappings", [])
        if any(item["traitGroup"] == group and (traits is None or item["traitName"] in traits) for item in items):
            names.append(name)
    return names


def purges_not_done(session: Session, store_pk: int) -> list[Job]:
    return list(session.scalars(select(Job).where(Job.store_id == store_pk, Job.kind == PURGE_KIND, _NOT_DONE).order_by(Job.id)))


def has_purge_not_done(session: Session, store_pk: int) -> bool:
    stmt = select(Job.id).where(Job.store_id == store_pk, Job.kind == PURGE_KIND, _NOT_DONE).limit(1)
    return session.scalar(stmt) is not None


def strip_profile_values(session: Session, store_pk: int, group: str, traits: Collection[str] | None = None) -> None:
    """Remove the values of ``traits`` of ``group`` (all of the group when None) from every profile of the store,
    a batch at a time, so memory stays flat however big the store is."""
    last_id, done = 0, False
    while not done:
        last_id, done = strip_batch(session, store_pk, group, traits, after_id=last_id, limit=_PROFILE_BATCH)


def strip_batch(
    session: Session, store_pk: int, group: str, traits: Collection[str] | None, *, after_id: int, limit: int
) -> tuple[int, bool]:
    """Strip the values from the next ``limit`` profiles after ``after_id``, in id order.

    Returns the last profile id walked (``after_id`` if none) and whether the walk has reached the end.
    """
    rows = session.execute(
        select(Profile.id, Profile.traits, Profile.trait_meta)
        .where(Profile.store_id == store_pk, Profile.id > after_id)
        .order_by(Profile.id)
        .limit(limit)
    ).all()
    _strip_rows(session, store_pk, rows, group, traits)
    return (rows[-1].id if rows else after_id), len(rows) < limit


def strip_written_since(
    session: Session, store_pk: int, group: str, traits: Collection[str] | None, *, since: datetime, up_to_id: int
) -> None:
    """Strip the values from the profiles up to ``up_to_id`` written since ``since``: those a walk in id
    order has passed may have been given values again since, by a merge with a profile it had not reached."""
    rows = session.execute(
        select(Profile.id, Profile.traits, Profile.trait_meta).where(
            Profile.store_id == store_pk, Profile.id <= up_to_id, Profile.updated_at >= since
        )
    ).all()
    _strip_rows(session, store_pk, rows, group, traits)


def _strip_rows(session: Session, store_pk: int, rows, group: str, traits: Collection[str] | None) -> None:
    """``traits`` and ``trait_meta`` share the shape ``{group: {trait: …}}``, so both are pruned alike.
    Each value removed is recorded in its profile's history."""
    names = None if traits is None else set(traits)
    changes = record.Changes(store_pk, record.instant(), "purge")
    for profile_id, values, meta in rows:
        new_values, new_meta = _pruned(values, group, names), _pruned(meta, group, names)
        if new_values is not values or new_meta is not meta:
            session.execute(update(Profile).where(Profile.id == profile_id).values(traits=new_values, trait_meta=new_meta))
            kept = (new_values or {}).get(group) or {}
            for name, value in ((values or {}).get(group) or {}).items():
                if name not in kept:
                    changes.trait(profile_id, group, name, value, None, action=record.PURGED)
    changes.save(session)


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
