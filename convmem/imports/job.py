"""CSV imports, the worker side: wait for the upload, check the file, import its rows.

An import's job is enqueued with the import, WAITING for the file. The worker checks for
the upload (the local upload endpoint wakes it at once; for S3 it looks again every few
seconds) until the URL expires. Then, in one pass over the file, it checks the header
against the mappings and counts the rows: a missing column or an unreadable file fails the
import before anything is written. Then it imports the rows a chunk per transaction: the
chunk's profile writes, its row errors, the import's counters and the job's byte offset
commit together, so a killed worker's successor resumes exactly after the last committed
chunk. Each row is a create body going through ``profiles.writer.prepare`` and
``write_many``: the path a single create takes.
"""

import os
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from itertools import islice
from multiprocessing import get_context

from sqlalchemy.orm import Session

from convmem.background import jobs
from convmem.background.blobstore import BlobStore
from convmem.database.engine import Database
from convmem.database.tables import Import, Job, Store, utcnow
from convmem.imports import repository
from convmem.imports.repository import KIND
from convmem.imports.rows import CsvRecords, UnreadableFile, cell_value, is_blank
from convmem.imports.schemas import ImportStatus
from convmem.kit.clock import WriteClock
from convmem.profiles.context import StoreContext, load_context
from convmem.profiles.writer import prepare, write_many
from convmem.web.errors import ApiError

S3_POLL_SECONDS = 2.0
LOCAL_POLL_SECONDS = 10.0
# An upload that started just before its URL expired may still be streaming.
UPLOAD_GRACE_SECONDS = 60


@dataclass(frozen=True)
class Column:
    name: str
    index: int
    group: str
    trait: str


class ImportFailed(Exception):
    def __init__(self, message: str, row_errors: list[tuple[int, str, str, str]] | None = None):
        super().__init__(message)
        self.row_errors = row_errors or []


def run(env: jobs.JobEnv, claim: jobs.Claim) -> None:
    db, blobs = env.db, env.blobs
    with db.reading() as session:
        imported = repository.by_job(session, claim.id)
    if imported is None:
        return
    try:
        if "offset" not in claim.progress:
            size = blobs.size(imported.blob_key)
            if size is None:
                size = _wait_for_upload(env, claim, imported, blobs)
                if size is None:
                    return
            if size != imported.file_size:
                raise ImportFailed(f"The uploaded file is {size} bytes but the import declared a fileSize of {imported.file_size}")
            progress = _start(db, claim, imported, blobs.local_copy(imported.blob_key))
        else:
            progress = claim.progress
        _import_rows(env, claim, imported, blobs.local_copy(imported.blob_key), progress)
    except (ImportFailed, UnreadableFile) as failure:
        with db.writing() as session:
            job = jobs.checkpoint(session, claim)
            row_errors = failure.row_errors if isinstance(failure, ImportFailed) else []
            _fail(session, session.get(Import, imported.id), str(failure), row_errors)
            jobs.finish(job, "FAILED", {"error": str(failure)})
    # Finished either way: the rows and the report are in the database, the file isn't needed.
    blobs.delete(imported.blob_key)


def give_up(session: Session, claim: jobs.Claim, reason: str) -> None:
    imported = repository.by_job(session, claim.id)
    if imported is not None:
        _fail(session, imported, f"The import could not be processed: {reason}", [])


def reopen(session: Session, job: Job) -> None:
    """A failed import's job is retried: the import is in progress again, PROCESSING if its
    rows had started (the checkpoint holds the file offset), else PENDING."""
    imported = repository.by_job(session, job.id)
    if imported is not None:
        imported.status = ImportStatus.PROCESSING if "offset" in (job.progress or {}) else ImportStatus.PENDING
        imported.failure = None
        imported.updated_at = utcnow()


def _fail(session: Session, imported: Import, message: str, row_errors: list) -> None:
    repository.add_row_errors(session, imported.id, row_errors)
    imported.status = "FAILED"
    imported.failure = message
    imported.errors += sum(1 for entry in row_errors if entry[2] == "error")
    imported.updated_at = utcnow()


def _wait_for_upload(env: jobs.JobEnv, claim: jobs.Claim, imported: Import, blobs: BlobStore) -> int | None:
    """Set the job aside until the upload wakes it or a polling interval passes; returns the
    file's size instead if it has landed after all."""
    db, settings = env.db, env.settings
    polling = S3_POLL_SECONDS if settings.s3_bucket else LOCAL_POLL_SECONDS
    deadline = imported.created_at + timedelta(seconds=settings.upload_url_ttl_seconds + UPLOAD_GRACE_SECONDS)
    if jobs.now_utc() > deadline:
        raise ImportFailed("No file was uploaded before the upload URL expired; create a new import")
    with db.writing() as session:
        job = jobs.checkpoint(session, claim)
        # Looked at again with the job locked: an upload that landed since the first look has
        # its wake-up waiting for this lock, and would find the job not yet WAITING.
        size = blobs.size(imported.blob_key)
        if size is None:
            jobs.wait(job, polling)
        return size


def _start(db: Database, claim: jobs.Claim, imported: Import, path) -> dict:
    """Check the header against the mappings and count the data rows, then mark the import
    PROCESSING: one read of the whole file, before anything is written."""
    with open(path, "rb") as binary:
        records = CsvRecords(binary)
        header = next(((number, fields) for number, fields in records if not is_blank(fields)), None)
        if header is None:
            raise ImportFailed("The file has no header row: it is empty")
        header_row, names = header[0], [name.strip() for name in header[1]]
        mapped = [m["columnName"] for m in imported.column_mappings]
        missing = [(header_row, name, "error", f"Column '{name}' is mapped but the CSV header has no such column") for name in mapped if name not in names]
        doubled = [(header_row, name, "error", f"Column '{name}' appears more than once in the CSV header") for name in mapped if names.count(name) > 1]
        if missing or doubled:
            problems = ", ".join(f"'{entry[1]}'" for entry in missing + doubled)
            kind = "missing from" if missing else "repeated in"
            raise ImportFailed(f"Mapped column(s) {problems} {kind} the CSV header (row {header_row})", missing + doubled)
        warnings = [
            (header_row, name, "warning", f"Column '{name}' is not mapped to a trait; its values are ignored")
            for name in dict.fromkeys(names)
            if name not in mapped
        ]
        columns = {name: names.index(name) for name in mapped}
        offset, record = records.offset, records.record_number
        total = sum(1 for _, fields in records if not is_blank(fields))
    progress = {"offset": offset, "record": record, "columns": columns}
    with db.writing() as session:
        job = jobs.checkpoint(session, claim)
        current = session.get(Import, imported.id)
        repository.add_row_errors(session, current.id, warnings)
        current.status = "PROCESSING"
        current.total_rows = total
        current.warnings = len(warnings)
        current.updated_at = utcnow()
        jobs.advance(job, claim, progress)
    return progress


@dataclass(frozen=True)
class Chunk:
    rows: list[tuple[int, list[str]]]  # (record number, fields), blank records left out
    offset: int  # where the next chunk starts: the checkpoint once this one is committed
    record: int


@dataclass(frozen=True)
class PreparedChunk:
    writes: list  # ``prepare``d create bodies
    rows: list[int]  # the record number of each body
    row_errors: list[tuple[int, str, str, str]]  # rows refused before writing


def _import_rows(env: jobs.JobEnv, claim: jobs.Claim, imported: Import, path, progress: dict) -> None:
    """Read, prepare and write the rows a chunk at a time. Preparing (cells to traits,
    validation, normalisation: phone numbers cost most) is CPU-bound Python, so for files of
    several chunks it runs in a process of its own, one chunk ahead of the writing. It uses
    the store's context as the previous chunk's transaction read it; a chunk whose
    transaction finds the context changed (a trait group edited meanwhile) is prepared again."""
    db, chunk_size = env.db, env.settings.job_chunk_size
    columns = [
        Column(m["columnName"], progress["columns"][m["columnName"]], m["traitGroup"], m["traitName"])
        for m in imported.column_mappings
    ]
    source = f"import:{imported.sid}"
    with db.reading() as session:
        ctx = load_context(session, session.get(Store, claim.store_id))
        counted = session.get(Import, imported.id)
        rows_left = (counted.total_rows or 0) - counted.processed_rows
    parallel = rows_left >= PARALLEL_FROM_CHUNKS * chunk_size
    with open(path, "rb") as binary, _preparer(parallel) as preparer:
        records = CsvRecords(binary, progress["offset"], progress["record"])
        upcoming = _read_chunk(records, chunk_size)
        upcoming_preparation = (ctx, preparer.submit(prepare_chunk, ctx, columns, upcoming.rows))
        while True:
            chunk, (prepared_with, preparation) = upcoming, upcoming_preparation
            done = chunk.offset >= imported.file_size
            if not done:
                upcoming = _read_chunk(records, chunk_size)
                upcoming_preparation = (ctx, preparer.submit(prepare_chunk, ctx, columns, upcoming.rows))
            with db.writing() as session:
                db.lock_store(session, claim.store_id)
                job = jobs.checkpoint(session, claim)
                ctx = load_context(session, session.get(Store, claim.store_id))
                prepared = preparation.result()
                if prepared_with != ctx:
                    prepared = prepare_chunk(ctx, columns, chunk.rows)
                row_errors = _write_rows(session, ctx, columns, prepared, source, env.clock)
                repository.add_row_errors(session, imported.id, row_errors)
                current = session.get(Import, imported.id)
                current.processed_rows += len(chunk.rows)
                current.errors += len(row_errors)
                current.updated_at = utcnow()
                if done:
                    current.status = "COMPLETED"
                    jobs.finish(job, "COMPLETED", {"completedBy": claim.owner})
                else:
                    jobs.advance(job, claim, {**progress, "offset": chunk.offset, "record": chunk.record})
            if done:
                return
            jobs.settle_heap()


# Files with fewer rows left are prepared in the writing process: starting a process costs
# about a second, more than preparing a few chunks.
PARALLEL_FROM_CHUNKS = 4


class _InProcess:
    """The ``submit`` of an executor, run at once in the caller."""

    def submit(self, fn, *args) -> Future:
        future: Future = Future()
        future.set_result(fn(*args))
        return future

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None


def _preparer(parallel: bool):
    if not parallel:
        return _InProcess()
    # "spawn": the worker process runs threads, which a forked child must not inherit.
    return ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn"), initializer=_exit_with, initargs=(os.getpid(),))


def _exit_with(parent_pid: int) -> None:
    """Start of the preparing process: it ends when the worker that started it is gone
    (killed, or stopped without shutting the pool down), rather than wait for work forever."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-worker", daemon=True).start()


def _read_chunk(records: CsvRecords, chunk_size: int) -> Chunk:
    rows = [(number, fields) for number, fields in islice(records, chunk_size) if not is_blank(fields)]
    return Chunk(rows, records.offset, records.record_number)


def _identifier_columns(ctx: StoreContext, columns: list[Column]) -> str:
    return ",".join(c.name for c in columns if ctx.schema.get(c.group, {}).get(c.trait, {}).get("idTypePromotion"))


def prepare_chunk(ctx: StoreContext, columns: list[Column], rows: list[tuple[int, list[str]]]) -> PreparedChunk:
    """The chunk's rows as create bodies, and the errors of the rows that can't be one.
    Touches no data: it runs in the preparing process."""
    identifier_columns = _identifier_columns(ctx, columns)
    row_errors: list[tuple[int, str, str, str]] = []
    writes, numbers = [], []
    for number, fields in rows:
        traits, problem = _row_traits(ctx, columns, fields, identifier_columns)
        if problem is None:
            try:
                writes.append(prepare(ctx, traits))
                numbers.append(number)
                continue
            except ApiError as error:
                problem = (_culprit(ctx, columns, traits) or identifier_columns, error.message)
        row_errors.append((number, problem[0], "error", problem[1]))
    return PreparedChunk(writes, numbers, row_errors)


def _write_rows(session: Session, ctx: StoreContext, columns: list[Column], prepared: PreparedChunk, source: str, clock: WriteClock) -> list:
    """Write the chunk's prepared rows; return the error entries of the rows skipped."""
    identifier_columns = _identifier_columns(ctx, columns)
    row_errors = list(prepared.row_errors)
    for number, outcome in zip(prepared.rows, write_many(session, ctx, prepared.writes, source=source, clock=clock)):
        if isinstance(outcome, ApiError):
            row_errors.append((number, identifier_columns, "error", outcome.message))
    row_errors.sort()
    return row_errors


def _row_traits(ctx: StoreContext, columns: list[Column], fields: list[str], identifier_columns: str):
    """The row as a create body's traits, or the (column, reason) that makes it unusable."""
    traits: dict[str, dict] = {}
    has_identifier = False
    for column in columns:
        text = fields[column.index].strip() if column.index < len(fields) else ""
        if not text:
            continue
        definition = ctx.schema.get(column.group, {}).get(column.trait)
        if definition is None:
            return None, (column.name, f"Trait '{column.group}.{column.trait}' no longer exists in the store")
        try:
            value = cell_value(definition["dataType"], text)
        except ValueError as error:
            return None, (column.name, f"Trait '{column.group}.{column.trait}' {error}")
        traits.setdefault(column.group, {})[column.trait] = value
        has_identifier = has_identifier or bool(definition.get("idTypePromotion"))
    if not has_identifier:
        return None, (identifier_columns, f"The row has no identifier value: fill at least one of {identifier_columns}")
    return traits, None


def _culprit(ctx: StoreContext, columns: list[Column], traits: dict) -> str | None:
    """The column whose value alone fails validation (only asked for rows that failed)."""
    for column in columns:
        value = traits.get(column.group, {}).get(column.trait)
        if value is None:
            continue
        try:
            prepare(ctx, {column.group: {column.trait: value}}, patching=True)
        except ApiError:
            return column.name
    return None


IMPORT_JOBS = jobs.JobKind(KIND, run, give_up, reopen=reopen)
