"""Queries of identity resolution: a store's identifier values, streamed in order."""

from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from convmem.database.tables import Profile, ProfileIdentifier

STREAM_BATCH = 1000


def id_types_of(session: Session, store_pk: int) -> list[str]:
    query = select(ProfileIdentifier.id_type).where(ProfileIdentifier.store_id == store_pk).distinct()
    return sorted(session.scalars(query))


def values_of_type(session: Session, store_pk: int, id_type: str) -> Iterator[tuple[str, int]]:
    """``(value, profile key)`` of one type on live profiles, in code-point order of the value
    (PostgreSQL's "C" collation, SQLite's default), so values sharing a prefix come together."""
    value = ProfileIdentifier.value
    if session.get_bind().dialect.name == "postgresql":
        value = value.collate("C")
    query = (
        select(ProfileIdentifier.value, ProfileIdentifier.profile_id)
        .join(Profile, Profile.id == ProfileIdentifier.profile_id)
        .where(ProfileIdentifier.store_id == store_pk, ProfileIdentifier.id_type == id_type, Profile.canonical_id.is_(None))
        .order_by(value, ProfileIdentifier.profile_id)
        .execution_options(yield_per=STREAM_BATCH)
    )
    for row in session.execute(query):
        yield row.value, row.profile_id


def sids_of(session: Session, profile_pks: set[int]) -> dict[int, str]:
    if not profile_pks:
        return {}
    return dict(session.execute(select(Profile.id, Profile.sid).where(Profile.id.in_(profile_pks))).all())
