"""Extensions: ``/v1/ControlPlane/Stores/{storeId}/Datasets[/{datasetId}[/Columns]]`` and a data
mapping's syncs, ``…/DataMappings/{dataMappingId}/Syncs[/{syncId}[/Errors]]``."""

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request, Response

from convmem.database.tables import DataMapping, Dataset, DatasetSync, Store
from convmem.datasets import repository, service
from convmem.datasets.schemas import (
    CreateDatasetInput,
    DatasetBody,
    DatasetColumn,
    DatasetList,
    PatchDatasetInput,
    StartSyncInput,
    SyncBody,
    SyncErrorList,
    SyncList,
    SyncProgress,
    SyncRowError,
)
from convmem.datasets.service import SourceAccess
from convmem.datasets.sources import decode_position, jsonable
from convmem.kit.timefmt import iso
from convmem.web.dependencies import (
    AppDatabase,
    Caller,
    LockedStore,
    OwnedStore,
    ReadSession,
    WriteSession,
    find_owned_store,
    lock_owned_store,
    reserve_idempotency_key,
)
from convmem.web.errors import not_found
from convmem.web.pagination import page_body, parse_page_request
from convmem.web.params import DATA_MAPPING_ID, DATASET_ID, STORE_ID, SYNC_ID
from convmem.web.urls import absolute

router = APIRouter(prefix="/v1/ControlPlane/Stores/{storeId}/Datasets", tags=["Datasets (extension)"])
syncs_router = APIRouter(prefix="/v1/ControlPlane/Stores/{storeId}/DataMappings/{dataMappingId}/Syncs", tags=["Datasets (extension)"])


def get_source_access(request: Request) -> SourceAccess:
    return request.app.state.dataset_access


Access = Annotated[SourceAccess, Depends(get_source_access)]


@router.post("", status_code=201, response_model=DatasetBody)
def create_dataset(
    request: Request, principal: Caller, db: AppDatabase, access: Access, storeId: str = STORE_ID, body: CreateDatasetInput = Body()
):
    """The source is read before the write transaction begins (as the upload URL streams its
    body before its own): a slow or unreachable source must not hold the store's lock, nor on
    SQLite the writer's."""
    with db.reading() as session:
        find_owned_store(session, principal, storeId)
    dataset = service.new_dataset(body, access)
    with db.writing() as session:
        reserve_idempotency_key(session, request, principal.account_id)
        store = lock_owned_store(db, session, principal, storeId)
        return _dataset_body(service.create_dataset(session, store, dataset))


@router.get("", response_model=DatasetList)
def list_datasets(request: Request, session: ReadSession, store: OwnedStore):
    page = repository.dataset_page(session, store.id, parse_page_request(request, max_size=100))
    return page_body("datasets", [_dataset_body(row.Dataset) for row in page.items], page)


@router.get("/{datasetId}", response_model=DatasetBody)
def fetch_dataset(session: ReadSession, store: OwnedStore, datasetId: str = DATASET_ID):
    return _dataset_body(service.get_dataset(session, store, datasetId))


@router.patch("/{datasetId}", response_model=DatasetBody)
def patch_dataset(
    request: Request,
    principal: Caller,
    db: AppDatabase,
    access: Access,
    storeId: str = STORE_ID,
    datasetId: str = DATASET_ID,
    body: PatchDatasetInput = Body(),
):
    """Like creation, reads the source (when what is read changes) outside the write transaction."""
    with db.reading() as session:
        patched = service.patched_dataset(service.get_dataset(session, find_owned_store(session, principal, storeId), datasetId), body, access)
    with db.writing() as session:
        reserve_idempotency_key(session, request, principal.account_id)
        store = lock_owned_store(db, session, principal, storeId)
        return _dataset_body(service.patch_dataset(session, store, service.get_dataset(session, store, datasetId), patched))


@router.delete("/{datasetId}", status_code=204)
def delete_dataset(session: WriteSession, store: LockedStore, datasetId: str = DATASET_ID):
    service.delete_dataset(session, store, service.get_dataset(session, store, datasetId))
    return Response(status_code=204)


@router.get("/{datasetId}/Columns", response_model=list[DatasetColumn])
def dataset_columns(principal: Caller, db: AppDatabase, access: Access, storeId: str = STORE_ID, datasetId: str = DATASET_ID):
    """The source's columns as it is now, with sample values (read live, after the read transaction)."""
    with db.reading() as session:
        dataset = service.get_dataset(session, find_owned_store(session, principal, storeId), datasetId)
    return [DatasetColumn(name=c.name, type=c.type, kind=c.kind, samples=c.samples) for c in service.live_columns(dataset, access)]


@syncs_router.post("", status_code=202, response_model=SyncBody)
def start_sync(
    request: Request,
    response: Response,
    session: WriteSession,
    store: LockedStore,
    dataMappingId: str = DATA_MAPPING_ID,
    body: StartSyncInput = Body(default_factory=StartSyncInput),
):
    mapping = _mapping(session, store, dataMappingId)
    dataset = service.mapping_dataset(session, store, mapping)
    sync = service.start_sync(session, store.id, mapping, dataset, full=body.full, trigger="MANUAL")
    response.headers["Location"] = absolute(request, f"{request.url.path}/{sync.sid}")
    return _sync_body(sync, mapping)


@syncs_router.get("", response_model=SyncList)
def list_syncs(request: Request, session: ReadSession, store: OwnedStore, dataMappingId: str = DATA_MAPPING_ID):
    mapping = _mapping(session, store, dataMappingId)
    page = repository.sync_page(session, mapping.id, parse_page_request(request, max_size=100))
    return page_body("syncs", [_sync_body(row.DatasetSync, mapping) for row in page.items], page)


@syncs_router.get("/{syncId}", response_model=SyncBody, response_model_exclude_none=True)
def fetch_sync(session: ReadSession, store: OwnedStore, dataMappingId: str = DATA_MAPPING_ID, syncId: str = SYNC_ID):
    mapping = _mapping(session, store, dataMappingId)
    return _sync_body(_sync(session, mapping, syncId), mapping)


@syncs_router.get("/{syncId}/Errors", response_model=SyncErrorList)
def sync_errors(request: Request, session: ReadSession, store: OwnedStore, dataMappingId: str = DATA_MAPPING_ID, syncId: str = SYNC_ID):
    sync = _sync(session, _mapping(session, store, dataMappingId), syncId)
    page = repository.row_error_page(session, sync.id, parse_page_request(request, max_size=1000, default_size=100))
    items = [SyncRowError(rowKey=e.row_key, column=e.column, reason=e.reason) for e in (row.DatasetSyncRowError for row in page.items)]
    return page_body("errors", items, page)


def _mapping(session, store: Store, sid: str) -> DataMapping:
    mapping = repository.mapping(session, store.id, sid)
    if mapping is None:
        raise not_found(f"Data mapping '{sid}' was not found")
    return mapping


def _sync(session, mapping: DataMapping, sid: str) -> DatasetSync:
    sync = repository.sync(session, mapping.id, sid)
    if sync is None:
        raise not_found(f"Sync '{sid}' was not found")
    return sync


def _dataset_body(dataset: Dataset) -> DatasetBody:
    return DatasetBody(
        id=dataset.sid,
        displayName=dataset.display_name,
        kind=dataset.kind,
        source=service.public_source(dataset),
        hasCredentials=dataset.sealed_credentials is not None,
        keyColumn=dataset.key_column,
        cursorColumn=dataset.cursor_column,
        syncIntervalSeconds=dataset.sync_interval_seconds,
        columns=[DatasetColumn(**column) for column in dataset.columns],
        createdAt=iso(dataset.created_at),
        updatedAt=iso(dataset.updated_at),
    )


def _sync_body(sync: DatasetSync, mapping: DataMapping) -> SyncBody:
    position = decode_position(sync.position)
    return SyncBody(
        id=sync.sid,
        dataMappingId=mapping.sid,
        status=sync.status,
        trigger=sync.trigger,
        full=sync.full,
        progress=SyncProgress(rowsRead=sync.rows_read, rowsWritten=sync.rows_written, errors=sync.errors),
        position=None if position is None else {"cursor": jsonable(position[0]), "key": jsonable(position[1])},
        failureReason=sync.failure,
        createdAt=iso(sync.created_at),
        updatedAt=iso(sync.updated_at),
        finishedAt=iso(sync.finished_at),
    )
