"""Datasets (the sources data mappings read) and starting syncs: rules, no HTTP.

A dataset's source is read once when it is created or changed: the source must answer, and
its columns (with their kinds and sample values) are kept for checking mappings against and
for mapping suggestions. Credentials are sealed (``credentials``) and never come back out.
"""

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session

from convmem.background import jobs
from convmem.database.tables import DataMapping, Dataset, DatasetSync, Store, utcnow
from convmem.datasets import repository
from convmem.datasets.credentials import CredentialSeal, CredentialsUnreadable
from convmem.datasets.expressions import InvalidExpression, selection
from convmem.datasets.repository import SYNC_KIND
from convmem.datasets.schemas import (
    CreateDatasetInput,
    FileSourceInput,
    PatchDatasetInput,
    SqlSourceInput,
    SyncStatus,
)
from convmem.datasets.sources import Source, SourceColumn, SourceError, open_source
from convmem.kit.ids import Prefix, new_id
from convmem.web.errors import ApiError, Code, bad_request, not_found


@dataclass(frozen=True)
class SourceAccess:
    """What reading a source takes besides the dataset: the key that opens its credentials and the
    folder local files must be in. Made once by the app and by the worker."""

    seal: CredentialSeal
    file_root: Path


def get_dataset(session: Session, store: Store, sid: str) -> Dataset:
    found = repository.dataset(session, store.id, sid)
    if found is None:
        raise not_found(f"Dataset '{sid}' was not found")
    return found


def new_dataset(body: CreateDatasetInput, access: SourceAccess) -> Dataset:
    """The dataset the body describes, its source read (400 unless it answers): not yet in a
    session, so no transaction waits on the source."""
    source, secrets = _split_source(body.source)
    now = utcnow()
    dataset = Dataset(
        sid=new_id(Prefix.DATASET),
        display_name=body.displayName,
        kind=body.kind,
        source=source,
        sealed_credentials=access.seal.seal(secrets) if secrets else None,
        key_column=body.keyColumn,
        cursor_column=body.cursorColumn,
        sync_interval_seconds=body.syncIntervalSeconds,
        columns=[],
        created_at=now,
        updated_at=now,
    )
    _read_columns(dataset, access)
    return dataset


def create_dataset(session: Session, store: Store, dataset: Dataset) -> Dataset:
    if repository.dataset_named(session, store.id, dataset.display_name) is not None:
        raise ApiError(409, Code.DUPLICATE_NAME, f"The store already has a dataset named '{dataset.display_name}'")
    dataset.store_id = store.id
    session.add(dataset)
    session.flush()
    return dataset


_PATCHED = ("display_name", "source", "sealed_credentials", "key_column", "cursor_column", "sync_interval_seconds", "columns")


def patched_dataset(current: Dataset, body: PatchDatasetInput, access: SourceAccess) -> Dataset:
    """A detached copy of ``current`` with the patch applied, its source read again if what is
    read changed (400 unless it answers)."""
    patched = Dataset(**{name: getattr(current, name) for name in _PATCHED})
    given = body.model_fields_set
    if body.displayName is not None:
        patched.display_name = body.displayName
    if body.source is not None:
        patched.source, secrets = _split_source(body.source)
        patched.sealed_credentials = access.seal.seal(secrets) if secrets else None
    if body.keyColumn is not None:
        patched.key_column = body.keyColumn
    if "cursorColumn" in given:
        patched.cursor_column = body.cursorColumn
    if "syncIntervalSeconds" in given:
        patched.sync_interval_seconds = body.syncIntervalSeconds
    if given & {"source", "keyColumn", "cursorColumn"}:
        _read_columns(patched, access)
    return patched


def patch_dataset(session: Session, store: Store, dataset: Dataset, patched: Dataset) -> Dataset:
    if patched.display_name != dataset.display_name and repository.dataset_named(session, store.id, patched.display_name) is not None:
        raise ApiError(409, Code.DUPLICATE_NAME, f"The store already has a dataset named '{patched.display_name}'")
    for name in _PATCHED:
        setattr(dataset, name, getattr(patched, name))
    dataset.updated_at = utcnow()
    return dataset


def delete_dataset(session: Session, store: Store, dataset: Dataset) -> None:
    readers = repository.mappings_reading(session, store.id, dataset.sid)
    if readers:
        names = ", ".join(m.sid for m in readers[:5])
        raise ApiError(409, Code.CONFLICT, f"Data mappings read this dataset ({names}); delete them or point them elsewhere first")
    session.delete(dataset)


def open_dataset(dataset: Dataset, access: SourceAccess) -> Source:
    try:
        credentials = access.seal.open(dataset.sealed_credentials)
    except CredentialsUnreadable as error:
        raise SourceError(str(error)) from None
    return open_source(dataset.source, credentials, access.file_root)


def live_columns(dataset: Dataset, access: SourceAccess) -> list[SourceColumn]:
    """The source's columns as it is now (400 when it cannot be read)."""
    try:
        source = open_dataset(dataset, access)
        try:
            return source.columns()
        finally:
            source.close()
    except SourceError as error:
        raise bad_request(f"The dataset's source could not be read: {error}") from None


def public_source(dataset: Dataset) -> dict:
    """The source as the API shows it: what is read, never a password or a key."""
    return dict(dataset.source)


def mapped_kinds(session: Session, store: Store, dataset_sid: str, expressions: list[tuple[str, str]]) -> list[str | None]:
    """For each (where, expression) read from the store's dataset ``dataset_sid``: the kind of value it
    gives (a column's: STRING, NUMBER, BOOLEAN, DATE, ARRAY; None for a SQL expression, or a column
    of another kind, which only a sync can tell). 400 when the store has no such dataset or an
    expression is neither a column of it nor a valid expression over its columns."""
    dataset = repository.dataset(session, store.id, dataset_sid)
    if dataset is None:
        raise bad_request(f"mappingFrom.datasetId: the store has no dataset '{dataset_sid}' (create it under …/Datasets)")
    kinds = {c["name"]: c["kind"] for c in dataset.columns}
    found = []
    for where, expression in expressions:
        try:
            chosen = selection(expression, list(kinds), dataset_dialect(dataset))
        except InvalidExpression as error:
            raise bad_request(f"{where}.expression: {error}") from None
        kind = kinds[chosen.column] if chosen.column is not None else None
        found.append(None if kind == "OTHER" else kind)
    return found


def dataset_dialect(dataset: Dataset) -> str:
    """The SQL dialect its expressions are written in (sqlglot's name)."""
    return dataset.source.get("dialect", "duckdb")


def start_sync(session: Session, store_pk: int, mapping: DataMapping, dataset: Dataset, *, full: bool, trigger: str) -> DatasetSync:
    """Record a sync of ``mapping`` with its job. It starts where the mapping's syncs have got to
    (incremental) when the dataset has a cursor column, unless ``full``; else from the beginning."""
    if not mapping.is_enabled:
        raise ApiError(409, Code.CONFLICT, f"Data mapping '{mapping.sid}' is disabled (isEnabled: false); enable it to sync")
    running = repository.unfinished_sync(session, mapping.id)
    if running is not None:
        raise ApiError(409, Code.CONFLICT, f"Data mapping '{mapping.sid}' is already syncing ({running.sid})")
    position = None
    if not full and dataset.cursor_column is not None:
        last = repository.latest_position(session, mapping.id)
        if last is not None and last.get("cursorColumn") == dataset.cursor_column and last.get("keyColumn") == dataset.key_column:
            position = last
    sid = new_id(Prefix.DATASET_SYNC)
    job = jobs.enqueue(session, sid=sid, kind=SYNC_KIND, store_pk=store_pk, payload={"syncId": sid})
    now = utcnow()
    sync = DatasetSync(
        sid=sid,
        store_id=store_pk,
        data_mapping_id=mapping.id,
        job_id=job.id,
        full=position is None,
        trigger=trigger,
        status=SyncStatus.PENDING,
        position=position,
        rows_read=0,
        rows_written=0,
        errors=0,
        created_at=now,
        updated_at=now,
    )
    session.add(sync)
    session.flush()
    return sync


def mapping_dataset(session: Session, store: Store, mapping: DataMapping) -> Dataset:
    if mapping.dataset_id is None:
        raise bad_request(f"Data mapping '{mapping.sid}' is INGRESS: its data arrives with imports, there is nothing to sync")
    dataset = repository.dataset(session, store.id, mapping.dataset_id)
    if dataset is None:
        raise ApiError(409, Code.CONFLICT, f"Data mapping '{mapping.sid}' reads dataset '{mapping.dataset_id}', which is gone")
    return dataset


def _split_source(source: SqlSourceInput | FileSourceInput) -> tuple[dict, dict]:
    """The source as stored in the clear, and its secrets (sealed apart)."""
    if isinstance(source, SqlSourceInput):
        try:
            shown_url = make_url(source.url).set(password=None, query={}).render_as_string(hide_password=False)
        except ArgumentError:
            raise bad_request("source.url is not a database URL (dialect+driver://user:password@host/database)") from None
        shown = {"type": "SQL", "url": shown_url}
        for name, value in (("table", source.table), ("schema", source.schema_), ("query", source.query)):
            if value is not None:
                shown[name] = value
        return shown, {"url": source.url}
    shown = {"type": "FILE", "location": source.location, "format": source.format}
    for name, value in (("endpointUrl", source.endpointUrl), ("region", source.region)):
        if value is not None:
            shown[name] = value
    secrets = {k: v for k, v in (("accessKeyId", source.accessKeyId), ("secretAccessKey", source.secretAccessKey)) if v is not None}
    return shown, secrets


def _read_columns(dataset: Dataset, access: SourceAccess) -> None:
    """Read the source's columns onto the dataset; 400 unless it answers and has the key and cursor columns."""
    try:
        source = open_dataset(dataset, access)
        try:
            columns = source.columns()
            dataset.source = {**dataset.source, "dialect": source.dialect}
        finally:
            source.close()
    except SourceError as error:
        raise bad_request(f"The dataset's source could not be read: {error}") from None
    names = [c.name for c in columns]
    for field, name in (("keyColumn", dataset.key_column), ("cursorColumn", dataset.cursor_column)):
        if name is not None and name not in names:
            raise bad_request(f"{field}: the source has no column '{name}' (it has {', '.join(names[:50])})")
    dataset.columns = [{"name": c.name, "type": c.type, "kind": c.kind, "samples": c.samples} for c in columns]
