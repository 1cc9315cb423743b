"""The household shopping list: add in words or by product, merge repeats, check off, reorder, remove by name,
and order the whole list as one order (once, even when asked twice), through the bus, the API and the dashboard."""
import re

import pytest

from replenish.domain import commands
from replenish.domain.errors import DomainError, InvalidCommand, LimitExceeded, NotFound
from replenish.lists.handlers import list_view
from replenish.lists.model import AddToList, ChangeListItem, ClearChecked, ListChanged, OrderList, RemoveFromList
from tests.dashboard_forms import sign_in


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def shown(container, household="h1"):
    return [(i["phrase"], i["sku"], i["quantity"], i["checked"]) for i in list_view(container.deps, household)["items"]]


def orders(container, household="h1"):
    with container.uow() as uow:
        return [sorted((line.sku, line.quantity) for line in o.lines) for o in uow.orders.list(household)]


def add(container, phrase=None, sku=None, quantity=1):
    return container.bus.handle(AddToList("h1", phrase, sku, quantity))


def test_words_get_the_households_pick_and_repeats_add_up(container):
    first = add(container, "laundry detergent")
    assert first["sku"] and first["sku"].startswith("TIDE-PODS") and first["title"].startswith("Tide PODS")
    add(container, "Laundry  Detergent", quantity=2)  # the same thing said again: one line, quantity added
    add(container, sku="CHARMIN-12")
    assert shown(container) == [("laundry detergent", first["sku"], 3, False),
                                ("Charmin Ultra Soft Toilet Paper, 12 Mega Rolls", "CHARMIN-12", 1, False)]


def test_bad_additions_are_refused_naming_the_field_and_change_nothing(container):
    for kwargs, field in (({"phrase": "  "}, "phrase"), ({"phrase": "x" * 121}, "phrase"),
                          ({"sku": "NOPE"}, "sku"), ({"phrase": "milk", "quantity": 0}, "quantity"),
                          ({"phrase": "milk", "quantity": 100}, "quantity"), ({}, "phrase"),
                          ({"phrase": "milk", "sku": "CHARMIN-12"}, "phrase")):
        with pytest.raises((InvalidCommand, NotFound)) as refused:
            container.bus.handle(AddToList("h1", **kwargs))
        assert refused.value.field == field, kwargs
    assert shown(container) == []


def test_order_the_list_places_one_order_of_what_is_not_checked_off_and_empties_it(container):
    add(container, sku="TIDE-PODS-42", quantity=2)
    charmin = add(container, sku="CHARMIN-12")
    container.bus.handle(ChangeListItem("h1", charmin["id"], checked=True))  # got it at the corner shop
    result = container.bus.handle(OrderList("h1"))
    assert result.status == "order_placed" and not result.replayed
    assert orders(container) == [[("TIDE-PODS-42", 2)]]
    assert shown(container) == [("Charmin Ultra Soft Toilet Paper, 12 Mega Rolls", "CHARMIN-12", 1, True)]
    container.bus.handle(ClearChecked("h1"))
    with pytest.raises(InvalidCommand, match="Your list is empty"):
        container.bus.handle(OrderList("h1"))
    assert len(orders(container)) == 1


def test_asking_again_with_the_version_seen_gets_the_same_order_back(container):
    add(container, sku="TIDE-PODS-42")
    version = list_view(container.deps, "h1")["version"]
    first = container.bus.handle(OrderList("h1", version=version))
    again = container.bus.handle(OrderList("h1", version=version))  # a retry after a lost answer
    assert again.replayed and again.order_id == first.order_id and len(orders(container)) == 1


def test_a_list_changed_since_it_was_seen_is_not_ordered_blind(container):
    add(container, sku="TIDE-PODS-42")
    seen = list_view(container.deps, "h1")["version"]
    add(container, sku="CHARMIN-12")
    with pytest.raises(ListChanged) as refused:
        container.bus.handle(OrderList("h1", version=seen))
    assert refused.value.field == "version" and orders(container) == []
    assert len(shown(container)) == 2


def test_an_order_the_caps_refuse_leaves_the_list_as_it_was(container):
    container.bus.handle(commands.UpdateLimits("h1", per_order_cap_cents=1000))
    add(container, sku="TIDE-PODS-81")
    with pytest.raises(LimitExceeded):
        container.bus.handle(OrderList("h1"))
    assert shown(container) == [("Tide PODS Laundry Detergent, 81 Count", "TIDE-PODS-81", 1, False)]
    assert orders(container) == []
    container.bus.handle(commands.UpdateLimits("h1", per_order_cap_cents=5000))
    assert container.bus.handle(OrderList("h1")).status == "order_placed"  # nothing left claimed


def test_a_claim_left_by_a_crash_is_settled_on_the_next_order(container, clock):
    add(container, sku="TIDE-PODS-42")
    with container.uow() as uow:  # a process claimed the item, then died before placing the order
        uow.lists.lock("h1")
        item = uow.lists.items("h1")[0]
        uow.lists.claim([item.id], "list:gone:0", clock())
        uow.commit()
    assert shown(container) == []  # being ordered: not shown as still to buy
    with pytest.raises(InvalidCommand, match="being ordered already"):
        container.bus.handle(OrderList("h1"))
    clock.advance(minutes=5)
    assert container.bus.handle(OrderList("h1")).status == "order_placed"
    assert orders(container) == [[("TIDE-PODS-42", 1)]]


def test_remove_by_name_and_reorder(container):
    add(container, sku="TIDE-PODS-42")
    add(container, sku="CHARMIN-12")
    paper = add(container, "paper towels")
    container.bus.handle(ChangeListItem("h1", paper["id"], position=0))
    assert [p for p, *_ in shown(container)][0] == "paper towels"
    assert container.bus.handle(RemoveFromList("h1", phrase="toilet paper"))["removed"].startswith("Charmin")
    with pytest.raises(NotFound, match="unicorn saddles is not on your list"):
        container.bus.handle(RemoveFromList("h1", phrase="unicorn saddles"))
    add(container, sku="TIDE-PODS-81")
    with pytest.raises(InvalidCommand, match="Several things") as ambiguous:
        container.bus.handle(RemoveFromList("h1", phrase="tide"))
    assert len(ambiguous.value.details["matches"]) == 2 and len(shown(container)) == 3


def test_the_api_lists_adds_changes_removes_and_orders(client, token, container):
    assert client.get("/v1/list").status_code == 401
    added = client.post("/v1/list", json={"sku": "TIDE-PODS-42", "quantity": 2}, headers=auth(token))
    assert added.status_code == 201 and added.get_json()["title"].startswith("Tide PODS")
    bad = client.post("/v1/list", json={"phrase": "milk", "quantity": "two"}, headers=auth(token))
    assert bad.status_code == 400 and "quantity" in bad.get_data(as_text=True)
    item_id = added.get_json()["id"]
    changed = client.patch(f"/v1/list/{item_id}", json={"quantity": 3}, headers=auth(token))
    assert changed.status_code == 200 and changed.get_json()["quantity"] == 3
    assert client.patch("/v1/list/nope", json={"quantity": 3}, headers=auth(token)).status_code == 404
    listed = client.get("/v1/list", headers=auth(token)).get_json()
    assert listed["total_cents"] == 3 * 1299 and len(listed["items"]) == 1
    placed = client.post("/v1/list/order", json={"version": listed["version"]}, headers=auth(token))
    assert placed.status_code == 201 and placed.get_json()["order"]["lines"][0]["quantity"] == 3
    replay = client.post("/v1/list/order", json={"version": listed["version"]}, headers=auth(token))
    assert replay.status_code == 200 and replay.get_json()["order_id"] == placed.get_json()["order_id"]
    empty = client.post("/v1/list/order", headers=auth(token))
    assert empty.status_code == 400 and empty.get_json()["error"]["field"] == "items"
    assert client.delete(f"/v1/list/{item_id}", headers=auth(token)).status_code == 404  # ordered: gone


def test_another_household_cannot_touch_my_list(client, token, container):
    item = client.post("/v1/list", json={"sku": "TIDE-PODS-42"}, headers=auth(token)).get_json()
    container.bus.handle(commands.CreateHousehold("h2", "Other"))
    other = container.bus.handle(commands.IssueToken("h2"))
    assert client.patch(f"/v1/list/{item['id']}", json={"checked": True}, headers=auth(other)).status_code == 404
    assert client.delete(f"/v1/list/{item['id']}", headers=auth(other)).status_code == 404
    assert client.get("/v1/list", headers=auth(other)).get_json()["items"] == []
    assert shown(container) == [("Tide PODS Laundry Detergent, 42 Count", "TIDE-PODS-42", 1, False)]


def test_the_dashboard_list_page_builds_and_orders_the_list(client, token, container):
    csrf = sign_in(client, token)
    assert "Your list is empty" in client.get("/dashboard/list").get_data(as_text=True)
    client.post("/dashboard/list", data={"csrf_token": csrf, "phrase": "laundry detergent", "quantity": "2"})
    found = client.get("/dashboard/list?find=charmin").get_data(as_text=True)
    assert "Add Charmin Ultra Soft Toilet Paper" in found
    client.post("/dashboard/list", data={"csrf_token": csrf, "sku": "CHARMIN-12", "quantity": "1"})
    page = client.get("/dashboard/list").get_data(as_text=True)
    assert "laundry detergent" in page and "Tide PODS" in page
    assert re.search(r"Order the list: 2 things, \$\d+\.\d\d", page)
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    done = client.post("/dashboard/list/order", data={"csrf_token": csrf, "version": version})
    assert done.status_code == 302 and done.headers["Location"].endswith("/dashboard/")
    assert len(orders(container)) == 1 and len(orders(container)[0]) == 2
    assert "Your list is empty" in client.get("/dashboard/list").get_data(as_text=True)
    forged = client.post("/dashboard/list", data={"phrase": "milk"})  # no CSRF token
    assert forged.status_code == 400 and shown(container) == []


def test_an_order_of_the_list_made_while_another_is_being_placed_never_repeats_its_items(container, monkeypatch):
    from replenish.lists import handlers
    add(container, sku="TIDE-PODS-42")
    place = handlers.core.place_order
    nested = []

    def slow_place(cmd, deps):
        if not nested:  # while the first order is being placed, someone adds to the list and orders it
            nested.append(None)
            add(container, sku="CHARMIN-12")
            nested.append(container.bus.handle(OrderList("h1")))
        return place(cmd, deps)

    monkeypatch.setattr(handlers.core, "place_order", slow_place)
    first = container.bus.handle(OrderList("h1"))
    second = nested[1]
    assert [line["sku"] for line in first.order["lines"]] == ["TIDE-PODS-42"]
    assert [line["sku"] for line in second.order["lines"]] == ["CHARMIN-12"]
    assert shown(container) == []


def test_a_running_low_item_goes_on_the_list_from_the_forecast(client, token, container, clock):
    from datetime import timedelta

    from replenish.domain.history import Purchase
    now = clock()
    with container.uow() as uow:
        uow.purchases.add_many([Purchase("h1", "TIDE-PODS-42", now - timedelta(days=30 * i + 28), 1, f"o{i}")
                                for i in range(5)])
        uow.session.commit()
    csrf = sign_in(client, token)
    page = client.get("/dashboard/forecast").get_data(as_text=True)
    soon = page[page.index('id="running-low"'):page.index('id="chart-heading"')]
    assert "Add to list" in soon
    added = client.post("/dashboard/list", data={"csrf_token": csrf, "sku": "TIDE-PODS-42", "from": "forecast"})
    assert added.status_code == 302 and added.headers["Location"].endswith("/dashboard/forecast")
    [item] = list_view(container.deps, "h1")["items"]
    assert item["sku"] == "TIDE-PODS-42" and item["added_by"] == "forecast"


def test_a_list_button_puts_its_product_on_the_list_once_and_a_long_press_takes_it_off(client, token, container):
    from . import test_buttons as buttons
    button = client.post("/v1/buttons", json={"sku": "CHARMIN-12", "quantity": 2, "action": "list"},
                         headers=auth(token)).get_json()
    assert button["action"] == "list"
    assert buttons.press(client, button).get_json()["status"] == "added_to_list"
    assert buttons.press(client, button).get_json()["status"] == "already_on_list"  # pressed again: still 2
    assert shown(container) == [("Charmin Ultra Soft Toilet Paper, 12 Mega Rolls", "CHARMIN-12", 2, False)]
    assert orders(container) == []  # a list button orders nothing
    [item] = list_view(container.deps, "h1")["items"]
    assert item["added_by"] == "button"
    assert buttons.press(client, button, {"click_type": "LONG"}).get_json()["status"] == "removed_from_list"
    assert shown(container) == []
    assert buttons.press(client, button, {"click_type": "LONG"}).get_json()["status"] == "not_on_list"
    bad = client.post("/v1/buttons", json={"sku": "CHARMIN-12", "action": "cart"}, headers=auth(token))
    assert bad.status_code == 400 and "action" in bad.get_data(as_text=True)


def test_a_category_list_button_adds_the_kind_of_thing_and_the_dashboard_pairs_one(client, token, container):
    from . import test_buttons as buttons
    csrf = sign_in(client, token)
    paired = client.post("/dashboard/buttons", data={"csrf_token": csrf, "kind": "category", "category": "detergent",
                                                     "quantity": "1", "action": "list"})
    assert paired.status_code == 201
    html = paired.get_data(as_text=True)
    serial = re.search(r'id="paired-serial">([A-Z0-9]+)<', html).group(1)
    secret = re.search(r'id="paired-secret"[^>]*value="([^"]+)"', html).group(1)
    assert "Press once to put it on the shopping list" in client.get("/dashboard/buttons").get_data(as_text=True)
    assert buttons.press(client, {"serial": serial, "secret": secret}).get_json()["status"] == "added_to_list"
    [item] = list_view(container.deps, "h1")["items"]
    assert item["phrase"] == "detergent" and item["sku"].startswith("TIDE-PODS")


def test_a_childs_voice_cannot_order_the_list_and_the_list_stays(container):
    from replenish.members.model import AddMember
    container.bus.handle(AddMember("h1", "Sam", "child", person_id="amzn1.ask.person.SAM"))
    add(container, sku="TIDE-PODS-42")
    with pytest.raises(DomainError) as refused:
        container.bus.handle(OrderList("h1", channel="voice", speaker="amzn1.ask.person.SAM"))
    assert "Sam" in refused.value.message and orders(container) == []
    assert shown(container) == [("Tide PODS Laundry Detergent, 42 Count", "TIDE-PODS-42", 1, False)]
    assert container.bus.handle(OrderList("h1", channel="voice")).status == "order_placed"  # the household may
