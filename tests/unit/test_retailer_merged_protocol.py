"""The retailer protocol's merged submissions and line-level cancels, as the simulated store serves them over
HTTP and HttpRetailer speaks them: one retailer order for several of our orders, the orders it holds named in
every answer (a repeated key included), and one order's lines taken off until the store ships."""
from __future__ import annotations

import pytest
import requests

from replenish.adapters.http_retailer import HttpRetailer
from replenish.adapters.retailer_signing import sign
from replenish.services.ports import SubmitLine, SubmitPart, SubmitRequest, TransientError
from tests.unit import test_retailer_batch
from tests.unit.test_retailer_batch import SECRET, Scripted, request

serve = test_retailer_batch.serve  # the HTTP store fixture, shared


def merged(key: str, *order_ids: str) -> SubmitRequest:
    parts = tuple(SubmitPart(o, (SubmitLine(f"SKU-{o}", 1, 100),)) for o in order_ids)
    return SubmitRequest(key, "h1", "1 Main St", tuple(line for p in parts for line in p.lines), parts)


def test_a_merged_submission_is_one_retailer_order_that_names_its_orders(serve):
    store, calls, url = serve()
    gateway = HttpRetailer(url, SECRET)
    answer = gateway.submit(merged("o1", "o1", "o2"))
    assert answer.accepted and answer.order_ids == ("o1", "o2")
    assert calls == ["/orders"]
    assert [line["sku"] for line in store.lines_of(answer.retailer_order_id)] == ["SKU-o1", "SKU-o2"]
    in_batch = gateway.submit_many([merged("o1", "o1", "o2"), request("o3")])
    assert in_batch[0].retailer_order_id == answer.retailer_order_id and in_batch[0].order_ids == ("o1", "o2")
    assert in_batch[1].order_ids == ("o3",)
    assert len(store.bookings()) == 2


def test_a_lost_reply_to_a_merged_submission_then_a_smaller_try_gets_the_first_booking(serve):
    store, _, url = serve(script=Scripted("lose"))
    gateway = HttpRetailer(url, SECRET)
    with pytest.raises(TransientError, match="504"):
        gateway.submit_many([merged("o1", "o1", "o2")])
    again = gateway.submit_many([merged("o1", "o1")])[0]  # o2 was cancelled meanwhile on our side
    assert again.order_ids == ("o1", "o2")  # the booking holds both: the caller takes o2's lines off
    assert gateway.cancel_lines(again.retailer_order_id, ["o2"]) is True
    assert [line["sku"] for line in store.lines_of(again.retailer_order_id)] == ["SKU-o1"]
    assert gateway.status(again.retailer_order_id).status == "submitted"  # o1 still comes
    assert gateway.cancel_lines(again.retailer_order_id, ["o1"]) is True
    assert gateway.status(again.retailer_order_id).status == "cancelled"  # nothing left to deliver


def test_a_line_level_cancel_is_refused_once_shipped_and_for_orders_the_booking_does_not_hold(serve):
    store, _, url = serve()
    gateway = HttpRetailer(url, SECRET)
    rid = gateway.submit(merged("o1", "o1", "o2")).retailer_order_id
    body = b'{"order_ids": ["o9"]}'
    response = requests.post(f"{url}/orders/{rid}/cancel", data=body,
                             headers={"X-Replenish-Signature": sign(SECRET, body), "Content-Type": "application/json"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "bad_request"
    store.ship_delay = store.ship_delay * 0  # the store has shipped it
    assert gateway.cancel_lines(rid, ["o2"]) is False
    assert len(store.lines_of(rid)) == 2


def test_the_store_refuses_malformed_parts(serve):
    store, _, url = serve()
    for body in (b'{"idempotency_key": "k", "parts": []}', b'{"idempotency_key": "k", "parts": [{"order_id": "a"}]}',
                 b'{"idempotency_key": "k", "parts": [{"order_id": "a", "lines": [{"sku": "S", "quantity": 1, '
                 b'"unit_price_cents": 1}]}, {"order_id": "a", "lines": [{"sku": "S", "quantity": 1, '
                 b'"unit_price_cents": 1}]}]}'):
        response = requests.post(url + "/orders", data=body, headers={
            "X-Replenish-Signature": sign(SECRET, body), "Content-Type": "application/json", "Idempotency-Key": "k"})
        assert response.status_code == 400 and response.json()["error"]["code"] == "bad_request"
    assert store.bookings() == []
