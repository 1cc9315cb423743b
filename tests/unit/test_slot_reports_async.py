"""Slot reports answered at once (202: asked for with ``Prefer: respond-async``, and the default when a report
asks for no answer), applied by a worker from the Redis stream with the same rules and as of their arrival;
Redis down means the report is applied at once. ``Prefer: return=representation`` (the SDK's ``wait=True``)
gets the synchronous answer."""
import pytest

from replenish.sdk import PartnerError
from replenish.services.device_handlers import apply_slot_reports

from .test_partner_api import app, device, partner, sdk  # noqa: F401  (the partner API's fixtures)


def slot(sdk, device):
    return sdk.device(device["device_id"])["slots"][0]


def apply(container):
    return apply_slot_reports(container.deps, container.slot_inbox, consumer="test")


def orders(container, device):
    from sqlalchemy import text
    with container.engine.connect() as conn:
        return conn.execute(text("SELECT id, status FROM orders WHERE source_id = :s"),
                            {"s": f"slot:{device['device_id']}:detergent"}).all()


def test_an_async_report_is_accepted_at_once_and_applied_by_the_worker(sdk, device, container, clock):
    answer = sdk.report_slot_status(device["device_id"], "detergent", 70, original=84, wait=False)
    assert answer == {"status": "accepted", "device_id": device["device_id"], "slot_id": "detergent"}
    assert slot(sdk, device)["status"]["remainingQuantityInUnit"] is None  # not applied yet
    assert ("workers.tasks.apply_slot_reports", ()) in container.deps.queue.sent  # a worker was asked
    arrived = clock()
    clock.advance(minutes=3)
    assert apply(container) == 1
    status = slot(sdk, device)["status"]
    assert status["remainingQuantityInUnit"] == 70 and status["originalQuantityInUnit"] == 84
    assert status["reportedAt"] == arrived.isoformat()  # as of its arrival, not of the worker's turn
    assert apply(container) == 0 and container.slot_inbox.waiting() == 0


def test_the_same_low_report_queued_many_times_makes_one_order(sdk, device, container):
    for minute in range(5):  # the device resends its reading (each a signed request of its own)
        sdk.report_slot_status(device["device_id"], "detergent", 10, last_use=f"2026-03-10T14:0{minute}:00+00:00",
                               wait=False)
    assert orders(container, device) == []
    assert apply(container) == 5
    assert len(orders(container, device)) == 1
    with container.uow() as uow:
        order = uow.orders.get(orders(container, device)[0].id)
        assert [(line.sku, line.quantity) for line in order.lines] == [("TIDE-PODS-42", 2)]  # 84-10: two packs


def test_only_the_first_report_asks_for_a_worker_while_one_is_pending(sdk, device, container):
    for level in (80, 79, 78):
        sdk.report_slot_status(device["device_id"], "detergent", level, wait=False)
    asked = [s for s in container.deps.queue.sent if s[0] == "workers.tasks.apply_slot_reports"]
    assert len(asked) == 1
    apply(container)  # the worker lowers the flag as it starts: the next report asks again
    sdk.report_slot_status(device["device_id"], "detergent", 77, wait=False)
    assert len([s for s in container.deps.queue.sent if s[0] == "workers.tasks.apply_slot_reports"]) == 2


def test_a_malformed_async_report_is_refused_at_once_and_nothing_is_queued(sdk, device, container):
    with pytest.raises(PartnerError) as bad:
        sdk.report_slot_status(device["device_id"], "detergent", -3, wait=False)
    assert bad.value.status == 400 and bad.value.body["error"]["field"] == "remainingQuantityInUnit"
    assert container.slot_inbox.waiting() == 0


def test_a_report_for_an_unknown_slot_gets_its_404_at_once_and_nothing_is_queued(sdk, device, container):
    with pytest.raises(PartnerError) as unknown:
        sdk.report_slot_status(device["device_id"], "no-such-slot", 10, wait=False)
    assert unknown.value.status == 404 and unknown.value.body["error"]["field"] == "slot_id"
    assert container.slot_inbox.waiting() == 0


def test_a_report_queued_just_before_deregistration_is_dropped_by_the_worker(sdk, device, container, caplog):
    sdk.report_slot_status(device["device_id"], "detergent", 50, wait=False)
    assert apply(container) == 1
    sdk.deregister(device["device_id"])
    # within the few seconds the slot is known to be accepting, a report is still queued...
    assert sdk.report_slot_status(device["device_id"], "detergent", 10, wait=False)["status"] == "accepted"
    assert apply(container) == 0  # ...and the worker drops it (logged, not retried for ever)
    assert "dropped" in caplog.text and container.slot_inbox.waiting() == 0
    assert orders(container, device) == []
    # the partner hears of it: a signed webhook, in its delivery log
    rejected = [d for d in sdk.webhook_log() if d["type"] == "slot_report.rejected"]
    assert len(rejected) == 1
    with container.uow() as uow:
        payload = uow.webhooks.get(rejected[0]["id"]).payload
    assert payload["data"]["code"] == "device_deregistered" and payload["data"]["report"] == {
        "remainingQuantityInUnit": 10.0} and payload["data"]["device_id"] == device["device_id"]


def test_with_redis_down_an_async_report_is_applied_at_once(sdk, device, container, monkeypatch):
    def down(*args, **kwargs):
        raise ConnectionError("redis is down")
    monkeypatch.setattr(container.slot_inbox, "add_guarded", down)
    answer = sdk.report_slot_status(device["device_id"], "detergent", 12, wait=False)
    assert answer["order"]["status"] == "order_placed"  # the synchronous answer: nothing was lost
    assert slot(sdk, device)["status"]["remainingQuantityInUnit"] == 12


def test_a_report_a_dead_worker_left_pending_is_taken_again(sdk, device, container, monkeypatch):
    from replenish.adapters import slot_inbox
    sdk.report_slot_status(device["device_id"], "detergent", 60, wait=False)
    inbox = container.slot_inbox
    assert len(inbox.take("crashed-worker", 10)) == 1  # read, never acknowledged
    assert apply(container) == 0  # not idle long enough to be claimed
    monkeypatch.setattr(slot_inbox, "CLAIM_IDLE_MS", 0)
    assert apply(container) == 1
    assert slot(sdk, device)["status"]["remainingQuantityInUnit"] == 60


def test_a_replayed_or_rate_limited_async_report_is_refused_and_not_queued(app, partner, device, container,
                                                                          monkeypatch):
    import json
    import time

    from replenish.adapters.http_retailer import sign
    path = f"/v1/partner/devices/{device['device_id']}/slots/detergent/status"

    def post(level, signature=None):
        body = json.dumps({"remainingQuantityInUnit": level}).encode()
        return app.test_client().post(path, data=body, headers={
            "Authorization": f"Bearer {partner['api_key']}", "Prefer": "respond-async",
            "Content-Type": "application/json",
            "X-Replenish-Signature": signature or sign(partner["webhook_secret"], body, int(time.time()))})
    body = json.dumps({"remainingQuantityInUnit": 40}).encode()
    signature = sign(partner["webhook_secret"], body, int(time.time()))
    assert post(40, signature).status_code == 202
    replayed = post(40, signature)
    assert replayed.status_code == 401 and "replay" in replayed.get_json()["error"]["message"]
    assert container.slot_inbox.waiting() == 1
    monkeypatch.setenv("REPLENISH_DEVICE_RATE", "2/60")
    codes = [post(level).status_code for level in (39, 38, 37)]
    assert codes[-1] == 429 and container.slot_inbox.waiting() == 1 + codes.count(202)


def test_the_worker_recovers_when_redis_lost_the_stream(sdk, device, container):
    assert apply(container) == 0  # the consumer group exists now
    container.redis.flushall()  # Redis restarted without persistence
    sdk.report_slot_status(device["device_id"], "detergent", 33, wait=False)
    assert apply(container) == 1
    assert slot(sdk, device)["status"]["remainingQuantityInUnit"] == 33


def _post(app, partner, device, level, prefer=None):
    from .test_partner_api import _status
    return _status(app.test_client(), partner, device["device_id"], level, prefer=prefer)


def test_a_report_that_asks_for_nothing_is_answered_202_as_drs_slot_status_is(app, partner, device, container):
    answer = _post(app, partner, device, 12)
    assert answer.status_code == 202 and answer.get_json()["status"] == "accepted"
    assert "Preference-Applied" not in answer.headers
    assert orders(container, device) == [] and container.slot_inbox.waiting() == 1
    assert apply(container) == 1
    assert len(orders(container, device)) == 1  # the worker ordered, as the synchronous path would have


def test_return_representation_gets_the_slot_and_the_decision(app, partner, device, container):
    answer = _post(app, partner, device, 12, prefer="return=representation")
    assert answer.status_code == 200 and answer.headers["Preference-Applied"] == "return=representation"
    body = answer.get_json()
    assert body["decision"]["action"] == "order" and body["order"]["status"] == "order_placed"
    assert container.slot_inbox.waiting() == 0


def test_a_slot_is_known_to_accept_reports_for_a_few_seconds_only(app, partner, device, container, monkeypatch):
    from replenish.adapters import device_repository
    now = [device_repository.time.monotonic()]
    monkeypatch.setattr(device_repository.time, "monotonic", lambda: now[0])
    assert _post(app, partner, device, 70).status_code == 202
    from replenish.domain import device_commands as dc
    container.bus.handle(dc.DeregisterDevice(partner["partner_id"], device["device_id"]))
    assert _post(app, partner, device, 69).status_code == 202  # still known as accepting
    now[0] += 6
    refused = _post(app, partner, device, 68)  # read again: the synchronous path's own answer
    assert refused.status_code == 410 and refused.get_json()["error"]["code"] == "device_deregistered"
    assert container.slot_inbox.waiting() == 2


def test_without_redis_a_report_is_applied_and_answered_at_once(app, partner, device, container, monkeypatch):
    monkeypatch.setattr(container, "slot_inbox", None)
    answer = _post(app, partner, device, 12)
    assert answer.status_code == 200 and answer.get_json()["order"]["status"] == "order_placed"


def test_a_database_outage_is_a_503_to_retry_not_a_500(app, partner, device, container, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from replenish.adapters.device_repository import DeviceLookups

    def down(*args, **kwargs):
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))
    monkeypatch.setattr(DeviceLookups, "_first", down)  # the partner key and the slot are read first
    answer = _post(app, partner, device, 12)
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "5"
    assert answer.get_json()["error"]["code"] == "database_unavailable"
    assert container.slot_inbox.waiting() == 0
