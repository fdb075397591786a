"""Bulk upserts, the worker side: a batch written a chunk per transaction.

Workers take a store's batches in the order they arrived (the job kind is FIFO per store),
and write each item through ``write_many``, the path a single create takes, in order, so the
result is the one sending the items one by one gives. Items are checked again when written:
the store's schema may have changed in between, and then the item fails on its own.
"""

from sqlalchemy.orm import Session

from convmem.background import jobs
from convmem.bulk.repository import KIND
from convmem.database.tables import Store
from convmem.kit.clock import WriteClock
from convmem.profiles.context import StoreContext, load_context
from convmem.profiles.writer import WriteOutcome, prepare, write_many
from convmem.web.errors import ApiError


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
