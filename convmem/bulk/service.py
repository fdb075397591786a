"""Bulk upserts, the API side: a batch is validated whole on arrival and recorded as a job.

Every item is checked with ``profiles.writer.prepare`` before anything is recorded, so a
malformed batch is refused whole with the index of the first bad item. An accepted batch is
a FIFO job of its store, which a worker writes (``bulk.job``). Its status is the job's,
read back as a ``Batch``.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from convmem.background import jobs
from convmem.bulk import repository
from convmem.bulk.repository import KIND
from convmem.database.tables import Job, Store
from convmem.kit.ids import PATTERNS, Prefix, new_id
from convmem.profiles.context import load_context
from convmem.profiles.schemas import ProfileData
from convmem.profiles.writer import prepare
from convmem.web.errors import ApiError, not_found

# A batch set aside (WAITING) has not started, as far as its caller can tell.
STATUS = {"PENDING": "PENDING", "WAITING": "PENDING", "RUNNING": "RUNNING", "COMPLETED": "COMPLETED", "FAILED": "FAILED"}


@dataclass(frozen=True)
class Batch:
    """A batch as its caller sees it."""

    sid: str
    store_sid: str
    status: str
    created_at: datetime
    updated_at: datetime
    processed: int
    total: int
    created: int
    updated: int
    failed: int
    # Per item, in order: what it became (CREATED, UPDATED, FAILED) and why.
    items: list[dict]
    # Why the whole batch failed, if it did.
    error: str | None

    @property
    def finished(self) -> bool:
        return self.status in ("COMPLETED", "FAILED")


def accept(session: Session, store: Store, profiles: list[ProfileData]) -> str:
    """Validate the batch and record it, in the caller's transaction; returns the operation id."""
    ctx = load_context(session, store)
    for index, item in enumerate(profiles):
        try:
            prepare(ctx, item.traits)
        except ApiError as error:
            raise ApiError(error.status, error.code, f"profiles[{index}]: {error.message}") from None
    operation_sid = new_id(Prefix.BULK)
    payload = {"profiles": [item.traits for item in profiles]}
    jobs.enqueue(session, sid=operation_sid, kind=KIND, store_pk=store.id, payload=payload)
    return operation_sid


def get(session: Session, store: Store, operation_sid: str) -> Batch:
    job = repository.get(session, store.id, operation_sid)
    if job is None:
        raise not_found(f"Bulk operation '{operation_sid}' was not found")
    return _batch(job, store.sid)


def find_for_account(session: Session, account_pk: int, operation_sid: str) -> Batch | None:
    """A batch of any of the account's stores; ``None`` for anything else, including a string
    that is no batch id (not looked up: it may hold characters the database cannot compare)."""
    if not PATTERNS["bulkId"].match(operation_sid):
        return None
    found = repository.get_for_account(session, account_pk, operation_sid)
    return None if found is None else _batch(*found)


def _batch(job: Job, store_sid: str) -> Batch:
    counts = job.progress or {}
    result = job.result or {}
    return Batch(
        sid=job.sid,
        store_sid=store_sid,
        status=STATUS[job.status],
        created_at=job.created_at,
        updated_at=job.updated_at,
        processed=counts.get("next", 0),
        # A finished batch's bodies are gone from the payload; its progress keeps the count.
        total=counts.get("total") or len(job.payload["profiles"]),
        created=counts.get("created", 0),
        updated=counts.get("updated", 0),
        failed=counts.get("failed", 0),
        items=result.get("items", []),
        error=result.get("error") or None,
    )


def latest(session: Session, store: Store, limit: int) -> list[Batch]:
    """The store's most recent batches, newest first."""
    return [_batch(job, store.sid) for job in repository.latest(session, store.id, limit)]
