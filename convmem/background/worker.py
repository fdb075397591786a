"""The background worker loop: runs tasks until told to stop.

A task is a callable ``task() -> bool`` that does one bounded unit of work and says
whether it found any. Tasks must be safe to run in several processes at once and to be
killed at any moment: they claim work durably and commit progress with the work itself.
"""

import logging
import threading
from collections.abc import Callable, Sequence

log = logging.getLogger("convmem.background.worker")

Task = Callable[[], bool]


class Worker:
    def __init__(self, tasks: Sequence[Task], idle_sleep: float = 0.2):
        self.tasks = list(tasks)
        self.idle_sleep = idle_sleep
        self.stopping = threading.Event()

    def run_once(self) -> bool:
        busy = False
        for task in self.tasks:
            try:
                busy = task() or busy
            except Exception:
                log.exception("background task %s failed", getattr(task, "__name__", task))
        return busy

    def run_until_idle(self, max_rounds: int = 10_000) -> None:
        for _ in range(max_rounds):
            if not self.run_once():
                return

    def run_forever(self) -> None:
        while not self.stopping.is_set():
            if not self.run_once():
                self.stopping.wait(self.idle_sleep)

    def start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.run_forever, name="convmem-worker", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self.stopping.set()
