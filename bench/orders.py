"""Orders per second from placement to submitted, through real Redis and two worker processes,
beside a no-op Celery task's throughput on the same broker and workers in the same run.

Not a test: it prints figures. Needs PostgreSQL and Redis on 127.0.0.1 (as in the integration tests).
    .venv/bin/python bench/orders.py [--orders 400] [--noops 2000]
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, func, select, text  # noqa: E402

from catalog.model import Product  # noqa: E402
from replenish.adapters import orm# noqa: E402
from replenish.bootstrap import bootstrap  # noqa: E402
from replenish.config import Settings  # noqa: E402
from replenish.db import migrate  # noqa: E402
from replenish.domain import commands# noqa: E402
from workers.celery_app import make_celery  # noqa: E402
from replenish.services import event_handlers# noqa: E402
from workers.queue import CeleryQueue, RecordingQueue  # noqa: E402

PG = os.environ.get("BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/8")


def wait(predicate, timeout: float) -> float:
    start = time.perf_counter()
    while not predicate():
        if time.perf_counter() - start > timeout:
            raise SystemExit("timed out: is a worker running? see the worker logs under the temp dir")
        time.sleep(0.02)
    return time.perf_counter()


_client = None


def _client_init(env: dict, paused: bool = False) -> None:
    global _client
    settings = Settings.from_env(env)
    _client = bootstrap(settings, queue=RecordingQueue() if paused else CeleryQueue(make_celery(settings)))


def _place(i: int) -> None:
    _client.bus.handle(commands.PlaceOrder(f"h{i % 20}", "web", (commands.LineRequest(f"SKU-{i % 50}", 1),)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--noops", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--pool", default="prefork", choices=["prefork", "threads", "solo"])
    args = parser.parse_args()

    db = f"rpl_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(f"{PG}/test", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{db}"'))
    tmp = Path(tempfile.mkdtemp(prefix="rpl-bench-"))
    env = dict(os.environ, DATABASE_URL=f"{PG}/{db}", REDIS_URL=REDIS, CELERY_QUEUE=f"bench-{db}",
               REPLENISH_VAR_DIR=str(tmp), REPLENISH_EMBEDDED_WORKER="0", SIM_CONFIRM_DELAY="3600")
    workers = []
    try:
        migrate(env["DATABASE_URL"])
        settings = Settings.from_env(env)
        container = bootstrap(settings, queue=CeleryQueue(make_celery(settings)))
        container.redis.flushdb()
        with container.uow() as uow:
            uow.products.upsert_many([Product(f"SKU-{i}", f"Item {i}", "B", "x/y", 1, "count", 100 + i)
                                      for i in range(50)])
            uow.session.commit()
        households = [f"h{i}" for i in range(20)]
        for h in households:
            container.bus.handle(commands.CreateHousehold(h))
            container.bus.handle(commands.UpdateLimits(h, cancel_windows={c: 0 for c in
                                                                             ("voice", "button", "appliance", "web")},
                                                       clear_per_order_cap=True, clear_per_month_cap=True))
        exe = str(Path(sys.executable).parent / "replenish")
        for n in range(args.workers):
            log = open(tmp / f"worker-{n}.log", "wb")
            workers.append(subprocess.Popen([exe, "worker", "-c", str(args.concurrency), "--pool", args.pool, "--loglevel", os.environ.get("BENCH_LOGLEVEL", "WARNING")],
                                            env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True))
        celery = make_celery(settings)
        # Warm up: every worker process connected and has bootstrapped its container.
        for i in range(20):
            celery.send_task("workers.tasks.noop", args=[i, "bench:warm"])
        wait(lambda: int(container.redis.get("bench:warm") or 0) >= 20, 60)

        start = time.perf_counter()
        for i in range(args.noops):
            celery.send_task("workers.tasks.noop", args=[i, "bench:noop"])
        end = wait(lambda: int(container.redis.get("bench:noop") or 0) >= args.noops, 300)
        noop_rate = args.noops / (end - start)

        def submitted_count() -> int:
            with container.engine.connect() as conn:
                return conn.execute(select(func.count()).select_from(orm.orders)
                                    .where(orm.orders.c.status == "submitted")).scalar_one()

        # 1. End to end: placed by 4 client processes (as a web tier would), until every one is submitted.
        start = time.perf_counter()
        with ProcessPoolExecutor(4, initializer=_client_init, initargs=(env,)) as pool:
            list(pool.map(_place, range(args.orders), chunksize=10))
        placing_seconds = time.perf_counter() - start
        end = wait(lambda: submitted_count() >= args.orders, 600)
        order_rate = args.orders / (end - start)

        # 2. Placing alone: the same 4 client processes, nothing sent to the workers (the ceiling that placing
        #    on this machine puts on the end-to-end rate, since clients and workers share its cores).
        start = time.perf_counter()
        with ProcessPoolExecutor(4, initializer=_client_init, initargs=(env, True)) as pool:
            list(pool.map(_place, range(args.orders), chunksize=10))
        place_rate = args.orders / (time.perf_counter() - start)

        # 3. The workers alone: those orders, committed while nothing was sent, handed over at once by the relay.
        relay = bootstrap(settings, queue=CeleryQueue(celery))
        start = time.perf_counter()
        event_handlers.relay_outbox(relay.deps, grace=timedelta(0))
        end = wait(lambda: submitted_count() >= 2 * args.orders, 600)
        worker_rate = args.orders / (end - start)

        books = container.store.attempts_by_key()
        duplicates = sum(1 for attempts in books.values() if attempts > 1)

        print(f"workers: {args.workers} processes x {args.concurrency} ({args.pool}), broker {REDIS}")
        print(f"no-op task:                 {noop_rate:8.1f} tasks/s   ({args.noops} tasks)")
        print(f"order placed -> submitted:  {order_rate:8.1f} orders/s  ({args.orders} orders from 4 client "
              f"processes; placing took {placing_seconds:.2f}s)")
        print(f"placing alone (4 clients):  {place_rate:8.1f} orders/s")
        print(f"workers alone, event -> submitted: {worker_rate:8.1f} orders/s")
        print(f"ratio end-to-end/no-op:     {order_rate / noop_rate:8.2f}   (target >= 0.50)")
        print(f"ratio workers/no-op:        {worker_rate / noop_rate:8.2f}")
        print(f"store: {len(books)} orders booked, {duplicates} submitted more than once (deduplicated by key)")
    finally:
        for w in workers:
            try:
                os.killpg(w.pid, signal.SIGTERM)
                w.wait(timeout=20)
            except Exception:
                os.killpg(w.pid, signal.SIGKILL)
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": db})
            conn.execute(text(f'DROP DATABASE IF EXISTS "{db}"'))


if __name__ == "__main__":
    main()
