"""The partner API over HTTP (through the SDK on the Flask test client), webhooks and their delivery log."""
import json
import time

import pytest

from replenish.adapters.http_retailer import sign
from replenish.domain import commands, device_commands as dc
from replenish.sdk import PartnerClient, PartnerError
from replenish.services import device_events
from replenish.web import create_app

from .device_fakes import FlaskSession, RecordingSender

SLOTS = [{"slot_id": "detergent", "products": ["TIDE-PODS-42", "TIDE-PODS-81"], "capacity": 84, "unit": "count",
          "threshold": 20, "target": 84}]


@pytest.fixture
def app(container):
    return create_app(container)


@pytest.fixture
def partner(container):
    return container.bus.handle(dc.CreatePartner("Acme", "https://acme.example/hooks"))


@pytest.fixture
def sdk(app, partner):
    return PartnerClient("http://test", partner["api_key"], [partner["webhook_secret"]], session=FlaskSession(app))


def link_code(app, token):
    response = app.test_client().post("/v1/devices/link-codes", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201
    return response.get_json()["code"]


@pytest.fixture
def device(app, token, sdk):
    return sdk.register_device(link_code(app, token), "WM-0001", model="washer", slots=SLOTS)


def drain(container):
    queue = container.deps.queue
    while queue.events:
        container.bus.handle_event(queue.events.pop(0))


def test_link_code_registers_a_device_once(app, token, sdk, device):
    assert device["household_id"] == "h1" and device["status"] == "active" and device["device_token"]
    assert [s["slot_id"] for s in device["slots"]] == ["detergent"]
    code = link_code(app, token)
    sdk.register_device(code, "WM-0002", slots=SLOTS)
    with pytest.raises(PartnerError) as used:
        sdk.register_device(code, "WM-0003", slots=SLOTS)
    assert used.value.status == 400 and used.value.code == "invalid_link_code"
    with pytest.raises(PartnerError) as unknown:
        sdk.register_device("ZZZZZZZZ", "WM-0004", slots=SLOTS)
    assert unknown.value.status == 400
    listed = app.test_client().get("/v1/devices", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert {d["external_id"] for d in listed["devices"]} == {"WM-0001", "WM-0002"}


def test_link_code_expires(app, token, sdk, clock):
    code = link_code(app, token)
    clock.advance(minutes=16)
    with pytest.raises(PartnerError) as expired:
        sdk.register_device(code, "WM-0009", slots=SLOTS)
    assert expired.value.code == "invalid_link_code"


def test_slot_status_orders_once_and_replenish_reports_in_progress(sdk, device, container):
    device_id = device["device_id"]
    quiet = sdk.report_slot_status(device_id, "detergent", 70, original=84, on_hand=0,
                                   last_use="2026-03-10T14:00:00+00:00")
    assert quiet["order"] is None and quiet["slot"]["status"]["remainingQuantityInUnit"] == 70
    low = sdk.report_slot_status(device_id, "detergent", 12, original=84)
    assert low["order"]["status"] == "order_placed"
    answer = sdk.replenish(device_id, "detergent")
    assert answer["detailCode"] == "ORDER_IN_PROGRESS" and answer["order_id"] == low["order"]["order_id"]
    orders = sdk.order_info(device_id)["orders"]
    assert [o["order_id"] for o in orders] == [low["order"]["order_id"]]
    assert sdk.subscription_info(device_id)["slotsSubscriptionStatus"] == {"detergent": True}
    assert sdk.heartbeat(device_id, "2026-03-10T14:59:00+00:00")["device_id"] == device_id


def test_replenish_places_when_nothing_is_in_flight(sdk, device):
    answer = sdk.replenish(device["device_id"], "detergent")
    assert answer["detailCode"] == "ORDER_PLACED"


def test_partner_auth_and_signatures(app, partner, device, container):
    client = app.test_client()
    path = f"/v1/partner/devices/{device['device_id']}/slots/detergent/status"
    body = json.dumps({"remainingQuantityInUnit": 5}).encode()
    good = sign(partner["webhook_secret"], body, int(time.time()))
    key = {"Authorization": f"Bearer {partner['api_key']}"}
    assert client.post(path, data=body, headers={"X-Replenish-Signature": good}).status_code == 401
    assert client.post(path, data=body, headers={**key, "Authorization": "Bearer nope",
                                                 "X-Replenish-Signature": good}).status_code == 401
    assert client.post(path, data=body, headers=key).status_code == 401
    stale = sign(partner["webhook_secret"], body, int(time.time()) - 400)
    assert client.post(path, data=body, headers={**key, "X-Replenish-Signature": stale}).status_code == 401
    assert client.post(path, data=body.replace(b"5", b"6"),
                       headers={**key, "X-Replenish-Signature": good}).status_code == 401
    with container.uow() as uow:
        assert uow.orders.list("h1") == []
    assert client.post(path, data=body, headers={**key, "X-Replenish-Signature": good}).status_code == 202
    replay = client.post(path, data=body, headers={**key, "X-Replenish-Signature": good})
    assert replay.status_code == 401
    other = container.bus.handle(dc.CreatePartner("Other"))
    body2 = json.dumps({"remainingQuantityInUnit": 4}).encode()
    foreign = client.post(path, data=body2, headers={"Authorization": f"Bearer {other['api_key']}",
                                                     "X-Replenish-Signature": sign(other["webhook_secret"], body2,
                                                                                   int(time.time()))})
    assert foreign.status_code == 404


def test_rotated_secrets_both_verify(app, partner, sdk, device, container):
    added = container.bus.handle(dc.RotateWebhookSecret(partner["partner_id"]))["added"]
    old_sdk = PartnerClient("http://test", partner["api_key"], [partner["webhook_secret"]],
                            session=FlaskSession(app))
    new_sdk = PartnerClient("http://test", partner["api_key"], [added], session=FlaskSession(app))
    assert old_sdk.heartbeat(device["device_id"])["device_id"] == new_sdk.heartbeat(device["device_id"])["device_id"]


def test_device_token_acts_only_for_its_device_and_dies_with_deregistration(app, partner, sdk, device, token):
    own = PartnerClient("http://test", device["device_token"], [partner["webhook_secret"]],
                        session=FlaskSession(app))
    assert own.heartbeat(device["device_id"])["device_id"] == device["device_id"]
    second = sdk.register_device(link_code(app, token), "WM-0002", slots=SLOTS)
    with pytest.raises(PartnerError) as other:
        own.heartbeat(second["device_id"])
    assert other.value.status == 404
    result = sdk.deregister(device["device_id"])
    assert result["status"] == "deregistered"
    with pytest.raises(PartnerError) as revoked:
        own.heartbeat(device["device_id"])
    assert revoked.value.status == 401
    with pytest.raises(PartnerError) as gone:
        sdk.report_slot_status(device["device_id"], "detergent", 1)
    assert gone.value.status == 410


def test_deregistration_cancels_pending_slot_orders_and_stops_ordering(sdk, device, container):
    order_id = sdk.report_slot_status(device["device_id"], "detergent", 3)["order"]["order_id"]
    assert sdk.deregister(device["device_id"])["cancelled_orders"] == [order_id]
    with container.uow() as uow:
        assert uow.orders.get(order_id).status == "cancelled"


def test_idempotency_key_on_slot_status_and_registration(app, token, sdk, device):
    first = sdk.report_slot_status(device["device_id"], "detergent", 10, idempotency_key="r-1")
    again = sdk.report_slot_status(device["device_id"], "detergent", 10, idempotency_key="r-1")
    assert again == first
    with pytest.raises(PartnerError) as reused:
        sdk.report_slot_status(device["device_id"], "detergent", 11, idempotency_key="r-1")
    assert reused.value.status == 422
    code = link_code(app, token)
    a = sdk.register_device(code, "WM-7", slots=SLOTS, idempotency_key="dev-7")
    b = sdk.register_device(code, "WM-7", slots=SLOTS, idempotency_key="dev-7")
    assert a == b


def test_validation_errors_are_400s(sdk, device):
    for bad in ({"slot_id": "x", "products": [], "capacity": 1}, {"slot_id": "x", "products": ["A"], "capacity": -1}):
        with pytest.raises(PartnerError) as error:
            sdk.register_device("ABCDEFGH", "WM-9", slots=[bad])
        assert error.value.status == 400
    with pytest.raises(PartnerError) as negative:
        sdk.report_slot_status(device["device_id"], "detergent", -5)
    assert negative.value.status == 400
    with pytest.raises(PartnerError) as missing:
        sdk.report_slot_status(device["device_id"], "no-such-slot", 5)
    assert missing.value.status == 404


def test_partner_rate_limit(container, sdk, device):
    container.settings.extra["REPLENISH_DEVICE_RATE"] = "3/60"
    codes = []
    for _ in range(4):
        try:
            sdk.heartbeat(device["device_id"])
            codes.append(200)
        except PartnerError as exc:
            codes.append(exc.status)
    assert codes[-1] == 429


def test_order_events_become_signed_webhooks_with_a_delivery_log(container, sdk, device, partner, clock):
    sender = RecordingSender(503, 200)
    container.deps.webhook_sender = sender
    order_id = sdk.report_slot_status(device["device_id"], "detergent", 3)["order"]["order_id"]
    drain(container)
    sent = [args for name, args in container.deps.queue.sent if name == device_events.WEBHOOK_TASK]
    assert len(sent) == 1
    delivery_id = sent[0][0]
    with pytest.raises(device_events.TransientError):
        device_events.deliver_webhook(delivery_id, container.deps)
    assert device_events.deliver_webhook(delivery_id, container.deps) == "delivered"
    assert device_events.deliver_webhook(delivery_id, container.deps) == "delivered"  # a duplicate task
    assert len(sender.sent) == 2
    url, body, headers = sender.sent[-1]
    assert url == "https://acme.example/hooks"
    payload = sdk.verify_webhook(headers, body, now=clock().timestamp())
    assert payload["type"] == "order.placed" and payload["data"]["order_id"] == order_id
    assert payload["data"]["slot_id"] == "detergent" and payload["data"]["external_id"] == "WM-0001"
    with pytest.raises(PartnerError):
        sdk.verify_webhook(headers, body.replace(b"order", b"ORDER"), now=clock().timestamp())
    log = sdk.webhook_log()
    assert log[0]["status"] == "delivered" and log[0]["attempts"] == 2 and log[0]["type"] == "order.placed"


def test_cancel_ship_deliver_subscription_and_deregistration_webhooks(app, container, sdk, device, token, clock):
    container.deps.webhook_sender = RecordingSender(200)
    order_id = sdk.report_slot_status(device["device_id"], "detergent", 3)["order"]["order_id"]
    container.bus.handle(commands.CancelOrder("h1", order_id))
    response = app.test_client().patch(f"/v1/devices/{device['device_id']}/slots/detergent",
                                       json={"mode": "notify"}, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200 and response.get_json()["mode"] == "notify"
    assert sdk.subscription_info(device["device_id"])["slotsSubscriptionStatus"] == {"detergent": False}
    sdk.deregister(device["device_id"])
    drain(container)
    for name, args in list(container.deps.queue.sent):
        device_events.deliver_webhook(args[0], container.deps)
    types = sorted(json.loads(body)["type"] for _, body, _ in container.deps.webhook_sender.sent)
    assert types == ["device.deregistered", "order.cancelled", "order.placed", "subscription.changed"]


def test_permanent_partner_refusal_is_not_retried(container, sdk, device):
    container.deps.webhook_sender = RecordingSender(410)
    sdk.report_slot_status(device["device_id"], "detergent", 3)
    drain(container)
    delivery_id = container.deps.queue.sent[0][1][0]
    assert device_events.deliver_webhook(delivery_id, container.deps) == "failed"
    assert len(container.deps.webhook_sender.sent) == 1


# -- the hot paths: kept partner keys, lock-free reports ---------------------------------------------------

def _status(client, partner, device_id, remaining, secret=None, prefer="return=representation", **extra):
    """A signed slot status report; ``prefer``: its Prefer header (None: none)."""
    body = json.dumps({"remainingQuantityInUnit": remaining, **extra}).encode()
    headers = {"Authorization": f"Bearer {partner['api_key']}",
               "X-Replenish-Signature": sign(secret or partner["webhook_secret"], body, int(time.time()))}
    if prefer:
        headers["Prefer"] = prefer
    return client.post(f"/v1/partner/devices/{device_id}/slots/detergent/status", data=body, headers=headers)


def test_a_partner_key_is_kept_a_few_seconds_and_revocation_takes_effect_after(app, partner, device, container,
                                                                                 monkeypatch):
    from replenish.adapters import device_repository
    from replenish.adapters.orm_devices import partners
    from sqlalchemy import update
    client = app.test_client()
    assert _status(client, partner, device["device_id"], 70).status_code == 200
    now = [device_repository.time.monotonic()]
    monkeypatch.setattr(device_repository.time, "monotonic", lambda: now[0])
    with container.uow() as uow:
        uow.session.execute(update(partners).values(revoked_at=container.clock()))
        uow.session.commit()
    assert _status(client, partner, device["device_id"], 69).status_code == 200  # kept: at most a few seconds
    now[0] += app.extensions["replenish_devices"]["lookups"].partner_ttl
    assert _status(client, partner, device["device_id"], 68).status_code == 401


def test_a_new_webhook_secret_works_at_once_and_a_retired_one_stops_within_seconds(app, partner, device, container,
                                                                                    monkeypatch):
    from replenish.adapters import device_repository
    client = app.test_client()
    assert _status(client, partner, device["device_id"], 70).status_code == 200  # the secrets are kept now
    now = [device_repository.time.monotonic()]
    monkeypatch.setattr(device_repository.time, "monotonic", lambda: now[0])
    added = container.bus.handle(dc.RotateWebhookSecret(partner["partner_id"]))["added"]
    assert _status(client, partner, device["device_id"], 69, secret=added).status_code == 200
    container.bus.handle(dc.RotateWebhookSecret(partner["partner_id"], retire=partner["webhook_secret"]))
    now[0] += app.extensions["replenish_devices"]["lookups"].partner_ttl
    assert _status(client, partner, device["device_id"], 68).status_code == 401
    assert _status(client, partner, device["device_id"], 67, secret=added).status_code == 200


def test_a_report_that_meets_another_one_applies_to_the_latest_state(app, partner, device, container, monkeypatch):
    """Reports are applied without a lock: one whose slot changed after it was read is tried again, so
    neither reading is lost."""
    from datetime import datetime

    from replenish.services import device_handlers
    client = app.test_client()
    device_id = device["device_id"]
    apply_report, sneaked = device_handlers._apply_report, []

    def with_another_report_in_between(cmd, deps, found, now):
        if not sneaked:  # the first read of the outer report: another one is stored before it writes
            sneaked.append(cmd)
            container.bus.handle(dc.ReportSlotStatus(partner["partner_id"], device_id, "detergent", 60.0,
                                                     last_use=datetime.fromisoformat("2026-03-10T12:00:00+00:00")))
        return apply_report(cmd, deps, found, now)

    monkeypatch.setattr(device_handlers, "_apply_report", with_another_report_in_between)
    answer = _status(client, partner, device_id, 50, lastUseDate="2026-03-10T13:00:00+00:00")
    assert answer.status_code == 200 and answer.get_json()["fresh"] is True
    with container.uow() as uow:
        slot = uow.devices.device(device_id).slot("detergent")
        assert [level for _, level in slot.history] == [60.0, 50.0] and slot.remaining == 50.0


def test_a_stale_read_is_not_written(container, partner, device):
    from replenish.adapters.device_repository import DeviceStatements
    statements = DeviceStatements.for_engine(container.engine)
    source = f"slot:{device['device_id']}:detergent"
    first = statements.slot_for_report(device["device_id"], "detergent", source)
    second = statements.slot_for_report(device["device_id"], "detergent", source)
    first.slot.report(container.clock(), 40.0)
    assert statements.save_report_if_unchanged(first) is True
    second.slot.report(container.clock(), 30.0)
    assert statements.save_report_if_unchanged(second) is False
    again = statements.slot_for_report(device["device_id"], "detergent", source)
    assert again.slot.remaining == 40.0


def test_a_notify_slot_running_low_is_told_once_through_the_outbox(app, token, partner, device, container):
    client = app.test_client()
    device_id = device["device_id"]
    patched = client.patch(f"/v1/devices/{device_id}/slots/detergent", json={"mode": "notify"},
                           headers={"Authorization": f"Bearer {token}"})
    assert patched.status_code == 200
    first = _status(client, partner, device_id, 10).get_json()
    second = _status(client, partner, device_id, 9).get_json()
    assert first["decision"]["action"] == second["decision"]["action"] == "notify"
    assert first["order"] is None and second["order"] is None
    drain(container)
    with container.uow() as uow:
        told = [n for n in uow.notifications.for_household("h1") if n.kind == "SlotRunningLow"]
        assert len(told) == 1 and "running low" in told[0].message
        assert uow.orders.list("h1") == []


def test_repurchase_timing_is_asked_once_per_household_and_product(app, partner, device, container, monkeypatch):
    from replenish.services import device_handlers

    class Timing:
        expected_at = None

    class Service:
        calls = 0

        def history(self, household_id):
            return ["something bought"]

        def next_purchase(self, household_id, sku):
            Service.calls += 1
            return Timing()

    monkeypatch.setattr(container.deps, "recommendations", Service(), raising=False)
    client = app.test_client()
    for level in (70, 60):  # readings at the same moment: no trend, so the timing stands in for it
        answer = _status(client, partner, device["device_id"], level).get_json()
        assert answer["decision"]["action"] == "none"
    assert Service.calls == 1
    container.clock.advance(seconds=device_handlers.TIMING_TTL)
    assert _status(client, partner, device["device_id"], 80).get_json()["decision"]["predicted_runout"] is None
    assert Service.calls == 2  # (refilled: no trend again)
