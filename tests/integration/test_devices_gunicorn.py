"""Buttons and partner devices against real PostgreSQL and Redis, with the app under gunicorn (3 workers).

Skips when Postgres or Redis is unreachable; fails instead under CI=true (see ``services.require``)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import create_engine, text

from replenish.adapters.http_retailer import sign

from .services import (PG_ADMIN_DB, PG_HOST, PG_PORT, PG_USER, REDIS_HOST, REDIS_PORT, ROOT, free_port, require,
                       wait_for)

pytestmark = pytest.mark.integration
REDIS_DB = 11


@pytest.fixture(scope="module")
def database():
    require("PostgreSQL", PG_HOST, PG_PORT)
    from replenish.db import migrate
    name = f"rpl_dev_{uuid.uuid4().hex[:10]}"
    admin = create_engine(f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{PG_ADMIN_DB}",
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    try:
        migrate(url)  # the Alembic migrations, 0002 included, on a real Postgres
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                         {"n": name})
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture(scope="module")
def server(database, tmp_path_factory):
    require("Redis", REDIS_HOST, REDIS_PORT)
    import redis
    redis_url = f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}"
    redis.Redis.from_url(redis_url).flushdb()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "BROKER_URL")}
    env.update(DATABASE_URL=database, REDIS_URL=redis_url, REPLENISH_EMBEDDED_WORKER="0", BROKER_URL="memory://",
               REPLENISH_VAR_DIR=str(tmp_path_factory.mktemp("var")), PYTHONUNBUFFERED="1")
    port = free_port()
    log = open(tmp_path_factory.mktemp("log") / "gunicorn.log", "wb")
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", "3", "-b", f"127.0.0.1:{port}",
                                "--timeout", "60", "replenish.web.wsgi:app"], env=env, cwd=ROOT, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"

    def up():
        try:
            return requests.get(base + "/healthz", timeout=1).status_code == 200
        except requests.RequestException:
            return False
    try:
        wait_for(up, 60, what="gunicorn to answer /healthz")
        yield {"base": base, "env": env}
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
        redis.Redis.from_url(redis_url).flushdb()


@pytest.fixture(scope="module")
def world(server):
    """A household with a button, a partner with a registered washer; made through the bus in this process."""
    from replenish.bootstrap import bootstrap
    from replenish.config import Settings
    from replenish.domain import commands, device_commands as dc
    from tests.conftest import PRODUCTS
    from workers.queue import RecordingQueue
    container = bootstrap(Settings.from_env(server["env"]), queue=RecordingQueue())
    with container.uow() as uow:
        uow.products.upsert_many(PRODUCTS)
        uow.session.commit()
    container.bus.handle(commands.CreateHousehold("hi1", "Integration", "1 Test St"))
    container.bus.handle(commands.UpdateLimits("hi1", clear_per_month_cap=True))
    partner = container.bus.handle(dc.CreatePartner("Acme", ""))
    yield {"container": container, "partner": partner}
    container.engine.dispose()


def new_button(world) -> dict:
    from replenish.domain import device_commands as dc
    return world["container"].bus.handle(dc.RegisterButton("hi1", "TIDE-PODS-42"))


def new_device(world, external_id: str) -> dict:
    from replenish.domain import device_commands as dc
    bus = world["container"].bus
    code = bus.handle(dc.CreateLinkCode("hi1"))["code"]
    return bus.handle(dc.RegisterDevice(world["partner"]["partner_id"], code, external_id, "washer", (
        dc.SlotSpec("detergent", ("TIDE-PODS-42",), 84, "count", 20, 84),)))


def orders_for_source(world, source_id: str) -> int:
    with world["container"].engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM orders WHERE source_id = :s"), {"s": source_id}).scalar_one()


def report(path: str, partner: dict, body: bytes, prefer: str, t: int | None = None):
    """A slot status report, signed by the partner (at unix time ``t``, default now), with a ``Prefer``."""
    signature = sign(partner["webhook_secret"], body, int(time.time()) if t is None else t)
    return requests.post(path, data=body, timeout=30, headers={
        "Authorization": f"Bearer {partner['api_key']}", "Prefer": prefer, "X-Replenish-Signature": signature})


def press(base, button, body: bytes, header: str | None = None):
    signature = header or sign(button["secret"], body, int(time.time()))
    return requests.post(f"{base}/v1/buttons/{button['serial']}/press", data=body,
                         headers={"X-Replenish-Signature": signature, "Content-Type": "application/json"},
                         timeout=30)


def test_hundred_concurrent_presses_of_one_button_make_exactly_one_order(server, world):
    button = new_button(world)
    bodies = [json.dumps({"click_type": "SINGLE", "nonce": f"n{i}"}).encode() for i in range(100)]
    with ThreadPoolExecutor(max_workers=24) as pool:
        responses = list(pool.map(lambda b: press(server["base"], button, b), bodies))
    codes = [r.status_code for r in responses]
    assert codes == [200] * 100, [r.text for r in responses if r.status_code != 200][:3]
    statuses = [r.json()["status"] for r in responses]
    assert statuses.count("order_placed") == 1 and statuses.count("order_in_progress") == 99
    assert len({r.json()["order_id"] for r in responses}) == 1
    assert orders_for_source(world, f"button:{button['serial']}") == 1
    # Presses answered from the order mirrored in Redis noted their time there; the flush writes it to the button.
    before = time.time()
    again = press(server["base"], button, json.dumps({"click_type": "SINGLE", "nonce": "after"}).encode())
    assert again.json() == {"status": "order_in_progress", "order_id": responses[0].json()["order_id"]}
    from replenish.services.device_handlers import flush_button_presses
    assert flush_button_presses(world["container"].deps) == 1
    with world["container"].engine.connect() as conn:
        last = conn.execute(text("SELECT last_press_at FROM buttons WHERE serial = :s"),
                            {"s": button["serial"]}).scalar_one()
    assert last.timestamp() >= before - 1


def test_the_same_slot_report_delivered_fifty_times_at_once_makes_one_order(server, world):
    device = new_device(world, "WM-50")
    partner = world["partner"]
    path = f"{server['base']}/v1/partner/devices/{device['device_id']}/slots/detergent/status"
    body = json.dumps({"remainingQuantityInUnit": 6, "originalQuantityInUnit": 84,
                       "lastUseDate": "2026-03-10T12:00:00+00:00"}).encode()
    now = int(time.time())
    # 50 deliveries of one report, each a valid signature of its own (retries made over the last minute).
    with ThreadPoolExecutor(max_workers=25) as pool:
        responses = list(pool.map(lambda i: report(path, partner, body, "return=representation", now - i),
                                  range(50)))
    assert [r.status_code for r in responses] == [200] * 50, [r.text for r in responses if r.status_code != 200][:3]
    orders = [r.json()["order"] for r in responses]
    assert sum(o["status"] == "order_placed" for o in orders) == 1
    assert len({o["order_id"] for o in orders}) == 1
    assert orders_for_source(world, f"slot:{device['device_id']}:detergent") == 1
    # The identical signed request itself, delivered again, is a replay.
    again = report(path, partner, body, "return=representation", now)
    assert again.status_code == 401


def test_tampered_stale_and_replayed_signatures_are_401_and_store_nothing(server, world):
    base = server["base"]
    button = new_button(world)
    body = json.dumps({"click_type": "SINGLE", "nonce": "x"}).encode()
    good = sign(button["secret"], body, int(time.time()))
    assert press(base, button, body.replace(b'"x"', b'"y"'), good).status_code == 401  # tampered body
    assert press(base, button, body, sign("btn_wrong", body, int(time.time()))).status_code == 401
    assert press(base, button, body, sign(button["secret"], body, int(time.time()) - 301)).status_code == 401
    assert orders_for_source(world, f"button:{button['serial']}") == 0
    with world["container"].engine.connect() as conn:
        assert conn.execute(text("SELECT last_press_at FROM buttons WHERE serial = :s"),
                            {"s": button["serial"]}).scalar_one() is None
    assert press(base, button, body, good).status_code == 200
    replays = [press(base, button, body, good).status_code for _ in range(3)]
    assert replays == [401, 401, 401]
    assert orders_for_source(world, f"button:{button['serial']}") == 1

    device = new_device(world, "WM-SIG")
    partner = world["partner"]
    path = f"{base}/v1/partner/devices/{device['device_id']}/slots/detergent/status"
    report = json.dumps({"remainingQuantityInUnit": 3}).encode()
    auth = {"Authorization": f"Bearer {partner['api_key']}"}
    for header in (sign(partner["webhook_secret"], report.replace(b"3", b"4"), int(time.time())),
                   sign(partner["webhook_secret"], report, int(time.time()) - 400), "t=1,v1=deadbeef"):
        assert requests.post(path, data=report, headers={**auth, "X-Replenish-Signature": header},
                             timeout=30).status_code == 401
    with world["container"].engine.connect() as conn:
        assert conn.execute(text("SELECT remaining FROM device_slots WHERE device_id = :d"),
                            {"d": device["device_id"]}).scalar_one() is None
    assert orders_for_source(world, f"slot:{device['device_id']}:detergent") == 0


def test_concurrent_reports_of_one_slot_are_all_applied(server, world):
    """Reports are applied to the slot's latest state without holding a lock (a report whose slot changed
    after it was read is tried again): twenty readings delivered at once all end up in the slot's history."""
    device = new_device(world, "WM-RACE")
    partner = world["partner"]
    path = f"{server['base']}/v1/partner/devices/{device['device_id']}/slots/detergent/status"
    bodies = [json.dumps({"remainingQuantityInUnit": 50, "lastUseDate": f"2026-03-10T10:{m:02d}:00+00:00"}).encode()
              for m in range(20)]
    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(lambda body: report(path, partner, body, "return=representation"), bodies))
    assert [r.status_code for r in responses] == [200] * 20, [r.text for r in responses if r.status_code != 200][:3]
    assert sum(r.json()["fresh"] for r in responses) == 20
    with world["container"].engine.connect() as conn:
        history = conn.execute(text("SELECT history FROM device_slots WHERE device_id = :d"),
                               {"d": device["device_id"]}).scalar_one()
    assert sorted(at for at, _ in history) == [f"2026-03-10T10:{m:02d}:00+00:00" for m in range(20)]


def test_async_reports_are_accepted_then_applied_by_concurrent_workers_into_one_order(server, world):
    """``Prefer: respond-async``: gunicorn answers 202 and queues each report in Redis; two appliers (as two
    worker processes would) read disjoint parts of the stream, and the slot's readings are all applied, with
    one order for the slot."""
    from replenish.services.device_handlers import apply_slot_reports
    device = new_device(world, "WM-ASYNC")
    partner = world["partner"]
    path = f"{server['base']}/v1/partner/devices/{device['device_id']}/slots/detergent/status"
    bodies = [json.dumps({"remainingQuantityInUnit": 60 - m, "lastUseDate": f"2026-03-10T11:{m:02d}:00+00:00"}
                         ).encode() for m in range(50)]  # falls below the threshold (20) at the 41st
    with ThreadPoolExecutor(max_workers=25) as pool:
        responses = list(pool.map(lambda body: report(path, partner, body, "respond-async"), bodies))
    assert [r.status_code for r in responses] == [202] * 50, [r.text for r in responses if r.status_code != 202][:3]
    assert all(r.headers["Preference-Applied"] == "respond-async" for r in responses)
    container = world["container"]
    assert orders_for_source(world, f"slot:{device['device_id']}:detergent") == 0  # accepted, not yet applied
    with ThreadPoolExecutor(max_workers=2) as pool:
        applied = list(pool.map(lambda name: apply_slot_reports(container.deps, container.slot_inbox, name,
                                                                batch=10), ["applier-1", "applier-2"]))
    assert sum(applied) == 50 and container.slot_inbox.waiting() == 0
    assert orders_for_source(world, f"slot:{device['device_id']}:detergent") == 1
    with container.engine.connect() as conn:
        history, remaining = conn.execute(text("SELECT history, remaining FROM device_slots WHERE device_id = :d"),
                                          {"d": device["device_id"]}).one()
    # whatever order the two appliers took them in: the newest reading is the level, the last 20 the trend
    assert remaining == 11 and [level for _, level in history] == [float(level) for level in range(30, 10, -1)]
