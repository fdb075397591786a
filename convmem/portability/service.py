"""Exporting a store or one profile, and importing a store into a database.

Public ids are kept: the store's, every profile's (aliases included, so old ids still answer),
every observation's and summary's. They are unique across the database, so an import refuses
ids the database already holds (importing a store where it still exists). Both directions work a
batch of profiles at a time, so memory stays flat whatever the size of the store.
"""

from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from itertools import islice

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from convmem.database.tables import (
    Communication,
    ConversationSummary,
    DataMapping,
    Dataset,
    Observation,
    ObservationRevision,
    Profile,
    ProfileIdentifier,
    ProfileMerge,
    Store,
    TraitGroup,
)
from convmem.history import record
from convmem.identity.resolution import ResolutionSettings
from convmem.identity.schemas import IdentityResolutionSettingsCore
from convmem.portability import repository
from convmem.portability.schemas import (
    FORMAT_VERSION,
    AliasRecord,
    CommunicationRecord,
    DataMappingRecord,
    DatasetRecord,
    IdentifierRecord,
    MergeRecord,
    ObservationRecord,
    ProfileRecord,
    RevisionRecord,
    StoreRecord,
    SummaryRecord,
    TraitGroupRecord,
)
from convmem.profiles import match_index
from convmem.profiles.addressing import find_canonical
from convmem.stores.service import MAX_STORES_PER_ACCOUNT
from convmem.traitgroups.service import defined_while_purging, only_defined

BATCH = 200


class ImportRefused(Exception):
    """The file cannot be imported into this database; nothing was written."""


# --- export ---------------------------------------------------------------------------


def export_store(session: Session, store: Store) -> Iterator[StoreRecord | ProfileRecord]:
    """The store record, then every live profile's record in the order they were created."""
    yield store_record(session, store)
    defined = defined_while_purging(session, store.id)
    after = 0
    while profiles := repository.live_profiles_after(session, store.id, after, BATCH):
        yield from _profile_records(session, profiles, defined)
        after = profiles[-1].id


def export_profile(session: Session, store: Store, profile_sid: str) -> ProfileRecord:
    """One live profile's record; a merged id raises ``ProfileMoved``, an unknown one is 404."""
    defined = defined_while_purging(session, store.id)
    ref = find_canonical(session, store.id, profile_sid)
    (record,) = _profile_records(session, [session.get(Profile, ref.pk)], defined)
    return record


def store_record(session: Session, store: Store) -> StoreRecord:
    return StoreRecord(
        formatVersion=FORMAT_VERSION,
        id=store.sid,
        displayName=store.display_name,
        description=store.description,
        status=store.status,
        version=store.version,
        createdAt=_time(store.created_at),
        updatedAt=_time(store.updated_at),
        identityResolutionSettings=store.identity_settings,
        identityResolutionSettingsVersion=store.identity_settings_version,
        traitGroups=[
            TraitGroupRecord(
                displayName=group.name,
                description=group.description,
                traits=group.traits,
                version=group.version,
                createdAt=_time(group.created_at),
                updatedAt=_time(group.updated_at),
            )
            for group in repository.trait_groups(session, store.id)
        ],
        dataMappings=[
            DataMappingRecord(
                id=mapping.sid,
                displayName=mapping.display_name,
                description=mapping.description,
                isEnabled=mapping.is_enabled,
                mappingFrom=mapping.mapping_from,
                mappingTo=mapping.mapping_to,
                version=mapping.version,
                createdAt=_time(mapping.created_at),
                updatedAt=_time(mapping.updated_at),
            )
            for mapping in repository.data_mappings(session, store.id)
        ],
        datasets=[
            DatasetRecord(
                id=dataset.sid,
                displayName=dataset.display_name,
                kind=dataset.kind,
                source=dataset.source,
                sealedCredentials=dataset.sealed_credentials,
                keyColumn=dataset.key_column,
                cursorColumn=dataset.cursor_column,
                syncIntervalSeconds=dataset.sync_interval_seconds,
                columns=dataset.columns,
                createdAt=_time(dataset.created_at),
                updatedAt=_time(dataset.updated_at),
            )
            for dataset in repository.datasets(session, store.id)
        ],
    )


def _profile_records(session: Session, profiles: list[Profile], defined: dict | None) -> list[ProfileRecord]:
    """The records of a batch of live profiles, each gathering what its aliases hold too."""
    aliases = repository.aliases_of(session, [p.id for p in profiles])
    owner = {p.id: p.id for p in profiles} | {a.id: a.canonical_id for a in aliases}
    sid_of = {p.id: p.sid for p in (*profiles, *aliases)}
    identifiers = repository.identifiers_of(session, [p.id for p in profiles])
    outside = {i.origin_profile_id for i in identifiers} - sid_of.keys()
    sid_of |= repository.sids_of(session, sorted(outside))
    observations = repository.observations_of(session, list(owner))
    revisions: dict[int, list[RevisionRecord]] = {}
    for revision in repository.revisions_of(session, [o.id for o in observations]):
        revisions.setdefault(revision.observation_id, []).append(_revision(revision))

    records = {p.id: _empty_record(p, defined) for p in profiles}
    for alias in aliases:
        records[alias.canonical_id].aliases.append(
            AliasRecord(
                id=alias.sid, createdAt=_time(alias.created_at), updatedAt=_time(alias.updated_at), mergedAt=_time(alias.merged_at)
            )
        )
    for row in identifiers:
        # An origin whose row is gone (a deleted profile) is reported as the holder itself.
        origin = sid_of.get(row.origin_profile_id, sid_of[row.profile_id])
        records[row.profile_id].identifiers.append(
            IdentifierRecord(idType=row.id_type, value=row.value, source=row.source, originProfileId=origin, addedAt=_time(row.added_at))
        )
    for merge, merged_sid, survivor_sid in repository.merges_into(session, list(owner)):
        records[owner[merge.survivor_id]].merges.append(_merge(merge, merged_sid, survivor_sid))
    for observation in observations:
        records[owner[observation.profile_id]].observations.append(
            _observation(observation, sid_of[observation.profile_id], revisions.get(observation.id, []))
        )
    for summary in repository.summaries_of(session, list(owner)):
        records[owner[summary.profile_id]].summaries.append(_summary(summary, sid_of[summary.profile_id]))
    for communication in repository.communications_of(session, list(owner)):
        records[owner[communication.profile_id]].communications.append(
            _communication(communication, sid_of[communication.profile_id])
        )
    return list(records.values())


def _empty_record(profile: Profile, defined: dict | None) -> ProfileRecord:
    traits, meta = profile.traits or {}, profile.trait_meta or {}
    if defined is not None:  # values of deleted groups or traits, still being purged, are gone
        traits, meta = only_defined(traits, defined), only_defined(meta, defined)
    return ProfileRecord(
        id=profile.sid,
        createdAt=_time(profile.created_at),
        updatedAt=_time(profile.updated_at),
        traits=traits,
        traitMeta=meta,
        identifiers=[],
        aliases=[],
        merges=[],
        observations=[],
        summaries=[],
    )


def _merge(merge: ProfileMerge, merged_sid: str, survivor_sid: str) -> MergeRecord:
    return MergeRecord(
        mergedProfileId=merged_sid,
        intoProfileId=survivor_sid,
        idType=merge.cause_id_type,
        value=merge.cause_value,
        trigger=merge.trigger,
        mergedTraits=merge.merged_traits,
        mergedIdentifiers=merge.merged_identifiers,
        mergedAt=_time(merge.merged_at),
    )


def _revision(revision: ObservationRevision) -> RevisionRecord:
    return RevisionRecord(
        content=revision.content,
        source=revision.source,
        occurredAt=_time(revision.occurred_at),
        conversationIds=revision.conversation_ids,
        createdAt=_time(revision.created_at),
        updatedAt=_time(revision.updated_at),
    )


def _observation(observation: Observation, profile_sid: str, revisions: list[RevisionRecord]) -> ObservationRecord:
    return ObservationRecord(
        id=observation.sid,
        profileId=profile_sid,
        content=observation.content,
        source=observation.source,
        occurredAt=_time(observation.occurred_at),
        conversationIds=observation.conversation_ids,
        createdAt=_time(observation.created_at),
        updatedAt=_time(observation.updated_at),
        revisions=revisions,
    )


def _summary(summary: ConversationSummary, profile_sid: str) -> SummaryRecord:
    return SummaryRecord(
        id=summary.sid,
        profileId=profile_sid,
        content=summary.content,
        source=summary.source,
        occurredAt=_time(summary.occurred_at),
        conversationId=summary.conversation_id,
        createdAt=_time(summary.created_at),
        updatedAt=_time(summary.updated_at),
    )


def _communication(communication: Communication, profile_sid: str) -> CommunicationRecord:
    return CommunicationRecord(
        id=communication.sid,
        profileId=profile_sid,
        conversationId=communication.conversation_id,
        channelId=communication.channel_id,
        text=communication.text,
        author=communication.author,
        recipients=communication.recipients,
        createdAt=_time(communication.created_at),
        updatedAt=_time(communication.updated_at),
    )


def _time(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat()


# --- import ---------------------------------------------------------------------------


def import_store(session: Session, account_pk: int, lines: Iterable[str]) -> Store:
    """Read an export (JSON Lines) into a new store of the account, in the caller's transaction.

    Refuses (``ImportRefused``) a name the account already uses, an account at its store limit,
    and ids the database already holds; the caller rolls back, so nothing is left behind."""
    lines = iter(lines)
    first = next(lines, None)
    if first is None:
        raise ImportRefused("the file is empty")
    header = StoreRecord.model_validate_json(first)
    if header.formatVersion != FORMAT_VERSION:
        raise ImportRefused(f"format version {header.formatVersion} is not one this convmem reads ({FORMAT_VERSION})")
    store = _create_store(session, account_pk, header)
    while batch := [ProfileRecord.model_validate_json(line) for line in islice(lines, BATCH) if line.strip()]:
        _import_profiles(session, store.id, batch)
    match_index.index_store(session, store.id, ResolutionSettings.from_contract(IdentityResolutionSettingsCore.model_validate(store.identity_settings)))
    return store


def _create_store(session: Session, account_pk: int, header: StoreRecord) -> Store:
    names = select(Store.display_name).where(Store.account_id == account_pk)
    if header.displayName in session.scalars(names).all():
        raise ImportRefused(f"the account already has a store named '{header.displayName}'")
    if session.scalar(select(func.count()).select_from(names.subquery())) >= MAX_STORES_PER_ACCOUNT:
        raise ImportRefused(f"the account already has {MAX_STORES_PER_ACCOUNT} stores, its limit")
    if session.scalar(select(Store.id).where(Store.sid == header.id)) is not None:
        raise ImportRefused(f"store {header.id} already exists in this database")
    store = Store(
        sid=header.id,
        account_id=account_pk,
        display_name=header.displayName,
        description=header.description,
        status=header.status,
        version=header.version,
        identity_settings=header.identityResolutionSettings,
        identity_settings_version=header.identityResolutionSettingsVersion,
        created_at=_parse(header.createdAt),
        updated_at=_parse(header.updatedAt),
    )
    session.add(store)
    _flush(session, f"the account already has a store named '{header.displayName}'")
    repository.insert_rows(
        session,
        TraitGroup,
        [
            {
                "store_id": store.id,
                "name": group.displayName,
                "description": group.description,
                "traits": group.traits,
                "version": group.version,
                "created_at": _parse(group.createdAt),
                "updated_at": _parse(group.updatedAt),
            }
            for group in header.traitGroups
        ],
    )
    mapping_sids = [mapping.id for mapping in header.dataMappings]
    if taken := repository.taken_data_mapping_sids(session, mapping_sids):
        raise ImportRefused(f"{taken[0]} already exists in this database (is the store still there?)")
    repository.insert_rows(
        session,
        DataMapping,
        [
            {
                "sid": mapping.id,
                "store_id": store.id,
                "display_name": mapping.displayName,
                "description": mapping.description,
                "type": mapping.mappingFrom["type"],
                "dataset_id": mapping.mappingFrom.get("datasetId"),
                "mapping_from": mapping.mappingFrom,
                "mapping_to": mapping.mappingTo,
                "is_enabled": mapping.isEnabled,
                "version": mapping.version,
                "created_at": _parse(mapping.createdAt),
                "updated_at": _parse(mapping.updatedAt),
            }
            for mapping in header.dataMappings
        ],
    )
    dataset_sids = [dataset.id for dataset in header.datasets]
    if taken := repository.taken_dataset_sids(session, dataset_sids):
        raise ImportRefused(f"{taken[0]} already exists in this database (is the store still there?)")
    repository.insert_rows(
        session,
        Dataset,
        [
            {
                "sid": dataset.id,
                "store_id": store.id,
                "display_name": dataset.displayName,
                "kind": dataset.kind,
                "source": dataset.source,
                "sealed_credentials": dataset.sealedCredentials,
                "key_column": dataset.keyColumn,
                "cursor_column": dataset.cursorColumn,
                "sync_interval_seconds": dataset.syncIntervalSeconds,
                "columns": dataset.columns,
                "created_at": _parse(dataset.createdAt),
                "updated_at": _parse(dataset.updatedAt),
            }
            for dataset in header.datasets
        ],
    )
    return store


def _import_profiles(session: Session, store_pk: int, records: list[ProfileRecord]) -> None:
    _refuse_taken_ids(session, records)
    pk_of = repository.insert_returning_keys(
        session,
        Profile,
        [
            {
                "sid": r.id,
                "store_id": store_pk,
                "canonical_id": None,
                "traits": r.traits,
                "trait_meta": r.traitMeta,
                "created_at": _parse(r.createdAt),
                "updated_at": _parse(r.updatedAt),
                "merged_at": None,
            }
            for r in records
        ],
    )
    pk_of |= repository.insert_returning_keys(
        session,
        Profile,
        [
            {
                "sid": a.id,
                "store_id": store_pk,
                "canonical_id": pk_of[r.id],
                "traits": {},
                "trait_meta": {},
                "created_at": _parse(a.createdAt),
                "updated_at": _parse(a.updatedAt),
                "merged_at": _parse(a.mergedAt),
            }
            for r in records
            for a in r.aliases
        ],
    )
    _import_identifiers(session, store_pk, records, pk_of)
    # History is not part of an export: each imported profile's history starts here, whole.
    imported_at = record.instant()
    record.save(
        session,
        [
            record.profile_created(
                store_pk, pk_of[r.id], imported_at, "import-store", r.traits, [(i.idType, i.value) for i in r.identifiers],
                record.BASELINE,
            )
            for r in records
        ],
    )
    repository.insert_rows(
        session,
        ProfileMerge,
        [
            {
                "store_id": store_pk,
                "survivor_id": _member(pk_of, r, m.intoProfileId),
                "merged_id": _member(pk_of, r, m.mergedProfileId),
                "cause_id_type": m.idType,
                "cause_value": m.value,
                "trigger": m.trigger,
                "merged_traits": m.mergedTraits,
                "merged_identifiers": m.mergedIdentifiers,
                "merged_at": _parse(m.mergedAt),
            }
            for r in records
            for m in r.merges
        ],
    )
    _import_memories(session, store_pk, records, pk_of)


def _refuse_taken_ids(session: Session, records: list[ProfileRecord]) -> None:
    profile_sids = [sid for r in records for sid in (r.id, *(a.id for a in r.aliases))]
    memory_sids = [m.id for r in records for m in (*r.observations, *r.summaries)]
    taken = sorted(repository.taken_sids(session, profile_sids, memory_sids))
    if taken:
        raise ImportRefused(f"{taken[0]} already exists in this database (is the store still there?)")


def _import_identifiers(session: Session, store_pk: int, records: list[ProfileRecord], pk_of: dict[str, int]) -> None:
    outside = {i.originProfileId for r in records for i in r.identifiers} - pk_of.keys()
    known = dict(
        session.execute(select(Profile.sid, Profile.id).where(Profile.store_id == store_pk, Profile.sid.in_(outside))).tuples()
    ) if outside else {}
    repository.insert_rows(
        session,
        ProfileIdentifier,
        [
            {
                "store_id": store_pk,
                "profile_id": pk_of[r.id],
                "id_type": i.idType,
                "value": i.value,
                "source": i.source,
                # An origin in a record not read yet is recorded as the holder itself.
                "origin_profile_id": pk_of.get(i.originProfileId) or known.get(i.originProfileId, pk_of[r.id]),
                "added_at": _parse(i.addedAt),
            }
            for r in records
            for i in r.identifiers
        ],
    )


def _import_memories(session: Session, store_pk: int, records: list[ProfileRecord], pk_of: dict[str, int]) -> None:
    observations = [o for r in records for o in r.observations]
    summaries = [s for r in records for s in r.summaries]
    owners = {m.id: r for r in records for m in (*r.observations, *r.summaries)}
    observation_pk = repository.insert_returning_keys(
        session,
        Observation,
        [
            {
                "sid": o.id,
                "store_id": store_pk,
                "profile_id": _member(pk_of, owners[o.id], o.profileId),
                "content": o.content,
                "source": o.source,
                "occurred_at": _parse(o.occurredAt),
                "conversation_ids": o.conversationIds,
                "created_at": _parse(o.createdAt),
                "updated_at": _parse(o.updatedAt),
            }
            for o in observations
        ],
    )
    repository.insert_rows(
        session,
        ObservationRevision,
        [
            {
                "observation_id": observation_pk[o.id],
                "content": v.content,
                "source": v.source,
                "occurred_at": _parse(v.occurredAt),
                "conversation_ids": v.conversationIds,
                "created_at": _parse(v.createdAt),
                "updated_at": _parse(v.updatedAt),
            }
            for o in observations
            for v in o.revisions
        ],
    )
    repository.link_conversations(session, {observation_pk[o.id]: o.conversationIds for o in observations})
    summary_pk = repository.insert_returning_keys(
        session,
        ConversationSummary,
        [
            {
                "sid": s.id,
                "store_id": store_pk,
                "profile_id": _member(pk_of, owners[s.id], s.profileId),
                "content": s.content,
                "source": s.source,
                "occurred_at": _parse(s.occurredAt),
                "conversation_id": s.conversationId,
                "created_at": _parse(s.createdAt),
                "updated_at": _parse(s.updatedAt),
            }
            for s in summaries
        ],
    )
    repository.add_pending_embeddings(session, [observation_pk[o.id] for o in observations], [summary_pk[s.id] for s in summaries])
    repository.insert_rows(
        session,
        Communication,
        [
            {
                "sid": c.id,
                "store_id": store_pk,
                "profile_id": _member(pk_of, r, c.profileId),
                "conversation_id": c.conversationId,
                "channel_id": c.channelId,
                "text": c.text,
                "author": c.author,
                "recipients": c.recipients,
                "created_at": _parse(c.createdAt),
                "updated_at": _parse(c.updatedAt),
            }
            for r in records
            for c in r.communications
        ],
    )


def _member(pk_of: dict[str, int], record: ProfileRecord, sid: str) -> int:
    """The key of a profile the record names: itself or one of its aliases."""
    if sid not in pk_of or sid not in {record.id, *(a.id for a in record.aliases)}:
        raise ImportRefused(f"profile {record.id} names {sid}, which is neither it nor one of its aliases")
    return pk_of[sid]


def _flush(session: Session, conflict: str) -> None:
    try:
        session.flush()
    except IntegrityError:
        raise ImportRefused(conflict) from None


def _parse(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)
