"""Bulk upserts: validated whole on arrival, recorded as a job, written by a worker.

Every item is checked with ``profiles.service.prepare`` before anything is recorded, so a
malformed batch is refused whole with the index of the first bad item. An accepted batch is
a FIFO job of its store: workers take a store's batches in the order they arrived, and
write each item through ``write_many``, the path a single create takes, in order, so the
result is the one sending the items one by one gives. Items are re-checked when written:
the store's schema may have changed in between, and then the item fails on its own.
"""

from sqlalchemy.orm import Session

from convmem.background import jobs
from convmem.bulk import repository
from convmem.bulk.repository import KIND
from convmem.database.engine import Database
from convmem.database.tables import Store
from convmem.kit.clock import WriteClock
from convmem.kit.ids import Prefix, new_id
from convmem.kit.timefmt import iso
from convmem.profiles.context import StoreContext, load_context
from convmem.profiles.schemas import ProfileData
from convmem.profiles.writer import WriteOutcome, prepare, write_many
from convmem.web.auth import Principal
from convmem.web.dependencies import find_owned_store
from convmem.web.errors import ApiError

STATUS = {"PENDING": "PENDING", "WAITING": "PENDING", "RUNNING": "RUNNING", "COMPLETED": "COMPLETED", "FAILED": "FAILED"}


def accept(db: Database, principal: Principal, store_sid: str, profiles: list[ProfileData]) -> str:
    """Validate the batch and record it durably; returns the operation id."""
    with db.reading() as session:
        ctx = load_context(session, find_owned_store(session, principal, store_sid))
    for index, item in enumerate(profiles):
        try:
            prepare(ctx, item.traits)
        except ApiError as error:
            raise ApiError(error.status, error.code, f"profiles[{index}]: {error.message}") from None
    operation_sid = new_id(Prefix.BULK)
    with db.writing() as session:
        store = find_owned_store(session, principal, store_sid)
        payload = {"profiles": [item.traits for item in profiles]}
        jobs.enqueue(session, sid=operation_sid, kind=KIND, store_pk=store.id, payload=payload)
    return operation_sid


def status(db: Database, principal: Principal, store_sid: str, operation_sid: str, status_url: str) -> dict:
    with db.reading() as session:
        store = find_owned_store(session, principal, store_sid)
        job = repository.get(session, store.id, operation_sid)
    counts = job.progress or {}
    body = {
        "operationId": job.sid,
        "status": STATUS[job.status],
        "createdAt": iso(job.created_at),
        "updatedAt": iso(job.updated_at),
        "statusUrl": status_url,
        "progress": {"processed": counts.get("next", 0), "total": counts.get("total") or len(job.payload["profiles"])},
        "summary": {key: counts.get(key, 0) for key in ("created", "updated", "failed")},
        "results": (job.result or {}).get("items", []),
    }
    if job.status in ("COMPLETED", "FAILED"):
        body["completedAt"] = iso(job.updated_at)
    if (job.result or {}).get("error"):
        body["error"] = job.result["error"]
    return body


def run(env: jobs.JobEnv, claim: jobs.Claim) -> None:
    db = env.db
    profiles = claim.payload["profiles"]
    progress = claim.progress or {"next": 0, "created": 0, "updated": 0, "failed": 0}
    chunk_size = env.settings.job_chunk_size
    while True:
        start = progress["next"]
        stop = min(start + chunk_size, len(profiles))
        with db.writing() as session:
            db.lock_store(session, claim.store_id)
            job = jobs.checkpoint(session, claim)
            ctx = load_context(session, session.get(Store, claim.store_id))
            items = _write(session, ctx, profiles, start, stop, source=f"bulk:{claim.sid}", clock=env.clock)
            progress = {
                "next": stop,
                "total": len(profiles),
                **{key: progress[key] + sum(1 for item in items if item["status"] == key.upper()) for key in ("created", "updated", "failed")},
            }
            result = {"items": (job.result or {}).get("items", []) + items, "completedBy": claim.owner}
            done = stop == len(profiles)
            if done:
                job.progress = progress
                # The batch's bodies are not needed any more; its results are.
                job.payload = {}
                jobs.finish(job, "COMPLETED", result)
            else:
                job.result = result
                jobs.advance(job, claim, progress)
        jobs.settle_heap()
        if done:
            return


def give_up(session: Session, claim: jobs.Claim, reason: str) -> None:
    """The runner marks the job FAILED; a batch has nothing else to mark."""


def _write(
    session: Session, ctx: StoreContext, profiles: list[dict], start: int, stop: int, *, source: str, clock: WriteClock
) -> list[dict]:
    items: dict[int, dict] = {}
    writes, indexes = [], []
    for index in range(start, stop):
        try:
            writes.append(prepare(ctx, profiles[index]))
            indexes.append(index)
        except ApiError as error:
            items[index] = _failed(index, error)
    for index, outcome in zip(indexes, write_many(session, ctx, writes, source=source, clock=clock)):
        items[index] = _failed(index, outcome) if isinstance(outcome, ApiError) else _written(index, outcome)
    return [items[index] for index in range(start, stop)]


def _written(index: int, outcome: WriteOutcome) -> dict:
    item = {"index": index, "status": "CREATED" if outcome.created else "UPDATED", "profileId": outcome.sid}
    if outcome.merged:
        item["mergedProfileIds"] = list(outcome.merged)
    return item


def _failed(index: int, error: ApiError) -> dict:
    return {"index": index, "status": "FAILED", "error": {"code": error.code, "message": error.message}}


BULK_JOBS = jobs.JobKind(KIND, run, give_up, fifo_per_store=True)


def as_operation(db: Database, principal: Principal, operation_sid: str) -> tuple[dict, str]:
    """The batch seen as a control-plane operation (the Operations endpoint answers for bulk
    ids too), with its store's id; per-item results stay on the batch's own status URL."""
    with db.reading() as session:
        job, store_sid = repository.get_for_account(session, principal.account_id, operation_sid)
    operation = {"operationId": job.sid, "status": STATUS[job.status], "createdAt": iso(job.created_at)}
    if job.status in ("COMPLETED", "FAILED"):
        operation["completedAt"] = iso(job.updated_at)
    if job.status == "COMPLETED":
        operation["result"] = {"type": "RESOURCE_ID", "id": job.sid}
    if job.status == "FAILED":
        detail = str((job.result or {}).get("error") or "The batch could not be processed")
        operation["error"] = {"title": "Bulk batch failed", "detail": detail[:1024]}
    return operation, store_sid
