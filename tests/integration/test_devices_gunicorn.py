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

from replenish_partner import signature_headers

from .services import (
    PG_ADMIN_DB,
    PG_HOST,
    PG_PORT,
    PG_USER,
    REDIS_HOST,
    REDIS_PORT,
    REDIS_TEST_DB,
    ROOT,
    free_port,
    require,
    wait_until_serving,
)

pytestmark = pytest.mark.integration
REDIS_DB = (REDIS_TEST_DB + 2) % 16  # 11 by default


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


def start_gunicorn(database, tmp_path_factory, redis_url: str, workers: int = 3):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "BROKER_URL")}
    env.update(DATABASE_URL=database, REDIS_URL=redis_url, REPLENISH_EMBEDDED_WORKER="0", BROKER_URL="memory://",
               REPLENISH_VAR_DIR=str(tmp_path_factory.mktemp("var")), PYTHONUNBUFFERED="1",
               REPLENISH_AUTH_FAILURE_LIMIT="1000/minute")  # these tests send many refused signatures on purpose
    port = free_port()
    log = open(tmp_path_factory.mktemp("log") / "gunicorn.log", "wb")  # noqa: SIM115  (the child process writes to it for its whole life)
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}",
                                "--timeout", "60", "replenish.web.wsgi:app"], env=env, cwd=ROOT, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"

    def stop():
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
    try:
        wait_until_serving(base)
    except BaseException:
        stop()
        raise
    return {"base": base, "env": env}, stop


@pytest.fixture(scope="module")
def server(database, tmp_path_factory):
    require("Redis", REDIS_HOST, REDIS_PORT)
    import redis
    redis_url = f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}"
    redis.Redis.from_url(redis_url).flushdb()
    running, stop = start_gunicorn(database, tmp_path_factory, redis_url)
    try:
        yield running
    finally:
        stop()
        redis.Redis.from_url(redis_url).flushdb()


@pytest.fixture(scope="module")
def world(server):
    """A household with a button, a partner with a registered washer; made through the bus in this process."""
    from replenish.bootstrap import bootstrap
    from replenish.config import Settings
    from replenish.devices.domain import commands as dc
    from replenish.domain import commands
    from tests.conftest import PRODUCTS
    from tests.doubles import RecordingQueue
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
    from replenish.devices.domain import commands as dc
    return world["container"].bus.handle(dc.RegisterButton("hi1", "TIDE-PODS-42"))


def new_device(world, external_id: str) -> dict:
    from replenish.devices.domain import commands as dc
    bus = world["container"].bus
    code = bus.handle(dc.CreateLinkCode("hi1"))["code"]
    return bus.handle(dc.RegisterDevice(world["partner"]["partner_id"], code, external_id, "washer", (
        dc.SlotSpec("detergent", ("TIDE-PODS-42",), 84, "count", 20, 84),)))


def orders_for_source(world, source_id: str) -> int:
    with world["container"].engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM orders WHERE source_id = :s"), {"s": source_id}).scalar_one()


def signed(method: str, url: str, body: bytes, key_id: str, secret: str, **kw):
    headers = signature_headers(method, url, body, key_id, secret, headers={"Content-Type": "application/json"},
                                **kw)
    return requests.request(method, url, data=body, headers=headers, timeout=30), headers


def send(method: str, url: str, body: bytes, headers: dict):
    return requests.request(method, url, data=body, headers=headers, timeout=30)


def report(path: str, partner: dict, body: bytes):
    return signed("POST", path, body, partner["key_id"], partner["secret"])[0]


def press(base, button, body: bytes):
    return signed("POST", f"{base}/v1/buttons/{button['serial']}/press", body, button["key_id"],
                  button["secret"])[0]


def test_hundred_concurrent_presses_of_one_button_make_exactly_one_order(server, world):
    button = new_button(world)
    body = json.dumps({"click_type": "SINGLE"}).encode()  # the same body: only the nonces differ
    with ThreadPoolExecutor(max_workers=24) as pool:
        responses = list(pool.map(lambda _: press(server["base"], button, body), range(100)))
    codes = [r.status_code for r in responses]
    assert codes == [200] * 100, [r.text for r in responses if r.status_code != 200][:3]
    statuses = [r.json()["status"] for r in responses]
    assert statuses.count("order_placed") == 1 and statuses.count("order_in_progress") == 99
    assert len({r.json()["order_id"] for r in responses}) == 1
    assert orders_for_source(world, f"button:{button['serial']}") == 1


def test_the_same_signed_request_fifty_times_at_once_makes_one_order_and_fifty_identical_answers(server, world):
    device = new_device(world, "WM-50")
    partner = world["partner"]
    path = f"{server['base']}/v1/partner/devices/{device['device_id']}/slots/detergent/status"
    body = json.dumps({"remainingQuantityInUnit": 0, "lastUseDate": "2026-03-10T12:00:00+00:00"}).encode()
    headers = signature_headers("POST", path, body, partner["key_id"], partner["secret"],
                                headers={"Content-Type": "application/json"})
    with ThreadPoolExecutor(max_workers=25) as pool:
        responses = list(pool.map(lambda _: send("POST", path, body, headers), range(50)))
    assert [r.status_code for r in responses] == [200] * 50, [r.text for r in responses if r.status_code != 200][:3]
    assert len({r.content for r in responses}) == 1  # byte for byte the first answer
    assert responses[0].json()["order"]["status"] == "order_placed"
    assert sum(r.headers.get("Signature-Replayed") == "true" for r in responses) == 49
    assert orders_for_source(world, f"slot:{device['device_id']}:detergent") == 1


def test_a_captured_heartbeat_signature_orders_nothing_and_adds_no_secret(server, world):
    base, partner = server["base"], world["partner"]
    device = new_device(world, "WM-CAPTURED")
    heartbeat = f"{base}/v1/partner/devices/{device['device_id']}/heartbeat"
    first, headers = signed("POST", heartbeat, b"{}", partner["key_id"], partner["secret"])
    assert first.status_code == 200
    with world["container"].uow() as uow:
        secrets_before = list(uow.devices.partner(partner["partner_id"]).webhook_secrets)
    for target in (f"{base}/v1/partner/devices/{device['device_id']}/slots/detergent/replenish",
                   f"{base}/v1/partner/webhook-secrets"):
        replayed = send("POST", target, b"{}", headers)
        assert replayed.status_code == 401, replayed.text
        assert replayed.json()["error"]["code"] == "unauthorized"
    assert orders_for_source(world, f"slot:{device['device_id']}:detergent") == 0
    with world["container"].uow() as uow:
        assert uow.devices.partner(partner["partner_id"]).webhook_secrets == secrets_before


def _variants(headers: dict) -> list[dict]:
    """The same signed request with its signature headers reworded."""
    sig_input, sig = headers["Signature-Input"], headers["Signature"]
    created = sig_input.split("created=")[1].split(";")[0]
    return [
        {**headers, "Signature-Input": sig_input + ', sig2=("@method");created=1;keyid="x";nonce="abcdefgh"',
         "Signature": sig + ", sig2=:AAAA:"},
        {**headers, "Signature-Input": sig_input.replace(f"created={created}", f"created=0{created}")},
        {**headers, "Signature-Input": sig_input.replace(f"created={created}", f"created=+{created}")},
        {**headers, "Signature-Input": sig_input.replace(f"created={created}", f"created={created[:2]}_{created[2:]}")},
        {**headers, "Signature-Input": sig_input.replace('alg="hmac-sha256"', 'alg="rsa-pss-sha512"')},
        {**headers, "Signature-Input": sig_input.replace("sig1=", "sig1 = ")},
        {**headers, "Content-Digest": "sha-256=:" + "A" * 43 + "=:"},
        {k: v for k, v in headers.items() if k != "Content-Digest"},
        {k: v for k, v in headers.items() if k != "Signature-Input"},
    ]


def test_reworded_signature_headers_are_refused_and_a_cancelled_press_is_not_placed_again(server, world):
    base = server["base"]
    button = new_button(world)
    url = f"{base}/v1/buttons/{button['serial']}/press"
    body = json.dumps({"click_type": "SINGLE"}).encode()
    first, headers = signed("POST", url, body, button["key_id"], button["secret"])
    assert first.json()["status"] == "order_placed"
    order_id = first.json()["order_id"]
    from replenish.domain import commands
    world["container"].bus.handle(commands.CancelOrder("hi1", order_id, "changed my mind"))
    for variant in _variants(headers):
        refused = send("POST", url, body, variant)
        assert refused.status_code == 401, (variant, refused.text)
    again = send("POST", url, body, headers)  # the original, byte for byte: its first answer, nothing new
    assert again.status_code == 200 and again.json() == first.json()
    assert orders_for_source(world, f"button:{button['serial']}") == 1


def test_stale_wrong_key_and_tampered_requests_are_401_and_store_nothing(server, world):
    base = server["base"]
    button = new_button(world)
    url = f"{base}/v1/buttons/{button['serial']}/press"
    body = json.dumps({"click_type": "SINGLE"}).encode()
    assert signed("POST", url, body, button["key_id"], "btn_wrong")[0].status_code == 401
    assert signed("POST", url, body, button["key_id"], button["secret"],
                  created=time.time() - 301)[0].status_code == 401
    headers = signature_headers("POST", url, b'{"click_type": "LONG"}', button["key_id"], button["secret"])
    assert send("POST", url, body, headers).status_code == 401  # the body is not the one signed
    assert orders_for_source(world, f"button:{button['serial']}") == 0
    with world["container"].engine.connect() as conn:
        assert conn.execute(text("SELECT last_press_at FROM buttons WHERE serial = :s"),
                            {"s": button["serial"]}).scalar_one() is None


def test_concurrent_reports_of_one_slot_are_all_applied(server, world):
    """Reports of a slot are applied one after the other (the slot's row is locked): twenty readings delivered
    at once all end up in the slot's history."""
    device = new_device(world, "WM-RACE")
    partner = world["partner"]
    path = f"{server['base']}/v1/partner/devices/{device['device_id']}/slots/detergent/status"
    bodies = [json.dumps({"remainingQuantityInUnit": 50, "lastUseDate": f"2026-03-10T10:{m:02d}:00+00:00"}).encode()
              for m in range(20)]
    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(lambda body: report(path, partner, body), bodies))
    assert [r.status_code for r in responses] == [200] * 20, [r.text for r in responses if r.status_code != 200][:3]
    assert sum(r.json()["fresh"] for r in responses) == 20
    with world["container"].engine.connect() as conn:
        history = conn.execute(text("SELECT history FROM device_slots WHERE device_id = :d"),
                               {"d": device["device_id"]}).scalar_one()
    assert sorted(at for at, _ in history) == [f"2026-03-10T10:{m:02d}:00+00:00" for m in range(20)]


def test_with_redis_down_replays_are_still_refused_from_the_database(database, world, tmp_path_factory):
    """A server whose Redis does not answer: rate limits allow, but the signed-request log in PostgreSQL still
    answers an exact replay with its first answer and refuses a reused nonce."""
    running, stop = start_gunicorn(database, tmp_path_factory, f"redis://127.0.0.1:{free_port()}/0", workers=2)
    try:
        button = new_button(world)
        url = f"{running['base']}/v1/buttons/{button['serial']}/press"
        body = json.dumps({"click_type": "SINGLE"}).encode()
        first, headers = signed("POST", url, body, button["key_id"], button["secret"], nonce="redis-is-down-1")
        assert first.status_code == 200 and first.json()["status"] == "order_placed", first.text
        world["container"].bus.handle(__import__("replenish.domain.commands", fromlist=["x"]).CancelOrder(
            "hi1", first.json()["order_id"], "testing replays"))
        replay = send("POST", url, body, headers)
        assert replay.status_code == 200 and replay.json() == first.json()
        other, _ = signed("POST", url, json.dumps({"click_type": "DOUBLE"}).encode(), button["key_id"],
                          button["secret"], nonce="redis-is-down-1")
        assert other.status_code == 401 and other.json()["error"]["field"] == "nonce"
        assert orders_for_source(world, f"button:{button['serial']}") == 1
    finally:
        stop()


def test_a_partner_written_with_only_http_message_signatures_registers_and_reports(server, world):
    """No SDK of ours: requests and http-message-signatures, as a partner in any language would do with an
    RFC 9421 library."""
    import datetime

    from http_message_signatures import (
        HTTPMessageSigner,
        HTTPSignatureKeyResolver,
        algorithms,
    )

    partner = world["partner"]

    class Keys(HTTPSignatureKeyResolver):
        def resolve_private_key(self, key_id):
            return partner["secret"].encode()

    signer = HTTPMessageSigner(signature_algorithm=algorithms.HMAC_SHA256, key_resolver=Keys())

    def call(method, path, payload):
        body = json.dumps(payload).encode()
        prepared = requests.Request(method, server["base"] + path, data=body,
                                    headers={"Content-Type": "application/json"}).prepare()
        signer.sign(prepared, key_id=partner["key_id"], nonce=uuid.uuid4().hex, body=body,
                    created=datetime.datetime.now(datetime.UTC),
                    covered_component_ids=("@method", "@target-uri", "content-digest"))
        return requests.Session().send(prepared, timeout=30)

    from replenish.devices.domain import commands as dc
    code = world["container"].bus.handle(dc.CreateLinkCode("hi1"))["code"]
    registered = call("POST", "/v1/partner/devices", {"link_code": code, "device_id": "WM-PLAIN", "slots": [
        {"slot_id": "detergent", "products": ["TIDE-PODS-42"], "capacity": 84, "threshold": 20, "target": 84}]})
    assert registered.status_code == 201, registered.text
    device_id = registered.json()["device_id"]
    answers = [call("POST", f"/v1/partner/devices/{device_id}/slots/detergent/status",
                    {"remainingQuantityInUnit": level, "lastUseDate": f"2026-03-1{day}T08:00:00+00:00"})
               for day, level in enumerate((30, 12, 10))]
    assert [a.status_code for a in answers] == [200, 200, 200], [a.text for a in answers]
    assert answers[0].json()["decision"]["action"] == "none"
    placed = [a.json()["order"]["status"] for a in answers if a.json()["order"]]
    assert placed[0] == "order_placed" and set(placed[1:]) <= {"order_in_progress"}
    assert orders_for_source(world, f"slot:{device_id}:detergent") == 1
