"""Stock levels for anything, and whole packs: the cheapest combination of a line's pack sizes that reaches the
refill level (and why), stock raised by deliveries and lowered by what is used, the refill put on the list."""
import re

import pytest

from catalog.model import Product
from replenish.domain import commands
from replenish.domain.errors import InvalidCommand, NotFound
from replenish.lists.handlers import list_view
from replenish.pantry.model import Pack, RefillStock, SetStockLevel, UseStock, choose_packs, product_line
from replenish.web import create_app
from tests.dashboard_forms import sign_in

TIDE = [Pack("T42", "Tide 42", 42, 1299), Pack("T81", "Tide 81", 81, 2299), Pack("T112", "Tide 112", 112, 3199)]


@pytest.mark.parametrize("need, lines, price", [
    (40, [("T42", 1)], 1299),
    (80, [("T81", 1)], 2299),  # one 81 beats two 42s
    (84, [("T42", 2)], 2598),  # two 42s beat one 112
    (150, [("T112", 1), ("T42", 1)], 4498),
    (1, [("T42", 1)], 1299),
])
def test_the_cheapest_whole_packs_that_reach_the_target(need, lines, price):
    choice = choose_packs(need, TIDE)
    assert choice.lines == lines and choice.price_cents == price and choice.units >= need


def test_the_choice_says_why_beside_the_next_best():
    assert choose_packs(80, TIDE, "count").why == \
        "1 × 81-count for $22.99: the lowest price for at least 80 (2 × 42-count would cost $25.98)."
    fractional = choose_packs(150, [Pack("a", "a", 82.5, 1499), Pack("b", "b", 100, 1699)], "fl oz")
    assert fractional.lines == [("a", 2)] and "150 fl oz" in fractional.why


def test_exhaustive_search_agrees_on_small_cases():
    import itertools
    for need in range(1, 300, 7):
        best = min(sum(c * p.price_cents for c, p in zip(counts, TIDE, strict=False))
                   for counts in itertools.product(range(9), repeat=3)
                   if sum(c * p.size for c, p in zip(counts, TIDE, strict=False)) >= need)
        assert choose_packs(need, TIDE).price_cents == best, need


def test_impossible_refills_are_refused():
    with pytest.raises(InvalidCommand):
        choose_packs(0, TIDE)
    with pytest.raises(InvalidCommand):
        choose_packs(10, [])


def test_pack_sizes_of_one_product_are_one_line_and_other_products_are_not():
    def p(title, brand="Tide", unit="count"):
        return Product("x", title, brand, "household/laundry", 1, unit, 100)
    assert product_line(p("Tide PODS Original, 42 Count")) == product_line(p("Tide PODS Original, 81 Count"))
    assert product_line(p("Tide PODS Original, 42 Count")) != product_line(p("Tide PODS Free & Gentle, 42 Count"))
    assert product_line(p("Charmin Ultra Soft, 12 Mega Rolls", "Charmin", "rolls")) == \
        product_line(p("Charmin Ultra Soft, 24 Mega Rolls", "Charmin", "rolls"))
    assert product_line(p("Tide Liquid, 64 fl oz", unit="fl oz")) != product_line(p("Tide Liquid, 64 fl oz"))


def test_stock_rises_with_a_delivery_and_falls_with_use_and_the_refill_goes_on_the_list(container, clock):
    container.bus.handle(SetStockLevel("h1", "TIDE-PODS-42", minimum=10, refill_to=80, on_hand=20))
    placed = container.bus.handle(commands.PlaceOrder("h1", "web", (commands.LineRequest("TIDE-PODS-81", 1),)))
    clock.advance(minutes=16)
    container.bus.handle(commands.SubmitOrder(placed.order_id))
    clock.advance(hours=3)
    assert container.bus.handle(commands.TrackOrder(placed.order_id)) == "delivered"
    queue = container.deps.queue
    while queue.events:
        container.bus.handle_event(queue.events.pop(0))
    with container.uow() as uow:
        [level] = uow.stock.for_household("h1")
    assert level.on_hand == 101  # 20 + one 81-count pack of the same line
    used = container.bus.handle(UseStock("h1", "TIDE-PODS-42", amount=95))
    assert used["level"]["on_hand"] == 6 and used["level"]["low"]
    refill = used["refill"]
    assert [(line["sku"], line["quantity"]) for line in refill["lines"]] == [("TIDE-PODS-81", 1)]  # 74 needed
    assert "the lowest price for at least 74" in refill["why"]
    [item] = list_view(container.deps, "h1")["items"]
    assert (item["sku"], item["quantity"], item["added_by"]) == ("TIDE-PODS-81", 1, "stock")
    again = container.bus.handle(UseStock("h1", "TIDE-PODS-42", all=True))  # still on the list: not added twice
    assert again["level"]["on_hand"] == 0 and len(list_view(container.deps, "h1")["items"]) == 1


def test_bad_levels_and_untracked_products_are_refused_naming_the_field(container):
    for kwargs, field in (({"minimum": -1, "refill_to": 5}, "minimum"), ({"minimum": 5, "refill_to": 5}, "refill_to"),
                          ({"minimum": 1, "refill_to": 5, "on_hand": float("nan")}, "on_hand")):
        with pytest.raises(InvalidCommand) as refused:
            container.bus.handle(SetStockLevel("h1", "TIDE-PODS-42", **kwargs))
        assert refused.value.field == field
    with pytest.raises(NotFound) as untracked:
        container.bus.handle(UseStock("h1", "CHARMIN-12", all=True))
    assert untracked.value.field == "sku"
    with pytest.raises(InvalidCommand) as nothing:
        container.bus.handle(UseStock("h1", "CHARMIN-12"))
    assert nothing.value.field == "amount"
    with pytest.raises(NotFound):
        container.bus.handle(RefillStock("h1", "CHARMIN-12"))


def test_the_api_and_the_dashboard(container, token):
    client = create_app(container).test_client()
    auth = {"Authorization": f"Bearer {token}"}
    put = client.put("/v1/stock/TIDE-PODS-42", json={"minimum": 10, "refill_to": 80, "on_hand": 50}, headers=auth)
    assert put.status_code == 200 and put.get_json()["title"].startswith("Tide PODS")
    bad = client.put("/v1/stock/TIDE-PODS-42", json={"minimum": "ten", "refill_to": 80}, headers=auth)
    assert bad.status_code == 400 and "minimum" in bad.get_data(as_text=True)
    assert client.put("/v1/stock/NOPE", json={"minimum": 1, "refill_to": 2}, headers=auth).status_code == 404
    used = client.post("/v1/stock/TIDE-PODS-42/used", json={"amount": 45}, headers=auth).get_json()
    assert used["level"]["on_hand"] == 5 and used["refill"]["lines"][0]["sku"] == "TIDE-PODS-81"
    assert client.get("/v1/stock", headers=auth).get_json()[0]["low"] is True

    csrf = sign_in(client, token)
    page = client.get("/dashboard/list").get_data(as_text=True)
    stock = page[page.index('id="stock"'):page.index('id="add"')]
    assert "Tide PODS Laundry Detergent, 42 Count" in stock and "Low" in stock
    done = client.post("/dashboard/stock/TIDE-PODS-42/used-up", data={"csrf_token": csrf})
    assert done.status_code == 302
    flashed = client.get("/dashboard/list").get_data(as_text=True)
    assert re.search(r"no Tide PODS Laundry Detergent, 42 Count left", flashed)
