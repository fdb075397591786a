"""SQL of profiles, their identifiers and the merge ledger."""

from collections.abc import Iterable, Sequence

from sqlalchemy import bindparam, delete, insert, or_, select, update
from sqlalchemy.orm import Session, aliased

from convmem.database.tables import Profile, ProfileIdentifier, ProfileMerge
from convmem.identity.resolution import Held

_HOLDERS_OF_VALUES = select(ProfileIdentifier.profile_id, ProfileIdentifier.id_type, ProfileIdentifier.value).where(
    ProfileIdentifier.store_id == bindparam("store"),
    ProfileIdentifier.id_type == bindparam("id_type"),
    ProfileIdentifier.value.in_(bindparam("values", expanding=True)),
)
_HOLDERS_OF_TYPE = select(ProfileIdentifier.profile_id, ProfileIdentifier.id_type, ProfileIdentifier.value).where(
    ProfileIdentifier.store_id == bindparam("store"), ProfileIdentifier.id_type == bindparam("id_type")
)


def holders(
    session: Session, store_pk: int, wanted: Iterable[tuple[str, str]], scan_types: Iterable[str] = ()
) -> list[Held]:
    """Stored values equal to a wanted (type, value) pair, plus every value of ``scan_types``
    (fuzzy types, whose matches can't be found by equality). One indexed query per type,
    each a prebuilt statement: this runs on every profile write."""
    scan_types = set(scan_types)
    by_type: dict[str, set[str]] = {}
    for id_type, value in wanted:
        if id_type not in scan_types:
            by_type.setdefault(id_type, set()).add(value)
    rows = []
    for id_type, values in by_type.items():
        rows += session.execute(_HOLDERS_OF_VALUES, {"store": store_pk, "id_type": id_type, "values": list(values)}).all()
    for id_type in scan_types:
        rows += session.execute(_HOLDERS_OF_TYPE, {"store": store_pk, "id_type": id_type}).all()
    return [Held(profile, id_type, value) for profile, id_type, value in rows]


def identifiers_of(session: Session, profile_pk: int) -> list[ProfileIdentifier]:
    """The profile's identifier rows in the order they were added."""
    return list(
        session.scalars(
            select(ProfileIdentifier).where(ProfileIdentifier.profile_id == profile_pk).order_by(ProfileIdentifier.id)
        )
    )


def load_profiles(session: Session, pks: Sequence[int]) -> dict[int, Profile]:
    """The profiles a write touches, by key. No row lock: the store's write lock already
    keeps every other writer of the store out."""
    rows = session.scalars(select(Profile).where(Profile.id.in_(pks)))
    return {profile.id: profile for profile in rows}


def move_identifiers(session: Session, from_pk: int, to_pk: int) -> None:
    """Hand every identifier of ``from_pk`` to ``to_pk``, dropping values ``to_pk`` already has."""
    kept = select(ProfileIdentifier.id_type, ProfileIdentifier.value).where(ProfileIdentifier.profile_id == to_pk)
    existing = {(t, v) for t, v in session.execute(kept)}
    rows = session.execute(
        select(ProfileIdentifier.id, ProfileIdentifier.id_type, ProfileIdentifier.value).where(
            ProfileIdentifier.profile_id == from_pk
        )
    ).all()
    duplicates = [row.id for row in rows if (row.id_type, row.value) in existing]
    if duplicates:
        session.execute(delete(ProfileIdentifier).where(ProfileIdentifier.id.in_(duplicates)))
    session.execute(
        update(ProfileIdentifier).where(ProfileIdentifier.profile_id == from_pk).values(profile_id=to_pk)
    )


def repoint_aliases(session: Session, from_pk: int, to_pk: int) -> None:
    """Aliases of a profile that merges again follow it to the new canonical profile."""
    session.execute(update(Profile).where(Profile.canonical_id == from_pk).values(canonical_id=to_pk))


def record_merge(session: Session, merge: ProfileMerge) -> None:
    session.add(merge)


def delete_identifiers(session: Session, ids: Sequence[int]) -> None:
    if ids:
        session.execute(delete(ProfileIdentifier).where(ProfileIdentifier.id.in_(ids)))


def merge_history(session: Session, canonical_pk: int) -> list:
    """Every merge that folded a profile into ``canonical_pk`` or into one of its aliases,
    oldest first, with the public ids of both sides."""
    merged, survivor = aliased(Profile), aliased(Profile)
    aliases = select(Profile.id).where(Profile.canonical_id == canonical_pk)
    return list(
        session.execute(
            select(ProfileMerge, merged.sid, survivor.sid)
            .join(merged, merged.id == ProfileMerge.merged_id)
            .join(survivor, survivor.id == ProfileMerge.survivor_id)
            .where(or_(ProfileMerge.survivor_id == canonical_pk, ProfileMerge.survivor_id.in_(aliases)))
            .order_by(ProfileMerge.id)
        )
    )


def insert_profiles(session: Session, rows: Sequence[dict]) -> dict[str, int]:
    """Insert profile rows in one statement; returns sid -> primary key."""
    table = Profile.__table__
    inserted = session.execute(
        insert(table).returning(table.c.sid, table.c.id), list(rows)
    )
    return dict(inserted.tuples().all())


def insert_identifiers(session: Session, rows: Sequence[dict]) -> None:
    if rows:
        session.execute(insert(ProfileIdentifier.__table__), list(rows))
