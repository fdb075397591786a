"""Removing the values of a deleted trait group, or of traits a PATCH deleted, from a store's profiles.

The schema change commits in the request, with the first chunk of profiles rewritten. A store
that fits in that chunk is done then, its operation COMPLETED; otherwise a durable job
(``PURGE_JOBS``) walks the rest in id order, a chunk per transaction with its checkpoint, and the
operation stays RUNNING until the job's last chunk completes it. Meanwhile:

* reads show only values the schema defines (``service.defined_while_purging``);
* writes cannot add values to a group or trait the schema does not define;
* a name defined again before the job is done has its old values removed in that request, and
  the job leaves alone what the schema defines again, so old values never come back;
* a merge may carry values from a profile the walk has not reached into one it has passed: the
  last chunk therefore goes again over the profiles passed and written since the job began.
"""

from datetime import timedelta

from sqlalchemy.orm import Session

from convmem.background import jobs
from convmem.database.tables import Operation
from convmem.operations import service as operations
from convmem.traitgroups import repository
from convmem.traitgroups.repository import PURGE_KIND
from convmem.traitgroups.service import Removal, store_schema

# Server clocks may disagree a little: a profile written this much before the job began is swept too.
_CLOCK_SKEW = timedelta(minutes=1)


def remove_values(session: Session, store_pk: int, removal: Removal | None, operation: Operation, chunk_size: int) -> None:
    """In the request: complete ``operation`` if ``removal`` (None: nothing to remove) fits in the
    first chunk; else leave the rest to a job, and the operation RUNNING until the job is done."""
    if removal is None:
        operations.complete(operation)
        return
    after_id, done = repository.strip_batch(
        session, store_pk, removal.group, removal.traits, after_id=0, limit=chunk_size
    )
    if done:
        operations.complete(operation)
        return
    payload = {"group": removal.group, "traits": None if removal.traits is None else list(removal.traits)}
    job = jobs.enqueue(session, sid=operation.sid, kind=PURGE_KIND, store_pk=store_pk, payload=payload)
    job.progress = {"after": after_id}


def run(env: jobs.JobEnv, claim: jobs.Claim) -> None:
    db = env.db
    group = claim.payload["group"]
    after_id = claim.progress["after"]
    while True:
        with db.writing() as session:
            db.lock_store(session, claim.store_id)
            job = jobs.checkpoint(session, claim)
            names = _still_undefined(session, claim.store_id, group, claim.payload["traits"])
            if names == ():
                done = True  # all defined again, their old values removed by the request that did it
            else:
                after_id, done = repository.strip_batch(
                    session, claim.store_id, group, names, after_id=after_id, limit=env.settings.job_chunk_size
                )
                if done:
                    since = job.created_at - _CLOCK_SKEW
                    repository.strip_written_since(session, claim.store_id, group, names, since=since, up_to_id=after_id)
            if done:
                operations.complete_if_running(session, claim.sid)
                job.progress = {"after": after_id}
                jobs.finish(job, "COMPLETED")
            else:
                jobs.advance(job, claim, {"after": after_id})
        if done:
            return


def _still_undefined(session: Session, store_pk: int, group: str, traits: list[str] | None) -> tuple[str, ...] | None:
    """What is left to remove now: the group (None) unless it was created again, or the traits not defined again."""
    schema = store_schema(session, store_pk)
    if group not in schema:
        return None if traits is None else tuple(traits)
    if traits is None:
        return ()
    return tuple(name for name in traits if name not in schema[group])


def give_up(session: Session, claim: jobs.Claim, reason: str) -> None:
    operation = operations.find_by_sid(session, claim.sid)
    if operation is not None:
        operations.fail(operation, "Removing trait values failed", reason)


def operations_of_deleted_store(session: Session, store_pk: int):
    """The store deletion's hook: the values go with the store, so its running removals are complete."""
    for job in repository.purges_not_done(session, store_pk):
        operations.complete_if_running(session, job.sid)
    return lambda: None


PURGE_JOBS = jobs.JobKind(PURGE_KIND, run, give_up, fifo_per_store=True)
