"""The worker task that starts data mappings' syncs when they are due.

An enabled mapping of a dataset is due its first (full) sync as soon as it exists, then again
``syncIntervalSeconds`` (the dataset's) after its previous sync started, unless one is still
running. Several workers may look at once: each sync is started inside a transaction that
holds the store's lock and looks again, so a mapping gets one sync, not one per worker.
"""

from datetime import datetime, timedelta, timezone

from convmem.database.engine import Database
from convmem.database.tables import DataMapping, Dataset
from convmem.datasets import repository
from convmem.datasets.service import start_sync


class SyncScheduler:
    def __init__(self, db: Database, check_seconds: float):
        self.db = db
        self.check_every = timedelta(seconds=check_seconds)
        self.next_check: datetime | None = None
        self.__name__ = "dataset-sync-schedule"

    def __call__(self) -> bool:
        now = datetime.now(timezone.utc)
        if self.next_check is not None and now < self.next_check:
            return False
        self.next_check = now + self.check_every
        return start_due_syncs(self.db, now) > 0


def start_due_syncs(db: Database, now: datetime) -> int:
    """Start every sync that is due; how many were started."""
    with db.reading() as session:
        candidates = [(m.id, m.store_id) for m, d in repository.enabled_dataset_mappings(session) if _due(session, m, d, now)]
    started = 0
    for mapping_pk, store_pk in candidates:
        with db.writing() as session:
            db.lock_store(session, store_pk)
            mapping = session.get(DataMapping, mapping_pk)
            dataset = repository.dataset(session, store_pk, mapping.dataset_id) if mapping is not None else None
            if mapping is None or dataset is None or not mapping.is_enabled or not _due(session, mapping, dataset, now):
                continue
            start_sync(session, store_pk, mapping, dataset, full=False, trigger="SCHEDULE")
            started += 1
    return started


def _due(session, mapping: DataMapping, dataset: Dataset, now: datetime) -> bool:
    if repository.unfinished_sync(session, mapping.id) is not None:
        return False
    last = repository.latest_sync(session, mapping.id)
    if last is None:
        return True
    interval = dataset.sync_interval_seconds
    return interval is not None and last.created_at + timedelta(seconds=interval) <= now
