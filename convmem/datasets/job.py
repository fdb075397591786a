"""A data mapping's sync, the worker side: read the dataset a chunk at a time and write each
row through ``profiles.writer``, as CSV imports do.

Rows are read in (cursor, key) order after the sync's ``position``, the last row applied. Each
chunk's profile writes, row errors, counters and new position commit in one transaction that
starts with the job's checkpoint: a killed worker's successor resumes right after the last
committed chunk, and no row is written twice. Rows sharing a cursor value are told apart by the
key, so a chunk boundary or a later sync between two of them skips neither. An incremental
sync starts at the position the mapping's previous syncs reached. A source that cannot be
read fails the sync with the reason; what was committed stays, and the next sync goes on
from there. A mapping disabled (or deleted) while its sync runs stops it at the next chunk.
"""

from sqlalchemy.orm import Session

from convmem.background import jobs
from convmem.background.blobstore import signing_key
from convmem.database.tables import (
    DataMapping,
    Dataset,
    DatasetSync,
    Job,
    Store,
    utcnow,
)
from convmem.datasets import repository
from convmem.datasets.credentials import CredentialSeal
from convmem.datasets.expressions import InvalidExpression, Selection, selection
from convmem.datasets.repository import SYNC_KIND
from convmem.datasets.schemas import SyncStatus
from convmem.datasets.service import SourceAccess, dataset_dialect, open_dataset
from convmem.datasets.sources import (
    SourceError,
    decode_position,
    encode_position,
    jsonable,
)
from convmem.datasets.values import trait_value
from convmem.kit.clock import WriteClock
from convmem.profiles.context import StoreContext, load_context
from convmem.profiles.writer import prepare, write_many
from convmem.web.errors import ApiError


class SyncFailed(Exception):
    pass


def run(env: jobs.JobEnv, claim: jobs.Claim) -> None:
    db = env.db
    with db.reading() as session:
        sync = repository.sync_by_job(session, claim.id)
        mapping = session.get(DataMapping, sync.data_mapping_id) if sync is not None else None
        dataset = repository.dataset(session, claim.store_id, mapping.dataset_id) if mapping is not None else None
    if sync is None:
        _finish_orphan(db, claim)
        return
    access = SourceAccess(CredentialSeal(signing_key(env.settings)), env.settings.resolved_dataset_file_root)
    try:
        if dataset is None:
            raise SyncFailed("The dataset the data mapping reads was deleted")
        source = open_dataset(dataset, access)
        try:
            _sync_rows(env, claim, sync, mapping, dataset, source)
        finally:
            source.close()
    except (SyncFailed, SourceError) as failure:
        reason = str(failure) if isinstance(failure, SyncFailed) else f"The source could not be read: {failure}"
        with db.writing() as session:
            job = jobs.checkpoint(session, claim)
            current = session.get(DatasetSync, sync.id)
            if current is not None:
                _end(current, SyncStatus.FAILED, reason)
            jobs.finish(job, "FAILED", {"error": reason})


def give_up(session: Session, claim: jobs.Claim, reason: str) -> None:
    sync = repository.sync_by_job(session, claim.id)
    if sync is not None:
        _end(sync, SyncStatus.FAILED, f"The sync could not be processed: {reason}")


def reopen(session: Session, job: Job) -> None:
    sync = repository.sync_by_job(session, job.id)
    if sync is not None:
        sync.status = SyncStatus.PENDING
        sync.failure = None
        sync.finished_at = None
        sync.updated_at = utcnow()


def _sync_rows(env: jobs.JobEnv, claim: jobs.Claim, sync: DatasetSync, mapping: DataMapping, dataset: Dataset, source) -> None:
    db, chunk_size = env.db, env.settings.job_chunk_size
    items = mapping.mapping_to["mappings"]
    names = [c.name for c in source.columns()]
    try:
        selections = [selection(item["expression"], names, dataset_dialect(dataset)) for item in items]
    except InvalidExpression as error:
        raise SyncFailed(f"The mapping no longer reads its dataset: {error}") from None
    key, cursor = dataset.key_column, dataset.cursor_column
    # The sync's own position, not the job's: it is committed with each chunk's writes, the last chunk's too.
    position = sync.position
    source_name = f"mapping:{mapping.sid}"
    while True:
        rows = source.read(selections, key, cursor, decode_position(position), chunk_size)
        done = len(rows) < chunk_size
        with db.writing() as session:
            db.lock_store(session, claim.store_id)
            job = jobs.checkpoint(session, claim)
            current = session.get(DatasetSync, sync.id)
            live = session.get(DataMapping, mapping.id)
            if current is None:  # the mapping was deleted, and its syncs with it
                jobs.finish(job, "COMPLETED", {"stopped": "the data mapping was deleted"})
                return
            if not live.is_enabled:
                _end(current, SyncStatus.STOPPED, "The data mapping was disabled (isEnabled: false) while it synced")
                jobs.finish(job, "COMPLETED", {"stopped": "the data mapping was disabled"})
                return
            ctx = load_context(session, session.get(Store, claim.store_id))
            written, row_errors = _write_rows(session, ctx, items, selections, rows, source_name, env.clock)
            repository.add_row_errors(session, current.id, row_errors)
            if rows:
                position = {**encode_position(rows[-1][0], rows[-1][1]), "cursorColumn": cursor, "keyColumn": key}
                current.position = position
            current.status = SyncStatus.RUNNING
            current.rows_read += len(rows)
            current.rows_written += written
            current.errors += len(row_errors)
            current.updated_at = utcnow()
            if done:
                _end(current, SyncStatus.COMPLETED, None)
                jobs.finish(job, "COMPLETED", {"completedBy": claim.owner})
            else:
                jobs.advance(job, claim, {"position": position})
        if done:
            return
        jobs.settle_heap()


def _finish_orphan(db, claim: jobs.Claim) -> None:
    """The job of a sync deleted with its mapping: nothing to do, and nothing to come back to."""
    with db.writing() as session:
        jobs.finish(jobs.checkpoint(session, claim), "COMPLETED", {"stopped": "the data mapping was deleted"})


def _end(sync: DatasetSync, status: SyncStatus, failure: str | None) -> None:
    sync.status = status
    sync.failure = failure
    sync.finished_at = sync.updated_at = utcnow()


def _write_rows(session: Session, ctx: StoreContext, items: list[dict], selections: list[Selection], rows, source: str, clock: WriteClock):
    """Write the chunk's rows; return how many were written and the (row key, expression, reason) of the others."""
    row_errors: list[tuple[str, str, str]] = []
    writes, keys = [], []
    for row in rows:
        row_key = str(jsonable(row[1]))
        traits, problem = _row_traits(ctx, items, row[2:])
        if problem is None:
            try:
                writes.append(prepare(ctx, traits))
                keys.append(row_key)
                continue
            except ApiError as error:
                problem = ("", error.message)
        row_errors.append((row_key, *problem))
    written = 0
    for row_key, outcome in zip(keys, write_many(session, ctx, writes, source=source, clock=clock)):
        if isinstance(outcome, ApiError):
            row_errors.append((row_key, "", outcome.message))
        else:
            written += 1
    return written, row_errors


def _row_traits(ctx: StoreContext, items: list[dict], values) -> tuple[dict | None, tuple[str, str] | None]:
    traits: dict[str, dict] = {}
    has_identifier = False
    for item, value in zip(items, values):
        if value is None:
            continue
        definition = ctx.schema.get(item["traitGroup"], {}).get(item["traitName"])
        if definition is None:
            return None, (item["expression"], f"Trait '{item['traitGroup']}.{item['traitName']}' no longer exists in the store")
        try:
            converted = trait_value(definition["dataType"], value)
        except ValueError as error:
            return None, (item["expression"], f"Trait '{item['traitGroup']}.{item['traitName']}' {error}")
        if converted is None:
            continue
        traits.setdefault(item["traitGroup"], {})[item["traitName"]] = converted
        has_identifier = has_identifier or bool(definition.get("idTypePromotion"))
    if not has_identifier:
        return None, ("", "The row has no identifier value: no expression mapped to an identifier trait has a value")
    return traits, None


SYNC_JOBS = jobs.JobKind(SYNC_KIND, run, give_up, reopen=reopen)
