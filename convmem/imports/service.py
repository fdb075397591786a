"""CSV imports, the API side: create (mappings checked against the store's schema), accept
the upload, and report.

An import is created with its job, WAITING for the file (``imports.job`` does the work).
The upload URL is the blob store's: convmem's own ``/v1/Uploads/{importId}``, whose upload
wakes the job at once, or an S3 pre-signed URL the job polls for.
"""

import csv
import io
import logging
from collections.abc import Callable, Iterator

from sqlalchemy.orm import Session

from convmem.background import jobs
from convmem.background.blobstore import BlobStore, blob_key
from convmem.database.engine import Database
from convmem.database.tables import Import, Store, utcnow
from convmem.datamappings import service as datamappings
from convmem.datamappings.schemas import DataMappingType
from convmem.imports import repository
from convmem.imports.repository import KIND
from convmem.imports.schemas import (
    MAX_COLUMN_NAME,
    ColumnMappingItem,
    CreateImportRequest,
    ImportStatus,
)
from convmem.kit.ids import Prefix, new_id
from convmem.profiles.context import StoreContext, load_context
from convmem.traitgroups.service import normalize_trait_name
from convmem.web.auth import Principal
from convmem.web.errors import ApiError, Code, bad_request, not_found
from convmem.web.pagination import Page, PageRequest

log = logging.getLogger("convmem.imports")


def create(session: Session, principal: Principal, store: Store, body: CreateImportRequest) -> Import:
    """Check the mappings and record the import with its job, in the caller's transaction."""
    if body.dataMappingId is not None:
        items = ingress_column_mappings(session, store, body.dataMappingId)
        mappings = check_mappings(load_context(session, store), items, f"data mapping {body.dataMappingId}: mappings")
    else:
        mappings = check_mappings(load_context(session, store), body.columnMappings, "columnMappings")
    import_sid = new_id(Prefix.IMPORT)
    job = jobs.enqueue(session, sid=import_sid, kind=KIND, store_pk=store.id, payload={"importId": import_sid}, waiting=True)
    now = utcnow()
    imported = Import(
        sid=import_sid,
        store_id=store.id,
        filename=body.filename,
        file_size=body.fileSize,
        column_mappings=mappings,
        data_mapping_sid=body.dataMappingId,
        status="PENDING",
        blob_key=blob_key(principal.account_sid, store.sid, import_sid, body.filename),
        job_id=job.id,
        processed_rows=0,
        errors=0,
        warnings=0,
        created_at=now,
        updated_at=now,
    )
    session.add(imported)
    return imported


def ingress_column_mappings(session: Session, store: Store, mapping_sid: str) -> list[ColumnMappingItem]:
    """The column mappings an INGRESS data mapping stands for (``expression`` is the CSV column)."""
    mapping = datamappings.find_mapping(session, store, mapping_sid)
    if mapping is None:
        raise bad_request(f"Invalid 'dataMappingId': no data mapping '{mapping_sid}' in store '{store.sid}'")
    if mapping.type != DataMappingType.INGRESS:
        raise bad_request(
            f"Invalid 'dataMappingId': data mapping '{mapping_sid}' reads a dataset ({mapping.type}); an import needs an INGRESS mapping"
        )
    if not mapping.is_enabled:
        raise bad_request(f"Invalid 'dataMappingId': data mapping '{mapping_sid}' is disabled (isEnabled: false)")
    items = []
    for index, item in enumerate(mapping.mapping_to["mappings"]):
        if len(item["expression"]) > MAX_COLUMN_NAME:
            raise bad_request(
                f"Invalid 'dataMappingId': mappings[{index}] reads the column '{item['expression'][:80]}…', longer than "
                f"the {MAX_COLUMN_NAME} characters an import's column name may have"
            )
        items.append(ColumnMappingItem(columnName=item["expression"], traitGroup=item["traitGroup"], traitName=item["traitName"]))
    return items


def check_mappings(ctx: StoreContext, items: list[ColumnMappingItem], field: str) -> list[dict]:
    """Each column named once, each trait existing and mapped once, at least one identifier.
    Problems name the item as ``{field}[index]``."""
    columns: set[str] = set()
    traits: set[tuple[str, str]] = set()
    mappings = []
    for index, item in enumerate(items):
        where = f"{field}[{index}]"
        column = item.columnName.strip()
        if column in columns:
            raise bad_request(f"{where}: column '{column}' is mapped twice; map each column once")
        group = ctx.schema.get(item.traitGroup)
        if group is None:
            raise ApiError(400, Code.UNKNOWN_TRAIT_GROUP, f"{where}: unknown trait group '{item.traitGroup}'")
        name = normalize_trait_name(item.traitName)
        if name not in group:
            raise ApiError(
                400, Code.UNKNOWN_TRAIT, f"{where}: trait group '{item.traitGroup}' defines no trait '{item.traitName}'"
            )
        if (item.traitGroup, name) in traits:
            raise bad_request(f"{where}: trait '{item.traitGroup}.{name}' is mapped from two columns")
        columns.add(column)
        traits.add((item.traitGroup, name))
        mappings.append({"columnName": column, "traitGroup": item.traitGroup, "traitName": name})
    if not any(ctx.schema[m["traitGroup"]][m["traitName"]].get("idTypePromotion") for m in mappings):
        raise ApiError(
            400,
            Code.NO_IDENTIFIER,
            f"{field} must map at least one column to a trait promoted to an identifier (for example Contact.email)",
        )
    return mappings


def get(session: Session, store: Store, import_sid: str) -> Import:
    imported = repository.get(session, store.id, import_sid)
    if imported is None:
        raise not_found(f"Import '{import_sid}' was not found")
    return imported


def list_page(session: Session, store: Store, page: PageRequest) -> Page:
    return repository.page_of(session, store.id, page)


def error_report(db: Database, import_pk: int) -> Iterator[str]:
    """The per-row report as CSV text: row, column, severity, reason. Streamed after the
    request's own transaction has ended, so it reads a page per transaction of its own."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["row", "column", "severity", "reason"])
    for entry in repository.row_errors(db, import_pk):
        writer.writerow([entry.row_number, entry.column, entry.severity, entry.reason])
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def uploads_of_deleted_store(blobs: BlobStore, session: Session, store_pk: int) -> Callable[[], None]:
    """The store deletion's hook (the app binds its blob store): the files of its imports
    that will never run, deleted once the deletion has committed."""
    keys = repository.unfinished_blob_keys(session, store_pk)
    return lambda: discard_uploads(blobs, keys)


def discard_uploads(blobs: BlobStore, keys: list[str]) -> None:
    """Delete the files of imports that will never run (their store is gone). Called after
    the deletion committed: a file that fails to go is logged, the deletion stands."""
    for key in keys:
        try:
            blobs.delete(key)
        except Exception:
            log.exception("could not delete the upload %s", key)


def awaiting_upload(session: Session, import_sid: str) -> Import | None:
    imported = repository.by_sid(session, import_sid)
    return imported if imported is not None and imported.status == "PENDING" else None


def upload_received(session: Session, imported: Import) -> bool:
    """Wake the import's job for its file; False if the import has started (or ended) since the
    upload began, so the file just stored is a second one, which its job will never read."""
    current = repository.by_sid(session, imported.sid)
    if current is None or current.status != ImportStatus.PENDING:
        return False
    jobs.wake(session, imported.job_id)
    return True
