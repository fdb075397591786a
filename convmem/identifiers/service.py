"""Identifier rules for one profile.

Every value that is added (create, and the new value of a patch) goes through
``profiles.writer.write`` with the profile as anchor, so it is normalised, resolved, merged
and held to ``limit``/``limitPolicy`` exactly as a profile create would do. Only removal is
decided here, and it asks the resolution core which value the limit policy evicts first.
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.orm import Session

from convmem.database.tables import ProfileIdentifier
from convmem.history import record
from convmem.identity.resolution import (
    IdentifierRule,
    InvalidIdentifier,
    ResolutionSettings,
    evictions,
    normalize,
)
from convmem.kit.clock import WriteClock
from convmem.profiles import repository as profiles_repository
from convmem.profiles.addressing import ProfileRef, find_canonical
from convmem.profiles.context import StoreContext
from convmem.profiles.writer import normalize_or_400, write
from convmem.web.errors import ApiError, Code, bad_request, not_found

SOURCE = "api:identifier"


def configured_rule(settings: ResolutionSettings, id_type: str) -> IdentifierRule:
    rule = settings.rules.get(id_type)
    if rule is None:
        raise ApiError(
            400,
            Code.UNKNOWN_ID_TYPE,
            f"Unknown idType '{id_type}': the store's identity resolution settings configure "
            + ", ".join(f"'{name}'" for name in sorted(settings.rules)),
        )
    return rule


def normalized_value(settings: ResolutionSettings, id_type: str, raw: str, where: str) -> str:
    """``raw`` in stored form, or the 400 naming the unknown idType or the invalid value
    (with the codes profile writes use for the same failures)."""
    return normalize_or_400(configured_rule(settings, id_type), raw, where)


@dataclass(frozen=True)
class IdentifierSet:
    id_type: str
    values: list[str]


def list_sets(session: Session, store_pk: int, profile_sid: str) -> list[IdentifierSet]:
    """Every identifier type the profile holds, each with its values oldest first; types in
    the order their first value was added."""
    ref = find_canonical(session, store_pk, profile_sid)
    sets: dict[str, list[str]] = {}
    for row in profiles_repository.identifiers_of(session, ref.pk):
        sets.setdefault(row.id_type, []).append(row.value)
    return [IdentifierSet(id_type, values) for id_type, values in sets.items()]


def fetch_set(session: Session, ctx: StoreContext, profile_sid: str, id_type: str) -> IdentifierSet:
    ref = find_canonical(session, ctx.pk, profile_sid)
    return IdentifierSet(id_type, [row.value for row in _rows_of_type(session, ctx, ref, id_type)])


def add(session: Session, ctx: StoreContext, clock: WriteClock, profile_sid: str, id_type: str, raw: str) -> None:
    ref = find_canonical(session, ctx.pk, profile_sid)
    value = normalized_value(ctx.settings, id_type, raw, "value")
    write(session, ctx, {}, [(id_type, value)], source=SOURCE, clock=clock, anchor=ref.pk)


def replace_value(
    session: Session,
    ctx: StoreContext,
    clock: WriteClock,
    profile_sid: str,
    path_id_type: str,
    body_id_type: str,
    old_raw: str,
    new_raw: str,
) -> None:
    """Swap one stored value for another. The new value counts as newly added (it goes last)
    and may tie the profile to others, which then merge; the old one is gone either way."""
    if body_id_type != path_id_type:
        raise bad_request(f"Invalid 'idType': the body names '{body_id_type}' but the path names '{path_id_type}'")
    ref = find_canonical(session, ctx.pk, profile_sid)
    new_value = normalized_value(ctx.settings, path_id_type, new_raw, "newValue")
    old_forms = {old_raw, _normalized_or_none(ctx.settings.rules[path_id_type], old_raw)}
    stored = _rows_of_type(session, ctx, ref, path_id_type)
    old = next((row for row in stored if row.value in old_forms), None)
    if old is None:
        raise not_found(f"Profile '{ref.sid}' has no {path_id_type} identifier '{old_raw}'")
    if old.value == new_value:
        return
    _delete(session, ctx, clock, ref, [old])
    write(session, ctx, {}, [(path_id_type, new_value)], source=SOURCE, clock=clock, anchor=ref.pk)


def remove(
    session: Session, ctx: StoreContext, clock: WriteClock, profile_sid: str, id_type: str, *, remove_all: bool
) -> None:
    ref = find_canonical(session, ctx.pk, profile_sid)
    stored = _rows_of_type(session, ctx, ref, id_type)
    if not stored:
        raise not_found(f"Profile '{ref.sid}' has no {id_type} identifier to remove")
    rule = ctx.settings.rules.get(id_type, IdentifierRule(id_type))
    doomed = set(first_evicted(rule, [row.id for row in stored])) if not remove_all else {row.id for row in stored}
    _delete(session, ctx, clock, ref, [row for row in stored if row.id in doomed])


def _delete(session: Session, ctx: StoreContext, clock: WriteClock, ref: ProfileRef, rows: Sequence[ProfileIdentifier]) -> None:
    """Delete identifier rows of the profile, recording each removal in its history."""
    changes = record.Changes(ctx.pk, record.instant(clock.tick()), SOURCE)
    for row in rows:
        changes.identifier(ref.pk, record.REMOVED, row.id_type, row.value, present=False)
    profiles_repository.delete_identifiers(session, [row.id for row in rows])
    changes.save(session)


def first_evicted(rule: IdentifierRule, stored: Sequence[int]) -> list[int]:
    """The value ``rule``'s limitPolicy drops first: what the set would lose if it held one
    value more than its limit (fifo: the oldest, lifo: the most recent)."""
    return evictions(replace(rule, limit=len(stored) - 1), stored, ())


def _rows_of_type(session: Session, ctx: StoreContext, ref: ProfileRef, id_type: str) -> list[ProfileIdentifier]:
    """The profile's values of ``id_type``, oldest first. A type is addressable when the
    settings configure it or the profile still holds values of it (settings may have
    dropped the type since), so such leftovers can still be read and removed."""
    rows = [row for row in profiles_repository.identifiers_of(session, ref.pk) if row.id_type == id_type]
    if not rows:
        configured_rule(ctx.settings, id_type)
    return rows


def _normalized_or_none(rule: IdentifierRule, raw: str) -> str | None:
    try:
        return normalize(rule, raw)
    except InvalidIdentifier:
        return None


@dataclass(frozen=True)
class IdentifierOrigin:
    """One identifier the profile holds, what wrote it, when, and the profile it was first
    added to (another one when a merge brought it)."""

    id_type: str
    value: str
    source: str
    added_at: datetime
    origin_sid: str | None


def list_with_origins(session: Session, store_pk: int, profile_sid: str) -> list[IdentifierOrigin]:
    ref = find_canonical(session, store_pk, profile_sid)
    rows = profiles_repository.identifiers_of(session, ref.pk)
    origins = profiles_repository.load_profiles(session, sorted({row.origin_profile_id for row in rows}))
    return [
        IdentifierOrigin(
            row.id_type,
            row.value,
            row.source,
            row.added_at,
            origins[row.origin_profile_id].sid if row.origin_profile_id in origins else None,
        )
        for row in rows
    ]
