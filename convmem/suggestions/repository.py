"""SQL of suggestions, their blocking keys and the job's history cursor."""

from collections.abc import Iterable, Sequence

from sqlalchemy import Select, delete, func, insert, or_, select
from sqlalchemy.orm import Session, aliased

from convmem.database.tables import (
    Job,
    Profile,
    ProfileHistory,
    ProfileIdentifier,
    Suggestion,
    SuggestionCursor,
    SuggestionKey,
)

# Keys bound per statement, well under every backend's limit on parameters.
_KEYS_PER_STATEMENT = 5000


def replace_keys(session: Session, store_pk: int, profile_pk: int, keys: Iterable[str]) -> None:
    session.execute(delete(SuggestionKey).where(SuggestionKey.profile_id == profile_pk))
    rows = [{"profile_id": profile_pk, "key": key, "store_id": store_pk} for key in sorted(set(keys))]
    if rows:
        session.execute(insert(SuggestionKey.__table__), rows)


def profiles_with_keys(session: Session, store_pk: int, keys: Iterable[str]) -> set[int]:
    keys = sorted(keys)
    found: set[int] = set()
    for start in range(0, len(keys), _KEYS_PER_STATEMENT):
        found.update(
            session.scalars(
                select(SuggestionKey.profile_id)
                .where(SuggestionKey.store_id == store_pk, SuggestionKey.key.in_(keys[start : start + _KEYS_PER_STATEMENT]))
                .distinct()
            )
        )
    return found


def cursor_of(session: Session, store_pk: int) -> int:
    return session.scalar(select(SuggestionCursor.history_id).where(SuggestionCursor.store_id == store_pk)) or 0


def move_cursor(session: Session, store_pk: int, history_id: int) -> None:
    cursor = session.get(SuggestionCursor, store_pk)
    if cursor is None:
        session.add(SuggestionCursor(store_id=store_pk, history_id=history_id))
    else:
        cursor.history_id = history_id


def touched_after(session: Session, store_pk: int, after_id: int, limit: int) -> list[tuple[int, int]]:
    """(history row id, profile) of the store's history rows after ``after_id``, oldest first."""
    rows = session.execute(
        select(ProfileHistory.id, ProfileHistory.profile_id)
        .where(ProfileHistory.id > after_id, ProfileHistory.store_id == store_pk)
        .order_by(ProfileHistory.id)
        .limit(limit)
    )
    return list(rows.tuples())


def stores_written_after(session: Session, after_id: int) -> list[tuple[int, int]]:
    """(store, its latest history row) of the stores with history rows after ``after_id``."""
    rows = session.execute(
        select(ProfileHistory.store_id, func.max(ProfileHistory.id))
        .where(ProfileHistory.id > after_id)
        .group_by(ProfileHistory.store_id)
    )
    return list(rows.tuples())


def has_unfinished_job(session: Session, store_pk: int, kind: str, unfinished: Sequence[str]) -> bool:
    return (
        session.scalar(
            select(Job.id).where(Job.store_id == store_pk, Job.kind == kind, Job.status.in_(unfinished)).limit(1)
        )
        is not None
    )


def find_pair(session: Session, first_pk: int, second_pk: int) -> Suggestion | None:
    low, high = sorted((first_pk, second_pk))
    return session.scalar(select(Suggestion).where(Suggestion.first_profile_id == low, Suggestion.second_profile_id == high))


def open_of(session: Session, profile_pk: int) -> list[Suggestion]:
    return list(
        session.scalars(
            select(Suggestion).where(
                Suggestion.status == "open",
                or_(Suggestion.first_profile_id == profile_pk, Suggestion.second_profile_id == profile_pk),
            )
        )
    )


def find(session: Session, store_pk: int, sid: str) -> Suggestion | None:
    return session.scalar(select(Suggestion).where(Suggestion.sid == sid, Suggestion.store_id == store_pk))


def listing(store_pk: int, status: str | None) -> Select:
    """The store's suggestions with the public ids of both profiles."""
    first, second = aliased(Profile), aliased(Profile)
    stmt = (
        select(Suggestion, first.sid, second.sid)
        .join(first, first.id == Suggestion.first_profile_id)
        .join(second, second.id == Suggestion.second_profile_id)
        .where(Suggestion.store_id == store_pk)
    )
    return stmt.where(Suggestion.status == status) if status else stmt


def sids_of(session: Session, pks: Sequence[int]) -> dict[int, str]:
    return dict(session.execute(select(Profile.id, Profile.sid).where(Profile.id.in_(pks))).tuples().all())


def live_profiles(session: Session, pks: Sequence[int]) -> list[Profile]:
    if not pks:
        return []
    return list(session.scalars(select(Profile).where(Profile.id.in_(pks), Profile.canonical_id.is_(None)).order_by(Profile.id)))


def identifiers_of(session: Session, profile_pks: Sequence[int]) -> dict[int, list[ProfileIdentifier]]:
    """Each profile's identifier rows, in the order they were added."""
    by_profile: dict[int, list[ProfileIdentifier]] = {}
    if profile_pks:
        rows = session.scalars(
            select(ProfileIdentifier).where(ProfileIdentifier.profile_id.in_(profile_pks)).order_by(ProfileIdentifier.id)
        )
        for row in rows:
            by_profile.setdefault(row.profile_id, []).append(row)
    return by_profile
