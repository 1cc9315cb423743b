"""Embedded mode: a Celery worker thread and a beat-like scheduler thread inside the server process."""
from __future__ import annotations

import logging
import threading
import time

from celery.worker import WorkController

from .celery_app import BEAT_SCHEDULE, app

log = logging.getLogger(__name__)


class EmbeddedWorker:
    def __init__(self, concurrency: int = 2, schedule: dict | None = None):
        self.concurrency = concurrency
        self.schedule = BEAT_SCHEDULE if schedule is None else schedule
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.worker: WorkController | None = None

    def start(self) -> EmbeddedWorker:
        from . import tasks  # noqa: F401  (registers the tasks)
        self.worker = WorkController(app=app, pool="threads", concurrency=self.concurrency, loglevel="WARNING",
                                     without_heartbeat=True, without_mingle=True, without_gossip=True,
                                     hostname=f"embedded@{threading.get_ident()}")
        worker_thread = threading.Thread(target=self.worker.start, name="celery-worker", daemon=True)
        beat_thread = threading.Thread(target=self._beat, name="celery-beat", daemon=True)
        self._threads = [worker_thread, beat_thread]
        for thread in self._threads:
            thread.start()
        return self

    def _beat(self) -> None:
        # Frequent jobs start at once; daily ones (retraining) wait a full period rather than slow start-up.
        start = time.monotonic()
        next_run = {name: start + (1.0 if float(e["schedule"]) < 600 else float(e["schedule"]))
                    for name, e in self.schedule.items()}
        while not self._stop.wait(0.5):
            now = time.monotonic()
            for name, entry in self.schedule.items():
                if now >= next_run[name]:
                    next_run[name] = now + float(entry["schedule"])
                    try:
                        app.send_task(entry["task"])
                    except Exception:
                        log.exception("could not send periodic task %s", name)

    def stop(self) -> None:
        self._stop.set()
        if self.worker is not None:
            self.worker.stop(in_sighandler=False)
        for thread in self._threads:
            thread.join(timeout=5)
