"""SQL of datasets, syncs and their row errors."""

from collections.abc import Sequence

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from convmem.database.tables import (
    DataMapping,
    Dataset,
    DatasetSync,
    DatasetSyncRowError,
)
from convmem.datasets.schemas import UNFINISHED_SYNCS
from convmem.web.pagination import Page, PageRequest, keyset

SYNC_KIND = "dataset_sync"
DATASET_MAPPING_TYPES = ("DATASET_WAREHOUSE", "DATASET_CLOUDAPP")


def dataset(session: Session, store_pk: int, sid: str) -> Dataset | None:
    return session.scalar(select(Dataset).where(Dataset.store_id == store_pk, Dataset.sid == sid))


def dataset_named(session: Session, store_pk: int, name: str) -> Dataset | None:
    return session.scalar(select(Dataset).where(Dataset.store_id == store_pk, Dataset.display_name == name))


def dataset_page(session: Session, store_pk: int, page: PageRequest) -> Page:
    stmt = select(Dataset.id, Dataset).where(Dataset.store_id == store_pk)
    return keyset(session, stmt, [Dataset.id], page, key_of=lambda row: row.id)


def mappings_reading(session: Session, store_pk: int, dataset_sid: str) -> list[DataMapping]:
    stmt = select(DataMapping).where(DataMapping.store_id == store_pk, DataMapping.dataset_id == dataset_sid)
    return list(session.scalars(stmt.order_by(DataMapping.id)))


def mapping(session: Session, store_pk: int, sid: str) -> DataMapping | None:
    return session.scalar(select(DataMapping).where(DataMapping.store_id == store_pk, DataMapping.sid == sid))


def sync(session: Session, mapping_pk: int, sid: str) -> DatasetSync | None:
    return session.scalar(select(DatasetSync).where(DatasetSync.data_mapping_id == mapping_pk, DatasetSync.sid == sid))


def sync_by_job(session: Session, job_id: int) -> DatasetSync | None:
    return session.scalar(select(DatasetSync).where(DatasetSync.job_id == job_id))


def sync_page(session: Session, mapping_pk: int, page: PageRequest) -> Page:
    stmt = select(DatasetSync.id, DatasetSync).where(DatasetSync.data_mapping_id == mapping_pk)
    return keyset(session, stmt, [DatasetSync.id], page, key_of=lambda row: row.id)


def unfinished_sync(session: Session, mapping_pk: int) -> DatasetSync | None:
    stmt = select(DatasetSync).where(DatasetSync.data_mapping_id == mapping_pk, DatasetSync.status.in_(UNFINISHED_SYNCS))
    return session.scalar(stmt.limit(1))


def latest_sync(session: Session, mapping_pk: int) -> DatasetSync | None:
    stmt = select(DatasetSync).where(DatasetSync.data_mapping_id == mapping_pk).order_by(DatasetSync.id.desc())
    return session.scalar(stmt.limit(1))


def latest_position(session: Session, mapping_pk: int) -> dict | None:
    """Where the mapping's syncs have got to: the position of its latest sync that applied rows."""
    stmt = (
        select(DatasetSync.position)
        .where(DatasetSync.data_mapping_id == mapping_pk, DatasetSync.position.is_not(None))
        .order_by(DatasetSync.id.desc())
    )
    return session.scalar(stmt.limit(1))


def enabled_dataset_mappings(session: Session) -> list[tuple[DataMapping, Dataset]]:
    """Every enabled mapping of a dataset, with the dataset (all stores): what the scheduler looks at."""
    stmt = (
        select(DataMapping, Dataset)
        .join(Dataset, (Dataset.store_id == DataMapping.store_id) & (Dataset.sid == DataMapping.dataset_id))
        .where(DataMapping.is_enabled.is_(True), DataMapping.type.in_(DATASET_MAPPING_TYPES))
        .order_by(DataMapping.id)
    )
    return [(row[0], row[1]) for row in session.execute(stmt)]


def add_row_errors(session: Session, sync_pk: int, entries: Sequence[tuple[str, str, str]]) -> None:
    """Entries are (row key, column, reason)."""
    if entries:
        session.execute(
            insert(DatasetSyncRowError),
            [{"sync_id": sync_pk, "row_key": key[:255], "column": column[:255], "reason": reason[:1024]} for key, column, reason in entries],
        )


def row_error_page(session: Session, sync_pk: int, page: PageRequest) -> Page:
    stmt = select(DatasetSyncRowError.id, DatasetSyncRowError).where(DatasetSyncRowError.sync_id == sync_pk)
    return keyset(session, stmt, [DatasetSyncRowError.id], page, key_of=lambda row: row.id)
