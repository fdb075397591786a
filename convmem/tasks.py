"""Composition: the background tasks every worker runs (embedded in ``serve`` or ``convmem worker``)."""

from functools import partial

from convmem.background.jobs import JobEnv, JobRunner
from convmem.background.worker import Task


def all_tasks(env: JobEnv) -> list[Task]:
    from convmem.bulk.job import BULK_JOBS
    from convmem.datasets.job import SYNC_JOBS
    from convmem.datasets.schedule import SyncScheduler
    from convmem.history.retention import HistoryRetention
    from convmem.imports.job import IMPORT_JOBS
    from convmem.memory.embedding_task import embed_pending
    from convmem.profiles.reresolve import RERESOLVE_JOBS
    from convmem.suggestions.job import SUGGESTION_JOBS, SuggestionScheduler
    from convmem.traitgroups.purge import PURGE_JOBS

    tasks = [
        partial(embed_pending, env.db, env.embedder),
        JobRunner([BULK_JOBS, IMPORT_JOBS, PURGE_JOBS, RERESOLVE_JOBS, SUGGESTION_JOBS, SYNC_JOBS], env),
        SyncScheduler(env.db, env.settings.dataset_sync_check_seconds),
        HistoryRetention(env.db),
    ]
    if env.settings.suggestions:
        tasks.append(SuggestionScheduler(env.db))
    return tasks
