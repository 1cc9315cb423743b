"""The partner API over HTTP (through the SDK on the Flask test client): RFC 9421 signed requests with partner and
device keys, replays, key and webhook-secret rotation, slot readings and the policy, webhooks and their log."""
import json
import time
from datetime import UTC

import pytest

from replenish.devices.domain import commands as dc
from replenish.devices.services import events as device_events
from replenish.domain import commands
from replenish_partner import PartnerClient, PartnerError, signature_headers

from .device_fakes import FlaskSession, RecordingSender

SLOTS = [{"slot_id": "detergent", "products": ["TIDE-PODS-42", "TIDE-PODS-81"], "capacity": 84, "unit": "count",
          "threshold": 20, "target": 84}]
BASE = "http://test"


@pytest.fixture
def partner(container):
    return container.bus.handle(dc.CreatePartner("Acme", "https://acme.example/hooks"))


def client_for(app, key_id, secret, webhook_secrets=()):
    return PartnerClient(BASE, key_id, secret, webhook_secrets=webhook_secrets, session=FlaskSession(app))


@pytest.fixture
def sdk(app, partner):
    return client_for(app, partner["key_id"], partner["secret"], [partner["webhook_secret"]])


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def link_code(app, token):
    response = app.test_client().post("/v1/devices/link-codes", headers=auth(token))
    assert response.status_code == 201
    return response.get_json()["code"]


@pytest.fixture
def device(app, token, sdk):
    return sdk.register_device(link_code(app, token), "WM-0001", model="washer", slots=SLOTS)


def signed(app, method, path, body, key_id, secret, **kw):
    """A raw request signed with ``key_id``; ``kw`` go to ``signature_headers`` (nonce, created)."""
    headers = signature_headers(method, BASE + path, body, key_id, secret, **kw)
    return send(app, method, path, body, headers)


def send(app, method, path, body, headers):
    return app.test_client().open(path, method=method, data=body, headers=headers, base_url=BASE)


def drain(container):
    queue = container.deps.queue
    while queue.events:
        container.bus.handle_event(queue.events.pop(0))


def deliveries(container, event_type):
    """The ids of the queued webhook deliveries of ``event_type``, in the order they were queued."""
    ids = [args[0] for name, args in container.deps.queue.sent if name == device_events.WEBHOOK_TASK]
    with container.uow() as uow:
        return [i for i in ids if uow.webhooks.get(i).event_type == event_type]


def orders(container):
    """The household's orders as (id, [(sku, quantity)]), newest first."""
    with container.uow() as uow:
        return [(o.id, [(line.sku, line.quantity) for line in o.lines]) for o in uow.orders.list("h1")]


def notifications(container, kind):
    with container.uow() as uow:
        return [n.message for n in uow.notifications.for_household("h1") if n.kind == kind]


def level(sdk, device_id):
    return sdk.device(device_id)["slots"][0]["status"]["remainingQuantityInUnit"]


def error_of(call):
    with pytest.raises(PartnerError) as refused:
        call()
    return refused.value


# -- devices and slots -------------------------------------------------------------------------------------

def test_link_code_registers_a_device_once(app, token, sdk, device):
    assert device["household_id"] == "h1" and device["status"] == "active"
    assert device["key_id"] == device["device_id"] and device["secret"] and "device_token" not in device
    assert [s["slot_id"] for s in device["slots"]] == ["detergent"] and device["slots"][0]["debounce"] == 2
    code = link_code(app, token)
    sdk.register_device(code, "WM-0002", slots=SLOTS)
    used = error_of(lambda: sdk.register_device(code, "WM-0003", slots=SLOTS))
    assert used.status == 400 and used.code == "invalid_link_code"
    assert error_of(lambda: sdk.register_device("ZZZZZZZZ", "WM-0004", slots=SLOTS)).status == 400
    listed = app.test_client().get("/v1/devices", headers=auth(token)).get_json()
    assert {d["external_id"] for d in listed["devices"]} == {"WM-0001", "WM-0002"}


def test_link_code_expires(app, token, sdk, clock):
    code = link_code(app, token)
    clock.advance(minutes=16)
    assert error_of(lambda: sdk.register_device(code, "WM-0009", slots=SLOTS)).code == "invalid_link_code"


def test_slot_status_orders_on_the_second_low_reading_then_replenish_reports_in_progress(sdk, device):
    device_id = device["device_id"]
    quiet = sdk.report_slot_status(device_id, "detergent", 70, original=84, on_hand=0)
    assert quiet["order"] is None and quiet["slot"]["status"]["remainingQuantityInUnit"] == 70
    first_low = sdk.report_slot_status(device_id, "detergent", 12, original=84)
    assert first_low["decision"]["action"] == "none" and first_low["order"] is None  # could be noise
    low = sdk.report_slot_status(device_id, "detergent", 11, original=84)
    assert low["decision"]["action"] == "order" and low["order"]["status"] == "order_placed"
    answer = sdk.replenish(device_id, "detergent")
    assert answer["detailCode"] == "ORDER_IN_PROGRESS" and answer["order_id"] == low["order"]["order_id"]
    assert [o["order_id"] for o in sdk.order_info(device_id)["orders"]] == [low["order"]["order_id"]]
    assert sdk.subscription_info(device_id)["slotsSubscriptionStatus"] == {"detergent": True}
    assert sdk.heartbeat(device_id, "2026-03-10T14:59:00+00:00")["device_id"] == device_id


def test_an_empty_slot_orders_on_its_first_report(sdk, device, container):
    answer = sdk.report_slot_status(device["device_id"], "detergent", 0)
    assert answer["decision"]["reason"] == "empty" and answer["order"]["status"] == "order_placed"
    assert orders(container) == [(answer["order"]["order_id"], [("TIDE-PODS-42", 2)])]  # 84 to go: 2 x 42


def test_replenish_places_when_nothing_is_in_flight(sdk, device):
    assert sdk.replenish(device["device_id"], "detergent")["detailCode"] == "ORDER_PLACED"


def test_replenish_on_a_full_slot_is_refused_and_orders_nothing(sdk, device, container):
    sdk.report_slot_status(device["device_id"], "detergent", 84)
    full = error_of(lambda: sdk.replenish(device["device_id"], "detergent"))
    assert full.status == 409 and full.code == "slot_full"
    assert orders(container) == []


def test_debounce_is_set_at_registration_and_by_the_household(app, token, sdk):
    eager = sdk.register_device(link_code(app, token), "WM-1", slots=[{**SLOTS[0], "debounce": 1}])
    assert eager["slots"][0]["debounce"] == 1
    assert sdk.report_slot_status(eager["device_id"], "detergent", 10)["order"]["status"] == "order_placed"
    patient = sdk.register_device(link_code(app, token), "WM-2", slots=SLOTS)
    patched = app.test_client().patch(f"/v1/devices/{patient['device_id']}/slots/detergent", json={"debounce": 3},
                                      headers=auth(token))
    assert patched.status_code == 200 and patched.get_json()["debounce"] == 3
    actions = [sdk.report_slot_status(patient["device_id"], "detergent", lvl)["decision"]["action"]
               for lvl in (10, 9, 8)]
    assert actions == ["none", "none", "order"]
    bad = app.test_client().patch(f"/v1/devices/{patient['device_id']}/slots/detergent", json={"debounce": 0},
                                  headers=auth(token))
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "debounce"
    too_many = error_of(lambda: sdk.register_device(link_code(app, token), "WM-3",
                                                    slots=[{**SLOTS[0], "debounce": 11}]))
    assert too_many.status == 400 and "debounce" in too_many.body["error"]["field"]


# -- readings ----------------------------------------------------------------------------------------------

def test_a_level_above_the_capacity_is_refused_naming_the_field_and_keeps_the_level(sdk, device, container):
    sdk.report_slot_status(device["device_id"], "detergent", 40)
    refused = error_of(lambda: sdk.report_slot_status(device["device_id"], "detergent", 5000))
    assert refused.status == 400 and refused.body["error"]["field"] == "remainingQuantityInUnit"
    assert level(sdk, device["device_id"]) == 40
    assert orders(container) == []


def test_a_unit_the_slot_cannot_convert_is_refused_naming_unit(sdk, device):
    sdk.report_slot_status(device["device_id"], "detergent", 40)
    for unit in ("ml", "furlongs"):  # pods cannot be measured in millilitres; furlongs are no unit we know
        refused = error_of(lambda unit=unit: sdk.report_slot_status(device["device_id"], "detergent", 10,
                                                                    unit=unit))
        assert refused.status == 400 and refused.body["error"]["field"] == "unit"
    assert level(sdk, device["device_id"]) == 40


def test_a_usage_report_lowers_the_level(sdk, device):
    sdk.report_slot_status(device["device_id"], "detergent", 40)
    answer = sdk.report_slot_status(device["device_id"], "detergent", consumed=3)
    assert answer["slot"]["status"]["remainingQuantityInUnit"] == 37
    assert level(sdk, device["device_id"]) == 37


def test_a_percentage_reading_is_converted_to_the_slots_unit(sdk, device):
    answer = sdk.report_slot_status(device["device_id"], "detergent", 50, unit="percent")
    assert answer["slot"]["status"]["remainingQuantityInUnit"] == pytest.approx(42)
    assert answer["slot"]["unit"] == "count"


def test_a_report_needs_exactly_one_of_level_and_usage(app, partner, device):
    path = f"/v1/partner/devices/{device['device_id']}/slots/detergent/status"
    for payload in ({}, {"remainingQuantityInUnit": 10, "consumed": 1}):
        answer = signed(app, "POST", path, json.dumps(payload).encode(), partner["key_id"], partner["secret"])
        assert answer.status_code == 400, payload


def test_a_nearly_full_tank_does_not_order_when_history_says_a_purchase_is_due(app, token, sdk, container,
                                                                              monkeypatch):
    due = type("Timing", (), {"expected_at": container.clock()})()
    monkeypatch.setattr(container.deps.recommendations, "next_purchase", lambda household_id, sku: due)
    tank = sdk.register_device(link_code(app, token), "WM-81", model="washer", slots=[
        {"slot_id": "detergent", "products": ["TIDE-PODS-81"], "capacity": 81, "unit": "count"}])
    answer = sdk.report_slot_status(tank["device_id"], "detergent", 70)
    assert answer["decision"]["action"] == "none" and answer["order"] is None
    assert orders(container) == []


def test_validation_errors_are_400s(sdk, device):
    for bad in ({"slot_id": "x", "products": [], "capacity": 1}, {"slot_id": "x", "products": ["A"], "capacity": -1}):
        assert error_of(lambda bad=bad: sdk.register_device("ABCDEFGH", "WM-9", slots=[bad])).status == 400
    assert error_of(lambda: sdk.report_slot_status(device["device_id"], "detergent", -5)).status == 400
    assert error_of(lambda: sdk.report_slot_status(device["device_id"], "no-such-slot", 5)).status == 404


def test_idempotency_key_on_slot_status_and_registration(app, token, sdk, device):
    first = sdk.report_slot_status(device["device_id"], "detergent", 10, idempotency_key="r-1")
    assert sdk.report_slot_status(device["device_id"], "detergent", 10, idempotency_key="r-1") == first
    reused = error_of(lambda: sdk.report_slot_status(device["device_id"], "detergent", 11, idempotency_key="r-1"))
    assert reused.status == 422
    code = link_code(app, token)
    a = sdk.register_device(code, "WM-7", slots=SLOTS, idempotency_key="dev-7")
    b = sdk.register_device(code, "WM-7", slots=SLOTS, idempotency_key="dev-7")
    assert a == b


def test_deregistration_cancels_pending_slot_orders_and_stops_ordering(sdk, device, container):
    sdk.report_slot_status(device["device_id"], "detergent", 4)
    order_id = sdk.report_slot_status(device["device_id"], "detergent", 3)["order"]["order_id"]
    assert sdk.deregister(device["device_id"])["cancelled_orders"] == [order_id]
    with container.uow() as uow:
        assert uow.orders.get(order_id).status == "cancelled"
    assert error_of(lambda: sdk.report_slot_status(device["device_id"], "detergent", 1)).status == 410


# -- signatures --------------------------------------------------------------------------------------------

def test_unsigned_forged_stale_and_tampered_requests_are_401_and_change_nothing(app, partner, device, container,
                                                                               sdk):
    path = f"/v1/partner/devices/{device['device_id']}/slots/detergent/status"
    body = json.dumps({"remainingQuantityInUnit": 0}).encode()  # empty: it would order at once
    key_id, secret = partner["key_id"], partner["secret"]
    refused = {
        "unsigned": send(app, "POST", path, body, {}),
        "old bearer key": send(app, "POST", path, body, {"Authorization": f"Bearer {secret}"}),
        "wrong secret": signed(app, "POST", path, body, key_id, "sk_wrong"),
        "unknown keyid": signed(app, "POST", path, body, "pk_unknown", secret),
        "stale": signed(app, "POST", path, body, key_id, secret, created=time.time() - 400),
        "another URL": send(app, "POST", path, body,
                            signature_headers("POST", BASE + path.replace("status", "replenish"), body, key_id,
                                              secret)),
        "webhook secret": signed(app, "POST", path, body, key_id, partner["webhook_secret"]),
    }
    for name, answer in refused.items():
        assert answer.status_code == 401, name
        assert answer.get_json()["error"]["code"] == "unauthorized", name
    tampered = send(app, "POST", path, body.replace(b"0", b"9"),
                    signature_headers("POST", BASE + path, body, key_id, secret))
    assert tampered.status_code == 401 and tampered.get_json()["error"]["field"] == "Content-Digest"
    assert level(sdk, device["device_id"]) is None and orders(container) == []
    assert signed(app, "POST", path, body, key_id, secret).status_code == 200
    assert len(orders(container)) == 1


def test_an_exact_replay_gets_the_first_answer_and_a_reused_nonce_is_refused(app, partner, device, container):
    path = f"/v1/partner/devices/{device['device_id']}/slots/detergent/status"
    body = json.dumps({"remainingQuantityInUnit": 0}).encode()
    headers = signature_headers("POST", BASE + path, body, partner["key_id"], partner["secret"], nonce="nonce-0001")
    first = send(app, "POST", path, body, headers)
    assert first.status_code == 200 and "Signature-Replayed" not in first.headers
    again = send(app, "POST", path, body, headers)
    assert again.status_code == 200 and again.headers["Signature-Replayed"] == "true"
    assert again.get_data() == first.get_data()
    assert len(orders(container)) == 1
    other = json.dumps({"remainingQuantityInUnit": 1}).encode()
    reused = signed(app, "POST", path, other, partner["key_id"], partner["secret"], nonce="nonce-0001")
    assert reused.status_code == 401 and reused.get_json()["error"]["field"] == "nonce"


def test_another_partners_key_cannot_reach_the_device(app, container, device):
    other = container.bus.handle(dc.CreatePartner("Other"))
    path = f"/v1/partner/devices/{device['device_id']}/slots/detergent/status"
    body = json.dumps({"remainingQuantityInUnit": 0}).encode()
    assert signed(app, "POST", path, body, other["key_id"], other["secret"]).status_code == 404
    assert signed(app, "GET", f"/v1/partner/devices/{device['device_id']}", b"", other["key_id"],
                  other["secret"]).status_code == 404
    assert orders(container) == []


def test_two_devices_sending_identical_heartbeats_in_the_same_second_both_succeed(app, token, partner, sdk,
                                                                                   device):
    second = sdk.register_device(link_code(app, token), "WM-0002", slots=SLOTS)
    body = json.dumps({"mostRecentlyActiveDate": "2026-03-10T14:59:00+00:00"}).encode()
    now = int(time.time())
    for key_of in (lambda d: (partner["key_id"], partner["secret"]), lambda d: (d["key_id"], d["secret"])):
        for d in (device, second):  # the same body, signed the same second (device keys: even the same nonce)
            key_id, secret = key_of(d)
            answer = signed(app, "POST", f"/v1/partner/devices/{d['device_id']}/heartbeat", body, key_id, secret,
                            created=now, nonce=None if key_id.startswith("pk_") else "same-nonce-1")
            assert answer.status_code == 200 and "Signature-Replayed" not in answer.headers
            assert answer.get_json()["device_id"] == d["device_id"]


def test_a_captured_heartbeat_does_not_authorise_other_routes(app, partner, device, container):
    heartbeat = f"/v1/partner/devices/{device['device_id']}/heartbeat"
    body = b"{}"
    for key_id, secret in ((partner["key_id"], partner["secret"]), (device["key_id"], device["secret"])):
        captured = signature_headers("POST", BASE + heartbeat, body, key_id, secret)
        assert send(app, "POST", heartbeat, body, captured).status_code == 200
        for path in (f"/v1/partner/devices/{device['device_id']}/slots/detergent/replenish",
                     "/v1/partner/webhook-secrets"):
            assert send(app, "POST", path, body, captured).status_code == 401, (key_id, path)
    assert orders(container) == []
    with container.uow() as uow:
        assert uow.devices.partner(partner["partner_id"]).webhook_secrets == [partner["webhook_secret"]]


def test_a_device_key_works_on_its_own_routes_only(app, token, sdk, device):
    own = client_for(app, device["key_id"], device["secret"])
    device_id = device["device_id"]
    assert own.heartbeat(device_id)["device_id"] == device_id
    assert own.device(device_id)["device_id"] == device_id
    assert own.report_slot_status(device_id, "detergent", 30)["slot"]["status"]["remainingQuantityInUnit"] == 30
    assert own.subscription_info(device_id)["slotsSubscriptionStatus"] == {"detergent": True}
    assert own.order_info(device_id)["orders"] == []
    second = sdk.register_device(link_code(app, token), "WM-0002", slots=SLOTS)
    code = link_code(app, token)
    refused = {
        "another device": lambda: own.heartbeat(second["device_id"]),
        "another device's slot": lambda: own.report_slot_status(second["device_id"], "detergent", 0),
        "register a device": lambda: own.register_device(code, "WM-0003", slots=SLOTS),
        "webhook log": own.webhook_log,
        "add a webhook secret": own.add_webhook_secret,
        "retire a webhook secret": lambda: own.retire_webhook_secret(sdk.webhook_secrets[0]),
        "list keys": own.keys,
        "create a key": own.create_key,
        "revoke a key": lambda: own.revoke_key(sdk.key_id),
    }
    for name, call in refused.items():
        error = error_of(call)
        assert error.status == 401, name
        assert "device's key" in error.body["error"]["message"], name
    assert level(sdk, second["device_id"]) is None
    assert len(sdk.keys()) == 1 and sdk.register_device(code, "WM-0003", slots=SLOTS)["status"] == "active"


def test_a_device_key_stops_working_when_the_device_is_deregistered(app, sdk, device):
    own = client_for(app, device["key_id"], device["secret"])
    assert own.heartbeat(device["device_id"])["device_id"] == device["device_id"]
    assert sdk.deregister(device["device_id"])["status"] == "deregistered"
    refused = error_of(lambda: own.report_slot_status(device["device_id"], "detergent", 0))
    assert refused.status in (401, 410)  # 410 while this process still holds the key (a few seconds), then 401
    app.extensions["replenish_devices"]["lookups"].forget()
    assert error_of(lambda: own.heartbeat(device["device_id"])).status == 401


# -- keys and webhook secrets ------------------------------------------------------------------------------

def test_key_rotation_new_key_works_old_key_is_revoked_the_last_key_stays(app, partner, sdk, device):
    created = sdk.create_key()
    assert created["key_id"].startswith("pk_") and created["key_id"] != partner["key_id"] and created["secret"]
    new = client_for(app, created["key_id"], created["secret"])
    assert new.heartbeat(device["device_id"])["device_id"] == device["device_id"]
    assert sdk.heartbeat(device["device_id"])["device_id"] == device["device_id"]  # both live while rotating
    assert new.revoke_key(partner["key_id"])["revoked_at"] is not None
    assert error_of(lambda: sdk.heartbeat(device["device_id"])).status == 401
    assert new.heartbeat(device["device_id"])["device_id"] == device["device_id"]
    keys = new.keys()
    listed = {k["key_id"]: k["revoked_at"] for k in keys}
    assert set(listed) == {partner["key_id"], created["key_id"]} and listed[created["key_id"]] is None
    last = error_of(lambda: new.revoke_key(created["key_id"]))
    assert last.status == 400 and last.body["error"]["field"] == "key_id"
    assert new.heartbeat(device["device_id"])["device_id"] == device["device_id"]


def test_a_revoked_partner_stops_verifying_once_its_cached_key_expires(app, partner, sdk, device, container):
    from sqlalchemy import update

    from replenish.devices.adapters.orm import partners
    from replenish.devices.adapters.repository import DeviceLookups
    sdk.heartbeat(device["device_id"])  # the app's device tools are made on first use
    now = [0.0]
    app.extensions["replenish_devices"]["lookups"] = DeviceLookups(container.engine, ttl=5.0, timer=lambda: now[0])
    sdk.heartbeat(device["device_id"])  # the key is kept from here
    with container.uow() as uow:
        uow.session.execute(update(partners).values(revoked_at=container.clock()))
        uow.session.commit()
    now[0] += 5.0
    assert error_of(lambda: sdk.heartbeat(device["device_id"])).status == 401


def test_webhook_secrets_are_added_and_retired_through_the_sdk(app, token, container, partner, sdk, device, clock):
    container.deps.webhook_sender = sender = RecordingSender(200)
    old = partner["webhook_secret"]
    added = sdk.add_webhook_secret()
    assert added and added != old and sdk.webhook_secrets == [old, added]
    drain(container)
    [registered] = deliveries(container, "device.registered")
    assert device_events.deliver_webhook(registered, container.deps) == "delivered"
    _, body, headers = sender.sent[-1]
    assert len(headers["webhook-signature"].split(" ")) == 2  # Standard Webhooks: one v1 per live secret
    for secrets in ([old], [added]):  # signed with both while the partner rotates
        assert client_for(app, "pk_x", "x", secrets).verify_webhook(headers, body, now=clock().timestamp())
    assert sdk.retire_webhook_secret(old)["active_secrets"] == 1 and sdk.webhook_secrets == [added]
    patched = app.test_client().patch(f"/v1/devices/{device['device_id']}/slots/detergent", json={"mode": "notify"},
                                      headers=auth(token))
    assert patched.status_code == 200
    drain(container)
    [changed] = deliveries(container, "subscription.changed")
    assert device_events.deliver_webhook(changed, container.deps) == "delivered"
    _, body, headers = sender.sent[-1]
    assert headers["webhook-signature"].startswith("v1,") and " " not in headers["webhook-signature"]
    assert sdk.verify_webhook(headers, body, now=clock().timestamp())["type"] == "subscription.changed"
    with pytest.raises(PartnerError):
        client_for(app, "pk_x", "x", [old]).verify_webhook(headers, body, now=clock().timestamp())
    last = error_of(lambda: sdk.retire_webhook_secret(added))
    assert last.status == 400 and last.body["error"]["field"] == "secret"


# -- rate limits, webhooks ---------------------------------------------------------------------------------

def test_partner_rate_limit(container, sdk, device):
    container.settings.device_rate = "3/60"
    codes = []
    for _ in range(4):
        try:
            sdk.heartbeat(device["device_id"])
            codes.append(200)
        except PartnerError as exc:
            codes.append(exc.status)
    assert codes == [200, 200, 200, 429]


def low_twice(sdk, device):
    """Two low readings in a row: the slot orders (debounce 2)."""
    sdk.report_slot_status(device["device_id"], "detergent", 4)
    return sdk.report_slot_status(device["device_id"], "detergent", 3)["order"]["order_id"]


def test_order_events_become_signed_webhooks_with_a_delivery_log(container, sdk, device, partner, clock):
    sender = RecordingSender(503, 200)
    container.deps.webhook_sender = sender
    order_id = low_twice(sdk, device)
    drain(container)
    [delivery_id] = deliveries(container, "order.placed")
    with pytest.raises(device_events.TransientError):
        device_events.deliver_webhook(delivery_id, container.deps)
    assert device_events.deliver_webhook(delivery_id, container.deps) == "delivered"
    assert device_events.deliver_webhook(delivery_id, container.deps) == "delivered"  # a duplicate task
    assert len(sender.sent) == 2
    url, body, headers = sender.sent[-1]
    assert url == "https://acme.example/hooks"
    assert headers["webhook-id"] == f"msg_{delivery_id}" and headers["X-Replenish-Event"] == "order.placed"
    assert "X-Replenish-Signature" not in headers and "X-Replenish-Delivery" not in headers
    payload = sdk.verify_webhook(headers, body, now=clock().timestamp())
    assert payload["type"] == "order.placed" and payload["data"]["order_id"] == order_id
    assert payload["data"]["slot_id"] == "detergent" and payload["data"]["external_id"] == "WM-0001"
    with pytest.raises(PartnerError):
        sdk.verify_webhook(headers, body.replace(b"order", b"ORDER"), now=clock().timestamp())
    placed = [d for d in sdk.webhook_log() if d["type"] == "order.placed"]
    assert len(placed) == 1 and placed[0]["status"] == "delivered" and placed[0]["attempts"] == 2


def test_cancel_subscription_registration_and_deregistration_webhooks(app, container, sdk, device, token):
    container.deps.webhook_sender = RecordingSender(200)
    order_id = low_twice(sdk, device)
    container.bus.handle(commands.CancelOrder("h1", order_id))
    response = app.test_client().patch(f"/v1/devices/{device['device_id']}/slots/detergent",
                                       json={"mode": "notify"}, headers=auth(token))
    assert response.status_code == 200 and response.get_json()["mode"] == "notify"
    assert sdk.subscription_info(device["device_id"])["slotsSubscriptionStatus"] == {"detergent": False}
    sdk.deregister(device["device_id"])
    drain(container)
    for name, args in list(container.deps.queue.sent):
        if name == device_events.WEBHOOK_TASK:
            device_events.deliver_webhook(args[0], container.deps)
    types = sorted(json.loads(body)["type"] for _, body, _ in container.deps.webhook_sender.sent)
    assert types == ["device.deregistered", "device.registered", "order.cancelled", "order.placed",
                     "subscription.changed"]


def test_permanent_partner_refusal_is_not_retried(container, sdk, device):
    container.deps.webhook_sender = RecordingSender(410)
    low_twice(sdk, device)
    drain(container)
    [delivery_id] = deliveries(container, "order.placed")
    assert device_events.deliver_webhook(delivery_id, container.deps) == "failed"
    assert len(container.deps.webhook_sender.sent) == 1


def test_a_notify_slot_running_low_is_told_once_through_the_outbox(app, token, sdk, device, container):
    device_id = device["device_id"]
    patched = app.test_client().patch(f"/v1/devices/{device_id}/slots/detergent", json={"mode": "notify"},
                                      headers=auth(token))
    assert patched.status_code == 200
    answers = [sdk.report_slot_status(device_id, "detergent", lvl) for lvl in (10, 9, 8)]
    assert [a["decision"]["action"] for a in answers] == ["none", "notify", "notify"]
    assert all(a["order"] is None for a in answers)
    drain(container)
    told = notifications(container, "SlotRunningLow")
    assert len(told) == 1 and "running low" in told[0]
    assert orders(container) == []
    assert [d["type"] for d in sdk.webhook_log()].count("slot.low") == 1


def test_a_refused_slot_order_is_told_to_the_household_and_the_partner(container, sdk, device, clock):
    container.bus.handle(commands.UpdateLimits("h1", per_order_cap_cents=100))
    container.deps.webhook_sender = sender = RecordingSender(200)
    sdk.report_slot_status(device["device_id"], "detergent", 5)
    answer = sdk.report_slot_status(device["device_id"], "detergent", 4)
    assert answer["decision"]["action"] == "order"
    assert answer["order"]["status"] == "not_placed" and answer["order"]["code"] == "limit_exceeded"
    assert orders(container) == []
    drain(container)
    told = notifications(container, "SlotOrderRefused")
    assert told and all("washer" in text and "Tide PODS Laundry Detergent, 42 Count" in text for text in told)
    assert [d["type"] for d in sdk.webhook_log()].count("order.refused") == 1
    [refused] = deliveries(container, "order.refused")
    assert device_events.deliver_webhook(refused, container.deps) == "delivered"
    _, body, headers = sender.sent[-1]
    payload = sdk.verify_webhook(headers, body, now=clock().timestamp())
    assert payload["type"] == "order.refused" and payload["data"]["code"] == "limit_exceeded"
    assert payload["data"]["reason"] and payload["data"]["slot_id"] == "detergent"


def test_a_partner_looks_up_one_of_its_orders_and_nobody_else_can(app, container, sdk, device):
    placed = sdk.replenish(device["device_id"], "detergent")
    order = sdk.order(placed["order_id"])
    assert order["device_id"] == device["device_id"] and order["slot_id"] == "detergent"
    assert order["status"] == "pending" and order["detailCode"] == "ORDER_PLACED"
    assert [(line["sku"], line["quantity"]) for line in order["lines"]] == [("TIDE-PODS-42", 1)]
    assert order["lines"][0]["title"] == "Tide PODS Laundry Detergent, 42 Count"
    other = container.bus.handle(dc.CreatePartner("Other", ""))
    stranger = client_for(app, other["key_id"], other["secret"])
    for who, order_id in ((stranger, placed["order_id"]), (sdk, "no-such-order")):
        with pytest.raises(PartnerError) as refused:
            who.order(order_id)
        assert refused.value.status == 404 and refused.value.body["error"]["field"] == "order_id"
    own = client_for(app, device["key_id"], device["secret"])  # a device asks at its own orders route
    with pytest.raises(PartnerError) as device_key:
        own.order(placed["order_id"])
    assert device_key.value.status == 401
    assert [o["order_id"] for o in own.order_info(device["device_id"])["orders"]] == [placed["order_id"]]
    from replenish.domain import commands
    container.bus.handle(commands.CancelOrder("h1", placed["order_id"], "changed my mind"))
    assert sdk.order(placed["order_id"])["detailCode"] == "ORDER_CANCELLED"


def test_a_test_device_gets_test_orders_that_never_reach_the_store_and_the_partner_cancels_them(
        app, token, container, sdk, partner):
    test_device = sdk.register_device(link_code(app, token), "WM-TEST", slots=SLOTS, test=True)
    assert test_device["test"] is True
    placed = sdk.replenish(test_device["device_id"], "detergent")
    assert placed["detailCode"] == "TEST_ORDER_PLACED" and placed["test"] is True
    again = sdk.replenish(test_device["device_id"], "detergent")
    assert again["detailCode"] == "TEST_ORDER_IN_PROGRESS" and again["order_id"] == placed["order_id"]
    drain(container)
    from replenish.services import event_handlers
    event_handlers.submit_due(container.deps)
    with container.uow() as uow:
        order = uow.orders.get(placed["order_id"])
        assert order.test and order.status == "pending" and order.retailer_order_id is None  # never sent
        household_saw = [n.kind for n in uow.notifications.for_household("h1")]
    assert "OrderPlaced" not in household_saw  # the household is not told about a partner's test
    listed = sdk.test_orders()
    assert [o["order_id"] for o in listed] == [placed["order_id"]] and listed[0]["detailCode"] == "TEST_ORDER_PLACED"
    cancelled = sdk.cancel_test_order(placed["order_id"])
    assert cancelled["status"] == "cancelled" and sdk.test_orders() == []
    assert sdk.replenish(test_device["device_id"], "detergent")["detailCode"] == "TEST_ORDER_PLACED"


def test_a_partner_cannot_cancel_a_households_real_order(app, token, sdk, device):
    real = sdk.replenish(device["device_id"], "detergent")
    assert real["detailCode"] == "ORDER_PLACED" and real["test"] is False
    with pytest.raises(PartnerError) as refused:
        sdk.cancel_test_order(real["order_id"])
    assert refused.value.status == 409 and refused.value.code == "not_a_test_order"
    assert sdk.order(real["order_id"])["status"] == "pending"


def test_a_partner_in_test_mode_places_only_test_orders_and_they_spend_nothing(app, token, container):
    from replenish.domain import commands
    container.bus.handle(commands.UpdateLimits("h1", per_month_cap_cents=100))  # less than one pack
    trial = container.bus.handle(dc.CreatePartner("Trial", "", test_mode=True))
    client = client_for(app, trial["key_id"], trial["secret"])
    device = client.register_device(link_code(app, token), "WM-TRIAL", slots=SLOTS)
    answer = client.report_slot_status(device["device_id"], "detergent", 0)
    assert answer["order"]["status"] == "order_placed" and answer["order"]["test"] is True
    with container.uow() as uow:
        from datetime import datetime
        assert uow.orders.spent_since("h1", datetime(2000, 1, 1, tzinfo=UTC)) == 0
