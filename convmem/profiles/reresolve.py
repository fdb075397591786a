"""Re-resolving a store under its current identity resolution settings (a convmem extension,
``docs/extensions.md``).

New settings apply to later writes only; a re-resolution applies them to the profiles already
stored. The request records the operation RUNNING and enqueues a durable job (``RERESOLVE_JOBS``)
in its commit. The job walks the store's live profiles by id, a chunk per transaction under the
store lock, each starting with the job's checkpoint and ending with its progress, so a job
resumed after a crash or a lost lease starts after the last committed chunk and applies nothing
twice. Its last chunk completes the operation.

A profile is written again (``writer.write`` with its own identifiers and no traits, anchored
on it) only when resolution now ties it to another profile or refuses it: an untouched profile
keeps its ``updated_at`` and its history. After a merge the survivor is asked again, since the
values it gathered may tie it further (two shared values of non-unique types). A profile whose
write would be refused (409) is counted as a conflict and left as it is.

Stored values keep the normalisation they were written with: a changed normalisation does not
make two stored values equal here.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from convmem.background import jobs
from convmem.database.tables import Job, Operation, Profile, Store
from convmem.identity.resolution import resolve
from convmem.kit.clock import WriteClock
from convmem.operations import service as operations
from convmem.profiles import repository
from convmem.profiles.context import StoreContext, load_context
from convmem.profiles.writer import stored_matches, write
from convmem.web.errors import ApiError

KIND = "reresolve"
OPERATION_KIND = "ReresolveIdentity"
_START = {"after": 0, "walked": 0, "merges": 0, "conflicts": 0}


@dataclass(frozen=True)
class Progress:
    """What a re-resolution has done so far, as its operation stands."""

    operation_sid: str
    status: str
    created_at: datetime
    completed_at: datetime | None
    profiles_walked: int
    merges: int
    conflicts: int


def start(session: Session, store: Store, operation: Operation) -> None:
    """Enqueue the re-resolution of ``store``, whose ``operation`` (RUNNING) the job completes."""
    job = jobs.enqueue(session, sid=operation.sid, kind=KIND, store_pk=store.id, payload={})
    job.progress = dict(_START)


def progress_of(session: Session, store: Store, operation_sid: str) -> Progress | None:
    """The re-resolution ``operation_sid`` of ``store``; None if there is none."""
    row = session.execute(
        select(Job.progress, Operation)
        .join(Operation, Operation.sid == Job.sid)
        .where(Job.sid == operation_sid, Job.store_id == store.id, Job.kind == KIND)
    ).first()
    if row is None:
        return None
    progress, operation = row.progress or _START, row.Operation
    return Progress(
        operation_sid=operation.sid,
        status=operation.status,
        created_at=operation.created_at,
        completed_at=operation.completed_at,
        profiles_walked=progress.get("walked", 0),
        merges=progress.get("merges", 0),
        conflicts=progress.get("conflicts", 0),
    )


def run(env: jobs.JobEnv, claim: jobs.Claim) -> None:
    db = env.db
    progress = {**_START, **(claim.progress or {})}
    source = f"reresolve:{claim.sid}"
    while True:
        with db.writing() as session:
            db.lock_store(session, claim.store_id)
            job = jobs.checkpoint(session, claim)
            ctx = load_context(session, session.get(Store, claim.store_id))
            chunk = _live_profiles_after(session, claim.store_id, progress["after"], env.settings.job_chunk_size)
            for profile_pk in chunk:
                if session.get(Profile, profile_pk).canonical_id is not None:
                    continue  # merged into an earlier profile of this chunk
                merges, refused = _reresolve_profile(session, ctx, profile_pk, source, env.clock)
                progress["walked"] += 1
                progress["merges"] += merges
                progress["conflicts"] += refused
            if chunk:
                progress["after"] = chunk[-1]
            done = len(chunk) < env.settings.job_chunk_size
            if done:
                operations.complete_if_running(session, claim.sid)
                job.progress = progress
                jobs.finish(job, "COMPLETED")
            else:
                jobs.advance(job, claim, dict(progress))
        if done:
            return


def _live_profiles_after(session: Session, store_pk: int, after_id: int, limit: int) -> list[int]:
    stmt = (
        select(Profile.id)
        .where(Profile.store_id == store_pk, Profile.canonical_id.is_(None), Profile.id > after_id)
        .order_by(Profile.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def _reresolve_profile(session: Session, ctx: StoreContext, profile_pk: int, source: str, clock: WriteClock) -> tuple[int, bool]:
    """(profiles merged, whether the profile's write was refused) for one live profile."""
    merged = 0
    while True:
        wanted = [
            (row.id_type, row.value) for row in repository.identifiers_of(session, profile_pk) if row.id_type in ctx.settings.rules
        ]
        if not _would_change(session, ctx, profile_pk, wanted):
            return merged, False
        try:
            with session.begin_nested():
                outcome = write(session, ctx, {}, wanted, source=source, clock=clock, anchor=profile_pk)
        except ApiError as error:
            if error.status != 409:
                raise
            return merged, True
        if not outcome.merged:
            return merged, False  # a write that merged nothing gathered nothing new to ask about
        merged += len(outcome.merged)
        profile_pk = outcome.pk


def _would_change(session: Session, ctx: StoreContext, profile_pk: int, wanted: list[tuple[str, str]]) -> bool:
    """Does a write of the profile's own identifiers tie it to another profile, or get refused?
    Asked as ``writer.write`` asks it, fuzzy matches through the blocking keys."""
    held = stored_matches(session, ctx, wanted)
    reached = {h.profile for h in held} | {profile_pk}
    apart = repository.never_merge_pairs(session, ctx.pk) if len(reached) >= 2 else []
    resolution = resolve(ctx.settings, wanted, held, anchor=profile_pk, apart=apart)
    return bool(resolution.merged or resolution.conflicts)


def give_up(session: Session, claim: jobs.Claim, reason: str) -> None:
    operation = operations.find_by_sid(session, claim.sid)
    if operation is not None:
        operations.fail(operation, "Re-resolving the store failed", reason)


def reopen(session: Session, job: Job) -> None:
    """A retried re-resolution is running again, from its checkpoint."""
    operation = operations.find_by_sid(session, job.sid)
    if operation is not None:
        operation.status, operation.error, operation.completed_at = "RUNNING", None, None


def operations_of_deleted_store(session: Session, store_pk: int):
    """The store deletion's hook: its profiles are gone, so its unfinished re-resolutions are complete."""
    not_done = select(Job.sid).where(Job.store_id == store_pk, Job.kind == KIND, Job.status.in_(jobs.UNFINISHED))
    for operation_sid in session.scalars(not_done).all():
        operations.complete_if_running(session, operation_sid)
    return lambda: None


RERESOLVE_JOBS = jobs.JobKind(KIND, run, give_up, fifo_per_store=True, reopen=reopen)
