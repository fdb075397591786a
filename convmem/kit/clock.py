"""Trait write times: microsecond ISO in UTC, strictly increasing within a process.

One ``WriteClock`` per process (the app makes it and hands it to its embedded worker), so each
write, also each body of a batch, is later than the one before when traits merge.
"""

import threading
from datetime import datetime, timedelta, timezone


class WriteClock:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = datetime.min.replace(tzinfo=timezone.utc)

    def tick(self) -> str:
        return self.ticks(1)[0]

    def ticks(self, count: int) -> list[str]:
        """``count`` write times, each later than the one before and than any given earlier;
        one reading of the clock for all (a batch's new profiles)."""
        with self._lock:
            first = max(datetime.now(timezone.utc), self._last + timedelta(microseconds=1))
            instants = [first + timedelta(microseconds=step) for step in range(count)]
            self._last = instants[-1] if instants else self._last
        return [instant.isoformat(timespec="microseconds") for instant in instants]
