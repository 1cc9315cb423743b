"""`make services` (scripts/services.py): the real-service deployment from one command, on real PostgreSQL and
Redis. It creates the database, serves an order over HTTP that a worker process submits, shows both in
/metrics (summed across processes), logs the order's request id in the web and the worker process, and stops
every process it started on SIGINT."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select, text

from replenish.adapters import orm
from replenish.bootstrap import bootstrap
from replenish.config import Settings
from replenish.domain import commands
from tests.doubles import RecordingQueue

from .conftest import _admin_engine
from .services import PG_HOST, PG_PORT, PG_USER, ROOT, free_port, require, wait_for, wait_until_serving
from .test_order_flow import seed

pytestmark = pytest.mark.integration


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` now (from /proc), whatever session or process group it is in."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    ppid = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited
    except OSError:
        return False


@pytest.fixture
def scratch_database():
    require("PostgreSQL", PG_HOST, PG_PORT)
    name = f"rpl_svc_{uuid.uuid4().hex[:10]}"
    yield name, f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    admin = _admin_engine()
    with admin.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": name})
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


def test_make_services_runs_an_order_end_to_end_and_stops_every_process(scratch_database, redis_url, service_env,
                                                                        tmp_path):
    name, database_url = scratch_database
    port = free_port()
    env = service_env(DATABASE_URL=database_url, REDIS_URL=redis_url, PORT=port, WEB_CONCURRENCY=2,
                      SIM_CONFIRM_DELAY=30, SWEEP_INTERVAL=1, RELAY_INTERVAL=1, RELAY_GRACE=2, SUBMIT_GRACE=2)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log_path = tmp_path / "services.log"
    with open(log_path, "wb") as log:
        supervisor = subprocess.Popen([sys.executable, "scripts/services.py", "--workers", "1"], cwd=ROOT, env=env,
                                      stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_until_serving(base, timeout=90)
        except AssertionError:
            raise AssertionError(log_path.read_text(errors="replace")[-4000:]) from None
        assert "created database" in log_path.read_text()
        # The database was created and migrated by the command; the test only adds a household to order for.
        container = bootstrap(Settings.from_env(env), queue=RecordingQueue())
        seed(container)
        token = container.bus.handle(commands.IssueToken("h0"))
        request_id = f"it-services-{uuid.uuid4().hex[:12]}"
        placed = requests.post(f"{base}/v1/orders", json={"sku": "SKU-3", "quantity": 1}, timeout=10,
                               headers={"Authorization": f"Bearer {token}", "X-Request-Id": request_id})
        assert placed.status_code == 201, placed.text
        assert placed.headers["X-Request-Id"] == request_id
        order_id = placed.json()["order_id"]

        def status():
            with container.engine.connect() as conn:
                return conn.execute(select(orm.orders.c.status).where(orm.orders.c.id == order_id)).scalar_one()
        try:
            wait_for(lambda: status() != "pending" and status(), timeout=60, what="the order to be submitted")
        except AssertionError:
            raise AssertionError(log_path.read_text(errors="replace")[-4000:]) from None
        assert status() in ("submitted", "confirmed")
        container.engine.dispose()

        # /metrics from this machine: the web process's count of the placement and the worker's of the
        # submission, summed across processes (multiprocess mode, set up by the command).
        def scrape() -> dict:
            text_ = requests.get(f"{base}/metrics", timeout=10).text
            return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
                    for family in text_string_to_metric_families(text_) for sample in family.samples}

        def value(samples, name, **labels):
            return samples.get((name, tuple(sorted(labels.items()))), 0.0)

        def worker_counts_in(samples):  # counted in worker processes, summed by the web process's scrape
            return (value(samples, "replenish_order_transitions_total", channel="web", status="submitted") == 1
                    and value(samples, "replenish_celery_tasks_total", task="workers.tasks.drain_outbox",
                              outcome="success") >= 1
                    and value(samples, "replenish_outbox_drain_events_count") >= 1
                    and value(samples, "replenish_retailer_calls_total", operation="submit_many", result="ok")
                    + value(samples, "replenish_retailer_calls_total", operation="submit", result="ok") == 1)
        samples = wait_for(lambda: (lambda s: worker_counts_in(s) and s)(scrape()), timeout=20,
                           what="the workers' counts in /metrics")
        assert value(samples, "replenish_order_transitions_total", channel="web", status="placed") == 1
        assert value(samples, "replenish_http_requests_total", method="POST", route="/v1/orders", status="201") == 1
        assert ("replenish_outbox_backlog", ()) in samples
        assert requests.get(f"{base}/readyz", timeout=10).json()["failed"] == []

        # One order's story: its request id in the web process's request line and in the worker's task lines.
        def lines_with_id():
            found = {}
            for line in log_path.read_text(errors="replace").splitlines():
                prefix, _, rest = line.partition(" | ")
                if request_id in rest and rest.lstrip().startswith("{"):
                    found.setdefault(prefix.split()[-1], []).append(json.loads(rest))
            return found if {"web.1", "worker.1"} <= set(found) else None
        found = wait_for(lines_with_id, timeout=20, what="the request id in web and worker log lines")
        assert any(line.get("event") == "request" and line.get("route") == "/v1/orders" and line.get("status") == 201
                   for line in found["web.1"])
        # the worker handling the order's event, inside a task (its name and id on the line)
        assert any(line.get("event") == "handling event" and line.get("order_id") == order_id
                   and line.get("origin_request_id") == request_id and line.get("task") and line.get("task_id")
                   for line in found["worker.1"])

        processes = descendants(supervisor.pid)
        assert len(processes) >= 6  # gunicorn master and 2 workers, worker supervisor and its pool, beat
    finally:
        if supervisor.poll() is None:
            os.kill(supervisor.pid, signal.SIGINT)  # what Ctrl-C sends
        try:
            code = supervisor.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(supervisor.pid, signal.SIGKILL)
            raise
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(alive(pid) for pid in processes):
        time.sleep(0.2)
    left = sorted(pid for pid in processes if alive(pid))
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, f"processes still running after SIGINT: {left}"
    assert "SIGINT received" in log_path.read_text()
    assert code is not None
