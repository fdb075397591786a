"""Wiring: the background tasks every worker runs (embedded in ``serve`` or ``convmem worker``)."""

from functools import partial

from convmem.background.jobs import JobEnv, JobRunner
from convmem.background.worker import Task


def all_tasks(env: JobEnv) -> list[Task]:
    from convmem.bulk.job import BULK_JOBS
    from convmem.imports.job import IMPORT_JOBS
    from convmem.memory.service import embed_pending

    return [partial(embed_pending, env.db), JobRunner([BULK_JOBS, IMPORT_JOBS], env)]
