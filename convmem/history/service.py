"""History rules: a profile as of an instant, a trait's changes, where each value came from,
and how long history is kept (a convmem extension of the contract)."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import groupby

from sqlalchemy.orm import Session

from convmem.database.tables import Profile, Store
from convmem.history import record, repository
from convmem.history.replay import State, as_whole, replay
from convmem.web.errors import bad_request, not_found

RETENTION_SOURCE = "retention"


@dataclass(frozen=True)
class ProfileAsOf:
    sid: str
    at: datetime
    state: State


@dataclass(frozen=True)
class TraitChange:
    profile_sid: str
    at: datetime
    action: str
    old: object
    new: object
    source: str
    via: str | None


@dataclass(frozen=True)
class ValueOrigin:
    group: str
    name: str
    value: object
    set_at: str
    source: str
    via: str | None


def profile_as_of(session: Session, store: Store, profile_sid: str, at: datetime, now: datetime) -> ProfileAsOf:
    """The traits and identifiers the profile held at ``at``: its own, so a merged profile's
    until it merged (then nothing). Before the retention horizon history is no longer whole: 400."""
    horizon = retention_horizon(store, now)
    if horizon is not None and at < horizon:
        raise bad_request(
            f"'asOf' is before {horizon.isoformat()}: the store keeps {store.history_retention_days} days of history"
        )
    profile = _profile(session, store.id, profile_sid)
    return ProfileAsOf(profile.sid, at, replay(repository.events_until(session, profile.id, at)))


def trait_history(session: Session, store_pk: int, profile_sid: str, group: str, name: str) -> list[TraitChange]:
    """Every change of one trait on the profile and on the profiles merged into it, oldest first;
    a new profile's first value shows as ``created``."""
    profile = _profile(session, store_pk, profile_sid)
    changes = []
    for event, sid in repository.trait_events(session, profile.id, group, name):
        if event.kind == record.PROFILE:
            value = event.new_value["traits"].get(group, {}).get(name)
            if value is None:
                continue
            changes.append(TraitChange(sid, event.at, event.action, None, value, event.source, None))
        else:
            changes.append(TraitChange(sid, event.at, event.action, event.old_value, event.new_value, event.source, event.via))
    return changes


def provenance(session: Session, store_pk: int, profile_sid: str) -> tuple[Profile, list[ValueOrigin]]:
    """Each value the profile holds with when and by what it was written, and for values a merge
    brought, the profile they were first written on."""
    profile = _profile(session, store_pk, profile_sid)
    meta = profile.trait_meta or {}
    origins = [
        ValueOrigin(group, name, value, *_written(meta.get(group, {}).get(name, {})))
        for group, named in (profile.traits or {}).items()
        for name, value in named.items()
    ]
    return profile, origins


def canonical_sid(session: Session, profile: Profile) -> str | None:
    return repository.sid_of(session, profile.canonical_id)


def retention_horizon(store: Store, now: datetime) -> datetime | None:
    days = store.history_retention_days
    return None if days is None else now - timedelta(days=days)


def set_retention(session: Session, store: Store, days: int | None) -> None:
    repository.set_retention(session, store.id, days)
    store.history_retention_days = days


def compact(session: Session, store_pk: int, horizon: datetime, limit: int) -> bool:
    """Fold the events before ``horizon`` of up to ``limit`` profiles into one baseline event
    each (the state they give), so ``asOf`` stays exact from the horizon on. Returns whether
    there was any work. The caller holds the store's write lock."""
    profile_pks = repository.profiles_to_compact(session, store_pk, horizon, limit)
    if not profile_pks:
        return False
    events = repository.events_before(session, profile_pks, horizon)
    repository.delete_events_before(session, profile_pks, horizon)
    baselines = []
    for profile_pk, own in groupby(events, key=lambda event: event.profile_id):
        own = list(own)
        state = replay(own)
        if not state.empty:
            changes = record.Changes(store_pk, own[-1].at, RETENTION_SOURCE)
            changes.add(profile_pk, record.PROFILE, record.BASELINE, None, None, None, as_whole(state))
            baselines += changes.rows
    record.save(session, baselines)
    return True


def _profile(session: Session, store_pk: int, profile_sid: str) -> Profile:
    profile = repository.find_profile(session, store_pk, profile_sid)
    if profile is None:
        raise not_found(f"Profile '{profile_sid}' was not found")
    return profile


def _written(meta: dict) -> tuple[str, str, str | None]:
    return meta.get("at", ""), meta.get("source", ""), meta.get("via")
