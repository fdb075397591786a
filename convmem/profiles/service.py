"""Profile rules: create, patch, fetch, list, delete, and the merge ledger."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from convmem.database.tables import Profile
from convmem.kit.clock import WriteClock
from convmem.profiles import repository
from convmem.profiles.addressing import find_canonical
from convmem.profiles.context import StoreContext
from convmem.profiles.writer import WriteOutcome, prepare, write, write_many
from convmem.traitgroups.service import defined_while_purging, only_defined
from convmem.web.errors import ApiError, not_found
from convmem.web.pagination import Page, PageRequest, keyset


def upsert(
    session: Session,
    ctx: StoreContext,
    traits: dict | None,
    *,
    source: str,
    clock: WriteClock,
    anchor_sid: str | None = None,
) -> WriteOutcome:
    """One profile write: create (no anchor) or patch (anchor). The caller holds the store's lock."""
    if anchor_sid is not None:
        anchor = find_canonical(session, ctx.pk, anchor_sid).pk
        clean, wanted = prepare(ctx, traits, patching=True)
        return write(session, ctx, clean, wanted, source=source, clock=clock, anchor=anchor)
    (outcome,) = write_many(session, ctx, [prepare(ctx, traits)], source=source, clock=clock)
    if isinstance(outcome, ApiError):
        raise outcome
    return outcome


@dataclass(frozen=True)
class ProfileView:
    sid: str
    created_at: datetime
    traits: dict


def fetch(session: Session, store_pk: int, profile_sid: str, groups: set[str] | None) -> ProfileView:
    defined = defined_while_purging(session, store_pk)
    row = session.execute(
        select(Profile.canonical_id, Profile.created_at, Profile.traits).where(
            Profile.sid == profile_sid, Profile.store_id == store_pk
        )
    ).first()
    if row is None:
        raise not_found(f"Profile '{profile_sid}' was not found")
    if row.canonical_id is not None:
        find_canonical(session, store_pk, profile_sid)
    traits = row.traits or {}
    if defined is not None:
        traits = only_defined(traits, defined)
    if groups is not None:
        traits = {g: v for g, v in traits.items() if g in groups}
    return ProfileView(profile_sid, row.created_at, traits)


def list_page(session: Session, store_pk: int, page: PageRequest) -> Page:
    stmt = select(Profile.id, Profile.sid).where(Profile.store_id == store_pk, Profile.canonical_id.is_(None))
    return keyset(session, stmt, [Profile.id], page, key_of=lambda row: row.id)


def remove(session: Session, store_pk: int, profile_sid: str) -> None:
    """Delete the profile with its identifiers, traits and aliases; its values become free."""
    ref = find_canonical(session, store_pk, profile_sid)
    session.execute(delete(Profile).where(Profile.id == ref.pk))


@dataclass(frozen=True)
class MergeRecord:
    kind: str
    merged_sid: str
    into_sid: str
    merged_at: datetime
    id_type: str
    value: str
    source: str


def merge_history(session: Session, store_pk: int, profile_sid: str) -> list[MergeRecord]:
    """The profile's identity ledger: which profiles were folded in, brought back out or
    split off, when, and which identifier value caused it (a convmem extension)."""
    ref = find_canonical(session, store_pk, profile_sid)
    return [
        MergeRecord(merge.kind, merged_sid, survivor_sid, merge.merged_at, merge.cause_id_type, merge.cause_value, merge.trigger)
        for merge, merged_sid, survivor_sid in repository.merge_history(session, ref.pk)
    ]


def find_by_trait(session: Session, store_pk: int, group: str, name: str, value: str, limit: int = 100) -> list[str]:
    """The live profiles holding ``value`` in trait ``group.name`` (compared as text)."""
    return repository.with_trait_value(session, store_pk, group, name, value, limit)
