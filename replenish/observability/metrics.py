"""Prometheus metrics. In a deployment of several processes (gunicorn workers, Celery pool processes) the
client's multiprocess mode is used: ``PROMETHEUS_MULTIPROC_DIR`` names a directory every process of this
machine writes its samples to, and ``/metrics`` (served by any web process) adds them up. ``make services``
sets it up (an empty directory under ``var/`` per start). Without it, one process's own registry is served.

What is counted where:
- HTTP requests and latency: the web app's request hooks (``replenish.observability.web``).
- Orders by channel and status transition: from the domain events a unit of work commits (``observe_events``,
  given to the unit of work by bootstrap), in whichever process commits them.
- Outbox drains (batch sizes), Celery task outcomes, webhook deliveries by result: Celery signals
  (``replenish.observability.celery``).
- Retailer calls, latency and errors: ``InstrumentedGateway`` around the gateway bootstrap builds.
- Outbox backlog and oldest unhandled age, Celery queue depth, recommender model version and age: read when
  scraped (``ScrapeTimeCollector``), never kept in memory.
"""
from __future__ import annotations

import json
import logging
import os
import time
from datetime import UTC
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

HTTP_REQUESTS = Counter("replenish_http_requests_total", "HTTP requests answered, by route and status",
                        ["method", "route", "status"])
HTTP_LATENCY = Histogram("replenish_http_request_duration_seconds", "Time to answer an HTTP request",
                         ["method", "route"],
                         buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
ORDER_TRANSITIONS = Counter("replenish_order_transitions_total",
                            "Orders reaching a status (placed, submitted, confirmed, shipped, delivered, "
                            "cancelled, failed), by channel", ["channel", "status"])
DRAIN_BATCH = Histogram("replenish_outbox_drain_events", "Events one outbox drain task handled",
                        buckets=(0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000))
RETAILER_CALLS = Counter("replenish_retailer_calls_total", "Calls to the retailer, by operation and result "
                         "(ok, transient, permanent, error)", ["operation", "result"])
RETAILER_LATENCY = Histogram("replenish_retailer_call_duration_seconds", "Time a retailer call took",
                             ["operation"], buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0))
WEBHOOK_DELIVERIES = Counter("replenish_webhook_deliveries_total", "Partner webhook delivery attempts, by result "
                             "(delivered, failed, retry, missing, error)", ["result"])
CELERY_TASKS = Counter("replenish_celery_tasks_total", "Celery tasks finished, by task and outcome "
                       "(success, retry, failure)", ["task", "outcome"])
CELERY_TASK_LATENCY = Histogram("replenish_celery_task_duration_seconds", "Time a Celery task ran", ["task"],
                                buckets=(0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0))

_STATUS_OF_EVENT = {"OrderPlaced": "placed", "OrderSubmitted": "submitted", "OrderConfirmed": "confirmed",
                    "OrderShipped": "shipped", "OrderDelivered": "delivered", "OrderCancelled": "cancelled",
                    "OrderFailed": "failed"}


def multiprocess_dir() -> str | None:
    # prometheus_client itself also honours the old lower-case name, so a deployment may still set that one
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get("prometheus_multiproc_dir") or None  # noqa: SIM112


def observe_events(events) -> None:
    """Given every event a unit of work committed: counts order status transitions by channel."""
    for event in events:
        status = _STATUS_OF_EVENT.get(getattr(event, "name", ""))
        if status is not None:
            ORDER_TRANSITIONS.labels(channel=getattr(event, "channel", "") or "unknown", status=status).inc()


def mark_process_dead(pid: int) -> None:
    """A process of the deployment ended: its live-gauge files go (counters and histograms stay summed)."""
    if multiprocess_dir():
        try:
            multiprocess.mark_process_dead(pid)
        except Exception:  # pragma: no cover - never let bookkeeping stop a shutdown
            log.debug("could not mark process %s dead for metrics", pid, exc_info=True)


class InstrumentedGateway:
    """The retailer port with each call timed and counted. Any other attribute is the wrapped gateway's, so
    optional operations (``submit_many``) are there exactly when the gateway has them."""

    OPERATIONS = ("submit", "submit_many", "status", "cancel", "cancel_lines")

    def __init__(self, gateway):
        object.__setattr__(self, "_gateway", gateway)

    @property
    def wrapped(self):
        return self._gateway

    def __getattr__(self, name):
        attr = getattr(self._gateway, name)
        if name in self.OPERATIONS and callable(attr):
            return _timed(name, attr)
        return attr


def _timed(operation: str, call):
    from replenish.services.ports import PermanentError, TransientError

    def timed(*args, **kwargs):
        started = time.perf_counter()
        result = "ok"
        try:
            answer = call(*args, **kwargs)
            if operation == "submit_many":  # answers per request: a TransientError in place of a result
                failed = sum(isinstance(a, TransientError) for a in answer)
                if failed:
                    RETAILER_CALLS.labels(operation="submit_many_request", result="transient").inc(failed)
            return answer
        except TransientError:
            result = "transient"
            raise
        except PermanentError:
            result = "permanent"
            raise
        except Exception:
            result = "error"
            raise
        finally:
            RETAILER_LATENCY.labels(operation=operation).observe(time.perf_counter() - started)
            RETAILER_CALLS.labels(operation=operation, result=result).inc()
    return timed


class ScrapeTimeCollector:
    """Figures read when ``/metrics`` is scraped: the outbox backlog and its oldest unhandled event's age,
    the Celery queue's depth (Redis broker), the recommender model's version and age. Each source is asked
    with a short timeout; one that does not answer is left out of this scrape (and logged), not an error."""

    def __init__(self, container):
        self.container = container

    def collect(self):
        yield from self._outbox()
        yield from self._queue()
        yield from self._model()

    def _outbox(self):
        from sqlalchemy import func, select

        from replenish.adapters import orm
        o = orm.outbox
        try:
            with self.container.engine.connect() as conn:
                if conn.dialect.name == "postgresql":
                    conn.exec_driver_sql("SET LOCAL statement_timeout = 2000")
                count, oldest = conn.execute(select(func.count(), func.min(o.c.created_at))
                                             .where(o.c.handled_at.is_(None))).one()
        except Exception as exc:
            log.warning("metrics: outbox not readable (%s)", type(exc).__name__)
            return
        backlog = GaugeMetricFamily("replenish_outbox_backlog", "Events committed and not yet handled")
        backlog.add_metric([], count or 0)
        yield backlog
        age = GaugeMetricFamily("replenish_outbox_oldest_unhandled_age_seconds",
                                "Age of the oldest unhandled outbox event (0 when none)")
        if oldest is not None:
            now = self.container.clock()
            if oldest.tzinfo is None:
                oldest = oldest.replace(tzinfo=UTC)
            age.add_metric([], max(0.0, (now - oldest).total_seconds()))
        else:
            age.add_metric([], 0.0)
        yield age

    def _queue(self):
        settings = self.container.settings
        if not settings.broker_url.startswith(("redis://", "rediss://")):
            return
        try:
            import redis
            client = redis.Redis.from_url(settings.broker_url, socket_connect_timeout=1, socket_timeout=1)
            try:
                depth = client.llen(settings.queue_name)
            finally:
                client.close()
        except Exception as exc:
            log.warning("metrics: broker queue not readable (%s)", type(exc).__name__)
            return
        gauge = GaugeMetricFamily("replenish_celery_queue_depth", "Tasks waiting in the Celery queue", labels=["queue"])
        # redis-py types its commands for its async client too (Awaitable | Any): this client is the synchronous one
        gauge.add_metric([settings.queue_name], float(depth))  # type: ignore[arg-type]
        yield gauge

    def _model(self):
        from replenish.recommend.store import META_FILE, POINTER
        root = Path(self.container.settings.model_dir)
        info = GaugeMetricFamily("replenish_recommender_model_info", "The recommender model version served "
                                 "(\"baseline\" before any training)", labels=["version"])
        try:
            version = (root / POINTER).read_text().strip()
            meta = json.loads((root / version / META_FILE).read_text())
        except (OSError, ValueError):
            info.add_metric(["baseline"], 1)
            yield info
            return
        info.add_metric([version], 1)
        yield info
        created = meta.get("created_at")
        if created:
            from datetime import datetime
            try:
                age = (self.container.clock() - datetime.fromisoformat(created)).total_seconds()
            except (TypeError, ValueError):
                return
            gauge = GaugeMetricFamily("replenish_recommender_model_age_seconds",
                                      "Time since the served model was trained")
            gauge.add_metric([], max(0.0, age))
            yield gauge


def render(container) -> bytes:
    """The exposition text: this machine's processes' samples (multiprocess mode) or this process's, plus the
    figures read now."""
    now = CollectorRegistry()
    now.register(ScrapeTimeCollector(container))
    if multiprocess_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        from prometheus_client import REGISTRY as registry
    return generate_latest(registry) + generate_latest(now)


def serve_worker_metrics(port: int, addr: str = "127.0.0.1"):
    """An exporter for a worker container, where no web process shares the metric files (compose): this
    process's and its pool's samples on ``http://addr:port/``. No authentication: keep it on a private network
    (it binds to loopback unless told otherwise). Returns the server."""
    registry = CollectorRegistry()
    if multiprocess_dir():
        multiprocess.MultiProcessCollector(registry)
    else:
        from prometheus_client import REGISTRY as registry
    from prometheus_client import start_http_server
    server, _thread = start_http_server(port, addr=addr, registry=registry)
    log.info("worker metrics on http://%s:%s/", addr, port)
    return server
