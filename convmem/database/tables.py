"""The data model: every table convmem keeps, in one place.

Internal integer keys join and page; the public TTID (``sid``) is what the API shows.
Provenance is kept as data: each identifier row says where it came from and which profile
first held it, and every merge is a row of ``profile_merges`` holding what the merged
profile brought, so merges can later be audited and undone.
"""

from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


class UTCDateTime(TypeDecorator):
    """Timestamps are stored in UTC and always come back timezone-aware (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(timezone.utc)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict: JSON, list: JSON}


class Account(Base):
    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sid: Mapped[str] = mapped_column(String(34), unique=True)
    token_hash: Mapped[str] = mapped_column(String(128))
    friendly_name: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sid: Mapped[str] = mapped_column(String(34), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(128))
    friendly_name: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Store(Base):
    __tablename__ = "stores"
    __table_args__ = (UniqueConstraint("account_id", "display_name"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sid: Mapped[str] = mapped_column(String(40), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    display_name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default="ACTIVE")
    version: Mapped[int] = mapped_column(Integer, default=1)
    identity_settings: Mapped[dict] = mapped_column(JSON)
    identity_settings_version: Mapped[int] = mapped_column(Integer, default=1)
    # convmem extension: days of profile history kept (NULL: all of it).
    history_retention_days: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class TraitGroup(Base):
    __tablename__ = "trait_groups"
    __table_args__ = (UniqueConstraint("store_id", "name"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(String(1024))
    # traitName -> TraitDefinition as the contract shapes it
    traits: Mapped[dict] = mapped_column(JSON, default=dict)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class DataMapping(Base):
    """A source's fields mapped to a store's traits. ``mapping_from`` and ``mapping_to`` are kept as the
    contract shapes them (``DataMappingFromTypes``, ``DataMappingToTypes``); ``type`` repeats
    ``mapping_from["type"]`` so the list's type filter is an indexed column, and ``dataset_id`` repeats
    ``mapping_from["datasetId"]`` (NULL for INGRESS) so the mappings reading a dataset are found by index."""

    __tablename__ = "data_mappings"
    __table_args__ = (
        UniqueConstraint("store_id", "display_name"),
        Index("ix_data_mappings_store", "store_id", "id"),
        Index("ix_data_mappings_store_type", "store_id", "type", "id"),
        Index("ix_data_mappings_dataset", "dataset_id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sid: Mapped[str] = mapped_column(String(48), unique=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    display_name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(String(512))
    type: Mapped[str] = mapped_column(String(32))
    dataset_id: Mapped[str | None] = mapped_column(String(48))
    mapping_from: Mapped[dict] = mapped_column(JSON)
    mapping_to: Mapped[dict] = mapped_column(JSON)
    is_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Dataset(Base):
    """A source a data mapping reads rows from (an extension, ``convmem.datasets``): a table or query of
    a database SQLAlchemy reaches, or a CSV/Parquet file. ``source`` holds what to read without its
    secrets; ``sealed_credentials`` holds them encrypted with the server's key (never returned).
    ``columns`` is the source's columns as last read: names, kinds and sample values."""

    __tablename__ = "datasets"
    __table_args__ = (UniqueConstraint("store_id", "display_name"), Index("ix_datasets_store", "store_id", "id"))
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sid: Mapped[str] = mapped_column(String(48), unique=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    display_name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    source: Mapped[dict] = mapped_column(JSON)
    sealed_credentials: Mapped[str | None] = mapped_column(Text)
    key_column: Mapped[str] = mapped_column(String(255))
    cursor_column: Mapped[str | None] = mapped_column(String(255))
    sync_interval_seconds: Mapped[int | None] = mapped_column(Integer)
    columns: Mapped[list] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class DatasetSync(Base):
    """One run of a data mapping's sync from its dataset. ``position`` is the last row applied, in the
    source's (cursor, key) order, committed with that row's writes: where the next chunk, or the next
    incremental sync, starts."""

    __tablename__ = "dataset_syncs"
    __table_args__ = (Index("ix_dataset_syncs_mapping", "data_mapping_id", "id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sid: Mapped[str] = mapped_column(String(48), unique=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    data_mapping_id: Mapped[int] = mapped_column(ForeignKey("data_mappings.id", ondelete="CASCADE"))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    full: Mapped[bool] = mapped_column(Boolean)
    trigger: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    position: Mapped[dict | None] = mapped_column(JSON(none_as_null=True))
    rows_read: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_written: Mapped[int] = mapped_column(BigInteger, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    failure: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()


class DatasetSyncRowError(Base):
    __tablename__ = "dataset_sync_row_errors"
    __table_args__ = (Index("ix_dataset_sync_row_errors_sync", "sync_id", "id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sync_id: Mapped[int] = mapped_column(ForeignKey("dataset_syncs.id", ondelete="CASCADE"))
    row_key: Mapped[str] = mapped_column(String(255))
    column: Mapped[str] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(String(1024))


class Operation(Base):
    __tablename__ = "operations"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sid: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="PENDING")
    resource_id: Mapped[str | None] = mapped_column(String(128))
    result_path: Mapped[str | None] = mapped_column(String(512))
    error: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    completed_at: Mapped[datetime | None] = mapped_column()


class Profile(Base):
    __tablename__ = "profiles"
    __table_args__ = (
        Index(
            "ix_profiles_live",
            "store_id",
            "id",
            sqlite_where=text("canonical_id IS NULL"),
            postgresql_where=text("canonical_id IS NULL"),
        ),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sid: Mapped[str] = mapped_column(String(40), unique=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    # Set once merged: always the *current* canonical profile (aliases are re-pointed on each merge).
    canonical_id: Mapped[int | None] = mapped_column(ForeignKey("profiles.id", ondelete="CASCADE"), index=True)
    # groupName -> traitName -> value
    traits: Mapped[dict] = mapped_column(JSON, default=dict)
    # groupName -> traitName -> {"at": ISO time, "source": where the value came from}
    trait_meta: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    merged_at: Mapped[datetime | None] = mapped_column()


class ProfileIdentifier(Base):
    __tablename__ = "profile_identifiers"
    __table_args__ = (
        UniqueConstraint("profile_id", "id_type", "value"),
        Index("ix_identifier_lookup", "store_id", "id_type", "value"),
    )
    # Increasing id = order of addition, which fifo/lifo eviction and listing follow.
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    profile_id: Mapped[int] = mapped_column(ForeignKey("profiles.id", ondelete="CASCADE"))
    id_type: Mapped[str] = mapped_column(String(30))
    value: Mapped[str] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(128))
    origin_profile_id: Mapped[int] = mapped_column(BigId)
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class IdentifierMatchKey(Base):
    """Blocking keys of a fuzzy identifier type's values (``identity/fuzzy_keys.py``): what a
    fuzzy match probes instead of reading every value of the type. Written only for types
    whose rule is fuzzy; they go with their identifier row."""

    __tablename__ = "identifier_match_keys"
    __table_args__ = (Index("ix_identifier_match_keys_probe", "store_id", "id_type", "key", "identifier_id"),)
    identifier_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("profile_identifiers.id", ondelete="CASCADE"), primary_key=True
    )
    # "length:segment:text", or "length" for a value too short to cut (a segment is at most 255 characters).
    key: Mapped[str] = mapped_column(String(264), primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    id_type: Mapped[str] = mapped_column(String(30))


class ProfileMerge(Base):
    """The identity ledger: one row per profile folded into another (``kind`` ``merge``), per
    merged profile brought back (``unmerge``) and per profile split off (``split``).

    ``survivor_id`` is the profile that stays (the one split from, for a split) and
    ``merged_id`` the one that goes or comes back; the snapshots hold what moved.
    """

    __tablename__ = "profile_merges"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), index=True)
    survivor_id: Mapped[int] = mapped_column(ForeignKey("profiles.id", ondelete="CASCADE"), index=True)
    merged_id: Mapped[int] = mapped_column(ForeignKey("profiles.id", ondelete="CASCADE"), index=True)
    cause_id_type: Mapped[str] = mapped_column(String(30))
    cause_value: Mapped[str] = mapped_column(String(255))
    trigger: Mapped[str] = mapped_column(String(128))
    merged_traits: Mapped[dict] = mapped_column(JSON)
    merged_identifiers: Mapped[list] = mapped_column(JSON)
    merged_at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(16), default="merge", server_default="merge")
    # The survivor's traits before a merge ({"traits", "meta"}); NULL on merges older than it.
    survivor_traits: Mapped[dict | None] = mapped_column(JSON)


class NeverMergePair(Base):
    """Two profiles identity resolution keeps apart: recorded when a merge is undone or a
    profile is split. Each side stands for its profile's current canonical profile, so the
    pair follows both into later merges. Stored with the smaller key first."""

    __tablename__ = "never_merge_pairs"
    __table_args__ = (
        UniqueConstraint("first_profile_id", "second_profile_id"),
        Index("ix_never_merge_pairs_store", "store_id", "id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sid: Mapped[str] = mapped_column(String(48), unique=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    first_profile_id: Mapped[int] = mapped_column(ForeignKey("profiles.id", ondelete="CASCADE"), index=True)
    second_profile_id: Mapped[int] = mapped_column(ForeignKey("profiles.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Suggestion(Base):
    """A likely duplicate for review: two live profiles (smaller key first), why they look
    alike (``reasons``) and how strongly (``score``, 0..100). ``status``: open, accepted (merged
    by the review), rejected (kept apart by a never-merge pair) or closed (a side merged away,
    or the reasons went)."""

    __tablename__ = "suggestions"
    __table_args__ = (
        UniqueConstraint("first_profile_id", "second_profile_id"),
        Index("ix_suggestions_store_status", "store_id", "status", "id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sid: Mapped[str] = mapped_column(String(48), unique=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    first_profile_id: Mapped[int] = mapped_column(ForeignKey("profiles.id", ondelete="CASCADE"), index=True)
    second_profile_id: Mapped[int] = mapped_column(ForeignKey("profiles.id", ondelete="CASCADE"), index=True)
    score: Mapped[int] = mapped_column(Integer)
    reasons: Mapped[list] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class SuggestionKey(Base):
    """Blocking keys of a live profile for finding likely duplicates: its identifiers' segments
    at the suggestion threshold, their forms under normalisations the rules don't apply, its
    name. Written by the suggestions job, never on the write path."""

    __tablename__ = "suggestion_keys"
    __table_args__ = (Index("ix_suggestion_keys_probe", "store_id", "key", "profile_id"),)
    profile_id: Mapped[int] = mapped_column(BigId, ForeignKey("profiles.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(320), primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))


class SuggestionCursor(Base):
    """How far the suggestions job has read a store's history: the profiles touched after it
    are the ones to look at again."""

    __tablename__ = "suggestion_cursors"
    store_id: Mapped[int] = mapped_column(BigId, ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True)
    history_id: Mapped[int] = mapped_column(BigInteger)


class IdempotencyKey(Base):
    """A write's ``Idempotency-Key``: reserved in the write's own transaction, then holding
    the answer to replay (``status`` is NULL until the answer is stored)."""

    __tablename__ = "idempotency_keys"
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    # Which request reserved the key, so only it stores the answer.
    token: Mapped[str] = mapped_column(String(32))
    status: Mapped[int | None] = mapped_column(Integer)
    headers: Mapped[dict | None] = mapped_column(JSON)
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class ProfileHistory(Base):
    """Every change of a profile's trait values and identifiers, oldest first (``convmem.history``).

    ``kind`` is ``profile`` (the whole state: a new profile, or the baseline retention keeps),
    ``trait`` (``subject_group``.``subject_name``) or ``identifier`` (type and value).
    ``new_value`` NULL means the subject is gone after the change; ``via`` names the other
    profile of a merge.
    """

    __tablename__ = "profile_history"
    __table_args__ = (
        Index("ix_profile_history_profile", "profile_id", "at", "id"),
        Index("ix_profile_history_store_at", "store_id", "at"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    profile_id: Mapped[int] = mapped_column(ForeignKey("profiles.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column()
    kind: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(16))
    subject_group: Mapped[str | None] = mapped_column(String(64))
    subject_name: Mapped[str | None] = mapped_column(String(255))
    old_value: Mapped[object | None] = mapped_column(JSON(none_as_null=True))
    new_value: Mapped[object | None] = mapped_column(JSON(none_as_null=True))
    source: Mapped[str] = mapped_column(String(160))
    via: Mapped[str | None] = mapped_column(String(40))


class Job(Base):
    """Durable background work (bulk batches, imports), claimed by workers with a lease."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_claim", "status", "id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sid: Mapped[str] = mapped_column(String(64), unique=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="PENDING")
    payload: Mapped[dict] = mapped_column(JSON)
    # Where the work has got to, written in the same transaction as the work it describes.
    progress: Mapped[dict] = mapped_column(JSON, default=dict)
    result: Mapped[dict | None] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Import(Base):
    __tablename__ = "imports"
    __table_args__ = (Index("ix_imports_store", "store_id", "id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sid: Mapped[str] = mapped_column(String(40), unique=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(String(255))
    file_size: Mapped[int] = mapped_column(BigInteger)
    column_mappings: Mapped[list] = mapped_column(JSON)
    # The INGRESS data mapping the column mappings were taken from (convmem extension); kept as the id
    # it was, since the mapping may be changed or deleted after the import.
    data_mapping_sid: Mapped[str | None] = mapped_column(String(48))
    status: Mapped[str] = mapped_column(String(16), default="PENDING")
    blob_key: Mapped[str] = mapped_column(String(255))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    total_rows: Mapped[int | None] = mapped_column(BigInteger)
    processed_rows: Mapped[int] = mapped_column(BigInteger, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    warnings: Mapped[int] = mapped_column(Integer, default=0)
    failure: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ImportRowError(Base):
    __tablename__ = "import_row_errors"
    __table_args__ = (UniqueConstraint("import_id", "row_number", "column"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("imports.id", ondelete="CASCADE"))
    row_number: Mapped[int] = mapped_column(BigInteger)
    column: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(String(1024))


class Observation(Base):
    """A short, mutable memory about a profile; ``observation_revisions`` keeps every version."""

    __tablename__ = "observations"
    __table_args__ = (Index("ix_observations_profile", "profile_id", "id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sid: Mapped[str] = mapped_column(String(48), unique=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), index=True)
    # The profile it was written under; reads also gather the profiles merged into it.
    profile_id: Mapped[int] = mapped_column(ForeignKey("profiles.id", ondelete="CASCADE"))
    content: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(100))
    occurred_at: Mapped[datetime] = mapped_column()
    conversation_ids: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ObservationConversation(Base):
    """The conversations an observation names, as rows so that filtering by conversation is indexed."""

    __tablename__ = "observation_conversations"
    __table_args__ = (Index("ix_observation_conversations_conversation", "conversation_id"),)
    observation_id: Mapped[int] = mapped_column(ForeignKey("observations.id", ondelete="CASCADE"), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(48), primary_key=True)


class ObservationRevision(Base):
    """Every version of an observation, the current one included, as the revisions list shows them."""

    __tablename__ = "observation_revisions"
    __table_args__ = (Index("ix_observation_revisions_observation", "observation_id", "id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    observation_id: Mapped[int] = mapped_column(ForeignKey("observations.id", ondelete="CASCADE"))
    content: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(100))
    occurred_at: Mapped[datetime] = mapped_column()
    conversation_ids: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column()


class ConversationSummary(Base):
    """A recap of one conversation; full-text indexed like observations (see the migration)."""

    __tablename__ = "conversation_summaries"
    __table_args__ = (
        Index("ix_conversation_summaries_profile", "profile_id", "id"),
        Index("ix_conversation_summaries_conversation", "conversation_id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sid: Mapped[str] = mapped_column(String(48), unique=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), index=True)
    profile_id: Mapped[int] = mapped_column(ForeignKey("profiles.id", ondelete="CASCADE"))
    content: Mapped[str] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(String(100))
    occurred_at: Mapped[datetime] = mapped_column()
    conversation_id: Mapped[str] = mapped_column(String(48))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Communication(Base):
    """One message of a conversation, kept for session memory (an extension: the contract's
    Recall serves communications but gives no way to send them). ``sid`` is the sender's
    ``conv_communication_`` id; sending it again replaces the message."""

    __tablename__ = "communications"
    __table_args__ = (
        UniqueConstraint("store_id", "sid"),
        Index("ix_communications_conversation", "profile_id", "conversation_id", "created_at", "id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sid: Mapped[str] = mapped_column(String(48))
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    # The profile it was sent for; reads also gather the profiles merged into it.
    profile_id: Mapped[int] = mapped_column(ForeignKey("profiles.id", ondelete="CASCADE"))
    conversation_id: Mapped[str] = mapped_column(String(48))
    channel_id: Mapped[str | None] = mapped_column(String(256))
    text: Mapped[str | None] = mapped_column(Text)
    author: Mapped[dict] = mapped_column(JSON)
    recipients: Mapped[list] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column()


class MemoryEmbedding(Base):
    """The sentence embedding of one observation or summary, computed by the background workers.

    The row is written with its memory and ``vector`` NULL; a worker fills it in later. A
    content change bumps ``generation`` and clears the vector, so a worker that encoded the
    old text cannot store a stale vector.
    """

    __tablename__ = "memory_embeddings"
    __table_args__ = (
        CheckConstraint("(observation_id IS NULL) <> (summary_id IS NULL)", name="ck_memory_embeddings_one_item"),
        Index(
            "ix_memory_embeddings_pending",
            "id",
            sqlite_where=text("vector IS NULL"),
            postgresql_where=text("vector IS NULL"),
        ),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    observation_id: Mapped[int | None] = mapped_column(
        ForeignKey("observations.id", ondelete="CASCADE"), unique=True
    )
    summary_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversation_summaries.id", ondelete="CASCADE"), unique=True
    )
    generation: Mapped[int] = mapped_column(Integer, default=1)
    model: Mapped[str | None] = mapped_column(String(128))
    # float32, L2-normalised, so a dot product is the cosine similarity.
    vector: Mapped[bytes | None] = mapped_column(LargeBinary)
