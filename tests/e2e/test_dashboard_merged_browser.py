"""Orders sent together, in a real headless Chromium against the dashboard: two orders placed inside their cancel
windows went to the store as one retailer order; each card says what it was sent with, the page counts the
delivery saved, and both cards reach delivered. Screenshots go to test-artifacts/dashboard/."""
from __future__ import annotations

import pytest

from replenish.domain import commands
from replenish.services import event_handlers

from .browser import ARTIFACTS, DESKTOP, PHONE, page_errors, shot, sign_in

pytestmark = pytest.mark.e2e

TIDE = "Tide PODS Laundry Detergent, 42 Count"
CHARMIN = "Charmin Ultra Soft Toilet Paper, 12 Mega Rolls"


def handle_events(container) -> None:
    queue = container.deps.queue
    while queue.events:
        container.bus.handle_event(queue.events.pop(0))


@pytest.fixture
def merged(container, clock):
    container.bus.handle(commands.UpdateLimits("h1", send_together=True))
    first = container.bus.handle(commands.PlaceOrder("h1", "voice", (commands.LineRequest("TIDE-PODS-42", 2),)))
    clock.advance(minutes=10)
    second = container.bus.handle(commands.PlaceOrder("h1", "web", (commands.LineRequest("CHARMIN-12"),)))
    handle_events(container)
    clock.advance(minutes=21)  # the voice order's 30 minutes are over; the web order has 9 of its 10 left
    event_handlers.submit_due(container.deps)
    handle_events(container)
    token = container.bus.handle(commands.IssueToken("h1"))
    return {"token": token, "first": first.order_id, "second": second.order_id}


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_an_order_card_says_it_was_sent_together_and_both_are_delivered(browser, server, merged, container, clock,
                                                                        device):
    context = browser.new_context(**(PHONE if device == "phone" else DESKTOP))
    page = context.new_page()
    errors = page_errors(page)
    try:
        sign_in(page, server, merged["token"])
        first, second = page.locator(f"#order-{merged['first']}"), page.locator(f"#order-{merged['second']}")
        assert first.get_attribute("data-status") == second.get_attribute("data-status") == "submitted"
        assert first.locator(".together").inner_text() == f"Sent together with {CHARMIN}, in one delivery."
        assert second.locator(".together").inner_text() == f"Sent together with 2 x {TIDE}, in one delivery."
        assert page.locator(".saved-deliveries").inner_text() == \
            "Sending orders together saved 1 delivery this month."
        (ARTIFACTS / "dashboard").mkdir(parents=True, exist_ok=True)
        second.screenshot(path=str(ARTIFACTS / "dashboard" / f"{device}-order-sent-together.png"))  # the card alone
        shot(page, f"{device}-orders-sent-together")

        clock.advance(hours=3)  # the store delivers the shared order
        for order_id in (merged["first"], merged["second"]):
            container.bus.handle(commands.TrackOrder(order_id))
        page.wait_for_selector(f"#order-{merged['second']}[data-status=delivered]", timeout=15000)
        assert page.get_attribute(f"#order-{merged['first']}", "data-status") == "delivered"
        assert "Sent together with" in page.locator(f"#order-{merged['second']} .together").inner_text()
        shot(page, f"{device}-orders-sent-together-delivered")
        assert not errors, errors
    finally:
        context.close()
