from __future__ import annotations

from typing import Any, Literal

from flask import Blueprint, current_app, jsonify
from pydantic import BaseModel
from sqlalchemy import text

from .openapi import operation

bp = Blueprint("health", __name__)


class HealthChecks(BaseModel):
    database: str
    redis: str
    recommender: dict[str, Any]


class HealthOut(BaseModel):
    """Up (200) when the database answers, else 503; Redis degrades, the recommender informs"""
    status: Literal["ok", "error"]
    checks: HealthChecks
    mode: Literal["embedded", "services"]


class ReadyOut(BaseModel):
    """Ready (200) when the database, Redis and the broker each answer in time, else 503 naming what failed"""
    status: Literal["ready", "not ready"]
    checks: dict[str, str]
    failed: list[str]


@bp.get("/healthz")
@operation("Is the process up", {200: HealthOut, 503: HealthOut}, auth="none", tag="health")
def healthz():
    container = current_app.extensions["replenish"]
    checks: dict[str, Any] = {}
    try:
        with container.engine.connect() as conn:
            conn.execute(text("select 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        container.redis.ping()
        checks["redis"] = "ok"
    except Exception as exc:  # ordering survives a Redis outage, so this degrades rather than fails
        checks["redis"] = f"error: {type(exc).__name__}"
    ok = checks["database"] == "ok"
    try:  # which model answers (or why the baselines do): informative, never a reason to be unhealthy
        checks["recommender"] = container.recommendations.status()
    except Exception as exc:
        checks["recommender"] = {"model": "error", "detail": type(exc).__name__}
    return jsonify({"status": "ok" if ok else "error", "checks": checks,
                    "mode": "embedded" if container.settings.embedded else "services"}), 200 if ok else 503


# -- readiness --------------------------------------------------------------------------------------------
# /healthz says the process is up (and the database answers); /readyz says whether it can do its work now:
# the database, Redis and the broker each answer within READY_TIMEOUT seconds. A load balancer sends traffic
# only to a ready process; the JSON names what failed.
READY_TIMEOUT = 2.0


def _check_database(container) -> None:
    with container.engine.connect() as conn:
        conn.execute(text("select 1"))


def _check_redis(container) -> None:
    if not container.redis.ping():
        raise RuntimeError("no PONG")


def _check_broker(container) -> None:
    url = container.settings.broker_url
    if url.startswith("memory://"):
        return  # the in-process broker of the embedded mode
    from kombu import Connection
    with Connection(url, connect_timeout=READY_TIMEOUT) as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, interval_max=0,
                               timeout=READY_TIMEOUT)


READY_CHECKS = {"database": _check_database, "redis": _check_redis, "broker": _check_broker}


def readiness(container, timeout: float = READY_TIMEOUT) -> dict[str, str]:
    """Runs every check at once, each in its own thread; one not done within ``timeout`` is "timeout"."""
    import threading
    results: dict[str, str] = {}

    def run(name, check):
        try:
            check(container)
            results[name] = "ok"
        except Exception as exc:
            results[name] = f"error: {type(exc).__name__}"

    threads = {name: threading.Thread(target=run, args=(name, check), daemon=True, name=f"readyz-{name}")
               for name, check in READY_CHECKS.items()}
    for thread in threads.values():
        thread.start()
    import time
    deadline = time.monotonic() + timeout
    for thread in threads.values():
        thread.join(max(0.0, deadline - time.monotonic()))
    return {name: results.get(name, "timeout") for name in READY_CHECKS}


@bp.get("/readyz")
@operation("Can it do its work now", {200: ReadyOut, 503: ReadyOut}, auth="none", tag="health")
def readyz():
    container = current_app.extensions["replenish"]
    checks = readiness(container)
    failed = [name for name, result in checks.items() if result != "ok"]
    return jsonify({"status": "ready" if not failed else "not ready", "checks": checks, "failed": failed}), \
        200 if not failed else 503
