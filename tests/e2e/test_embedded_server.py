"""`replenish serve` on a fresh directory, as `make run` starts it: embedded database, Redis substitute, worker
thread and simulated store, spoken to over real HTTP."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.integration.services import free_port, wait_for

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def call(method: str, url: str, token: str | None = None, body: dict | None = None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture
def server(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "BROKER_URL")}
    env.update(REPLENISH_VAR_DIR=str(tmp_path / "var"), PORT=str(port), SIM_CONFIRM_DELAY="0.2",
               SIM_SHIP_DELAY="0.5", SIM_DELIVER_DELAY="1", TRACK_INTERVAL="0.5", SWEEP_INTERVAL="0.5",
               SUBMIT_GRACE="0",
               PYTHONUNBUFFERED="1")
    log = tmp_path / "serve.log"
    exe = Path(sys.executable).parent / "replenish"
    process = subprocess.Popen([str(exe), "serve"], cwd=tmp_path, env=env, stdout=open(log, "wb"),  # noqa: SIM115
                               stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: "demo token:" in log.read_text() or process.poll() is not None, timeout=120,
                 what="the server to start")
        assert process.poll() is None, log.read_text()
        token = re.search(r"demo token: (\S+)", log.read_text()).group(1)
        wait_for(lambda: _healthy(base), timeout=30, what="healthz")
        yield base, token, log
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def _healthy(base: str) -> bool:
    try:
        return call("GET", f"{base}/healthz")[0] == 200
    except OSError:
        return False


def test_fresh_server_takes_an_order_to_the_door(server):
    base, token, log = server
    status, health = call("GET", f"{base}/healthz")
    assert health["mode"] == "embedded" and health["checks"]["database"] == health["checks"]["redis"] == "ok"
    assert health["checks"]["recommender"]["model"] == "baseline"  # nothing trained yet: the baselines answer
    assert call("PATCH", f"{base}/v1/household/limits", token, {"cancel_windows": {"web": 0}})[0] == 200
    status, placed = call("POST", f"{base}/v1/orders", token, {"sku": "TIDE-PODS-ORIG-42", "quantity": 1})
    assert status == 201, placed
    order_id = placed["order_id"]

    def delivered():
        return call("GET", f"{base}/v1/orders/{order_id}", token)[1]["status"] == "delivered"
    wait_for(delivered, timeout=60, interval=0.3, what=f"order delivered\n{log.read_text()[-3000:]}")
    order = call("GET", f"{base}/v1/orders/{order_id}", token)[1]
    assert [step["event"] for step in order["timeline"]] == [
        "OrderPlaced", "OrderSubmitted", "OrderConfirmed", "OrderShipped", "OrderDelivered"]
    assert order["delivery_photo_url"]

    # the household is told after the status changes: the notification follows through the outbox
    def told():
        feed = call("GET", f"{base}/v1/notifications", token)[1]["notifications"]
        return any(n["kind"] == "OrderDelivered" for n in feed)
    wait_for(told, timeout=15, interval=0.2, what=f"delivery notification\n{log.read_text()[-3000:]}")


def test_pending_order_can_be_cancelled_within_its_window(server):
    base, token, _ = server
    status, placed = call("POST", f"{base}/v1/orders", token, {"sku": "TIDE-PODS-ORIG-42"})
    assert status == 201 and placed["order"]["status"] == "pending"
    time.sleep(1.5)  # several sweeps: a windowed order is not submitted early
    assert call("GET", f"{base}/v1/orders/{placed['order_id']}", token)[1]["status"] == "pending"
    status, cancelled = call("POST", f"{base}/v1/orders/{placed['order_id']}/cancel", token)
    assert status == 200 and cancelled["status"] == "cancelled"
