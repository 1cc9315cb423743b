"""The Celery side, all through Celery's signals (the tasks themselves stay as they are):

- logging: ``setup_logging`` makes Celery leave logging to ``replenish.observability.logs`` (JSON lines);
- request ids: a task published while a request id is bound carries it in its message headers
  (``before_task_publish``); the worker binds it, with the task's name and id, for the task's log lines
  (``task_prerun``);
- metrics: task outcomes and durations, outbox drain batch sizes, webhook deliveries by result;
- multiprocess metrics: a pool process that ends is marked dead (``worker_process_shutdown``); with
  ``REPLENISH_WORKER_METRICS_PORT`` set, the worker serves its own metrics (``worker_init``), for containers.

``connect()`` is called once by ``workers.celery_app``."""
from __future__ import annotations

import logging
import os
import time

from celery import signals

from . import logs, metrics

HEADER = "replenish_request_id"
DRAIN_TASK = "workers.tasks.drain_outbox"
WEBHOOK_TASK = "replenish.devices.tasks.deliver_webhook"
_started: dict[str, float] = {}
_connected = False


def _setup_logging(loglevel=None, **_):
    logs.configure(level=loglevel or logging.INFO)


def _before_publish(headers=None, **_):
    request_id = logs.current_request_id()
    if request_id and headers is not None and HEADER not in headers:
        headers[HEADER] = request_id


def _request_id_of(task) -> str | None:
    request = getattr(task, "request", None)
    value = getattr(request, HEADER, None) if request is not None else None
    if value is None and request is not None:
        value = (getattr(request, "headers", None) or {}).get(HEADER)
    return value if isinstance(value, str) else None


def _prerun(task_id=None, task=None, **_):
    logs.clear()
    values = {"task": getattr(task, "name", None), "task_id": task_id}
    request_id = _request_id_of(task)
    if request_id:
        values["request_id"] = request_id
    logs.bind(**values)
    _started[task_id] = time.perf_counter()


def _postrun(task_id=None, task=None, retval=None, state=None, **_):
    name = getattr(task, "name", "?")
    started = _started.pop(task_id, None)
    if started is not None:
        metrics.CELERY_TASK_LATENCY.labels(task=name).observe(time.perf_counter() - started)
    if name == DRAIN_TASK and state == "SUCCESS" and isinstance(retval, int):
        metrics.DRAIN_BATCH.observe(retval)
    if name == WEBHOOK_TASK and state == "SUCCESS" and isinstance(retval, str):
        metrics.WEBHOOK_DELIVERIES.labels(result=retval if retval in ("delivered", "failed", "missing")
                                          else "pending").inc()


def _success(sender=None, **_):
    metrics.CELERY_TASKS.labels(task=getattr(sender, "name", "?"), outcome="success").inc()


def _retry(sender=None, request=None, **_):
    name = getattr(sender, "name", None) or getattr(request, "task", "?")
    metrics.CELERY_TASKS.labels(task=name, outcome="retry").inc()
    if name == WEBHOOK_TASK:
        metrics.WEBHOOK_DELIVERIES.labels(result="retry").inc()


def _failure(sender=None, **_):
    name = getattr(sender, "name", "?")
    metrics.CELERY_TASKS.labels(task=name, outcome="failure").inc()
    if name == WEBHOOK_TASK:
        metrics.WEBHOOK_DELIVERIES.labels(result="error").inc()


_settings = None  # given by connect(): the Celery app's settings


def _worker_init(**_):
    # Compose runs workers in containers of their own: REPLENISH_WORKER_METRICS_PORT gives them an exporter.
    port = _settings.worker_metrics_port if _settings is not None else None
    if port:
        try:
            metrics.serve_worker_metrics(port, _settings.worker_metrics_addr)
        except (OSError, ValueError) as exc:
            logging.getLogger(__name__).warning("worker metrics not served on %r: %s", port, exc)


def _process_shutdown(**_):
    metrics.mark_process_dead(os.getpid())


def connect(app=None, settings=None) -> None:
    global _connected, _settings
    _settings = settings if settings is not None else _settings
    if _connected:
        return
    _connected = True
    signals.setup_logging.connect(_setup_logging, weak=False)
    signals.before_task_publish.connect(_before_publish, weak=False)
    signals.task_prerun.connect(_prerun, weak=False)
    signals.task_postrun.connect(_postrun, weak=False)
    signals.task_success.connect(_success, weak=False)
    signals.task_retry.connect(_retry, weak=False)
    signals.task_failure.connect(_failure, weak=False)
    signals.worker_process_shutdown.connect(_process_shutdown, weak=False)
    signals.worker_init.connect(_worker_init, weak=False)
