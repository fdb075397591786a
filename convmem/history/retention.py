"""The worker task that keeps each store's history to its ``historyRetentionDays``."""

from datetime import datetime, timedelta, timezone

from convmem.database.engine import Database
from convmem.history import repository, service

# Retention is counted in days: looking once an hour is soon enough.
CHECK_EVERY = timedelta(hours=1)
PROFILES_PER_TRANSACTION = 500


class HistoryRetention:
    """A worker task: compacts history older than each store's retention, a chunk of profiles
    per transaction, then rests until the next check is due."""

    def __init__(self, db: Database):
        self.db = db
        self.next_check: datetime | None = None

    def __call__(self) -> bool:
        now = datetime.now(timezone.utc)
        if self.next_check is not None and now < self.next_check:
            return False
        busy = apply_retention(self.db, now)
        if not busy:
            self.next_check = now + CHECK_EVERY
        return busy


def apply_retention(db: Database, now: datetime) -> bool:
    """One chunk of compaction in every store that keeps limited history; whether any was done."""
    with db.reading() as session:
        stores = repository.stores_with_retention(session)
    busy = False
    for store_pk, days in stores:
        with db.writing() as session:
            db.lock_store(session, store_pk)
            busy = service.compact(session, store_pk, now - timedelta(days=days), PROFILES_PER_TRANSACTION) or busy
    return busy
