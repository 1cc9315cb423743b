"""The dashboard's forms on the feature pages (order now, the list, stock, members, notifications): a bad value
is refused with a sentence naming the field, and changes nothing; a good one does what it says."""
from __future__ import annotations

import re
from html import unescape

import pytest

from replenish.domain import commands
from replenish.lists.handlers import list_view
from replenish.pantry.handlers import levels_view
from tests.dashboard_forms import csrf_of


def flashed(response) -> str:
    """The page's message, as the person reads it (after the redirect)."""
    return unescape(re.sub(r"\s+", " ", response.get_data(as_text=True)))


def orders(container) -> list:
    """Each order's lines, as (sku, quantity)."""
    with container.uow() as uow:
        return [[(line.sku, line.quantity) for line in order.lines] for order in uow.orders.list("h1")]


@pytest.mark.parametrize("form, words", [
    ({"sku": "", "quantity": "1"}, "Choose a product."),
    ({"sku": "TIDE-PODS-42", "quantity": "100"}, "Quantity must be a whole number from 1 to 99."),
    ({"sku": "TIDE-PODS-42", "quantity": "two"}, "Quantity must be a whole number from 1 to 99."),
    ({"sku": "TIDE-PODS-42", "quantity": "-1"}, "Quantity must be a whole number from 1 to 99."),
])
def test_order_now_refuses_a_bad_product_or_quantity(signed_in, container, form, words):
    client, csrf = signed_in
    response = client.post("/dashboard/orders", data={"csrf_token": csrf, **form}, follow_redirects=True)
    assert words in flashed(response) and orders(container) == []


def test_order_now_with_an_empty_quantity_orders_one(signed_in, container):
    client, csrf = signed_in
    client.post("/dashboard/orders", data={"csrf_token": csrf, "sku": "TIDE-PODS-42", "quantity": ""})
    assert orders(container) == [[("TIDE-PODS-42", 1)]]


def test_the_list_refuses_a_quantity_that_is_not_a_whole_number(signed_in, container):
    client, csrf = signed_in
    refused = client.post("/dashboard/list", data={"csrf_token": csrf, "phrase": "paper towels", "quantity": "two"},
                          follow_redirects=True)
    assert "Quantity must be a whole number from 1 to 99." in flashed(refused)
    assert list_view(container.deps, "h1")["items"] == []
    client.post("/dashboard/list", data={"csrf_token": csrf, "sku": "CHARMIN-12", "quantity": "2"})
    [item] = list_view(container.deps, "h1")["items"]
    for typed in ("", "1.5", "100"):
        refused = client.post(f"/dashboard/list/{item['id']}", data={"csrf_token": csrf, "action": "quantity",
                                                                      "quantity": typed}, follow_redirects=True)
        assert "Quantity must be a whole number from 1 to 99." in flashed(refused), typed
    assert list_view(container.deps, "h1")["items"][0]["quantity"] == 2
    client.post(f"/dashboard/list/{item['id']}", data={"csrf_token": csrf, "action": "quantity", "quantity": "5"})
    assert list_view(container.deps, "h1")["items"][0]["quantity"] == 5


@pytest.mark.parametrize("form, words", [
    ({"minimum": "ten", "refill_to": "80"}, "The minimum is a number, like 10."),
    ({"minimum": "10", "refill_to": ""}, "Refill to is a number, like 80."),
    ({"minimum": "10", "refill_to": "80", "on_hand": "lots"}, "What is at home now is a number"),
    ({"minimum": "nan", "refill_to": "80"}, "The minimum is a number, like 10."),
])
def test_keeping_count_refuses_what_is_not_a_number(signed_in, container, form, words):
    client, csrf = signed_in
    response = client.post("/dashboard/stock", data={"csrf_token": csrf, "sku": "TIDE-PODS-42", **form},
                           follow_redirects=True)
    assert words in flashed(response) and levels_view(container.deps, "h1") == []


def test_keeping_count_with_numbers(signed_in, container):
    client, csrf = signed_in
    client.post("/dashboard/stock", data={"csrf_token": csrf, "sku": "TIDE-PODS-42", "minimum": "10",
                                          "refill_to": "80", "on_hand": "25.5"})
    [level] = levels_view(container.deps, "h1")
    assert (level["minimum"], level["refill_to"], level["on_hand"]) == (10, 80, 25.5)


@pytest.mark.parametrize("form, words", [
    ({"email": "not an address"}, "That does not look like an email address."),
    ({"channel_email": "on"}, "Give an email address to get emails."),
    ({"channel_sms": "on", "phone": "555 1234"}, "Write the phone number with its country code"),
    ({"channel_sms": "on"}, "Give a phone number to get text messages."),
])
def test_notification_choices_that_cannot_work_are_refused_by_name(signed_in, container, form, words):
    client, csrf = signed_in
    response = client.post("/dashboard/settings/notifications", data={"csrf_token": csrf, **form})
    page = flashed(response)
    assert response.status_code == 400 and words in page and "Nothing was saved" in page
    with container.uow() as uow:
        assert uow.households.get("h1").limits.notify["channels"] == {"email": False, "sms": False, "alexa": True}


def test_a_members_cap_is_typed_in_dollars(signed_in, container):
    client, csrf = signed_in
    too_much = "A member's per-order cap is an amount from $0 to $10,000, or none for no cap of their own."
    for typed, words in (("lots", "Per-order cap must be an amount in dollars"), ("10000.01", too_much)):
        refused = client.post("/dashboard/settings/members", data={"csrf_token": csrf, "name": "Kim", "role": "adult",
                                                                   "per_order_cap": typed})
        assert refused.status_code == 400 and words in flashed(refused)
    # the domain's one rule for caps: a command (what the API and the voice reach) is refused in the same words
    from replenish.domain.errors import InvalidCommand
    from replenish.members.model import AddMember
    with pytest.raises(InvalidCommand) as same:
        container.bus.handle(AddMember("h1", "Kim", "adult", per_order_cap_cents=1_000_001))
    assert same.value.message == too_much and same.value.field == "per_order_cap_cents"
    client.post("/dashboard/settings/members", data={"csrf_token": csrf, "name": "Kim", "role": "adult",
                                                     "per_order_cap": "$1,250.5", "per_month_cap": ""})
    from replenish.members import handlers
    [kim] = handlers.members_view(container.deps, "h1")
    assert (kim["name"], kim["per_order_cap_cents"], kim["per_month_cap_cents"]) == ("Kim", 125050, None)


def test_the_settings_page_keeps_what_was_typed_when_something_needs_fixing(signed_in):
    client, csrf = signed_in
    response = client.post("/dashboard/settings/notifications", data={
        "csrf_token": csrf, "channel_email": "on", "email": "sam@", "event_shipped": "on"})
    page = response.get_data(as_text=True)
    assert 'value="sam@"' in page and re.search(r'name="channel_email" checked', page)
    assert not re.search(r'name="event_delivered" checked', page)  # the choices as sent, not as saved
    fixed = client.post("/dashboard/settings/notifications", data={  # the page's own token sends the fix
        "csrf_token": csrf_of(response), "channel_email": "on", "email": "sam@example.com", "event_shipped": "on"})
    assert fixed.status_code == 302


def test_a_pin_needs_four_digits_twice(signed_in, container):
    client, csrf = signed_in
    for pin, again, words in (("１２３４", "１２３４", "exactly four digits"), ("123", "123", "exactly four digits"),
                              ("1234", "", "do not match")):
        refused = client.post("/dashboard/settings/pin", data={"csrf_token": csrf, "pin": pin, "pin_again": again})
        assert refused.status_code == 400 and words in flashed(refused)
    with container.uow() as uow:
        assert not uow.households.get("h1").limits.has_pin
    assert container.bus.handle(commands.CheckVoicePin("h1", "0000")) is True  # no PIN: nothing to get wrong
