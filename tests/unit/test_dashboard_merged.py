"""The orders page says which orders went in one delivery ("Sent together with" the others' products, by name)
and how many deliveries that saved this month."""
from __future__ import annotations

from html import unescape

from replenish.domain import commands
from replenish.services import event_handlers


def place(container, sku, quantity=1):
    order_id = container.bus.handle(commands.PlaceOrder("h1", "web", (commands.LineRequest(sku, quantity),))).order_id
    container.deps.clock.advance(seconds=1)
    return order_id


def send_due(container, clock):
    queue = container.deps.queue
    while queue.events:
        container.bus.handle_event(queue.events.pop(0))
    clock.advance(seconds=700)
    event_handlers.submit_due(container.deps)


def page(browser) -> str:
    return " ".join(unescape(browser.get("/dashboard/").get_data(as_text=True)).split())


def test_an_order_card_says_what_it_was_sent_together_with_and_the_page_counts_saved_deliveries(
        container, signed_in, clock):
    browser, _ = signed_in
    tide, charmin = place(container, "TIDE-PODS-42", 2), place(container, "CHARMIN-12")
    assert "Sent together with" not in page(browser) and "saved" not in page(browser)
    send_due(container, clock)
    html = page(browser)
    assert ("Sent together with Charmin Ultra Soft Toilet Paper, 12 Mega Rolls, in one delivery." in html)
    assert "Sent together with 2 x Tide PODS Laundry Detergent, 42 Count, in one delivery." in html
    assert "Sending orders together saved 1 delivery this month." in html
    third = place(container, "TIDE-PODS-81")
    fourth = place(container, "CHARMIN-12", 3)
    send_due(container, clock)
    assert "Sending orders together saved 2 deliveries this month." in page(browser)
    container.bus.handle(commands.CancelOrder("h1", fourth, "changed my mind"))
    html = page(browser)
    assert "Sending orders together saved 1 delivery this month." in html
    card = html[html.index(f'id="order-{third}"'):]
    card = card[:card.index("</article>")]
    assert "Sent together with" not in card  # its only companion was taken off the delivery
    assert {o["status"] for o in (view(container, tide), view(container, charmin), view(container, third))} == \
        {"submitted"}


def view(container, order_id):
    from replenish.services.views import order_view
    with container.uow() as uow:
        return order_view(uow.orders.get(order_id))


def test_an_order_sent_alone_says_nothing_about_sending_together(container, signed_in, clock):
    browser, _ = signed_in
    place(container, "TIDE-PODS-42")
    send_due(container, clock)
    html = page(browser)
    assert "Sent together with" not in html and "Sending orders together" not in html


def test_the_settings_page_turns_send_together_on_and_off(container, signed_in):
    browser, csrf = signed_in
    form = {"csrf_token": csrf, "per_order_cap": "200", "per_month_cap": "500", "window_voice": "30",
            "window_button": "15", "window_appliance": "15", "window_web": "10"}
    assert 'name="send_together" checked' not in browser.get("/dashboard/settings").get_data(as_text=True)
    browser.post("/dashboard/settings/limits", data={**form, "send_together": "on"})
    with container.uow() as uow:
        assert uow.households.get("h1").limits.send_together is True
    assert 'name="send_together" checked' in browser.get("/dashboard/settings").get_data(as_text=True)
    browser.post("/dashboard/settings/limits", data=form)
    with container.uow() as uow:
        assert uow.households.get("h1").limits.send_together is False
