"""`make chaos`: the real-service deployment under order load while things break, then a soak against a flaky
retailer. Not part of `make test` (it takes minutes and starts its own servers).

What runs: a private PostgreSQL cluster (initdb/pg_ctl in a temporary directory, on a free port), a private
redis-server (free port, append-only file), an HTTP retailer in this process that speaks the retailer protocol
of ``replenish.adapters.http_retailer`` (deduplicating by Idempotency-Key as the protocol requires), and the
deployment itself through ``scripts/services.py`` (gunicorn web, workers, beat under honcho). Clients place
orders over HTTP at a steady rate; an order a client could not get acknowledged is retried with the same
Idempotency-Key, as a real client would.

Faults, in order, each under load:
  1. a worker process is SIGKILLed (its supervisor starts a new one);
  2. Redis restarts (stopped, down a few seconds, started on its append-only file);
  3. the retailer refuses connections for a while;
  4. PostgreSQL restarts (immediate shutdown: crash recovery on start);
  5. soak: the retailer fails 10% of submissions (5% refused before booking, 5% booked with the reply lost).

Then it waits for the work to settle and prints orders acknowledged, lost (acknowledged, not in the database),
duplicated (two orders for one client key, or two retailer bookings for one order), stuck (acknowledged, never
submitted), 5xx answers and the submission lag. Exit status 1 if any order is lost, duplicated or stuck.

    python scripts/chaos.py [--rate 15] [--soak 180] [--workers 2] [--phase 15] [--outage 20]
"""
from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
SECRET = "chaos-retailer-secret-" + uuid.uuid4().hex


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def say(message: str) -> None:
    print(f"[chaos {time.strftime('%H:%M:%S')}] {message}", flush=True)


def wait_for(predicate, timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except Exception:
            pass
        time.sleep(interval)
    return False


# -- private servers ---------------------------------------------------------------------------------------

class PrivatePostgres:
    """A throwaway cluster. initdb refuses to run as root, so as root it runs as the ``postgres`` user."""

    def __init__(self, base: Path):
        self.dir = base / "pgdata"
        self.port = free_port()
        self.log = base / "postgres.log"
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([*self.as_user, *args], check=check, capture_output=True, text=True, timeout=120)

    def init(self) -> None:
        self.dir.parent.mkdir(parents=True, exist_ok=True)
        if self.as_user:
            shutil.chown(self.dir.parent, user="postgres")
            self.log.touch()
            shutil.chown(self.log, user="postgres")
        self._run(str(PG_BIN / "initdb"), "-D", str(self.dir), "-A", "trust", "-U", "postgres", "--no-sync")
        self.start()

    def start(self) -> None:
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.dir), "-l", str(self.log), "-w", "-t", "60",
                  "-o", f"-p {self.port} -k {self.dir.parent} -c listen_addresses=127.0.0.1 -c max_connections=200",
                  "start")

    def crash_restart(self, down: float) -> None:
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.dir), "-m", "immediate", "-w", "stop")
        time.sleep(down)
        self.start()

    def stop(self) -> None:
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.dir), "-m", "fast", "-w", "stop", check=False)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/replenish"


class PrivateRedis:
    def __init__(self, base: Path):
        self.dir = base / "redis"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server") or "redis-server"
        self.process = subprocess.Popen([binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir",
                                         str(self.dir),
                                         "--appendonly", "yes", "--appendfsync", "everysec", "--save", ""],
                                        stdout=open(self.dir / "redis.log", "ab"), stderr=subprocess.STDOUT,  # noqa: SIM115
                                        start_new_session=True)
        import redis
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        if not wait_for(lambda: client.ping(), 20):
            raise RuntimeError("private redis-server did not start")

    def restart(self, down: float) -> None:
        self.stop()
        time.sleep(down)
        self.start()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()  # a clean shutdown: the append-only file is complete
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


# -- the retailer --------------------------------------------------------------------------------------------

class Retailer:
    """The retailer protocol over HTTP: POST /orders (deduplicated by Idempotency-Key), GET /orders/<id>,
    POST /orders/<id>/cancel. ``mode``: "ok", "down" (the port refuses connections) or "flaky"."""

    def __init__(self, port: int, failure_rate: float = 0.10):
        self.port = port
        self.failure_rate = failure_rate
        self.mode = "ok"
        self.lock = threading.Lock()
        self.by_key: dict[str, str] = {}
        self.bookings: dict[str, int] = {}  # key -> bookings made for it (the protocol promises 1)
        self.ids = itertools.count(1)
        self.refused_before = self.lost_replies = 0
        self.random = random.Random(17)
        self.server = None
        self.thread = None

    def app(self, environ, start_response):
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""

        def answer(status: str, data: dict):
            raw = json.dumps(data).encode()
            start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(raw)))])
            return [raw]

        if method == "POST" and path == "/orders":
            key = environ.get("HTTP_IDEMPOTENCY_KEY") or ""
            try:
                payload = json.loads(body)
            except ValueError:
                return answer("400 Bad Request", {"error": {"code": "bad_request", "message": "bad JSON"}})
            if not key or key != payload.get("idempotency_key"):
                return answer("400 Bad Request", {"error": {"code": "bad_request", "message": "no key"}})
            roll = self.random.random() if self.mode == "flaky" else 1.0
            if roll < self.failure_rate / 2:
                with self.lock:
                    self.refused_before += 1
                return answer("503 Service Unavailable", {"error": {"code": "unavailable", "message": "later"}})
            with self.lock:
                created = key not in self.by_key
                if created:
                    self.by_key[key] = f"R{next(self.ids)}"
                    self.bookings[key] = self.bookings.get(key, 0) + 1
                rid = self.by_key[key]
            if roll < self.failure_rate:  # booked, but the reply is lost
                with self.lock:
                    self.lost_replies += 1
                return answer("503 Service Unavailable", {"error": {"code": "unavailable", "message": "later"}})
            return answer("201 Created" if created else "200 OK", {"retailer_order_id": rid, "status": "submitted"})
        if method == "GET" and path.startswith("/orders/"):
            return answer("200 OK", {"status": "submitted"})
        if method == "POST" and path.endswith("/cancel"):
            return answer("200 OK", {"cancelled": True})
        return answer("404 Not Found", {"error": {"code": "not_found", "message": "no such thing"}})

    def start(self) -> None:
        from werkzeug.serving import WSGIRequestHandler, make_server

        class Quiet(WSGIRequestHandler):
            def log_request(self, *args, **kwargs):
                pass
        self.server = make_server("127.0.0.1", self.port, self.app, threaded=True, request_handler=Quiet)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True, name="retailer")
        self.thread.start()

    def go_down(self) -> None:
        self.mode = "down"
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)

    def come_back(self, mode: str = "ok") -> None:
        self.mode = mode
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


# -- load ----------------------------------------------------------------------------------------------------

class Load:
    """Places orders at ``rate`` per second over HTTP; each is retried with its own Idempotency-Key until it is
    acknowledged (201/200) or ``give_up`` seconds pass."""

    def __init__(self, base: str, tokens: dict[str, str], skus: list[str], rate: float, give_up: float = 180.0):
        self.base, self.tokens, self.skus, self.rate, self.give_up = base, tokens, skus, rate, give_up
        self.lock = threading.Lock()
        self.acked: dict[str, dict] = {}  # client key -> {"order_id", "household", "attempts", "at"}
        self.unacked: list[str] = []
        self.statuses: dict[int, int] = {}
        self.phase = "steady"
        self.fivexx_by_phase: dict[str, int] = {}
        self.connection_errors = 0
        self.sent = 0
        self._stop = threading.Event()
        self._local = threading.local()
        self.pool = ThreadPoolExecutor(max_workers=48, thread_name_prefix="client")
        self.thread = threading.Thread(target=self._run, daemon=True, name="load")

    def _session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        return self._local.session

    def _place(self, n: int) -> None:
        households = list(self.tokens)
        household = households[n % len(households)]
        key = f"chaos-{uuid.uuid4().hex}"
        body = {"sku": self.skus[n % len(self.skus)], "quantity": 1 + n % 3}
        headers = {"Authorization": f"Bearer {self.tokens[household]}", "Idempotency-Key": key}
        deadline, attempts = time.monotonic() + self.give_up, 0
        while time.monotonic() < deadline:
            attempts += 1
            try:
                response = self._session().post(f"{self.base}/v1/orders", json=body, headers=headers, timeout=10)
            except requests.RequestException:
                with self.lock:
                    self.connection_errors += 1
                time.sleep(0.5)
                continue
            with self.lock:
                self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
                if response.status_code >= 500:
                    self.fivexx_by_phase[self.phase] = self.fivexx_by_phase.get(self.phase, 0) + 1
            if response.status_code in (200, 201):
                with self.lock:
                    self.acked[key] = {"order_id": response.json()["order_id"], "household": household,
                                       "attempts": attempts, "at": time.time()}
                return
            if response.status_code < 500 and response.status_code != 429:
                with self.lock:
                    self.unacked.append(f"{key}: HTTP {response.status_code} {response.text[:200]}")
                return
            time.sleep(0.5)
        with self.lock:
            self.unacked.append(f"{key}: no answer in {self.give_up:.0f}s")

    def _run(self) -> None:
        start, n = time.monotonic(), 0
        while not self._stop.is_set():
            due = start + n / self.rate
            delay = due - time.monotonic()
            if delay > 0:
                self._stop.wait(delay)
                continue
            self.pool.submit(self._place, n)
            n += 1
            self.sent = n

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.thread.join()
        self.pool.shutdown(wait=True)


# -- the deployment ------------------------------------------------------------------------------------------

def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def kill_a_worker(supervisor: int) -> str:
    """SIGKILLs one Celery worker (the `python -m workers.run` process under `replenish worker`) and its pool."""
    workers = [pid for pid in descendants(supervisor) if "workers.run" in cmdline(pid)]
    if not workers:
        return "no worker process found"
    victim = workers[0]
    pool = descendants(victim)
    for pid in [victim, *pool]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return f"SIGKILLed worker pid {victim} and its {len(pool)} pool process(es)"


def seed(env: dict, households: int, skus: int) -> tuple[dict[str, str], list[str]]:
    from catalog.model import Product
    from replenish.bootstrap import bootstrap
    from replenish.config import Settings
    from replenish.domain import commands
    from tests.doubles import RecordingQueue
    container = bootstrap(Settings.from_env(env), queue=RecordingQueue())
    products = [Product(f"CHAOS-{i}", f"Chaos item {i}", "Brand", "household/things", 1, "count", 150 + i)
                for i in range(skus)]
    with container.uow() as uow:
        uow.products.upsert_many(products)
        uow.session.commit()
    tokens = {}
    for n in range(households):
        household = f"chaos-{n}"
        container.bus.handle(commands.CreateHousehold(household, f"Chaos household {n}", "1 Main St", "UTC"))
        container.bus.handle(commands.UpdateLimits(household, cancel_windows={c: 0 for c in
                                                                              ("voice", "button", "appliance", "web")},
                                                   clear_per_order_cap=True, clear_per_month_cap=True))
        tokens[household] = container.bus.handle(commands.IssueToken(household))
    container.engine.dispose()
    return tokens, [p.sku for p in products]


def order_rows(database_url: str, order_ids: list[str]) -> dict[str, dict]:
    from sqlalchemy import create_engine, select

    from replenish.adapters import orm
    from replenish.config import Settings
    url = Settings.from_env({"DATABASE_URL": database_url}).database_url
    engine = create_engine(url)
    rows = {}
    o = orm.orders
    with engine.connect() as conn:
        for row in conn.execute(select(o.c.id, o.c.household_id, o.c.idempotency_key, o.c.status, o.c.created_at,
                                       o.c.submitted_at, o.c.retailer_order_id)):
            rows[row.id] = row._asdict()
    engine.dispose()
    return rows


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make chaos", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=15.0, help="orders placed per second (default 15)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--phase", type=float, default=15.0, help="seconds of load around each fault (default 15)")
    parser.add_argument("--outage", type=float, default=20.0, help="seconds the retailer refuses (default 20)")
    parser.add_argument("--soak", type=float, default=180.0, help="seconds of soak, flaky retailer (default 180)")
    parser.add_argument("--settle", type=float, default=300.0, help="seconds to wait for the work to settle")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs) afterwards")
    args = parser.parse_args(argv)

    base_dir = Path(tempfile.mkdtemp(prefix="replenish-chaos-"))
    os.chmod(base_dir, 0o755)
    say(f"working in {base_dir}")
    pg, rd = PrivatePostgres(base_dir / "pg"), PrivateRedis(base_dir)
    retailer = Retailer(free_port())
    supervisor: subprocess.Popen | None = None
    load: Load | None = None
    failed = True
    try:
        pg.init()
        rd.start()
        retailer.start()
        say(f"private PostgreSQL on :{pg.port}, Redis on :{rd.port}, retailer on :{retailer.port}")
        web_port = free_port()
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "BROKER_URL",
                                                               "PROMETHEUS_MULTIPROC_DIR")}
        env.update({"DATABASE_URL": pg.url, "REDIS_URL": rd.url, "PORT": str(web_port),
                    "REPLENISH_VAR_DIR": str(base_dir / "var"), "CELERY_QUEUE": "chaos",
                    "REPLENISH_FULFILLMENT": "http", "RETAILER_URL": retailer.url, "RETAILER_SECRET": SECRET,
                    "WEB_CONCURRENCY": env.get("WEB_CONCURRENCY", "2"), "TRACK_INTERVAL": "3600",
                    "SWEEP_INTERVAL": "2", "RELAY_INTERVAL": "2", "RELAY_GRACE": "5", "SUBMIT_GRACE": "5",
                    "LOG_LEVEL": "WARNING", "PYTHONPATH": os.pathsep.join(
                        p for p in [str(ROOT), str(ROOT / "partner-sdk" / "src"), env.get("PYTHONPATH", "")] if p)})
        services_log = base_dir / "services.log"
        supervisor = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "services.py"), "--workers",
                                       str(args.workers)], cwd=ROOT, env=env, stdout=open(services_log, "ab"),  # noqa: SIM115
                                      stderr=subprocess.STDOUT, start_new_session=True)
        base = f"http://127.0.0.1:{web_port}"
        if not wait_for(lambda: requests.get(f"{base}/readyz", timeout=2).status_code == 200, 120, 0.5):
            raise RuntimeError(f"the deployment did not become ready; see {services_log}")
        tokens, skus = seed(env, households=40, skus=60)
        say(f"deployment ready at {base} ({args.workers} workers); placing {args.rate:g} orders/s")

        load = Load(base, tokens, skus, args.rate)
        load.start()
        time.sleep(args.phase)
        load.phase = "worker killed"
        say("fault 1: " + kill_a_worker(supervisor.pid))
        time.sleep(args.phase)
        load.phase = "redis restart"
        say("fault 2: Redis restarts (down 3 s)")
        rd.restart(3.0)
        time.sleep(args.phase)
        say(f"fault 3: the retailer refuses connections for {args.outage:g} s")
        load.phase = "retailer refusing"
        retailer.go_down()
        time.sleep(args.outage)
        retailer.come_back("ok")
        load.phase = "after retailer outage"
        say("retailer back")
        time.sleep(args.phase)
        load.phase = "postgres restart"
        say("fault 4: PostgreSQL restarts (immediate shutdown, down 3 s, crash recovery)")
        pg.crash_restart(3.0)
        time.sleep(args.phase)
        say(f"soak: {args.soak:g} s against a retailer failing {retailer.failure_rate:.0%} of submissions")
        retailer.mode = "flaky"
        load.phase = "soak"
        time.sleep(args.soak)
        load.stop()
        load_end = time.time()
        say(f"load stopped: {load.sent} orders started, {len(load.acked)} acknowledged; settling")

        order_ids = [a["order_id"] for a in load.acked.values()]

        def settled():
            rows = order_rows(pg.url, order_ids)
            return all(rows.get(i, {}).get("status") not in (None, "pending") for i in order_ids)
        wait_for(settled, args.settle, 2.0)
        settle_time = time.time() - load_end
        retailer.mode = "ok"

        rows = order_rows(pg.url, order_ids)
        by_key: dict[tuple, list[str]] = {}
        for row in rows.values():
            by_key.setdefault((row["household_id"], row["idempotency_key"]), []).append(row["id"])
        acked_ids = set(order_ids)
        lost = sorted(i for i in acked_ids if i not in rows)
        stuck = sorted(i for i in acked_ids if i in rows and rows[i]["status"] == "pending")
        failed_orders = sorted(i for i in acked_ids if i in rows and rows[i]["status"] == "failed")
        dup_db = sum(len(ids) - 1 for ids in by_key.values() if len(ids) > 1)
        dup_acks = len(order_ids) - len(acked_ids)  # two client keys answered with one order
        dup_retailer = sum(n - 1 for n in retailer.bookings.values() if n > 1)
        unknown_bookings = sorted(k for k in retailer.by_key if k not in rows)
        mismatched = sorted(i for i in acked_ids if i in rows and rows[i]["retailer_order_id"]
                            and retailer.by_key.get(i) != rows[i]["retailer_order_id"])
        not_booked = sorted(i for i in acked_ids if i in rows and rows[i]["status"] not in ("pending", "failed",
                                                                                          "cancelled")
                            and i not in retailer.by_key)
        lags = [(r["submitted_at"] - r["created_at"]).total_seconds() for i, r in rows.items()
                if i in acked_ids and r["submitted_at"] is not None]
        last_submitted = max((r["submitted_at"].timestamp() for r in rows.values() if r["submitted_at"]), default=None)
        fivexx = sum(n for code, n in load.statuses.items() if code >= 500)
        duplicated = dup_db + dup_acks + dup_retailer + len(mismatched)

        print()
        print("== make chaos: results ==")
        print(f"orders started by clients     {load.sent}")
        print(f"orders acknowledged           {len(load.acked)}")
        print(f"  given up by clients          {len(load.unacked)}")
        print(f"orders lost                   {len(lost)}")
        print(f"orders duplicated             {duplicated}  (database {dup_db}, answers {dup_acks}, "
              f"retailer bookings {dup_retailer}, mismatched ids {len(mismatched)})")
        print(f"orders stuck (not submitted)  {len(stuck)}")
        print(f"orders failed (refused)       {len(failed_orders)}")
        print(f"retailer bookings unknown     {len(unknown_bookings)};  submitted but not booked {len(not_booked)}")
        print(f"HTTP answers                  {dict(sorted(load.statuses.items()))}")
        print(f"5xx answers                   {fivexx} (by phase: {load.fivexx_by_phase});  "
              f"connection errors {load.connection_errors}")
        print(f"retailer faults injected      {retailer.refused_before} refused before booking, "
              f"{retailer.lost_replies} booked with the reply lost")
        if lags:
            print(f"submission lag (placed->submitted)  p50 {percentile(lags, 50):.2f} s, p99 "
                  f"{percentile(lags, 99):.2f} s, max {max(lags):.2f} s, mean {statistics.mean(lags):.2f} s")
        if last_submitted:
            print(f"last submission               {last_submitted - load_end:+.1f} s after the load ended "
                  f"(settled check took {settle_time:.1f} s)")
        for line in load.unacked[:5]:
            print(f"  not acknowledged: {line}")
        for label, ids in (("lost", lost), ("stuck", stuck), ("mismatched", mismatched)):
            if ids:
                print(f"  {label}: {ids[:10]}")
        failed = bool(lost or stuck or duplicated)
        print("RESULT: " + ("FAIL (an order was lost, duplicated or stuck)" if failed else
                            "PASS (every acknowledged order submitted exactly once)"))
        return 1 if failed else 0
    finally:
        if load is not None and not load._stop.is_set():
            load.stop()
        if supervisor is not None and supervisor.poll() is None:
            supervisor.send_signal(signal.SIGINT)
            try:
                supervisor.wait(40)
            except subprocess.TimeoutExpired:
                os.killpg(supervisor.pid, signal.SIGKILL)
        rd.stop()
        pg.stop()
        if args.keep or failed:
            say(f"logs kept in {base_dir}")
        else:
            shutil.rmtree(base_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
