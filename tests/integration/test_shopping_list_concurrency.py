"""Ordering a shopping list spends money: on real PostgreSQL, asking for it many times at once places one order,
and what is added while it is being ordered stays on the list for next time."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text

from replenish.domain import commands
from replenish.domain.errors import DomainError
from replenish.lists.handlers import list_view
from replenish.lists.model import AddToList, OrderList

pytestmark = pytest.mark.integration


@pytest.fixture
def container(pg_container):
    pg_container.bus.handle(commands.CreateHousehold("fam", "Family"))
    return pg_container


def _orders(container) -> int:
    with container.engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM orders WHERE household_id = 'fam'")).scalar_one()


def _try(container, command):
    try:
        return container.bus.handle(command)
    except DomainError as exc:
        return exc


def test_twenty_requests_to_order_the_same_list_place_one_order(container):
    container.bus.handle(AddToList("fam", sku="TIDE-PODS-42", quantity=2))
    container.bus.handle(AddToList("fam", sku="CHARMIN-12"))
    version = list_view(container.deps, "fam")["version"]
    start = threading.Barrier(20)

    def order(i):
        start.wait()
        return _try(container, OrderList("fam", version=version if i % 2 else None))

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(order, range(20)))
    placed = {r.order_id for r in results if not isinstance(r, DomainError)}
    assert len(placed) == 1 and _orders(container) == 1
    refused = [r for r in results if isinstance(r, DomainError)]
    assert all(r.code in ("invalid", "list_changed") for r in refused), [r.message for r in refused]
    assert list_view(container.deps, "fam")["items"] == []


def test_what_is_added_while_the_list_is_ordered_stays_for_next_time(container):
    container.bus.handle(AddToList("fam", sku="TIDE-PODS-42"))
    start = threading.Barrier(2)

    def order():
        start.wait()
        return container.bus.handle(OrderList("fam"))

    def add():
        start.wait()
        return container.bus.handle(AddToList("fam", sku="CHARMIN-12"))

    with ThreadPoolExecutor(max_workers=2) as pool:
        ordered, _ = pool.submit(order), pool.submit(add)
        result = ordered.result()
    lines = [line["sku"] for line in result.order["lines"]]
    left = [i["sku"] for i in list_view(container.deps, "fam")["items"]]
    assert "TIDE-PODS-42" in lines and sorted(lines + left) == ["CHARMIN-12", "TIDE-PODS-42"]  # each exactly once
    assert _orders(container) == 1
