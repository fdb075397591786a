"""Durable background jobs (bulk batches, imports): enqueue, claim with a lease, checkpoint.

* A job is enqueued in the transaction of the request that asks for it, so it exists exactly
  when the request's answer says it does.
* A worker claims one job at a time: PostgreSQL with ``FOR UPDATE SKIP LOCKED`` (workers never
  wait on each other's candidates), SQLite inside a ``BEGIN IMMEDIATE`` transaction (claims are
  serial). Claiming sets a lease; a job whose lease ran out (its worker died or hangs) is
  claimable again, and so is a WAITING job whose wait is over.
* Kinds marked FIFO run in the order they were enqueued, per store: a job is claimable only
  while no earlier job of its kind and store is unfinished.
* A handler works in chunks. Each chunk's transaction starts with ``checkpoint``, which locks
  the job row and checks the lease is still this worker's, and ends by recording the
  progress the chunk made: the work and its progress commit together or not at all, so a
  crash makes the next worker redo at most one uncommitted chunk, and a worker that lost its
  lease can commit nothing more.
* A failure counts as an attempt, and after ``MAX_ATTEMPTS`` the job fails for good, unless
  the database was unavailable or aborted the transaction in a conflict
  (``database.faults.is_transient``): then the job is set aside for a growing while without
  counting an attempt, as long as the outage lasts up to ``CONVMEM_JOB_OUTAGE_SECONDS``
  (counted from its first such failure since it last made progress). It resumes from its
  checkpoint. ``retry`` makes a job that failed for good claimable again.
"""

import gc
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import StrEnum

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session, aliased, defer

from convmem.background.blobstore import BlobStore
from convmem.config import Settings
from convmem.database.engine import Database
from convmem.database.faults import is_transient
from convmem.database.tables import Job
from convmem.kit.clock import WriteClock

log = logging.getLogger("convmem.background.jobs")


class JobStatus(StrEnum):
    """Stored as the plain strings, which the members equal."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    # Set aside until ``lease_expires_at`` (an import waiting for its file).
    WAITING = "WAITING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


UNFINISHED = (JobStatus.PENDING, JobStatus.RUNNING, JobStatus.WAITING)
MAX_ATTEMPTS = 5
# A job set aside in a database outage waits 1, 2, 4… seconds between tries, at most this long.
OUTAGE_BACKOFF_CAP_SECONDS = 30.0


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True, kw_only=True)
class Claim:
    id: int
    sid: str
    kind: str
    store_id: int
    payload: dict
    progress: dict
    attempts: int
    owner: str
    lease_seconds: float


@dataclass(frozen=True, kw_only=True)
class JobEnv:
    """What a job's handler works with, handed down by whoever runs the worker."""

    db: Database
    settings: Settings
    clock: WriteClock
    blobs: BlobStore
    # The memory embedder, shared with the app's Recall (None: memories are not embedded).
    embedder: object | None = None


class LeaseLost(Exception):
    """Another worker owns the job now (this one's lease ran out): stop without committing."""


@dataclass(frozen=True)
class JobKind:
    name: str
    # Does the job, chunk by chunk, each chunk's transaction starting with ``checkpoint``.
    run: Callable[[JobEnv, Claim], None]
    # Records, in the caller's transaction, that the job's resource failed for good.
    give_up: Callable[[Session, Claim, str], None]
    fifo_per_store: bool = False
    # Undoes ``give_up`` in the caller's transaction when the failed job is retried.
    reopen: Callable[[Session, Job], None] | None = None


def enqueue(session: Session, *, sid: str, kind: str, store_pk: int, payload: dict, waiting: bool = False) -> Job:
    now = now_utc()
    job = Job(
        sid=sid,
        kind=kind,
        store_id=store_pk,
        status=JobStatus.WAITING if waiting else JobStatus.PENDING,
        payload=payload,
        progress={},
        attempts=0,
        lease_expires_at=now if waiting else None,
        created_at=now,
        updated_at=now,
    )
    session.add(job)
    session.flush()
    return job


def wake(session: Session, job_id: int) -> None:
    """A WAITING job's reason to wait is gone: make it claimable now."""
    session.execute(update(Job).where(Job.id == job_id, Job.status == JobStatus.WAITING).values(lease_expires_at=now_utc()))


def checkpoint(session: Session, claim: Claim) -> Job:
    """Lock the job for this chunk's transaction; raise ``LeaseLost`` unless it is still ours."""
    job = session.scalar(select(Job).options(defer(Job.payload)).where(Job.id == claim.id).with_for_update())
    if job is None or job.lease_owner != claim.owner or job.status != JobStatus.RUNNING:
        raise LeaseLost(claim.sid)
    return job


def advance(job: Job, claim: Claim, progress: dict) -> None:
    """Record the chunk's progress and renew the lease (call inside the chunk's transaction)."""
    now = now_utc()
    job.progress = progress
    job.lease_expires_at = now + timedelta(seconds=claim.lease_seconds)
    job.updated_at = now


def finish(job: Job, status: JobStatus, result: dict | None = None) -> None:
    job.status = status
    job.result = result
    job.lease_owner = None
    job.lease_expires_at = None
    job.updated_at = now_utc()


def wait(job: Job, seconds: float) -> None:
    """Put the job aside until ``seconds`` from now; waiting is not a failed attempt."""
    finish(job, JobStatus.WAITING, job.result)
    job.lease_expires_at = now_utc() + timedelta(seconds=seconds)
    job.attempts = 0


def retry(session: Session, job: Job, kind: JobKind) -> None:
    """Make a job that failed for good claimable again, with its attempts reset and its
    checkpoint kept: it resumes where it stopped."""
    if kind.reopen is not None:
        kind.reopen(session, job)
    result = {key: value for key, value in (job.result or {}).items() if key != "error"}
    finish(job, JobStatus.PENDING, result or None)
    job.attempts = 0


_heap_settled = False


def settle_heap() -> None:
    """Once per process, after a job's first chunk: take what is alive then out of the cyclic
    collector's sight. By then what every chunk needs is loaded (phone-number metadata,
    compiled SQL, schemas): hundreds of thousands of long-lived objects that each full
    collection would walk again; measured, that doubled the time per imported row."""
    global _heap_settled
    if not _heap_settled:
        gc.collect()
        gc.freeze()
        _heap_settled = True


@dataclass
class _Outage:
    """A job's transient failures in a row, with no progress between them."""

    started: float
    last: float
    failures: int
    progress: dict


class JobRunner:
    """The worker task that claims and runs one job per call."""

    def __init__(self, kinds: Sequence[JobKind], env: JobEnv):
        self.kinds = {kind.name: kind for kind in kinds}
        self.env = env
        self.lease_seconds = env.settings.job_lease_seconds
        self.outage_seconds = env.settings.job_outage_seconds
        self.owner = f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.__name__ = "jobs"
        self._outages: dict[int, _Outage] = {}
        # Jobs to set aside, kept until the database takes the write.
        self._set_aside: list[tuple[Claim, float]] = []

    def __call__(self) -> bool:
        db = self.env.db
        # First: once a set-aside job's lease runs out it can be claimed again, by this worker
        # too, and a late release would then undo that new claim.
        self._release_set_aside(db)
        claim = self.claim(db)
        if claim is None:
            return False
        kind = self.kinds[claim.kind]
        try:
            kind.run(self.env, claim)
        except LeaseLost:
            log.warning("job %s: lease lost to another worker; stopped", claim.sid)
        except Exception as error:
            delay = self._outage_delay(claim) if is_transient(error) else None
            if delay is None:
                log.exception("job %s failed (attempt %d); it will be retried", claim.sid, claim.attempts)
                self._outages.pop(claim.id, None)
                self._back_off(db, claim)
            else:
                log.warning(
                    "job %s: database unavailable or busy (%s); resuming in %.0f s, no attempt counted", claim.sid, error, delay
                )
                self._set_aside.append((claim, delay))
                self._release_set_aside(db)
            return True
        self._outages.pop(claim.id, None)
        return True

    def _outage_delay(self, claim: Claim) -> float | None:
        """How long to set the job aside, or None once its outage outlasted the bound."""
        now = time.monotonic()
        self._outages = {job_id: o for job_id, o in self._outages.items() if now - o.last <= self.outage_seconds}
        outage = self._outages.get(claim.id)
        if outage is None or outage.progress != claim.progress:
            outage = self._outages[claim.id] = _Outage(started=now, last=now, failures=0, progress=claim.progress)
        if now - outage.started >= self.outage_seconds:
            del self._outages[claim.id]
            return None
        outage.last = now
        outage.failures += 1
        return min(OUTAGE_BACKOFF_CAP_SECONDS, 2.0 ** min(outage.failures - 1, 16))

    def _release_set_aside(self, db: Database) -> None:
        """Hand set-aside jobs back until their backoff is over, undoing their claims' attempt.
        Raises while the database is still unavailable: the worker loop then backs off."""
        while self._set_aside:
            claim, delay = self._set_aside[0]
            with db.writing() as session:
                session.execute(
                    update(Job)
                    .where(Job.id == claim.id, Job.lease_owner == claim.owner, Job.status == JobStatus.RUNNING)
                    .values(attempts=claim.attempts - 1, lease_expires_at=now_utc() + timedelta(seconds=delay))
                )
            self._set_aside.pop(0)

    def _claimable(self, now: datetime):
        fifo = [name for name, kind in self.kinds.items() if kind.fifo_per_store]
        earlier = aliased(Job)
        blocked = (
            select(earlier.id)
            .where(earlier.store_id == Job.store_id, earlier.kind == Job.kind, earlier.id < Job.id, earlier.status.in_(UNFINISHED))
            .exists()
        )
        return and_(
            Job.kind.in_(list(self.kinds)),
            or_(
                Job.status == JobStatus.PENDING,
                and_(Job.status.in_((JobStatus.RUNNING, JobStatus.WAITING)), Job.lease_expires_at < now),
            ),
            or_(Job.kind.not_in(fifo), ~blocked),
        )

    def claim(self, db: Database) -> Claim | None:
        # A read first, so an idle worker doesn't take SQLite's write lock several times a second.
        with db.reading() as session:
            if session.scalar(select(Job.id).where(self._claimable(now_utc())).limit(1)) is None:
                return None
        with db.writing() as session:
            now = now_utc()
            stmt = select(Job).where(self._claimable(now)).order_by(Job.id).limit(1)
            if not db.is_sqlite:
                stmt = stmt.with_for_update(skip_locked=True, of=Job)
            job = session.scalar(stmt)
            if job is None:
                return None
            job.attempts += 1
            job.status = JobStatus.RUNNING
            job.lease_owner = self.owner
            job.lease_expires_at = now + timedelta(seconds=self.lease_seconds)
            job.updated_at = now
            claim = Claim(
                id=job.id,
                sid=job.sid,
                kind=job.kind,
                store_id=job.store_id,
                payload=job.payload,
                progress=dict(job.progress or {}),
                attempts=job.attempts,
                owner=self.owner,
                lease_seconds=self.lease_seconds,
            )
            if job.attempts > MAX_ATTEMPTS:
                reason = f"gave up after {MAX_ATTEMPTS} attempts; see the worker log"
                self.kinds[job.kind].give_up(session, claim, reason)
                finish(job, JobStatus.FAILED, {**(job.result or {}), "error": reason})
                return None
        return claim

    def _back_off(self, db: Database, claim: Claim) -> None:
        with db.writing() as session:
            session.execute(
                update(Job)
                .where(Job.id == claim.id, Job.lease_owner == claim.owner)
                .values(lease_expires_at=now_utc() + timedelta(seconds=min(60, 2**claim.attempts)))
            )


@dataclass(frozen=True)
class QueueCount:
    kind: str
    status: str
    jobs: int


def queue_counts(session: Session, store_pks: Sequence[int]) -> list[QueueCount]:
    """How many jobs of the stores are in each kind and status (the console's health page)."""
    stmt = (
        select(Job.kind, Job.status, func.count())
        .where(Job.store_id.in_(store_pks))
        .group_by(Job.kind, Job.status)
        .order_by(Job.kind, Job.status)
    )
    return [QueueCount(kind, status, count) for kind, status, count in session.execute(stmt)]


def recent_failures(session: Session, store_pks: Sequence[int], limit: int) -> list[Job]:
    """The stores' latest failed jobs, newest first."""
    stmt = (
        select(Job)
        .where(Job.store_id.in_(store_pks), Job.status == JobStatus.FAILED)
        .order_by(Job.updated_at.desc(), Job.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))
