"""SQL of exports and imports: a store's rows read a batch of profiles at a time, and written back
with their public ids."""

from collections.abc import Sequence

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, aliased

from convmem.database.tables import (
    Communication,
    ConversationSummary,
    DataMapping,
    Dataset,
    MemoryEmbedding,
    Observation,
    ObservationConversation,
    ObservationRevision,
    Profile,
    ProfileIdentifier,
    ProfileMerge,
    TraitGroup,
)


def trait_groups(session: Session, store_pk: int) -> list[TraitGroup]:
    return list(session.scalars(select(TraitGroup).where(TraitGroup.store_id == store_pk).order_by(TraitGroup.id)))


def data_mappings(session: Session, store_pk: int) -> list[DataMapping]:
    return list(session.scalars(select(DataMapping).where(DataMapping.store_id == store_pk).order_by(DataMapping.id)))


def datasets(session: Session, store_pk: int) -> list[Dataset]:
    return list(session.scalars(select(Dataset).where(Dataset.store_id == store_pk).order_by(Dataset.id)))


def taken_dataset_sids(session: Session, sids: Sequence[str]) -> list[str]:
    return sorted(session.scalars(select(Dataset.sid).where(Dataset.sid.in_(sids)))) if sids else []


def taken_data_mapping_sids(session: Session, sids: Sequence[str]) -> list[str]:
    return sorted(session.scalars(select(DataMapping.sid).where(DataMapping.sid.in_(sids)))) if sids else []


def live_profiles_after(session: Session, store_pk: int, after_pk: int, limit: int) -> list[Profile]:
    """The next ``limit`` live profiles of the store in the order they were created (keyset)."""
    return list(
        session.scalars(
            select(Profile)
            .where(Profile.store_id == store_pk, Profile.canonical_id.is_(None), Profile.id > after_pk)
            .order_by(Profile.id)
            .limit(limit)
        )
    )


def aliases_of(session: Session, canonical_pks: Sequence[int]) -> list[Profile]:
    return list(session.scalars(select(Profile).where(Profile.canonical_id.in_(canonical_pks)).order_by(Profile.id)))


def identifiers_of(session: Session, profile_pks: Sequence[int]) -> list[ProfileIdentifier]:
    return list(
        session.scalars(
            select(ProfileIdentifier).where(ProfileIdentifier.profile_id.in_(profile_pks)).order_by(ProfileIdentifier.id)
        )
    )


def sids_of(session: Session, profile_pks: Sequence[int]) -> dict[int, str]:
    """Public ids of profiles outside a record (an identifier's origin that is not one of its profiles)."""
    if not profile_pks:
        return {}
    return dict(session.execute(select(Profile.id, Profile.sid).where(Profile.id.in_(profile_pks))).tuples().all())


def merges_into(session: Session, profile_pks: Sequence[int]) -> list[tuple[ProfileMerge, str, str]]:
    """Ledger rows whose survivor is one of ``profile_pks``, with the public ids of both sides."""
    merged, survivor = aliased(Profile), aliased(Profile)
    return list(
        session.execute(
            select(ProfileMerge, merged.sid, survivor.sid)
            .join(merged, merged.id == ProfileMerge.merged_id)
            .join(survivor, survivor.id == ProfileMerge.survivor_id)
            .where(ProfileMerge.survivor_id.in_(profile_pks))
            .order_by(ProfileMerge.id)
        ).tuples()
    )


def observations_of(session: Session, profile_pks: Sequence[int]) -> list[Observation]:
    return list(session.scalars(select(Observation).where(Observation.profile_id.in_(profile_pks)).order_by(Observation.id)))


def revisions_of(session: Session, observation_pks: Sequence[int]) -> list[ObservationRevision]:
    if not observation_pks:
        return []
    return list(
        session.scalars(
            select(ObservationRevision)
            .where(ObservationRevision.observation_id.in_(observation_pks))
            .order_by(ObservationRevision.id)
        )
    )


def communications_of(session: Session, profile_pks: Sequence[int]) -> list[Communication]:
    return list(
        session.scalars(
            select(Communication)
            .where(Communication.profile_id.in_(profile_pks))
            .order_by(Communication.created_at, Communication.id)
        )
    )


def summaries_of(session: Session, profile_pks: Sequence[int]) -> list[ConversationSummary]:
    return list(
        session.scalars(
            select(ConversationSummary).where(ConversationSummary.profile_id.in_(profile_pks)).order_by(ConversationSummary.id)
        )
    )


def taken_sids(session: Session, profile_sids: Sequence[str], memory_sids: Sequence[str]) -> list[str]:
    """Which of these public ids the database already holds (they are unique across stores)."""
    taken = list(session.scalars(select(Profile.sid).where(Profile.sid.in_(profile_sids)))) if profile_sids else []
    if memory_sids:
        taken += session.scalars(select(Observation.sid).where(Observation.sid.in_(memory_sids)))
        taken += session.scalars(select(ConversationSummary.sid).where(ConversationSummary.sid.in_(memory_sids)))
    return taken


def insert_returning_keys(session: Session, model, rows: Sequence[dict]) -> dict[str, int]:
    """Insert rows of a table with a public ``sid``; returns sid -> primary key."""
    if not rows:
        return {}
    table = model.__table__
    return dict(session.execute(insert(table).returning(table.c.sid, table.c.id), list(rows)).tuples().all())


def insert_rows(session: Session, model, rows: Sequence[dict]) -> None:
    if rows:
        session.execute(insert(model.__table__), list(rows))


def add_pending_embeddings(session: Session, observation_pks: Sequence[int], summary_pks: Sequence[int]) -> None:
    """Embedding rows without a vector: the workers compute them again, with the model they run."""
    rows = [{"observation_id": pk, "summary_id": None, "generation": 1} for pk in observation_pks]
    rows += [{"observation_id": None, "summary_id": pk, "generation": 1} for pk in summary_pks]
    insert_rows(session, MemoryEmbedding, rows)


def link_conversations(session: Session, conversations: dict[int, list[str]]) -> None:
    """The indexed rows of the conversations each observation (by key) names."""
    rows = [
        {"observation_id": pk, "conversation_id": conversation_id}
        for pk, conversation_ids in conversations.items()
        for conversation_id in dict.fromkeys(conversation_ids)
    ]
    insert_rows(session, ObservationConversation, rows)
