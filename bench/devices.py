"""Button presses/s and slot reports/s through gunicorn, beside the same app's no-op endpoint in the same run.

Not a test: it prints figures (target: presses and reports at least 40% of the no-op rate, zero duplicate
orders). Needs PostgreSQL and Redis on 127.0.0.1.
    .venv/bin/python bench/devices.py [--requests 2000] [--threads 16] [--workers 3]
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from replenish.adapters.http_retailer import sign  # noqa: E402
from replenish.bootstrap import bootstrap  # noqa: E402
from replenish.config import Settings  # noqa: E402
from replenish.db import migrate  # noqa: E402
from replenish.domain import commands, device_commands as dc  # noqa: E402
from workers.queue import RecordingQueue  # noqa: E402

PG = os.environ.get("BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/12")
_local = threading.local()


def session() -> requests.Session:
    if not hasattr(_local, "s"):
        _local.s = requests.Session()
    return _local.s


def cpu_seconds() -> dict[str, float]:
    """CPU seconds used so far by this client, the gunicorn processes, PostgreSQL, Redis and everything else
    on the machine (Linux /proc; empty elsewhere)."""
    totals: dict[str, float] = {}
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    for pid in (p for p in os.listdir("/proc") if p.isdigit()) if os.path.isdir("/proc") else ():
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        group = ("client" if int(pid) == os.getpid() else "gunicorn" if "gunicorn" in cmd else
                 "postgres" if cmd.startswith("postgres") else "redis" if "redis-server" in cmd else "other")
        totals[group] = totals.get(group, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return totals


def timed(label: str, jobs: list, threads: int) -> tuple[float, list[int]]:
    cpu_before = cpu_seconds()
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        codes = list(pool.map(lambda job: job(), jobs))
    elapsed = time.perf_counter() - start
    rate = len(jobs) / elapsed
    bad = sum(c >= 400 for c in codes)
    print(f"{label:<14} {len(jobs):>6} requests in {elapsed:6.2f} s = {rate:8.1f}/s  ({bad} non-2xx)")
    # The machine may be shared: CPU per request by process, so that a slow run can be told from a busy box
    # (processes that started or ended during the phase are counted from zero or not at all).
    used = {k: v - cpu_before.get(k, 0.0) for k, v in cpu_seconds().items()}
    if used:
        print(" " * 15 + "CPU ms/request: " + ", ".join(
            f"{k} {max(0.0, v) / len(jobs) * 1000:.2f}" for k, v in sorted(used.items())))
    return rate, codes


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--buttons", type=int, default=50)
    parser.add_argument("--devices", type=int, default=50)
    args = parser.parse_args()

    db = f"rpl_bench_dev_{uuid.uuid4().hex[:8]}"
    admin = create_engine(f"{PG}/test", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{db}"'))
    tmp = Path(tempfile.mkdtemp(prefix="rpl-bench-dev-"))
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "BROKER_URL")}
    env.update(DATABASE_URL=f"{PG}/{db}", REDIS_URL=REDIS, BROKER_URL="memory://", REPLENISH_EMBEDDED_WORKER="0",
               REPLENISH_VAR_DIR=str(tmp / "var"), REPLENISH_BUTTON_RATE="1000000/1",
               REPLENISH_DEVICE_RATE="1000000/1", REPLENISH_PARTNER_RATE="1000000/1")
    server = None
    try:
        migrate(env["DATABASE_URL"])
        import redis
        redis.Redis.from_url(REDIS).flushdb()
        container = bootstrap(Settings.from_env(env), queue=RecordingQueue())
        from tests.conftest import PRODUCTS
        with container.uow() as uow:
            uow.products.upsert_many(PRODUCTS)
            uow.session.commit()
        bus = container.bus
        bus.handle(commands.CreateHousehold("bench", "Bench"))
        bus.handle(commands.UpdateLimits("bench", clear_per_month_cap=True))
        buttons = [bus.handle(dc.RegisterButton("bench", "TIDE-PODS-42")) for _ in range(args.buttons)]
        partner = bus.handle(dc.CreatePartner("Bench", ""))
        devices = []
        for i in range(args.devices):
            code = bus.handle(dc.CreateLinkCode("bench"))["code"]
            devices.append(bus.handle(dc.RegisterDevice(partner["partner_id"], code, f"B-{i}", "washer", (
                dc.SlotSpec("tank", ("TIDE-PODS-42",), 84, "count", 20, 84),)))["device_id"])

        port = 18000 + os.getpid() % 1000
        log = open(tmp / "gunicorn.log", "wb")
        server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", str(args.workers), "-b",
                                   f"127.0.0.1:{port}", "replenish.web.wsgi:app"], cwd=ROOT, env=env, stdout=log,
                                  stderr=subprocess.STDOUT, start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if requests.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        n = args.requests

        def noop(i):
            return lambda: session().get(base + "/v1/buttons/_noop", timeout=30).status_code

        def press(i):
            button = buttons[i % len(buttons)]
            body = json.dumps({"click_type": "SINGLE", "nonce": f"{i}-{uuid.uuid4().hex}"}).encode()

            def go():
                header = sign(button["secret"], body, int(time.time()))
                return session().post(f"{base}/v1/buttons/{button['serial']}/press", data=body, timeout=30,
                                      headers={"X-Replenish-Signature": header}).status_code
            return go

        def report(i):
            device = devices[i % len(devices)]
            step = i // len(devices)
            body = json.dumps({"remainingQuantityInUnit": max(0.0, 84 - 2.0 * step), "originalQuantityInUnit": 84,
                               "lastUseDate": f"2026-01-01T00:00:00+00:00"[:11] + f"{step % 24:02d}:{step % 60:02d}"
                                              f":{i % 60:02d}+00:00"}).encode()

            def go():
                header = sign(partner["webhook_secret"], body, int(time.time()))
                return session().post(f"{base}/v1/partner/devices/{device}/slots/tank/status", data=body,
                                      timeout=30, headers={"Authorization": f"Bearer {partner['api_key']}",
                                                           "X-Replenish-Signature": header}).status_code
            return go

        timed("warm-up", [noop(i) for i in range(200)], args.threads)
        noop_rate, _ = timed("no-op", [noop(i) for i in range(n)], args.threads)
        press_rate, _ = timed("presses", [press(i) for i in range(n)], args.threads)
        report_rate, _ = timed("slot reports", [report(i) for i in range(n)], args.threads)
        with container.engine.connect() as conn:
            dupes = conn.execute(text(
                "SELECT count(*) FROM (SELECT source_id FROM orders WHERE status NOT IN ('cancelled', 'failed') "
                "GROUP BY source_id HAVING count(*) > 1) d")).scalar_one()
            orders = conn.execute(text("SELECT count(*) FROM orders")).scalar_one()
        print(f"presses/s = {press_rate / noop_rate:.0%} of no-op, slot reports/s = {report_rate / noop_rate:.0%} "
              f"of no-op (target >= 40%); {orders} orders for {len(buttons)} buttons + {len(devices)} slots, "
              f"{dupes} duplicate orders")
        container.engine.dispose()
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=20)
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                         {"n": db})
            conn.execute(text(f'DROP DATABASE IF EXISTS "{db}"'))


if __name__ == "__main__":
    main()
