"""Order throughput and cost, each figure beside a baseline measured in the same run.

Not a test: it prints figures. Needs PostgreSQL and Redis on 127.0.0.1 (as in the integration tests).
    .venv/bin/python bench/orders.py [SCENARIO ...] [--orders 1000] [--noops 2000]

Scenarios:
  e2e    orders placed -> submitted through real Redis and worker processes, beside a no-op Celery task's
         throughput on the same broker and workers (the default)
  cost   what one place_order costs in-process: statements, Redis round trips, CPU
  http     orders placed over HTTP through gunicorn, beside the same app's no-op endpoint (bench/devices_wsgi.py)
  scaling  workers alone, 1 vs 2 worker processes, with CPU per order by process (--broker amqp://... for RabbitMQ)
  flaky  sustained placement against an HTTP store, healthy and then failing 10% of calls transiently:
         placed -> submitted p50/p99/max and the backlog 10 s after the load (--rate, --seconds)
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
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

import contextlib  # noqa: E402  (after the repository root is put on sys.path)

from sqlalchemy import create_engine, func, select, text  # noqa: E402

from catalog.model import Product  # noqa: E402
from replenish.adapters import orm  # noqa: E402
from replenish.bootstrap import bootstrap  # noqa: E402
from replenish.config import Settings  # noqa: E402
from replenish.db import migrate  # noqa: E402
from replenish.domain import commands  # noqa: E402
from replenish.services import event_handlers  # noqa: E402
from tests.doubles import RecordingQueue  # noqa: E402
from workers.celery_app import make_celery  # noqa: E402
from workers.queue import CeleryQueue  # noqa: E402

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


def placement_cost(container, n: int = 400) -> None:
    """What one ``place_order`` costs in this process: SQL statements (counted with SQLAlchemy's
    before_cursor_execute event), Redis round trips (commands sent by redis-py, a pipeline counting once; the
    drain requests' flag included, the broker too when it is this Redis) and CPU, for orders without a key,
    with an Idempotency-Key and from an exclusive source (a button)."""
    import redis.connection
    from sqlalchemy import event
    counts = {"sql": 0, "redis": 0}

    def statement(*_):
        counts["sql"] += 1

    event.listen(container.engine, "before_cursor_execute", statement)
    send = redis.connection.Connection.send_packed_command

    def counted(self, *a, **k):
        counts["redis"] += 1
        return send(self, *a, **k)

    redis.connection.Connection.send_packed_command = counted
    for h in range(20):  # as most households have: a monthly cap (so its spending is read), here never reached
        container.bus.handle(commands.UpdateLimits(f"h{h}", per_month_cap_cents=10 ** 9))
    try:
        def place(count: int, form: str) -> None:
            for i in range(count):
                extra = {"idempotency_key": f"k-{uuid.uuid4().hex}"} if form == "key" else \
                    {"source_id": f"button-{uuid.uuid4().hex}"} if form == "source" else {}
                line = commands.LineRequest(f"SKU-{i % 50}", 1)
                container.bus.handle(commands.PlaceOrder(f"h{i % 20}", "web", (line,), **extra))
        place(50, "key")  # warm: compiled-statement caches, pooled connections
        for form, label in (("plain", "no key"), ("key", "Idempotency-Key"), ("source", "button (one in flight)")):
            counts.update(sql=0, redis=0)
            cpu, wall = time.process_time(), time.perf_counter()
            place(n, form)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            print(f"place_order, {label:<24} {counts['sql'] / n:5.2f} statements, {counts['redis'] / n:5.2f} Redis "
                  f"round trips, {cpu / n * 1000:5.2f} ms CPU, {wall / n * 1000:5.2f} ms wall a placement")
    finally:
        for h in range(20):
            container.bus.handle(commands.UpdateLimits(f"h{h}", clear_per_month_cap=True))
        redis.connection.Connection.send_packed_command = send
        event.remove(container.engine, "before_cursor_execute", statement)


class Bench:
    """One scratch database (migrated, 50 products, 20 households without caps or cancel windows), the worker
    processes a scenario starts, and their cleanup."""

    def __init__(self, args):
        self.args = args
        self.db = f"rpl_bench_{uuid.uuid4().hex[:8]}"
        self.admin = create_engine(f"{PG}/test", isolation_level="AUTOCOMMIT")
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.db}"'))
        self.tmp = Path(tempfile.mkdtemp(prefix="rpl-bench-"))
        self.env = dict(os.environ, DATABASE_URL=f"{PG}/{self.db}", REDIS_URL=REDIS, CELERY_QUEUE=f"bench-{self.db}",
                        REPLENISH_VAR_DIR=str(self.tmp), REPLENISH_EMBEDDED_WORKER="0", SIM_CONFIRM_DELAY="3600",
                        TRACK_INTERVAL="3600")
        self.processes: list[subprocess.Popen] = []
        migrate(self.env["DATABASE_URL"])
        self.settings = Settings.from_env(self.env)
        self.container = bootstrap(self.settings, queue=CeleryQueue(make_celery(self.settings)))
        self.container.redis.flushdb()
        with self.container.uow() as uow:
            uow.products.upsert_many([Product(f"SKU-{i}", f"Item {i}", "B", "x/y", 1, "count", 100 + i)
                                      for i in range(50)])
            uow.session.commit()
        for h in (f"h{i}" for i in range(20)):
            self.container.bus.handle(commands.CreateHousehold(h))
            self.container.bus.handle(commands.UpdateLimits(
                h, cancel_windows={c: 0 for c in ("voice", "button", "appliance", "web")},
                clear_per_order_cap=True, clear_per_month_cap=True))

    def start_workers(self, count: int, env: dict | None = None, tag: str = "worker") -> list[subprocess.Popen]:
        exe = str(Path(sys.executable).parent / "replenish")
        started = []
        for n in range(count):
            log = open(self.tmp / f"{tag}-{n}.log", "wb")  # noqa: SIM115  (the child process writes to it for its whole life)
            started.append(subprocess.Popen(
                [exe, "worker", "-c", str(self.args.concurrency), "--pool", self.args.pool, "--loglevel",
                 os.environ.get("BENCH_LOGLEVEL", "WARNING")], env=env or self.env, cwd=ROOT, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True))
        self.processes += started
        return started

    def stop(self, processes: list[subprocess.Popen]) -> None:
        for p in processes:
            try:
                os.killpg(p.pid, signal.SIGTERM)
                p.wait(timeout=20)
            except Exception:
                os.killpg(p.pid, signal.SIGKILL)
            if p in self.processes:
                self.processes.remove(p)

    def warm(self, celery, counter: str = "bench:warm") -> None:
        """Every worker process connected and has bootstrapped its container."""
        for i in range(20):
            celery.send_task("workers.tasks.noop", args=[i, counter])
        wait(lambda: int(self.container.redis.get(counter) or 0) >= 20, 60)

    def close(self) -> None:
        self.stop(list(self.processes))
        self.container.engine.dispose()
        with self.admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                         {"n": self.db})
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.db}"'))


def end_to_end(bench: Bench) -> None:
    """The original figures: a no-op task's rate, and orders placed -> submitted through the workers."""
    args, container, env, settings = bench.args, bench.container, bench.env, bench.settings
    bench.start_workers(args.workers)
    celery = make_celery(settings)
    bench.warm(celery)

    start = time.perf_counter()
    for i in range(args.noops):
        celery.send_task("workers.tasks.noop", args=[i, "bench:noop"])
    end = wait(lambda: int(container.redis.get("bench:noop") or 0) >= args.noops, 300)
    noop_rate = args.noops / (end - start)

    def submitted_count() -> int:
        with container.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(orm.orders)
                                .where(orm.orders.c.status == "submitted")).scalar_one()

    base = submitted_count()
    # 1. End to end: placed by 4 client processes (as a web tier would), until every one is submitted.
    start = time.perf_counter()
    with ProcessPoolExecutor(4, initializer=_client_init, initargs=(env,)) as pool:
        list(pool.map(_place, range(args.orders), chunksize=10))
    placing_seconds = time.perf_counter() - start
    end = wait(lambda: submitted_count() >= base + args.orders, 600)
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
    end = wait(lambda: submitted_count() >= base + 2 * args.orders, 600)
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
    bench.stop(list(bench.processes))


def _paced_client(job: tuple) -> int:
    """One client process placing orders at ``rate``/s from ``start`` (a wall-clock time) for ``seconds``."""
    env, first, step, rate, start, seconds = job
    _client_init(env)
    placed, i = 0, first
    while True:
        due = start + placed / rate
        if due - start >= seconds:
            return placed
        pause = due - time.time()
        if pause > 0:
            time.sleep(pause)
        _place(i)
        placed += 1
        i += step


def serve_store(bench: Bench, port: int, refuse: float, lose: float, tag: str) -> str:
    """The simulated store over HTTP (gunicorn, 2 processes x 8 threads), its books in the bench database."""
    env = dict(bench.env, RETAILER_SECRET=STORE_SECRET, SIM_FAIL_REFUSE=str(refuse), SIM_FAIL_LOSE=str(lose))
    log = open(bench.tmp / f"store-{tag}.log", "wb")  # noqa: SIM115  (the child process writes to it for its whole life)
    bench.processes.append(subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "2", "-k", "gthread", "--threads", "8", "-b", f"127.0.0.1:{port}",
         "replenish.adapters.simulated_store:wsgi_app()"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True))
    import requests
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return requests.get(url + "/orders/none", timeout=1).status_code == 401  # unsigned: refused
        except requests.RequestException:
            return False
    wait(up, 60)
    return url


STORE_SECRET = "bench-store-secret"


def flaky_retailer(bench: Bench) -> None:
    """Sustained placement against an HTTP store, healthy and then failing 10% of calls transiently (half refused
    before booking, half booked with the reply lost): placed -> submitted latency (p50, p99, max), the backlog 10 s
    after the load ends, and how long after it the last order was submitted; every order booked exactly once."""
    args = bench.args
    results = {}
    for tag, refuse, lose in (("healthy", 0.0, 0.0), ("flaky", 0.05, 0.05)):
        port = 19100 + os.getpid() % 500 + (0 if tag == "healthy" else 1)
        url = serve_store(bench, port, refuse, lose, tag)
        env = dict(bench.env, REPLENISH_FULFILLMENT="http", RETAILER_URL=url, RETAILER_SECRET=STORE_SECRET,
                   CELERY_QUEUE=f"{bench.env['CELERY_QUEUE']}-{tag}")
        workers = bench.start_workers(args.workers, env, tag=f"worker-{tag}")
        beat = subprocess.Popen([str(Path(sys.executable).parent / "replenish"), "beat", "--loglevel", "WARNING"],
                                env=env, cwd=ROOT, stdout=open(bench.tmp / f"beat-{tag}.log", "wb"),  # noqa: SIM115
                                stderr=subprocess.STDOUT, start_new_session=True)
        bench.processes.append(beat)
        bench.warm(make_celery(Settings.from_env(env)), counter=f"bench:warm-{tag}")
        since = bench.container.clock()
        clients = 2
        start = time.time() + 1.0
        with ProcessPoolExecutor(clients) as pool:
            jobs = [(env, 10 ** 6 * (1 if tag == "healthy" else 2) + n, clients, args.rate / clients, start,
                     args.seconds) for n in range(clients)]
            placed = sum(pool.map(_paced_client, jobs))
        load_end = time.time()
        o = orm.orders

        def pending(o=o, since=since) -> int:
            with bench.container.engine.connect() as conn:
                return conn.execute(select(func.count()).select_from(o).where(
                    o.c.created_at >= since, o.c.status == "pending")).scalar_one()
        time.sleep(max(0.0, load_end + 10 - time.time()))
        backlog_at_10s = pending()
        with contextlib.suppress(SystemExit):
            wait(lambda: pending() == 0, 600)
        with bench.container.engine.connect() as conn:
            rows = conn.execute(select(o.c.id, o.c.status, o.c.created_at, o.c.submitted_at, o.c.submit_attempts,
                                       o.c.retailer_order_id).where(o.c.created_at >= since)).all()
            # each order's booking: a household's orders sent at once share one (its payload names them)
            bookings = conn.execute(select(
                orm.sim_store_orders.c.idempotency_key, orm.sim_store_orders.c.retailer_order_id,
                orm.sim_store_orders.c.attempts, orm.sim_store_orders.c.payload)
                .where(orm.sim_store_orders.c.received_at >= since)).all()
        books = {order_id: (r.retailer_order_id, r.attempts) for r in bookings
                 for order_id in (r.payload or {}).get("order_ids") or [r.idempotency_key]}
        twice = sum(len((r.payload or {}).get("order_ids") or [r.idempotency_key]) for r in bookings) - len(books)
        lags = sorted((r.submitted_at - r.created_at).total_seconds() for r in rows if r.submitted_at)
        last = max((r.submitted_at for r in rows if r.submitted_at), default=None)
        wrong = sum(1 for r in rows if r.status == "submitted" and books.get(r.id, (None,))[0] != r.retailer_order_id)
        results[tag] = dict(
            placed=placed, rate=placed / args.seconds, p50=lags[len(lags) // 2] if lags else float("nan"),
            p99=lags[min(len(lags) - 1, int(len(lags) * 0.99))] if lags else float("nan"),
            max=lags[-1] if lags else float("nan"), backlog=backlog_at_10s,
            settle=(last.timestamp() - load_end) if last else float("nan"),
            statuses={s: sum(1 for r in rows if r.status == s) for s in {r.status for r in rows}},
            retried=sum(1 for r in rows if r.submit_attempts),
            resent=sum(1 for r in bookings if r.attempts > 1),
            booked=len(bookings), wrong=wrong, twice=twice)
        bench.stop(workers + [beat])
    print(f"{args.rate:.0f} orders/s placed for {args.seconds:.0f} s by 2 client processes; workers: {args.workers} "
          f"processes x {args.concurrency}; HTTP store: gunicorn 2 x 8 threads, batch endpoint")
    for tag, r in results.items():
        print(f"{tag:<8} placed {r['placed']} ({r['rate']:.1f}/s): placed -> submitted p50 {r['p50']:.2f} s, "
              f"p99 {r['p99']:.2f} s, max {r['max']:.2f} s; pending 10 s after the load: {r['backlog']}; last "
              f"submitted {r['settle']:+.1f} s after the load ended")
        print(f"{'':<8} {r['statuses']}; {r['retried']} orders tried more than once, {r['resent']} sent again after "
              f"the store had booked them; store bookings {r['booked']} for {r['placed']} orders (a household's "
              f"orders sent at once share one), {r['twice']} orders booked twice, {r['wrong']} orders recording "
              "another booking")
    print("target (flaky): p99 < 30 s and nothing pending 10 s after the load")


def cpu_by_process(roots: dict[str, list[int]], database: str) -> dict[str, float]:
    """CPU seconds used so far by this run's own processes: each group in ``roots`` (process ids and all their
    descendants), the PostgreSQL backends connected to ``database``, the Redis and RabbitMQ servers (shared with
    anything else using them) and this client (Linux /proc). Other work on the machine is left out."""
    tick = os.sysconf("SC_CLK_TCK")
    stats = {}
    for pid in (int(p) for p in os.listdir("/proc") if p.isdigit()):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        stats[pid] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick, cmd)
    group_of = {pid: name for name, pids in roots.items() for pid in pids}
    group_of[os.getpid()] = "client"

    def group(pid: int) -> str | None:
        seen = 0
        while pid in stats and seen < 64:
            if pid in group_of:
                return group_of[pid]
            pid, seen = stats[pid][0], seen + 1
        return None
    totals: dict[str, float] = {}
    for pid, (_, seconds, cmd) in stats.items():
        name = group(pid) or ("postgres" if cmd.startswith("postgres:") and f" {database} " in cmd else
                              "redis" if "redis-server" in cmd else "rabbitmq" if "beam.smp" in cmd else None)
        if name:
            totals[name] = totals.get(name, 0.0) + seconds
    return totals


def take_turns(phases: list[tuple[str, list]], threads: int, batch: int, roots: dict, database: str) -> dict:
    """Runs the phases' jobs on ``threads`` threads, taking turns ``batch`` jobs at a time (other work on a
    shared machine then weighs on each phase alike); prints and returns each phase's rate and CPU ms per job by
    process group (``cpu_by_process``)."""
    from concurrent.futures import ThreadPoolExecutor
    stats = {label: {"elapsed": 0.0, "bad": 0, "cpu": {}} for label, _ in phases}
    longest = max(len(jobs) for _, jobs in phases)
    with ThreadPoolExecutor(threads) as pool:
        for k in range(0, longest, batch):
            for label, jobs in phases:
                part = jobs[k:k + batch]
                if not part:
                    continue
                before = cpu_by_process(roots, database)
                start = time.perf_counter()
                codes = list(pool.map(lambda job: job(), part))
                stats[label]["elapsed"] += time.perf_counter() - start
                after = cpu_by_process(roots, database)
                stats[label]["bad"] += sum(c >= 400 for c in codes)
                for group, seconds in after.items():
                    cpu = stats[label]["cpu"]
                    cpu[group] = cpu.get(group, 0.0) + seconds - before.get(group, 0.0)
    out = {}
    for label, jobs in phases:
        phase = stats[label]
        rate = len(jobs) / phase["elapsed"]
        per_job = {g: v / len(jobs) * 1000 for g, v in phase["cpu"].items()}
        out[label] = {"rate": rate, "cpu": per_job}
        print(f"{label:<17} {len(jobs):>6} requests in {phase['elapsed']:6.2f} s = {rate:8.1f}/s  ({phase['bad']} "
              f"non-2xx); CPU ms/request: " + ", ".join(f"{g} {v:.2f}" for g, v in sorted(per_job.items())))
    return out


def http_placement(bench: Bench) -> None:
    """Orders placed over HTTP (POST /v1/orders with a household token, through gunicorn with the production
    config, 2 processes x 4 threads) beside the same app's no-op endpoint, taking turns in the same run, with the
    CPU each costs per request by process (bench/devices.py's client and phases)."""
    import requests
    args, container = bench.args, bench.container
    tokens = [container.bus.handle(commands.IssueToken(f"h{i}")) for i in range(20)]
    port = 18500 + os.getpid() % 500
    env = dict(bench.env, WEB_CONCURRENCY=str(args.web_workers), WEB_THREADS="4", BIND=f"127.0.0.1:{port}",
               REPLENISH_AUTH_FAILURE_LIMIT="1000000/second")
    log = open(bench.tmp / "gunicorn.log", "wb")  # noqa: SIM115  (the child process writes to it for its whole life)
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "infra/gunicorn.conf.py",
                               "bench.devices_wsgi:app"],
                              cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    bench.processes.append(server)
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return requests.get(base + "/healthz", timeout=1).status_code == 200
        except requests.RequestException:
            return False
    wait(up, 60)
    from bench.devices import call  # the devices bench's light keep-alive client

    def noop(i):
        return lambda: call(base, "light", "GET", "/_bench/noop")

    def order(i):
        body = json.dumps({"sku": f"SKU-{i % 50}", "quantity": 1}).encode()
        headers = {"Authorization": f"Bearer {tokens[i % 20]}", "Idempotency-Key": f"bench-{i}-{uuid.uuid4().hex}"}
        return lambda: call(base, "light", "POST", "/v1/orders", body, headers)

    roots = {"gunicorn": [server.pid]}
    take_turns([("warm-up", [noop(i) for i in range(200)] + [order(i) for i in range(200)])], args.threads, 400,
               roots, bench.db)
    n = args.http_requests
    measured = take_turns([("no-op", [noop(i) for i in range(n)]),
                           ("POST /v1/orders", [order(n + i) for i in range(n)])], args.threads, 250, roots, bench.db)
    noop_rate, order_rate = measured["no-op"]["rate"], measured["POST /v1/orders"]["rate"]
    cpu = measured["POST /v1/orders"]["cpu"]
    web, database = cpu.get("gunicorn", 0.0), cpu.get("postgres", 0.0)
    print(f"HTTP placement: {order_rate:.1f} orders/s = {order_rate / noop_rate:.0%} of the no-op's "
          f"{noop_rate:.1f}/s (target >= 25%); gunicorn {args.web_workers} processes x 4 threads "
          "(infra/gunicorn.conf.py), "
          f"{args.threads} client threads on the same machine")
    if web:
        print(f"per placement: web {web:.2f} ms CPU ({1000 / web:.0f} orders/s per web core), PostgreSQL "
              f"{database:.2f} ms ({database / (web + database):.0%} of web + database)")
    bench.stop([server])


def worker_scaling(bench: Bench) -> None:
    """Workers alone, 1 process and then 2 (each ``--scaling-concurrency`` wide), ``--rounds`` times in turn:
    orders committed while nothing was sent, handed over at once by the relay, until all are submitted; with the
    CPU they cost per order by process (what the database takes, what the workers take). The ratio is the
    median of the rounds' ratios, each measured side by side."""
    args = bench.args
    env = dict(bench.env, BROKER_URL=args.broker or bench.env["REDIS_URL"], OUTBOX_LINGER_MS="0")
    ratios, run = [], 0
    for round_ in range(args.rounds):
        rates = {}
        for processes in (1, 2):
            run += 1
            with ProcessPoolExecutor(4, initializer=_client_init, initargs=(env, True)) as pool:
                list(pool.map(_place, range(args.orders), chunksize=10))
            run_env = dict(env, CELERY_QUEUE=f"{env['CELERY_QUEUE']}-scale{run}")
            settings = Settings.from_env(run_env)
            celery = make_celery(settings)
            saved = bench.args.concurrency
            bench.args.concurrency = args.scaling_concurrency
            workers = bench.start_workers(processes, run_env, tag=f"scale-{run}")
            bench.args.concurrency = saved
            bench.warm(celery, counter=f"bench:warm-scale{run}")
            o = orm.orders

            def pending(o=o) -> int:
                with bench.container.engine.connect() as conn:
                    return conn.execute(select(func.count()).select_from(o)
                                        .where(o.c.status == "pending")).scalar_one()
            relay = bootstrap(settings, queue=CeleryQueue(celery))
            roots = {"worker": [w.pid for w in workers]}
            cpu = cpu_by_process(roots, bench.db)
            start = time.perf_counter()
            event_handlers.relay_outbox(relay.deps, grace=timedelta(0))
            end = wait(lambda: pending() == 0, 900)
            after = cpu_by_process(roots, bench.db)
            used = {k: v - cpu.get(k, 0.0) for k, v in after.items()}
            rates[processes] = args.orders / (end - start)
            relay.engine.dispose()
            per_order = {k: v / args.orders * 1000 for k, v in used.items() if v > 0.005}
            total = sum(per_order.values())
            print(f"round {round_ + 1}: {processes} worker process(es) x {args.scaling_concurrency}: "
                  f"{rates[processes]:7.1f} orders/s event -> submitted ({args.orders} orders, load average "
                  f"{os.getloadavg()[0]:.1f}); CPU ms/order: "
                  + ", ".join(f"{k} {v:.2f}" for k, v in sorted(per_order.items()))
                  + f" (database {per_order.get('postgres', 0) / total:.0%} of {total:.2f})")
            bench.stop(workers)
        ratios.append(rates[2] / rates[1])
    print(f"scaling 1 -> 2 worker processes: {statistics.median(ratios):.2f}x median of "
          f"{', '.join(f'{r:.2f}x' for r in ratios)} (target >= 1.8x); broker "
          f"{env['BROKER_URL'].split('@')[-1]}, PostgreSQL")


SCENARIOS = {"e2e": end_to_end, "cost": lambda bench: placement_cost(bench.container, bench.args.cost_orders),
             "flaky": flaky_retailer, "http": http_placement, "scaling": worker_scaling}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO",
                        help="what to measure (default e2e): " + ", ".join(SCENARIOS))
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--noops", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--pool", default="prefork", choices=["prefork", "threads", "solo"])
    parser.add_argument("--cost-orders", type=int, default=400, help="placements per form in the cost scenario")
    parser.add_argument("--rate", type=float, default=50, help="orders/s placed in the flaky scenario")
    parser.add_argument("--seconds", type=float, default=60, help="how long the flaky scenario places orders")
    parser.add_argument("--http-requests", type=int, default=2000, help="requests per phase in the http scenario")
    parser.add_argument("--threads", type=int, default=16, help="client threads in the http scenario")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn processes in the http scenario")
    parser.add_argument("--broker", default="", help="broker for the scaling scenario (default: the Redis)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of 1 and 2 worker processes (scaling)")
    parser.add_argument("--scaling-concurrency", type=int, default=1,
                        help="pool processes per worker process in the scaling scenario")
    args = parser.parse_args()
    unknown = [name for name in args.scenarios if name not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario {unknown[0]!r}; choose from {', '.join(SCENARIOS)}")
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} "
          f"{os.getloadavg()[2]:.2f} at the start (other work on the machine weighs on every figure)")
    bench = Bench(args)
    try:
        for name in args.scenarios or ["e2e"]:
            print(f"--- {name}")
            SCENARIOS[name](bench)
    finally:
        bench.close()

if __name__ == "__main__":
    main()
