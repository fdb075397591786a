"""SQL of profile history and its retention."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from convmem.database.tables import Profile, ProfileHistory, Store
from convmem.history.record import BASELINE, PROFILE, TRAIT


def find_profile(session: Session, store_pk: int, profile_sid: str) -> Profile | None:
    """The profile row, live or merged: a merged profile's history is its own until it merged."""
    return session.scalar(select(Profile).where(Profile.sid == profile_sid, Profile.store_id == store_pk))


def sid_of(session: Session, profile_pk: int | None) -> str | None:
    return None if profile_pk is None else session.scalar(select(Profile.sid).where(Profile.id == profile_pk))


def events_until(session: Session, profile_pk: int, until: datetime) -> list[ProfileHistory]:
    """The profile's own events at or before ``until``, in the order they happened."""
    return list(
        session.scalars(
            select(ProfileHistory)
            .where(ProfileHistory.profile_id == profile_pk, ProfileHistory.at <= until)
            .order_by(ProfileHistory.at, ProfileHistory.id)
        )
    )


def trait_events(session: Session, profile_pk: int, group: str, name: str) -> list[tuple[ProfileHistory, str]]:
    """Events that may concern one trait of the profile and of the profiles merged into it
    (whole-state events included: the caller looks inside), oldest first, with each one's profile sid."""
    owners = select(Profile.id).where(or_(Profile.id == profile_pk, Profile.canonical_id == profile_pk))
    about_trait = (ProfileHistory.kind == TRAIT) & (ProfileHistory.subject_group == group) & (ProfileHistory.subject_name == name)
    return list(
        session.execute(
            select(ProfileHistory, Profile.sid)
            .join(Profile, Profile.id == ProfileHistory.profile_id)
            .where(ProfileHistory.profile_id.in_(owners), or_(about_trait, ProfileHistory.kind == PROFILE))
            .order_by(ProfileHistory.at, ProfileHistory.id)
        ).tuples()
    )


def stores_with_retention(session: Session) -> list[tuple[int, int]]:
    return list(session.execute(select(Store.id, Store.history_retention_days).where(Store.history_retention_days.is_not(None))).tuples())


def set_retention(session: Session, store_pk: int, days: int | None) -> None:
    session.execute(update(Store).where(Store.id == store_pk).values(history_retention_days=days))


def profiles_to_compact(session: Session, store_pk: int, horizon: datetime, limit: int) -> list[int]:
    """Profiles with events older than ``horizon`` other than a baseline: those compaction has work on."""
    return list(
        session.scalars(
            select(ProfileHistory.profile_id)
            .where(ProfileHistory.store_id == store_pk, ProfileHistory.at < horizon, ProfileHistory.action != BASELINE)
            .distinct()
            .limit(limit)
        )
    )


def delete_events_before(session: Session, profile_pks: Sequence[int], horizon: datetime) -> None:
    session.execute(delete(ProfileHistory).where(ProfileHistory.profile_id.in_(profile_pks), ProfileHistory.at < horizon))


def events_before(session: Session, profile_pks: Sequence[int], horizon: datetime) -> list[ProfileHistory]:
    return list(
        session.scalars(
            select(ProfileHistory)
            .where(ProfileHistory.profile_id.in_(profile_pks), ProfileHistory.at < horizon)
            .order_by(ProfileHistory.profile_id, ProfileHistory.at, ProfileHistory.id)
        )
    )
