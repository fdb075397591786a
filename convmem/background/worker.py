"""The background worker loop: runs tasks until told to stop.

A task is a callable ``task() -> bool`` that does one bounded unit of work and says
whether it found any. Tasks must be safe to run in several processes at once and to be
killed at any moment: they claim work durably and commit progress with the work itself.

While the database is unavailable every task fails; the loop keeps going, pausing longer
after each round that met the outage (up to ``OUTAGE_PAUSE_CAP_SECONDS``), and logs the
outage once rather than every round.
"""

import logging
import threading
from collections.abc import Callable, Sequence

from convmem.database.faults import is_transient

log = logging.getLogger("convmem.background.worker")

Task = Callable[[], bool]
OUTAGE_PAUSE_CAP_SECONDS = 10.0


class Worker:
    def __init__(self, tasks: Sequence[Task], idle_sleep: float = 0.2):
        self.tasks = list(tasks)
        self.idle_sleep = idle_sleep
        self.stopping = threading.Event()
        # Rounds in a row in which a task met an unavailable or conflicting database.
        self.outage_rounds = 0

    def run_once(self) -> bool:
        busy = False
        outage = False
        for task in self.tasks:
            try:
                busy = task() or busy
            except Exception as error:
                if not is_transient(error):
                    log.exception("background task %s failed", getattr(task, "__name__", task))
                    continue
                if not outage and self.outage_rounds == 0:
                    log.warning("database unavailable or busy, background work paused: %s", error)
                outage = True
        if self.outage_rounds and not outage:
            log.warning("database available again, background work resumed")
        self.outage_rounds = self.outage_rounds + 1 if outage else 0
        return busy

    def pause(self) -> float:
        """How long to wait before the next round: longer and longer while the database is away."""
        if self.outage_rounds == 0:
            return self.idle_sleep
        return min(OUTAGE_PAUSE_CAP_SECONDS, self.idle_sleep * 2 ** min(self.outage_rounds, 16))

    def run_until_idle(self, max_rounds: int = 10_000) -> None:
        for _ in range(max_rounds):
            if not self.run_once():
                return

    def run_forever(self) -> None:
        while not self.stopping.is_set():
            busy = self.run_once()
            if self.outage_rounds or not busy:
                self.stopping.wait(self.pause())

    def start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.run_forever, name="convmem-worker", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self.stopping.set()
