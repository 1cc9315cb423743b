"""Fewer deliveries on real PostgreSQL with a real worker and beat: two orders placed inside their cancel windows
go to the store as one retailer order (one booking), and both follow it to delivered."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from replenish.adapters import orm
from replenish.domain import commands
from replenish.domain.commands import LineRequest
from replenish.services import merging

from .services import wait_for
from .test_order_flow import FAST_STORE, make_container, seed, statuses, store_books

pytestmark = pytest.mark.integration


def test_two_orders_inside_their_windows_are_sent_as_one_retailer_order_and_both_are_delivered(
        pg, redis_url, service_env, processes):
    env = service_env(DATABASE_URL=pg, REDIS_URL=redis_url, **FAST_STORE)
    container = make_container(env)
    [household] = seed(container)
    container.bus.handle(commands.UpdateLimits(household, cancel_windows={"web": 6}, send_together=True))
    processes("worker", env, "-c", "2")
    processes("beat", env)
    first = container.bus.handle(commands.PlaceOrder(household, "web", (LineRequest("SKU-1", 2),))).order_id
    time.sleep(3)  # the second has 6 s of window when the first has 3 s left
    second = container.bus.handle(commands.PlaceOrder(household, "web", (LineRequest("SKU-2"),))).order_id
    with container.uow() as uow:
        assert {uow.orders.get(o).status for o in (first, second)} == {"pending"}
    wait_for(lambda: statuses(container).get("delivered") == 2, timeout=90, interval=0.3,
             what="both orders delivered")
    books = store_books(container)
    assert sorted(books) == sorted([first, second])
    assert books[first][0] == books[second][0]  # one retailer order for both
    with container.engine.connect() as conn:
        assert len(conn.execute(select(orm.sim_store_orders)).all()) == 1  # exactly one booking
    with container.uow() as uow:
        for order_id in (first, second):
            order = uow.orders.get(order_id)
            assert order.retailer_order_id == books[first][0]
            assert [r.event_type for r in uow.outbox.timeline(order_id) if r.event_type != "OrderSentTogether"] == [
                "OrderPlaced", "OrderSubmitted", "OrderConfirmed", "OrderShipped", "OrderDelivered"]
        assert merging.deliveries_saved(uow, household, uow.orders.get(first).created_at) == 1

    def told():
        with container.uow() as uow:
            return [n.message for n in uow.notifications.for_household(household)
                    if n.kind == "OrderSentTogether" and n.channel == "feed"]
    notices = wait_for(lambda: len(told()) == 2 and told(), timeout=30, what="the sent-together notices")
    assert any(n.startswith("Your order of Product 2 went to the store together with your order of 2 x Product 1")
               for n in notices)
