"""Runs one Celery worker process, and a supervisor that starts it again when it dies.

Why a supervisor of our own: with a Redis broker, kombu 5.7 can hit an "Unrecoverable error" when the
connection drops while a message is unacknowledged, and the worker then hangs while stopping instead of
exiting. The worker below exits for real when that happens, and `replenish worker` starts a fresh one, so
work resumes once the broker is back, with or without systemd around it.
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time

log = logging.getLogger(__name__)
STOP_GRACE_SECONDS = 15.0


def run_worker(concurrency: int, pool: str, loglevel: str, queue: str) -> int:
    from .celery_app import app

    class Worker(app.Worker):
        def stop(self, in_sighandler=False, exitcode=None):
            if exitcode not in (None, 0):
                # An unrecoverable error: if stopping hangs, leave anyway so a fresh process takes over.
                timer = threading.Timer(STOP_GRACE_SECONDS, os._exit, args=(exitcode,))
                timer.daemon = True
                timer.start()
            return super().stop(in_sighandler=in_sighandler, exitcode=exitcode)

    worker = Worker(concurrency=concurrency, pool=pool, loglevel=loglevel, queues=[queue],
                    without_gossip=True, without_mingle=True)
    worker.start()
    return worker.exitcode or 0


def supervise(args: list[str], restart_delay: float = 1.0) -> int:
    """Keeps one worker process running; passes SIGTERM/SIGINT on and stops when told to."""
    stopping = False
    child: subprocess.Popen | None = None

    def forward(signum, _frame):
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    while True:
        started = time.monotonic()
        child = subprocess.Popen([sys.executable, "-m", "workers.run", *args])
        code = child.wait()
        if stopping:
            return code
        log.error("worker process exited with %s; starting a new one", code)
        # Back off a little when it keeps dying at once (a broker that is still down).
        time.sleep(restart_delay if time.monotonic() - started > 10 else restart_delay * 5)


def main(argv: list[str]) -> int:
    concurrency, pool, loglevel, queue = int(argv[0]), argv[1], argv[2], argv[3]
    return run_worker(concurrency, pool, loglevel, queue)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sys.exit(main(sys.argv[1:]))
