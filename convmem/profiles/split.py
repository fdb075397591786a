"""Splitting a profile: chosen identifiers, and optionally traits, move off it into a new
profile (a convmem extension).

The identifier rows move as they are (source, first holder, time added), so a value is never
on both profiles. The two are recorded as never to merge again, and the ledger gets a
``split`` row. Observations and summaries stay with the profile split from.
"""

from dataclasses import dataclass

from sqlalchemy.orm import Session

from convmem.database.tables import Profile, ProfileMerge, utcnow
from convmem.history import record
from convmem.kit.clock import WriteClock
from convmem.kit.ids import Prefix, new_id
from convmem.profiles import repository
from convmem.profiles.addressing import find_canonical
from convmem.profiles.context import StoreContext
from convmem.profiles.never_merge import keep_apart
from convmem.profiles.unmerge import record_whole_states
from convmem.profiles.writer import normalize_identifiers
from convmem.web.errors import bad_request


@dataclass(frozen=True)
class SplitOff:
    profile_sid: str
    from_sid: str
    identifiers: list[tuple[str, str]]
    traits: list[tuple[str, str]]


def split(
    session: Session,
    ctx: StoreContext,
    clock: WriteClock,
    profile_sid: str,
    identifiers: list[tuple[str, str]],
    traits: dict[str, list[str]],
) -> SplitOff:
    """Move ``identifiers`` ((idType, value) as sent) and ``traits`` (group -> names) off the
    profile into a new one. The caller holds the store's write lock and owns the transaction."""
    source = session.get(Profile, find_canonical(session, ctx.pk, profile_sid).pk)
    wanted = normalize_identifiers(ctx, [(t, v, f"identifiers.{i}") for i, (t, v) in enumerate(identifiers)])
    rows = {(row.id_type, row.value): row for row in repository.identifiers_of(session, source.id)}
    for id_type, value in wanted:
        if (id_type, value) not in rows:
            raise bad_request(f"Profile '{profile_sid}' holds no {id_type} '{value}'")
    if len(wanted) == len(rows):
        raise bad_request("A split must leave the profile at least one identifier")
    moved_traits = _take_traits(source, traits, profile_sid)

    now = utcnow()
    new = Profile(
        sid=new_id(Prefix.PROFILE),
        store_id=ctx.pk,
        traits=moved_traits[0],
        trait_meta=moved_traits[1],
        created_at=now,
        updated_at=now,
    )
    session.add(new)
    session.flush()
    moving = [rows[pair] for pair in wanted]
    repository.hand_identifiers(session, [row.id for row in moving], new.id)
    source.updated_at = now
    keep_apart(session, ctx.pk, source.id, new.id, reason="split")
    repository.record_merge(
        session,
        ProfileMerge(
            store_id=ctx.pk,
            survivor_id=source.id,
            merged_id=new.id,
            kind="split",
            cause_id_type=wanted[0][0],
            cause_value=wanted[0][1],
            trigger="api:split",
            merged_traits={"traits": moved_traits[0], "meta": moved_traits[1]},
            merged_identifiers=[
                {"idType": row.id_type, "value": row.value, "source": row.source,
                 "originProfileId": row.origin_profile_id, "addedAt": row.added_at.isoformat()}
                for row in moving
            ],
            merged_at=now,
        ),
    )
    session.flush()
    record_whole_states(session, ctx.pk, [source, new], clock.tick(), "api:split", record.SPLIT)
    moved_names = [(group, name) for group, named in moved_traits[0].items() for name in named]
    return SplitOff(new.sid, source.sid, list(wanted), moved_names)


def _take_traits(source: Profile, traits: dict[str, list[str]], profile_sid: str) -> tuple[dict, dict]:
    """Remove the named trait values from ``source``; returns them as (traits, meta) columns."""
    values = {group: dict(named) for group, named in (source.traits or {}).items()}
    meta = {group: dict(named) for group, named in (source.trait_meta or {}).items()}
    taken: dict = {}
    taken_meta: dict = {}
    for group, names in traits.items():
        for name in names:
            if name not in values.get(group, {}):
                raise bad_request(f"Profile '{profile_sid}' has no value for trait '{group}.{name}'")
            taken.setdefault(group, {})[name] = values[group].pop(name)
            taken_meta.setdefault(group, {})[name] = meta.get(group, {}).pop(name, {})
    source.traits = {group: named for group, named in values.items() if named}
    source.trait_meta = {group: named for group, named in meta.items() if named}
    return taken, taken_meta
