"""The one write path of profiles: validate, normalise, resolve identity, merge, apply.

Creates, patches, identifier writes, bulk batches and imports all end here. The caller holds
the store's write lock and owns the transaction.

The store's lock is held exclusively by most callers. Creates, trait patches and added
identifiers hold it shared (PostgreSQL), so those writes of one store run side by side, and
the writer locks what a write can touch before it reads anything it decides on: first the
write's identifier keys (``(store, type, value)``; a fuzzy matching type, whose matches no
value names, as one key per type), then the profiles holding those values (and the profile a
patch names). Every change to an identifier row is made holding the key of its value, the
lock of its profile or the store's lock exclusively, so once both are held and a re-read
finds no holder outside the locked profiles, what the write resolves against stays as read
until it commits. If a holder moved meanwhile (a merge carried the value to another profile),
the profile locks are let go and taken again with the new holder among them, keys first, then
profiles, each in ascending order: writes never wait on each other in a cycle.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from convmem.database.engine import identity_key, lock_identities, locks_identities
from convmem.database.tables import Profile, ProfileIdentifier, ProfileMerge, utcnow
from convmem.history import record
from convmem.history.record import Changes
from convmem.identity.resolution import (
    Held,
    IdentifierRule,
    InvalidIdentifier,
    Resolution,
    Tie,
    TraitValue,
    evictions,
    merge_trait_sets,
    normalize,
    resolve,
)
from convmem.kit.clock import WriteClock
from convmem.kit.ids import Prefix, new_id
from convmem.profiles import match_index, repository
from convmem.profiles.addressing import ProfileMoved
from convmem.profiles.context import StoreContext
from convmem.traitgroups.service import validate_traits
from convmem.web.errors import ApiError, Code, bad_request


@dataclass(frozen=True)
class WriteOutcome:
    pk: int
    sid: str
    created: bool
    merged: tuple[str, ...]


def prepare(ctx: StoreContext, traits: dict | None, *, patching: bool = False) -> tuple[dict, list[tuple[str, str]]]:
    """Validate a write's traits against the store's schema and normalise its identifiers.
    Raises the 400 a client should see; touches no data. Creates need an identifier."""
    if not traits:
        raise bad_request("'traits' must hold at least one trait group with at least one trait")
    clean, promotions = validate_traits(ctx.schema, traits, allow_null=patching)
    if not patching and not promotions:
        raise ApiError(
            400,
            Code.NO_IDENTIFIER,
            "A profile needs at least one trait promoted to an identifier (for example Contact.email or Contact.phone)",
        )
    return clean, normalize_identifiers(ctx, promotions)


def normalize_or_400(rule: IdentifierRule, raw: str, where: str) -> str:
    """``raw`` in stored form, or the 400 a client sees for an invalid value at ``where``."""
    try:
        return normalize(rule, raw)
    except InvalidIdentifier as exc:
        code = Code.INVALID_PHONE if rule.normalization == "phone" else Code.INVALID_IDENTIFIER
        raise ApiError(400, code, f"'{where}': {exc}") from None


def normalize_identifiers(ctx: StoreContext, raw: Sequence[tuple[str, str, str]]) -> list[tuple[str, str]]:
    """(idType, raw value, where) -> distinct (idType, normalised value), in request order."""
    wanted: list[tuple[str, str]] = []
    for id_type, value, where in raw:
        rule = ctx.settings.rules.get(id_type)
        if rule is None:
            raise ApiError(
                400,
                Code.UNKNOWN_ID_TYPE,
                f"'{where}' is promoted to identifier type '{id_type}', which the store's identity resolution settings do not configure",
            )
        pair = (id_type, normalize_or_400(rule, value, where))
        if pair not in wanted:
            wanted.append(pair)
    return wanted


def write(
    session: Session,
    ctx: StoreContext,
    traits: dict[str, dict],
    wanted: Sequence[tuple[str, str]],
    *,
    source: str,
    clock: WriteClock,
    anchor: int | None = None,
) -> WriteOutcome:
    """Resolve the write's identity, merge what it ties together, then apply its traits and
    identifiers. The caller holds the store's write lock and owns the transaction."""
    held = _stable_holders(session, ctx, wanted, _fuzzy_types(ctx, wanted), anchor)
    return _write_resolving(session, ctx, traits, wanted, held, source=source, clock=clock, anchor=anchor)


def _write_resolving(
    session: Session,
    ctx: StoreContext,
    traits: dict[str, dict],
    wanted: Sequence[tuple[str, str]],
    held: Sequence[Held],
    *,
    source: str,
    clock: WriteClock,
    anchor: int | None = None,
) -> WriteOutcome:
    """``write`` once ``held`` holds what ``match_index.holders`` gives for ``wanted``, stable."""
    apart = _never_merge_pairs(session, ctx, held, anchor)
    resolution = resolve(ctx.settings, wanted, held, anchor=anchor, apart=apart)
    _refuse_conflicts(resolution)
    if resolution.target is None:
        return _create_profiles(session, ctx, [(traits, wanted)], source, clock)[0]

    now = utcnow()
    at = clock.tick()
    changes = Changes(ctx.pk, record.instant(at), source)
    profiles = repository.load_profiles(session, [resolution.target, *(t.profile for t in resolution.merged)])
    target = profiles[resolution.target]
    merged_profiles = [profiles[tie.profile] for tie in resolution.merged]
    trait_set = _trait_set(target)
    via = _via_of(target)
    folded = [_trait_set(merged) for merged in merged_profiles]
    if folded:
        carried = merge_trait_sets(trait_set, folded)
        _note_carried(changes, target, trait_set, carried, zip(merged_profiles, folded), via)
        trait_set = carried
    for tie, merged in zip(resolution.merged, merged_profiles):
        _fold(session, ctx, target, merged, tie, source, now, changes)

    for group, values in traits.items():
        into = trait_set.setdefault(group, {})
        for name, value in values.items():
            old = into.get(name)
            changes.trait(target.id, group, name, None if old is None else old.value, value)
            via.pop((group, name), None)
            if value is None:
                into.pop(name, None)
            else:
                into[name] = TraitValue(value, at, source)
    target.traits, target.trait_meta = _trait_columns(trait_set, via)
    target.updated_at = now

    _add_identifiers(session, ctx, target, wanted, source, now, changes)
    changes.save(session)
    session.flush()
    return WriteOutcome(target.id, target.sid, False, tuple(merged.sid for merged in merged_profiles))


def merge_pair(
    session: Session, ctx: StoreContext, survivor_pk: int, merged_pk: int, tie: Tie, *, source: str, clock: WriteClock
) -> WriteOutcome:
    """Merge two live profiles a review decided are one (an accepted suggestion), as a write
    that ties them would: the earlier profile survives, the merge is in the ledger and the
    history, the later profile's id redirects. The caller holds the store's write lock."""
    now = utcnow()
    changes = Changes(ctx.pk, record.instant(clock.tick()), source)
    profiles = repository.load_profiles(session, [survivor_pk, merged_pk])
    target, merged = profiles[survivor_pk], profiles[merged_pk]
    before, brought, via = _trait_set(target), _trait_set(merged), _via_of(target)
    carried = merge_trait_sets(before, [brought])
    _note_carried(changes, target, before, carried, [(merged, brought)], via)
    _fold(session, ctx, target, merged, tie, source, now, changes)
    target.traits, target.trait_meta = _trait_columns(carried, via)
    target.updated_at = now
    changes.save(session)
    session.flush()
    return WriteOutcome(target.id, target.sid, False, (merged.sid,))


def write_many(
    session: Session, ctx: StoreContext, writes: Sequence[tuple[dict, Sequence[tuple[str, str]]]], *, source: str, clock: WriteClock
) -> list[WriteOutcome | ApiError]:
    """Create writes (``prepare``d bodies) in order, each with the outcome ``write`` would
    give it; a body's 409 is returned in its place and leaves the others intact.

    The stored values all bodies name are read in one query, and ``resolve`` decides each
    body against them. Bodies it sends to a new profile are inserted together. A body that
    names a value of an earlier body in the batch, or needs a fuzzy scan, goes through
    ``write`` once the pending inserts are flushed, so it sees them.
    The caller holds the store's write lock and owns the transaction.
    """
    named_anywhere = list({pair: None for _, wanted in writes for pair in wanted})
    # Under a shared store lock every profile any body can reach is locked here, before the
    # first body runs: a later body must never wait for a lock while earlier ones hold some.
    # A lone body (a create) resolves against this read as it is, fuzzy matches included.
    lone = len(writes) == 1
    fuzzy_types = _fuzzy_types(ctx, named_anywhere) if locks_identities(session) or lone else set()
    held_anywhere = _stable_holders(session, ctx, named_anywhere, fuzzy_types)
    if lone:
        (traits, wanted), = writes
        try:
            return [_write_resolving(session, ctx, traits, wanted, held_anywhere, source=source, clock=clock)]
        except ApiError as error:  # refused before it changed anything
            return [error]
    held_by_pair: dict[tuple[str, str], list[Held]] = {}
    for held in held_anywhere:
        held_by_pair.setdefault((held.id_type, held.value), []).append(held)
    named: set[tuple[str, str]] = set()
    outcomes: list[WriteOutcome | ApiError | None] = [None] * len(writes)
    pending: list[int] = []

    def flush_pending() -> None:
        created = _create_profiles(session, ctx, [writes[i] for i in pending], source, clock)
        for index, outcome in zip(pending, created):
            outcomes[index] = outcome
        pending.clear()

    for index, (traits, wanted) in enumerate(writes):
        pairs = set(wanted)
        independent = not (pairs & named) and not _fuzzy_types(ctx, wanted)
        named |= pairs
        if independent:
            stored = [h for pair in pairs for h in held_by_pair.get(pair, ())]
            # A write no stored value matches resolves to a new profile: ``resolve`` is asked only otherwise.
            decision = resolve(ctx.settings, wanted, stored) if stored else None
            if decision is None or (decision.target is None and not decision.conflicts):
                pending.append(index)
                continue
        flush_pending()
        try:
            with session.begin_nested():
                outcomes[index] = write(session, ctx, traits, wanted, source=source, clock=clock)
        except ApiError as error:
            outcomes[index] = error
    flush_pending()
    return outcomes


def _stable_holders(
    session: Session, ctx: StoreContext, wanted: Sequence[tuple[str, str]], fuzzy_types: set[str], anchor: int | None = None
) -> list[Held]:
    """The stored values a write carrying ``wanted`` resolves against (``match_index.holders``),
    read once nothing else can change them before the transaction ends: under an exclusive
    store lock at once; under a shared one after locking the write's identifier keys and the
    profiles holding them (and ``anchor``), as the module's docstring tells. An ``anchor`` found
    merged once locked raises ``ProfileMoved``, as it would have, had the merge come first."""
    def read() -> list[Held]:
        return match_index.holders(session, ctx.pk, ctx.settings, wanted, fuzzy_types=fuzzy_types)

    if not locks_identities(session):
        return read()
    lock_identities(session, (_identifier_key(ctx, id_type, value) for id_type, value in wanted))
    held = read()
    profiles = {h.profile for h in held} | ({anchor} if anchor is not None else set())
    while profiles:
        savepoint = session.begin_nested()
        lock_identities(session, (_profile_key(pk) for pk in profiles))
        held = read()
        reached = {h.profile for h in held}
        if reached <= profiles:
            savepoint.commit()
            break
        savepoint.rollback()
        profiles |= reached
    if anchor is not None:
        moved = repository.merged_into(session, anchor)
        if moved is not None:  # a create merged it into another profile before its lock was ours
            raise ProfileMoved(*moved)
    return held


def _identifier_key(ctx: StoreContext, id_type: str, value: str) -> int:
    """A fuzzy matching type's values are found by similarity, not equality: one key for all of them."""
    if id_type in _fuzzy_types(ctx, [(id_type, value)]):
        return identity_key("identifier type", ctx.pk, id_type)
    return identity_key("identifier", ctx.pk, id_type, value)


def _profile_key(profile_pk: int) -> int:
    return identity_key("profile", profile_pk)


def stored_matches(session: Session, ctx: StoreContext, wanted: Sequence[tuple[str, str]]) -> list[Held]:
    """The stored values resolution must see for a write carrying ``wanted``."""
    return match_index.holders(session, ctx.pk, ctx.settings, wanted, fuzzy_types=_fuzzy_types(ctx, wanted))


def _fuzzy_types(ctx: StoreContext, wanted: Sequence[tuple[str, str]]) -> set[str]:
    return {t for t, _ in wanted if t in ctx.settings.matching_rules and ctx.settings.rules[t].fuzzy}


def _never_merge_pairs(session: Session, ctx: StoreContext, held: Sequence[Held], anchor: int | None) -> list[tuple[int, int]]:
    """The store's never-merge pairs, read only when the write reaches two profiles or more."""
    reached = {h.profile for h in held} | ({anchor} if anchor is not None else set())
    return repository.never_merge_pairs(session, ctx.pk) if len(reached) >= 2 else []


def _refuse_conflicts(resolution: Resolution) -> None:
    if resolution.conflicts:
        taken = resolution.conflicts[0]
        raise ApiError(
            409,
            Code.IDENTIFIER_CONFLICT,
            f"{taken.id_type} '{taken.value}' belongs to another profile, and '{taken.id_type}' is unique but not a matching rule, so the profiles cannot merge",
        )


def _create_profiles(
    session: Session,
    ctx: StoreContext,
    bodies: Sequence[tuple[dict, Sequence[tuple[str, str]]]],
    source: str,
    clock: WriteClock,
) -> list[WriteOutcome]:
    """New profiles for bodies ``resolve`` tied to nothing: their traits, and their
    identifier values less those a type's limit evicts. One insert per table."""
    if not bodies:
        return []
    now = utcnow()
    ticks = clock.ticks(len(bodies))
    # A body with no more values than the smallest limit has none for any limit to evict.
    smallest_limit = min(rule.limit for rule in ctx.settings.rules.values())
    profiles, identifiers = [], []
    for (traits, wanted), at in zip(bodies, ticks):
        trait_columns, meta_columns = _stamped_columns(traits, at, source)
        sid = new_id(Prefix.PROFILE)
        profiles.append(
            {"sid": sid, "store_id": ctx.pk, "traits": trait_columns, "trait_meta": meta_columns, "created_at": now, "updated_at": now}
        )
        evicted: set[tuple[str, str]] = set()
        if len(wanted) > smallest_limit:
            for id_type in {t for t, _ in wanted}:
                evicted.update(evictions(ctx.settings.rules[id_type], [], [p for p in wanted if p[0] == id_type]))
        identifiers.append([p for p in wanted if p not in evicted])
    pks = repository.insert_profiles(session, profiles)
    rows = [
        {"store_id": ctx.pk, "profile_id": pks[profile["sid"]], "origin_profile_id": pks[profile["sid"]],
         "id_type": t, "value": v, "source": source, "added_at": now}
        for profile, pairs in zip(profiles, identifiers)
        for t, v in pairs
    ]
    fuzzy = match_index.has_fuzzy_types(ctx.settings)
    inserted = repository.insert_identifiers(session, rows, returning_ids=fuzzy)
    if fuzzy:
        match_index.index_identifiers(session, ctx.pk, ctx.settings, inserted)
    record.save(
        session,
        [
            record.profile_created(ctx.pk, pks[profile["sid"]], at, source, profile["traits"], pairs)
            for profile, pairs, at in zip(profiles, identifiers, ticks)
        ],
    )
    return [WriteOutcome(pks[profile["sid"]], profile["sid"], True, ()) for profile in profiles]


def _note_carried(changes: Changes, target: Profile, before: dict, after: dict, folded, via: dict) -> None:
    """Record each value a merge carried into ``target`` (a merged profile's value that won),
    and keep in ``via`` the profile it came from: the one it was first written on."""
    folded = list(folded)
    for group, values in after.items():
        for name, value in values.items():
            origin = next((merged for merged, trait_set in folded if trait_set.get(group, {}).get(name) is value), None)
            if origin is None:
                continue
            via[(group, name)] = (origin.trait_meta or {}).get(group, {}).get(name, {}).get("via") or origin.sid
            old = before.get(group, {}).get(name)
            changes.trait(
                target.id, group, name, None if old is None else old.value, value.value,
                action=record.MERGED, source=value.source, via=via[(group, name)],
            )


def _fold(session: Session, ctx: StoreContext, target: Profile, merged: Profile, tie, source: str, now, changes: Changes) -> None:
    """Merge ``merged`` into ``target``: identifiers move, the merge is recorded with what
    ``merged`` brought, and it and its aliases now point at ``target``."""
    kept, brought_rows = repository.identifiers_of(session, target.id), repository.identifiers_of(session, merged.id)
    _note_fold(changes, target, merged, kept, brought_rows)
    brought = [
        {
            "idType": row.id_type,
            "value": row.value,
            "source": row.source,
            "originProfileId": row.origin_profile_id,
            "addedAt": row.added_at.isoformat(),
        }
        for row in brought_rows
    ]
    repository.record_merge(
        session,
        ProfileMerge(
            store_id=ctx.pk,
            survivor_id=target.id,
            merged_id=merged.id,
            cause_id_type=tie.id_type,
            cause_value=tie.value,
            trigger=source,
            merged_traits={"traits": merged.traits, "meta": merged.trait_meta},
            merged_identifiers=brought,
            merged_at=now,
            # What an unmerge gives the survivor back where the merged profile's value won.
            survivor_traits={"traits": target.traits, "meta": target.trait_meta},
        ),
    )
    repository.move_identifiers(session, kept, brought_rows, merged.id, target.id)
    repository.repoint_aliases(session, merged.id, target.id)
    merged.canonical_id = target.id
    merged.merged_at = now
    merged.traits, merged.trait_meta = {}, {}
    session.flush()
    _enforce_limits(session, ctx, target.id, added=(), changes=changes)


def _note_fold(changes: Changes, target: Profile, merged: Profile, kept: Sequence[ProfileIdentifier], brought: Sequence[ProfileIdentifier]) -> None:
    """``merged`` loses its values and identifiers to ``target``, which gains the identifiers it lacked."""
    for group, values in (merged.traits or {}).items():
        for name, value in values.items():
            changes.trait(merged.id, group, name, value, None, action=record.MERGED, via=target.sid)
    held = {(row.id_type, row.value) for row in kept}
    for row in brought:
        changes.identifier(merged.id, record.MOVED, row.id_type, row.value, present=False, via=target.sid)
        if (row.id_type, row.value) not in held:
            changes.identifier(target.id, record.MOVED, row.id_type, row.value, present=True, via=merged.sid)


def _add_identifiers(session: Session, ctx: StoreContext, target: Profile, wanted, source: str, now, changes: Changes) -> None:
    current = {(row.id_type, row.value) for row in repository.identifiers_of(session, target.id)}
    added = []
    for id_type, value in wanted:
        if (id_type, value) in current:
            continue
        row = ProfileIdentifier(
            store_id=ctx.pk,
            profile_id=target.id,
            id_type=id_type,
            value=value,
            source=source,
            origin_profile_id=target.id,
            added_at=now,
        )
        session.add(row)
        added.append(row)
        changes.identifier(target.id, record.ADDED, id_type, value, present=True)
    if added:
        session.flush()
        match_index.index_identifiers(session, ctx.pk, ctx.settings, [(row.id, row.id_type, row.value) for row in added])
        _enforce_limits(session, ctx, target.id, added=[row.id for row in added], changes=changes)


def _enforce_limits(session: Session, ctx: StoreContext, profile_pk: int, added: Sequence[int], changes: Changes) -> None:
    by_type: dict[str, list[ProfileIdentifier]] = {}
    for row in repository.identifiers_of(session, profile_pk):
        by_type.setdefault(row.id_type, []).append(row)
    doomed: list[int] = []
    for id_type, rows in by_type.items():
        rule = ctx.settings.rules.get(id_type)
        if rule is None or len(rows) <= rule.limit:
            continue
        stored = [row.id for row in rows if row.id not in added]
        new = [row.id for row in rows if row.id in added]
        doomed += evictions(rule, stored, new)
    by_id = {row.id: row for rows in by_type.values() for row in rows}
    for row_id in doomed:
        changes.identifier(profile_pk, record.EVICTED, by_id[row_id].id_type, by_id[row_id].value, present=False)
    repository.delete_identifiers(session, doomed)


def _trait_set(profile: Profile) -> dict:
    meta = profile.trait_meta or {}
    return {
        group: {
            name: TraitValue(value, meta.get(group, {}).get(name, {}).get("at", ""), meta.get(group, {}).get(name, {}).get("source", ""))
            for name, value in values.items()
        }
        for group, values in (profile.traits or {}).items()
    }


def _via_of(profile: Profile) -> dict[tuple[str, str], str]:
    """The values ``profile`` holds that a merge brought, each with the profile it came from."""
    return {
        (group, name): meta["via"]
        for group, named in (profile.trait_meta or {}).items()
        for name, meta in named.items()
        if "via" in meta
    }


def _trait_columns(trait_set: dict, via: dict[tuple[str, str], str]) -> tuple[dict, dict]:
    """The ``traits`` and ``trait_meta`` columns; ``via`` names where merged values came from."""
    traits = {g: {n: tv.value for n, tv in vs.items()} for g, vs in trait_set.items() if vs}
    meta = {
        g: {n: _meta_of(tv, via.get((g, n))) for n, tv in vs.items()}
        for g, vs in trait_set.items()
        if vs
    }
    return traits, meta


def _meta_of(value: TraitValue, via: str | None) -> dict:
    meta = {"at": value.at, "source": value.source}
    if via:
        meta["via"] = via
    return meta


def _stamped_columns(traits: dict, at: str, source: str) -> tuple[dict, dict]:
    """``_trait_columns`` of a new profile's traits, every one written at ``at`` by
    ``source``; built directly because imports and bulk create profiles by the thousand."""
    values = {group: kept for group, named in traits.items() if (kept := {n: v for n, v in named.items() if v is not None})}
    stamp = {"at": at, "source": source}
    return values, {group: dict.fromkeys(named, stamp) for group, named in values.items()}
