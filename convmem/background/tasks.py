"""Wiring: the background tasks every worker runs (embedded in ``serve`` or ``convmem worker``)."""

from convmem.background.worker import Task


def all_tasks() -> list[Task]:
    from convmem.background.jobs import JobRunner
    from convmem.bulk.service import BULK_JOBS
    from convmem.config import get_settings
    from convmem.imports.service import IMPORT_JOBS
    from convmem.memory.service import embed_pending

    return [embed_pending, JobRunner([BULK_JOBS, IMPORT_JOBS], lease_seconds=get_settings().job_lease_seconds)]
