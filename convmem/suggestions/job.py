"""Keeping the review queue current, in the background (``SUGGESTION_JOBS``).

Nothing is added to the write path: the profiles to look at again are those the store's
history names after the job's cursor (``suggestion_cursors``). ``SuggestionScheduler``, a
worker task, reads the history rows written since it last looked (a range of the primary key),
and enqueues the job of each store written to, unless one is already waiting. The job reads its
store's history after its cursor, one chunk in one transaction under the store lock, refreshes
each touched profile (``service.refresh``) and moves the cursor in the same transaction; while
the history is still ahead, the scheduler enqueues it again, so other jobs get the worker in
between and a crash loses at most the uncommitted chunk.
"""

import time

from sqlalchemy.orm import Session

from convmem.background import jobs
from convmem.database.engine import Database
from convmem.database.tables import Store
from convmem.kit.ids import Prefix, new_id
from convmem.profiles import repository as profiles_repository
from convmem.profiles.context import load_context
from convmem.suggestions import repository, service

KIND = "suggestions"
# Seconds between two looks at the history: how far behind the writes the queue may lag.
LOOK_EVERY = 1.0


def run(env: jobs.JobEnv, claim: jobs.Claim) -> None:
    """One chunk of the store's history, then done: the worker turns to other jobs, and the
    scheduler enqueues the job again while the history is ahead of the cursor."""
    db = env.db
    with db.writing() as session:
        db.lock_store(session, claim.store_id)
        job = jobs.checkpoint(session, claim)
        ctx = load_context(session, session.get(Store, claim.store_id))
        rows = repository.touched_after(session, ctx.pk, repository.cursor_of(session, ctx.pk), env.settings.job_chunk_size)
        apart = {tuple(sorted(pair)) for pair in profiles_repository.never_merge_pairs(session, ctx.pk)}
        for profile_pk in dict.fromkeys(profile for _, profile in rows):
            service.refresh(session, ctx, profile_pk, apart)
        if rows:
            repository.move_cursor(session, ctx.pk, rows[-1][0])
        jobs.finish(job, "COMPLETED")


def give_up(session: Session, claim: jobs.Claim, reason: str) -> None:
    """Nothing to record: the next write to the store enqueues the job again, from the cursor."""


SUGGESTION_JOBS = jobs.JobKind(KIND, run, give_up, fifo_per_store=True)


def enqueue_behind(db: Database, after_history_id: int, behind: dict[int, int]) -> int:
    """Enqueue the job of each store whose history is ahead of its cursor and has no job
    waiting. ``behind`` (store -> its latest history row) carries the stores not caught up
    yet from one look to the next; the history after ``after_history_id`` adds the stores
    written to since. Returns the latest history row seen."""
    with db.reading() as session:
        written = repository.stores_written_after(session, after_history_id)
        for store_pk, last_id in written:
            behind[store_pk] = max(behind.get(store_pk, 0), last_id)
        for store_pk, last_id in list(behind.items()):
            if last_id <= repository.cursor_of(session, store_pk):
                del behind[store_pk]
        idle = [store_pk for store_pk in behind if not _job_waiting(session, store_pk)]
    if idle:
        with db.writing() as session:
            for store_pk in idle:
                if not _job_waiting(session, store_pk):  # another worker's scheduler may have been first
                    jobs.enqueue(session, sid=new_id(Prefix.OPERATION), kind=KIND, store_pk=store_pk, payload={})
    return max([after_history_id] + [last_id for _, last_id in written])


def _job_waiting(session: Session, store_pk: int) -> bool:
    return repository.has_unfinished_job(session, store_pk, KIND, [jobs.JobStatus.PENDING, jobs.JobStatus.WAITING])


class SuggestionScheduler:
    """A worker task: every ``LOOK_EVERY`` seconds, enqueues the suggestions job of the stores
    written to and not caught up. Its first look, after the worker starts, reads the whole
    history once."""

    def __init__(self, db: Database):
        self.db = db
        self.seen = 0
        self.behind: dict[int, int] = {}
        self.next_look = 0.0

    def __call__(self) -> bool:
        if time.monotonic() < self.next_look:
            return False
        self.next_look = time.monotonic() + LOOK_EVERY
        self.seen = enqueue_behind(self.db, self.seen, self.behind)
        return bool(self.behind)
