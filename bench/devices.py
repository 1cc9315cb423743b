"""Button presses/s and slot reports/s through gunicorn, beside the same app's no-op endpoint in the same run.

Not a test: it prints figures (target: presses and reports at least 40% of the no-op rate, zero duplicate
orders). Needs PostgreSQL and Redis on 127.0.0.1.
    .venv/bin/python bench/devices.py [--requests 2000] [--threads 16] [--workers 3] [--rounds 3] [--batch 250]
                                      [--busy 0] [--client light|requests]

``--busy N`` keeps N other processes spinning on the CPU while it measures: the figures when the machine is
shared with other work (the heavier requests lose more of their share than the no-op does).

Every request is signed (RFC 9421, a new nonce each) and goes the one way into the database: the signature, the
rate limits (Redis), the signed-request log, then the press or the report in a unit of work. The no-op route is
mounted by ``bench/devices_wsgi.py``, not by the production app.

The machine may be shared with other work, so the three phases take turns, ``--batch`` requests at a time
(``--batch 0``: one whole phase after the other), and are measured ``--rounds`` times: each round's ratios
compare figures measured side by side, and the medians over the rounds are the result.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import statistics
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

from replenish.bootstrap import bootstrap  # noqa: E402
from replenish.config import Settings  # noqa: E402
from replenish.db import migrate  # noqa: E402
from replenish.devices.domain import commands as dc  # noqa: E402
from replenish.domain import commands  # noqa: E402  (after the repository root is put on sys.path)
from replenish_partner import signature_headers  # noqa: E402
from tests.doubles import RecordingQueue  # noqa: E402

PG = os.environ.get("BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/12")
_local = threading.local()


class KeepAlive:
    """A thread's HTTP/1.1 connection to the server, kept open (``--client light``). The load generator shares
    the machine's CPUs with the server: with ``requests`` it spends about 1.4 ms of CPU a request, and the no-op
    phase then measures the client (one process, one GIL) rather than the server; this spends about 0.5 ms."""

    def __init__(self, base: str):
        host, _, port = base.split("://", 1)[1].partition(":")
        self.host, self.port = host, int(port)
        self.conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> int:
        for attempt in (1, 2):  # a kept connection the server closed: once more on a new one
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                response = self.conn.getresponse()
                response.read()
                return response.status
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def call(base: str, client: str, method: str, path: str, body: bytes | None = None,
         headers: dict | None = None) -> int:
    """One request on this thread's connection: ``light`` (http.client, kept alive) or ``requests``."""
    if client == "requests":
        if not hasattr(_local, "s"):
            _local.s = requests.Session()
        return _local.s.request(method, base + path, data=body, headers=headers, timeout=30).status_code
    if not hasattr(_local, "k"):
        _local.k = KeepAlive(base)
    if body is not None:
        headers = {"Content-Type": "application/json", **(headers or {})}
    return _local.k.request(method, path, body, headers)


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


def timed(phases: list[tuple[str, list]], threads: int, batch: int = 0) -> list[tuple[float, int, float]]:
    """Runs each phase's jobs on ``threads`` threads, then prints its rate and the CPU used per request by
    process; returns the rates. With ``batch``, the phases take turns, ``batch`` jobs at a time, so that other
    work on a shared machine weighs on all of them alike; without, they run one after the other. Returns each
    phase's (rate, requests, seconds)."""
    stats = {label: {"elapsed": 0.0, "codes": [], "cpu": {}} for label, _ in phases}
    longest = max(len(jobs) for _, jobs in phases)
    step = batch if batch > 0 else longest
    turns = [(label, jobs[k:k + step]) for k in range(0, longest, step) for label, jobs in phases] if batch > 0 \
        else list(phases)
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for label, part in turns:
            if not part:
                continue
            cpu_before = cpu_seconds()
            start = time.perf_counter()
            codes = list(pool.map(lambda job: job(), part))
            elapsed = time.perf_counter() - start
            cpu_after = cpu_seconds()
            phase = stats[label]
            phase["elapsed"] += elapsed
            phase["codes"] += codes
            # processes that started or ended during a turn are counted from zero or not at all
            for group, seconds in cpu_after.items():
                phase["cpu"][group] = phase["cpu"].get(group, 0.0) + seconds - cpu_before.get(group, 0.0)
    rates = []
    for label, jobs in phases:
        phase = stats[label]
        rate = len(jobs) / phase["elapsed"]
        rates.append((rate, len(jobs), phase["elapsed"]))
        bad = sum(c >= 400 for c in phase["codes"])
        print(f"{label:<17} {len(jobs):>6} requests in {phase['elapsed']:6.2f} s = {rate:8.1f}/s  ({bad} non-2xx)")
        # The machine may be shared: CPU per request by process, so that a slow run can be told from a busy box.
        if phase["cpu"]:
            print(" " * 18 + "CPU ms/request: " + ", ".join(
                f"{k} {max(0.0, v) / len(jobs) * 1000:.2f}" for k, v in sorted(phase["cpu"].items())))
    return rates


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--buttons", type=int, default=50)
    parser.add_argument("--devices", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3, help="times the three phases are measured")
    parser.add_argument("--batch", type=int, default=250,
                        help="the phases take turns, this many requests at a time (0: one after the other)")
    parser.add_argument("--busy", type=int, default=0, help="processes kept busy on the CPU while measuring")
    parser.add_argument("--client", choices=("light", "requests"), default="light",
                        help="the load generator's HTTP client (see KeepAlive)")
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
    server, busy = None, []
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
        # The measured buttons and devices, and a few others that warm every gunicorn worker up first.
        warm = 4 * args.workers
        buttons = [bus.handle(dc.RegisterButton("bench", "TIDE-PODS-42")) for _ in range(args.buttons + warm)]
        partner = bus.handle(dc.CreatePartner("Bench", ""))
        devices = []
        for i in range(args.devices + warm):
            code = bus.handle(dc.CreateLinkCode("bench"))["code"]
            devices.append(bus.handle(dc.RegisterDevice(partner["partner_id"], code, f"B-{i}", "washer", (
                dc.SlotSpec("tank", ("TIDE-PODS-42",), 84, "count", 20, 84),)))["device_id"])
        buttons, warm_buttons = buttons[:args.buttons], buttons[args.buttons:]
        devices, warm_devices = devices[:args.devices], devices[args.devices:]

        port = 18000 + os.getpid() % 1000
        log = open(tmp / "gunicorn.log", "wb")  # noqa: SIM115  (the child process writes to it for its whole life)
        server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", str(args.workers), "-b",
                                   f"127.0.0.1:{port}", "bench.devices_wsgi:app"], cwd=ROOT, env=env, stdout=log,
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
            return lambda: call(base, args.client, "GET", "/_bench/noop")

        def press(i, among=None):
            among = among or buttons
            button = among[i % len(among)]
            body = json.dumps({"click_type": "SINGLE"}).encode()
            path = f"/v1/buttons/{button['serial']}/press"

            def go():
                headers = signature_headers("POST", base + path, body, button["key_id"], button["secret"],
                                            headers={"Content-Type": "application/json"})
                return call(base, args.client, "POST", path, body, headers)
            return go

        def report(i, among=None):
            """A slot report: the level falls two pods a report, each report a minute after the last."""
            among = among or devices
            device = among[i % len(among)]
            step = i // len(among)
            body = json.dumps({"remainingQuantityInUnit": max(0.0, 84 - 2.0 * (step % 42)),
                               "lastUseDate": f"2026-01-01T{step // 60 % 24:02d}:{step % 60:02d}:{i % 60:02d}+00:00"}
                              ).encode()
            path = f"/v1/partner/devices/{device}/slots/tank/status"

            def go():
                headers = signature_headers("POST", base + path, body, partner["key_id"], partner["secret"],
                                            headers={"Content-Type": "application/json"})
                return call(base, args.client, "POST", path, body, headers)
            return go

        # Each worker process's first requests of a kind pay for imports and compiled-statement caches once: a
        # warm-up of every kind on buttons and devices of its own (their first presses and low reports order).
        timed([("warm-up", [noop(i) for i in range(200)] + [press(-1 - i, warm_buttons) for i in range(3 * warm)]
                + [report(-1 - i, among=warm_devices) for i in range(3 * warm)])], args.threads)
        for _ in range(args.busy):  # other work on the machine, ended with the run (see finally)
            busy.append(subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True))
        if args.busy:
            print(f"{args.busy} other process(es) busy on the CPU ({os.cpu_count()} CPUs)")
        press_ratios, report_ratios = [], []
        totals: dict[str, list[float]] = {}  # phase -> [requests, seconds] over all rounds
        for r in range(args.rounds):
            tag = f" #{r + 1}" if args.rounds > 1 else ""
            first = r * n  # every round reports new levels
            measured = timed([
                ("no-op" + tag, [noop(i) for i in range(first, first + n)]),
                ("presses" + tag, [press(i) for i in range(first, first + n)]),
                ("slot reports" + tag, [report(i) for i in range(first, first + n)])],
                args.threads, args.batch)
            for kind, (_, count, seconds) in zip(("noop", "press", "report"), measured, strict=False):
                total = totals.setdefault(kind, [0, 0.0])
                total[0] += count
                total[1] += seconds
            noop_rate, press_rate, report_rate = (rate for rate, _, _ in measured)
            press_ratios.append(press_rate / noop_rate)
            report_ratios.append(report_rate / noop_rate)
            if args.rounds > 1:
                print(f"{'':<17} round {r + 1}: presses/s = {press_ratios[-1]:.0%} of no-op, "
                      f"slot reports/s = {report_ratios[-1]:.0%}")
        with container.engine.connect() as conn:
            dupes = conn.execute(text(
                "SELECT count(*) FROM (SELECT source_id FROM orders WHERE status NOT IN ('cancelled', 'failed') "
                "GROUP BY source_id HAVING count(*) > 1) d")).scalar_one()
            orders = conn.execute(text("SELECT count(*) FROM orders")).scalar_one()
        overall = {kind: count / seconds for kind, (count, seconds) in totals.items()}
        if args.rounds > 1:
            print(f"all rounds together: presses/s = {overall['press'] / overall['noop']:.0%} of no-op, slot reports/s "
                  f"= {overall['report'] / overall['noop']:.0%}")
        median = "median over the rounds: " if args.rounds > 1 else ""
        print(f"{median}presses/s = {statistics.median(press_ratios):.0%} of no-op, slot reports/s = "
              f"{statistics.median(report_ratios):.0%} of no-op (target >= 40%); "
              f"{orders} orders for {len(buttons)} buttons + {len(devices)} slots, {dupes} duplicate orders")
        container.engine.dispose()
    finally:
        for process in busy:
            process.kill()
            process.wait()
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=20)
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                         {"n": db})
            conn.execute(text(f'DROP DATABASE IF EXISTS "{db}"'))


if __name__ == "__main__":
    main()
