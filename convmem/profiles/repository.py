"""SQL of profiles, their identifiers, the identity ledger and never-merge pairs."""

from collections.abc import Iterable, Sequence

from sqlalchemy import (
    Select,
    bindparam,
    delete,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session, aliased

from convmem.database import bulk
from convmem.database.tables import (
    IdentifierMatchKey,
    NeverMergePair,
    Profile,
    ProfileIdentifier,
    ProfileMerge,
)
from convmem.identity.resolution import Held

_HOLDERS_OF_VALUES = select(ProfileIdentifier.profile_id, ProfileIdentifier.id_type, ProfileIdentifier.value).where(
    ProfileIdentifier.store_id == bindparam("store"),
    ProfileIdentifier.id_type.in_(bindparam("id_types", expanding=True)),
    ProfileIdentifier.value.in_(bindparam("values", expanding=True)),
)

# PostgreSQL: one index probe per wanted pair, whatever the statistics say. ``OFFSET 0`` keeps
# the probe a subquery run per pair; as a plain join, the planner of a table that an import is
# filling (its statistics a few thousand rows behind) chose to read the store's values whole.
_HOLDERS_OF_PAIRS = text(
    "SELECT held.profile_id, wanted.id_type, wanted.value"
    " FROM unnest(CAST(:id_types AS text[]), CAST(:values AS text[])) AS wanted (id_type, value)"
    " CROSS JOIN LATERAL (SELECT profile_id FROM profile_identifiers"
    " WHERE store_id = :store AND id_type = wanted.id_type AND value = wanted.value OFFSET 0) AS held"
)


def holders(session: Session, store_pk: int, wanted: Iterable[tuple[str, str]]) -> list[Held]:
    """Stored values equal to a wanted (type, value) pair. One prebuilt statement for all the
    values (a round trip per type would add up: this runs on every profile write). It asks for
    every wanted type with every wanted value; the few rows of one type holding another type's
    value are dropped here. PostgreSQL, whose plan for a long IN list of a table an import is
    filling went from a scan of the store to seconds a chunk, is asked for the pairs themselves."""
    pairs = set(wanted)
    if not pairs:
        return []
    if session.get_bind().dialect.name == "postgresql":
        id_types, values = zip(*pairs)
        found = session.execute(_HOLDERS_OF_PAIRS, {"store": store_pk, "id_types": list(id_types), "values": list(values)})
        return [Held(row.profile_id, row.id_type, row.value) for row in found]
    found = session.execute(
        _HOLDERS_OF_VALUES,
        {"store": store_pk, "id_types": list({t for t, _ in pairs}), "values": list({v for _, v in pairs})},
    )
    return [Held(row.profile_id, row.id_type, row.value) for row in found if (row.id_type, row.value) in pairs]


def insert_match_keys(session: Session, rows: Sequence[dict]) -> None:
    bulk.insert_rows(session, IdentifierMatchKey.__table__, rows)


def delete_match_keys(session: Session, store_pk: int, id_type: str) -> None:
    session.execute(
        delete(IdentifierMatchKey).where(IdentifierMatchKey.store_id == store_pk, IdentifierMatchKey.id_type == id_type)
    )


def values_of_type(session: Session, store_pk: int, id_type: str, after_id: int, limit: int) -> list[tuple[int, str]]:
    """(identifier row id, value) of the store's values of ``id_type`` after ``after_id``, by id."""
    rows = session.execute(
        select(ProfileIdentifier.id, ProfileIdentifier.value)
        .where(ProfileIdentifier.store_id == store_pk, ProfileIdentifier.id_type == id_type, ProfileIdentifier.id > after_id)
        .order_by(ProfileIdentifier.id)
        .limit(limit)
    )
    return list(rows.tuples())


# Keys bound per statement, well under every backend's limit on parameters.
_KEYS_PER_STATEMENT = 5000


def holders_by_keys(session: Session, store_pk: int, id_type: str, keys: Iterable[str]) -> list[Held]:
    """Values of ``id_type`` holding any of the blocking ``keys``."""
    keys = sorted(keys)
    held: list[Held] = []
    for start in range(0, len(keys), _KEYS_PER_STATEMENT):
        keyed = select(IdentifierMatchKey.identifier_id).where(
            IdentifierMatchKey.store_id == store_pk,
            IdentifierMatchKey.id_type == id_type,
            IdentifierMatchKey.key.in_(keys[start : start + _KEYS_PER_STATEMENT]),
        )
        held += _held_rows(session, keyed)
    return held


def _held_rows(session: Session, identifier_ids: Select) -> list[Held]:
    rows = session.execute(
        select(ProfileIdentifier.profile_id, ProfileIdentifier.id_type, ProfileIdentifier.value).where(
            ProfileIdentifier.id.in_(identifier_ids)
        )
    )
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


def move_identifiers(
    session: Session, kept: Sequence[ProfileIdentifier], brought: Sequence[ProfileIdentifier], from_pk: int, to_pk: int
) -> None:
    """Hand every identifier of ``from_pk`` (``brought``, as read under the write's locks)
    to ``to_pk``, dropping values ``to_pk`` already has (``kept``)."""
    existing = {(row.id_type, row.value) for row in kept}
    duplicates = [row.id for row in brought if (row.id_type, row.value) in existing]
    if duplicates:
        session.execute(delete(ProfileIdentifier).where(ProfileIdentifier.id.in_(duplicates)))
    session.execute(
        update(ProfileIdentifier).where(ProfileIdentifier.profile_id == from_pk).values(profile_id=to_pk)
    )


def hand_identifiers(session: Session, ids: Sequence[int], to_pk: int) -> None:
    """Give the identifier rows ``ids`` to ``to_pk`` as they are (source, first holder, time)."""
    if ids:
        session.execute(update(ProfileIdentifier).where(ProfileIdentifier.id.in_(ids)).values(profile_id=to_pk))


def repoint_aliases(session: Session, from_pk: int, to_pk: int) -> None:
    """Aliases of a profile that merges again follow it to the new canonical profile."""
    session.execute(update(Profile).where(Profile.canonical_id == from_pk).values(canonical_id=to_pk))


def record_merge(session: Session, merge: ProfileMerge) -> None:
    session.add(merge)


def delete_identifiers(session: Session, ids: Sequence[int]) -> None:
    if ids:
        session.execute(delete(ProfileIdentifier).where(ProfileIdentifier.id.in_(ids)))


def merge_history(session: Session, canonical_pk: int) -> list:
    """The ledger of ``canonical_pk`` and its aliases, oldest first, with the public ids of
    both sides: every merge into one of them, every unmerge and split from one of them, and
    their own merges away and back."""
    merged, survivor = aliased(Profile), aliased(Profile)
    family = select(Profile.id).where(or_(Profile.id == canonical_pk, Profile.canonical_id == canonical_pk))
    return list(
        session.execute(
            select(ProfileMerge, merged.sid, survivor.sid)
            .join(merged, merged.id == ProfileMerge.merged_id)
            .join(survivor, survivor.id == ProfileMerge.survivor_id)
            .where(or_(ProfileMerge.survivor_id.in_(family), ProfileMerge.merged_id.in_(family)))
            .order_by(ProfileMerge.id)
        )
    )


def profile_in_store(session: Session, store_pk: int, sid: str) -> Profile | None:
    return session.scalar(select(Profile).where(Profile.sid == sid, Profile.store_id == store_pk))


def latest_merge(session: Session, merged_pk: int) -> ProfileMerge | None:
    """The merge that made ``merged_pk`` an alias (a profile brought back may merge again)."""
    return session.scalar(
        select(ProfileMerge)
        .where(ProfileMerge.merged_id == merged_pk, ProfileMerge.kind == "merge")
        .order_by(ProfileMerge.id.desc())
        .limit(1)
    )


def alias_parents(session: Session, canonical_pk: int) -> dict[int, int]:
    """Each alias of ``canonical_pk`` -> the profile it merged into (by its latest merge)."""
    rows = session.execute(
        select(ProfileMerge.merged_id, ProfileMerge.survivor_id)
        .join(Profile, Profile.id == ProfileMerge.merged_id)
        .where(Profile.canonical_id == canonical_pk, ProfileMerge.kind == "merge")
        .order_by(ProfileMerge.id)
    )
    return dict(rows.tuples().all())


def point_aliases(session: Session, alias_pks: Iterable[int], canonical_pk: int) -> None:
    alias_pks = list(alias_pks)
    if alias_pks:
        session.execute(update(Profile).where(Profile.id.in_(alias_pks)).values(canonical_id=canonical_pk))


def never_merge_pairs(session: Session, store_pk: int) -> list[tuple[int, int]]:
    """The store's never-merge pairs as the live profiles they stand for now; a pair whose
    sides have since come together (through a profile merged with both) no longer applies."""
    first, second = aliased(Profile), aliased(Profile)
    rows = session.execute(
        select(func.coalesce(first.canonical_id, first.id), func.coalesce(second.canonical_id, second.id))
        .select_from(NeverMergePair)
        .join(first, first.id == NeverMergePair.first_profile_id)
        .join(second, second.id == NeverMergePair.second_profile_id)
        .where(NeverMergePair.store_id == store_pk)
    )
    return [(a, b) for a, b in rows.tuples() if a != b]


def find_never_merge_pair(session: Session, first_pk: int, second_pk: int) -> NeverMergePair | None:
    low, high = sorted((first_pk, second_pk))
    return session.scalar(
        select(NeverMergePair).where(NeverMergePair.first_profile_id == low, NeverMergePair.second_profile_id == high)
    )


def never_merge_listing(store_pk: int) -> Select:
    """The store's pairs with the public ids of both recorded profiles and of the live
    profiles they stand for now."""
    first, second = aliased(Profile), aliased(Profile)
    first_live, second_live = aliased(Profile), aliased(Profile)
    return (
        select(NeverMergePair, first.sid, second.sid, first_live.sid, second_live.sid)
        .join(first, first.id == NeverMergePair.first_profile_id)
        .join(second, second.id == NeverMergePair.second_profile_id)
        .join(first_live, first_live.id == func.coalesce(first.canonical_id, first.id))
        .join(second_live, second_live.id == func.coalesce(second.canonical_id, second.id))
        .where(NeverMergePair.store_id == store_pk)
    )


def insert_profiles(session: Session, rows: Sequence[dict]) -> dict[str, int]:
    """Insert profile rows in one statement (``database.bulk``); returns sid -> primary key."""
    return dict(zip((row["sid"] for row in rows), bulk.insert_rows(session, Profile.__table__, rows, returning_ids=True)))


def insert_identifiers(session: Session, rows: Sequence[dict], *, returning_ids: bool = False) -> list[tuple[int, str, str]]:
    """Insert identifier rows in one statement (``database.bulk``); with ``returning_ids``,
    their (id, idType, value)."""
    ids = bulk.insert_rows(session, ProfileIdentifier.__table__, rows, returning_ids=returning_ids)
    return [(pk, row["id_type"], row["value"]) for pk, row in zip(ids, rows)]


def merged_into(session: Session, profile_pk: int) -> tuple[str, str] | None:
    """``(sid, canonical sid)`` of a profile merged into another; None while it is live."""
    canonical = aliased(Profile)
    row = session.execute(
        select(Profile.sid, canonical.sid).join(canonical, canonical.id == Profile.canonical_id).where(Profile.id == profile_pk)
    ).first()
    return None if row is None else (row[0], row[1])


def delete_never_merge_pair(session: Session, store_pk: int, sid: str) -> bool:
    deleted = session.execute(
        delete(NeverMergePair).where(NeverMergePair.sid == sid, NeverMergePair.store_id == store_pk)
    )
    return deleted.rowcount > 0


def with_trait_value(session: Session, store_pk: int, group: str, name: str, value: str, limit: int) -> list[str]:
    """Live profiles whose trait ``group.name`` reads as ``value``, earliest created first.
    No index serves this: it reads the store's profiles (a console search, not an API path)."""
    held = Profile.traits[(group, name)].as_string()
    stmt = (
        select(Profile.sid)
        .where(Profile.store_id == store_pk, Profile.canonical_id.is_(None), held == value)
        .order_by(Profile.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))
