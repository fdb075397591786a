"""Undoing a merge: the merged profile comes back, live, under its own id (a convmem extension).

What comes back is what the merge's ledger row says the profile brought, less what the
survivor has made its own since:

* identifiers the survivor still holds go back, in their original order, with their sources;
  a value of a unique type that the survivor holds in its own right (first attached to it,
  not to the merged profile or a profile merged into that one) stays with the survivor, so
  no unique value ends up on two live profiles;
* trait values the survivor still holds as the merge left them go back; where the merged
  profile's value had won, the survivor gets back the value it had before the merge. A value
  a later write changed (or removed) on the survivor stays where it is, and is reported (a
  write of the same value, such as the merging write's own, changes nothing);
* profiles merged into it earlier point at it again, and its observations and summaries,
  which keep the profile they were written under, are read through it again.

The pair is then recorded as never to merge again, and the ledger gets an ``unmerge`` row.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from convmem.database.tables import Profile, ProfileMerge, utcnow
from convmem.history import record
from convmem.identity.resolution import IdentifierRule
from convmem.kit.clock import WriteClock
from convmem.profiles import match_index, repository
from convmem.profiles.addressing import find_canonical
from convmem.profiles.context import StoreContext
from convmem.profiles.never_merge import keep_apart
from convmem.web.errors import not_found


@dataclass(frozen=True)
class Unmerged:
    profile_sid: str
    survivor_sid: str
    restored_identifiers: list[tuple[str, str]]
    identifiers_kept_by_survivor: list[tuple[str, str]]
    traits_kept_by_survivor: list[tuple[str, str]]
    aliases: list[str]


def unmerge(session: Session, ctx: StoreContext, clock: WriteClock, survivor_sid: str, merged_sid: str) -> Unmerged:
    """Bring ``merged_sid`` back out of the canonical profile ``survivor_sid``. The caller
    holds the store's write lock and owns the transaction."""
    survivor_ref = find_canonical(session, ctx.pk, survivor_sid)
    merged = repository.profile_in_store(session, ctx.pk, merged_sid)
    if merged is None or merged.canonical_id != survivor_ref.pk:
        raise not_found(f"Profile '{merged_sid}' is not merged into profile '{survivor_sid}'")
    survivor = session.get(Profile, survivor_ref.pk)
    merge = repository.latest_merge(session, merged.id)
    family = _family(session, survivor.id, merged.id)

    restored, kept_identifiers = _restore_identifiers(session, ctx, survivor, merged, merge, family)
    kept_traits = _restore_traits(survivor, merged, merge)
    now = utcnow()
    merged.canonical_id, merged.merged_at, merged.updated_at = None, None, now
    survivor.updated_at = now
    aliases = family - {merged.id}
    repository.point_aliases(session, aliases, merged.id)
    keep_apart(session, ctx.pk, survivor.id, merged.id, reason="unmerge")
    repository.record_merge(
        session,
        ProfileMerge(
            store_id=ctx.pk,
            survivor_id=survivor.id,
            merged_id=merged.id,
            kind="unmerge",
            cause_id_type=merge.cause_id_type,
            cause_value=merge.cause_value,
            trigger="api:unmerge",
            merged_traits={"traits": merged.traits, "meta": merged.trait_meta},
            merged_identifiers=[{"idType": t, "value": v} for t, v in restored],
            merged_at=now,
        ),
    )
    session.flush()
    record_whole_states(session, ctx.pk, [survivor, merged], clock.tick(), "api:unmerge", record.UNMERGED)
    alias_sids = sorted(p.sid for p in repository.load_profiles(session, list(aliases)).values())
    return Unmerged(merged.sid, survivor.sid, restored, kept_identifiers, kept_traits, alias_sids)


def _family(session: Session, canonical_pk: int, merged_pk: int) -> set[int]:
    """``merged_pk`` and every alias that reached ``canonical_pk`` through it."""
    children: dict[int, list[int]] = {}
    for alias, parent in repository.alias_parents(session, canonical_pk).items():
        children.setdefault(parent, []).append(alias)
    family, frontier = {merged_pk}, [merged_pk]
    while frontier:
        for child in children.get(frontier.pop(), ()):
            if child not in family:
                family.add(child)
                frontier.append(child)
    return family


def _restore_identifiers(
    session: Session, ctx: StoreContext, survivor: Profile, merged: Profile, merge: ProfileMerge, family: set[int]
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Give ``merged`` back the identifiers it brought that the survivor still holds.
    Returns (restored, kept by the survivor)."""
    held = {(row.id_type, row.value): row for row in repository.identifiers_of(session, survivor.id)}
    restored, kept, leaving, rows = [], [], [], []
    for brought in merge.merged_identifiers:
        pair = (brought["idType"], brought["value"])
        row = held.get(pair)
        if row is None:
            continue  # removed from the survivor since (deleted, evicted or split off)
        if row.origin_profile_id in family:
            leaving.append(row.id)
        elif ctx.settings.rules.get(pair[0], IdentifierRule(pair[0])).unique:
            kept.append(pair)
            continue
        # A shared value the survivor also held before the merge: both hold it again.
        restored.append(pair)
        rows.append(
            {
                "store_id": ctx.pk,
                "profile_id": merged.id,
                "origin_profile_id": brought["originProfileId"],
                "id_type": pair[0],
                "value": pair[1],
                "source": brought["source"],
                "added_at": datetime.fromisoformat(brought["addedAt"]),
            }
        )
    # Re-inserted rather than moved, so the merged profile's values keep their original order.
    repository.delete_identifiers(session, leaving)
    session.flush()
    fuzzy = match_index.has_fuzzy_types(ctx.settings)
    inserted = repository.insert_identifiers(session, rows, returning_ids=fuzzy)
    if fuzzy:
        match_index.index_identifiers(session, ctx.pk, ctx.settings, inserted)
    return restored, kept


def _restore_traits(survivor: Profile, merged: Profile, merge: ProfileMerge) -> list[tuple[str, str]]:
    """Give ``merged`` back the trait values it brought that no later write changed on the
    survivor; returns the (group, trait) pairs a later write changed, which stay put.
    Values are compared, not write times: a write of the same value changes nothing."""
    brought = _Traits(merge.merged_traits["traits"], merge.merged_traits["meta"])
    before = _Traits(merge.survivor_traits["traits"], merge.survivor_traits["meta"]) if merge.survivor_traits else None
    current = _Traits(survivor.traits, survivor.trait_meta)
    mine = _Traits({}, {})
    changed_since = []
    for group, name in brought.names():
        ours = brought.get(group, name)
        now_held = current.value(group, name)
        theirs = before.get(group, name) if before is not None else None
        if now_held == ours[0]:
            mine.put(group, name, ours)
            # The merged profile's value had won: the survivor gets its own back. Older ledger
            # rows have no survivor snapshot: the survivor keeps the value.
            if before is not None and (theirs is None or theirs[0] != now_held):
                current.put(group, name, theirs)
        elif now_held is not None and (before is None or (theirs is not None and now_held == theirs[0])):
            mine.put(group, name, ours)
        else:
            changed_since.append((group, name))
    merged.traits, merged.trait_meta = mine.columns()
    survivor.traits, survivor.trait_meta = current.columns()
    return changed_since


class _Traits:
    """A profile's trait columns as (value, meta) per (group, trait), to compare and edit."""

    def __init__(self, traits: dict | None, meta: dict | None):
        meta = meta or {}
        self.values = {
            (group, name): (value, meta.get(group, {}).get(name, {}))
            for group, named in (traits or {}).items()
            for name, value in named.items()
        }

    def names(self) -> list[tuple[str, str]]:
        return list(self.values)

    def get(self, group: str, name: str) -> tuple | None:
        """(value, meta), or None when the trait has no value."""
        return self.values.get((group, name))

    def value(self, group: str, name: str):
        entry = self.values.get((group, name))
        return None if entry is None else entry[0]

    def put(self, group: str, name: str, entry: tuple | None) -> None:
        if entry is None:
            self.values.pop((group, name), None)
        else:
            self.values[(group, name)] = entry

    def columns(self) -> tuple[dict, dict]:
        traits: dict = {}
        meta: dict = {}
        for (group, name), (value, stamp) in self.values.items():
            traits.setdefault(group, {})[name] = value
            meta.setdefault(group, {})[name] = stamp
        return traits, meta


def record_whole_states(session: Session, store_pk: int, profiles: list[Profile], at: str, source: str, action: str) -> None:
    """History: each profile's whole state after an unmerge or a split, so reading it as of a
    later instant starts from what it holds now."""
    rows = []
    for profile in profiles:
        pairs = [(row.id_type, row.value) for row in repository.identifiers_of(session, profile.id)]
        rows.append(record.profile_created(store_pk, profile.id, at, source, profile.traits or {}, pairs, action))
    record.save(session, rows)
