"""What the household reads names things by their names, in its own time zone, with plurals right; never an
order id, a serial, a slot id or a raw timestamp."""
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from replenish.devices.domain import commands as dc
from replenish.domain import commands
from replenish.services import messages

from . import test_buttons as buttons
from . import test_partner_api as partner_api

RAW_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}|\+00:00|UTC")
ID = re.compile(r"\b[0-9a-f]{32}\b|\bRB[A-Z0-9]{14}\b")


@pytest.fixture
def sdk(app, container):
    partner = container.bus.handle(dc.CreatePartner("Acme", "https://acme.example/hooks"))
    return partner_api.client_for(app, partner["key_id"], partner["secret"], [partner["webhook_secret"]])


@pytest.fixture
def device(app, token, sdk):
    return sdk.register_device(partner_api.link_code(app, token), "WM-0001", model="washer", slots=partner_api.SLOTS)


def feed(container, kind):
    with container.uow() as uow:
        return [n.message for n in uow.notifications.for_household("h1") if n.kind == kind]


def deadline(response, zone: str) -> str:
    """The order's cancel deadline on a wall clock in ``zone``, e.g. ``11:10 AM``."""
    at = datetime.fromisoformat(response.get_json()["order"]["submit_after"]).astimezone(ZoneInfo(zone))
    return f"{at.hour % 12 or 12}:{at.minute:02d} {'AM' if at.hour < 12 else 'PM'}"


def assert_readable(text: str) -> None:
    assert not RAW_TIME.search(text), text
    assert not ID.search(text), text


def test_the_cancel_deadline_is_said_on_the_households_clock(client, token, container, clock):
    # h1 lives in New York; the clock says 15:00 UTC on March 10 2026, 11:00 AM there (daylight saving time)
    response = client.post("/v1/orders", json={"sku": "TIDE-PODS-42", "quantity": 2},
                           headers={**buttons.auth(token), "Idempotency-Key": "w1"})
    assert response.status_code == 201, response.get_json()
    buttons.drain(container)
    [placed] = feed(container, "OrderPlaced")
    assert_readable(placed)
    assert "2 x Tide PODS Laundry Detergent, 42 Count" in placed
    assert placed.endswith(f"It goes to the store today at {deadline(response, 'America/New_York')}; cancel before "
                           "then and nothing is sent."), placed


def test_an_order_sent_at_once_does_not_offer_a_cancel_window(container):
    now = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
    order = {"lines": [{"sku": "X", "title": "Paper Towels", "quantity": 1}], "total_cents": 1999}
    text = messages.order_message("OrderPlaced", order, {"submit_after": None}, "America/Los_Angeles", now)
    assert text == "Ordered Paper Towels for $19.99; it goes to the store now."


def test_a_late_evening_deadline_is_today_where_the_household_is_even_when_utc_says_tomorrow():
    now = datetime(2026, 12, 6, 5, 0, tzinfo=UTC)  # Dec 5, 9 PM in Los Angeles
    assert messages.local_time("2026-12-06T05:43:02.860831+00:00", "America/Los_Angeles", now) == "today at 9:43 PM"
    assert messages.local_time(now + timedelta(hours=12), "America/Los_Angeles", now) == "tomorrow at 9:00 AM"
    assert messages.local_time(now + timedelta(days=3), "America/Los_Angeles", now) == \
        "Tuesday, December 8 at 9:00 PM"


def test_dates_more_than_six_months_away_say_the_year():
    now = datetime(2026, 12, 6, 17, 0, tzinfo=UTC)
    assert messages.local_day(now - timedelta(days=400), "UTC", now) == "November 1, 2025"
    assert messages.local_day(now - timedelta(days=20), "UTC", now) == "Monday, November 16"


def test_counts_have_their_plurals():
    assert [messages.plural(n, "load") for n in (0, 1, 2, 1000)] == ["0 loads", "1 load", "2 loads", "1,000 loads"]
    assert messages.plural(1, "delivery", "deliveries") == "1 delivery"
    assert messages.plural(3, "delivery", "deliveries") == "3 deliveries"


def test_a_button_status_names_the_product_and_says_where_the_order_is(client, token, container):
    button = buttons.register(client, token)
    assert buttons.press(client, button).get_json()["status"] == "order_placed"
    assert buttons.press(client, button, {"click_type": "DOUBLE"}).status_code == 200
    buttons.drain(container)
    [status] = feed(container, "ButtonStatusRequested")
    assert_readable(status)
    assert status == ("The order from your Tide PODS Laundry Detergent, 42 Count button "
                      "(Tide PODS Laundry Detergent, 42 Count) is waiting to be sent to the store.")


def test_a_low_battery_names_the_button_by_its_product_and_reads_in_volts(client, token, container):
    button = buttons.register(client, token)
    assert buttons.press(client, button, {"click_type": "DOUBLE", "battery_mv": 1100}).status_code == 200
    buttons.drain(container)
    [low] = feed(container, "ButtonBatteryLow")
    assert_readable(low)
    assert low == ("The battery of your Tide PODS Laundry Detergent, 42 Count button is low (1.1 V); "
                   "replace it soon.")


def test_a_slot_running_low_names_the_product_and_the_amount_without_a_unit_code(app, token, sdk, device, container):
    device_id = device["device_id"]
    app.test_client().patch(f"/v1/devices/{device_id}/slots/detergent", json={"mode": "notify"},
                            headers=partner_api.auth(token))
    for level in (10, 9):
        sdk.report_slot_status(device_id, "detergent", level)
    partner_api.drain(container)
    [low] = feed(container, "SlotRunningLow")
    assert_readable(low)
    assert low == "Your washer is running low on Tide PODS Laundry Detergent, 42 Count (9 left)."
    assert "count" not in low and "slot" not in low


def test_a_household_in_another_zone_reads_its_own_clock(client, container, clock):
    container.bus.handle(commands.CreateHousehold("h2", "West", "2 Main St", "America/Los_Angeles"))
    token = container.bus.handle(commands.IssueToken("h2"))
    response = client.post("/v1/orders", json={"sku": "TIDE-PODS-42", "quantity": 1},
                           headers={**buttons.auth(token), "Idempotency-Key": "w2"})
    assert response.status_code == 201
    buttons.drain(container)
    with container.uow() as uow:
        [placed] = [n.message for n in uow.notifications.for_household("h2") if n.kind == "OrderPlaced"]
    assert f"today at {deadline(response, 'America/Los_Angeles')};" in placed, placed
    assert "AM" in placed  # 15:00 UTC is 8 AM in Los Angeles that day


def test_alexa_says_the_cancel_window_with_its_plural_and_the_two_word_invocation_name():
    from skills import speech
    one = speech.placed("Tide PODS", 1299, "tomorrow", 1)
    assert "1 minute." in one and "1 minutes" not in one
    assert "15 minutes." in speech.placed("Tide PODS", 1299, "tomorrow", 15)
    _, card = speech.placed_card("Tide PODS", 1299, "tomorrow", 1)
    assert "in the next 1 minute, say: Alexa, ask home replenish to cancel my order." in card


def test_a_recommendation_reason_says_the_day_on_the_households_calendar(container, clock):
    from replenish.domain.history import Purchase
    # bought at 02:00 UTC on March 6, which is still March 5 in New York; again 14 months before
    with container.uow() as uow:
        uow.purchases.add_many([Purchase("h1", "TIDE-PODS-42", datetime(2026, 3, 6, 2, 0, tzinfo=UTC), 1, "a"),
                                Purchase("h1", "CHARMIN-12", datetime(2025, 1, 6, 15, 0, tzinfo=UTC), 1, "b"),
                                Purchase("h1", "CHARMIN-12", datetime(2025, 1, 20, 15, 0, tzinfo=UTC), 1, "c")])
        uow.session.commit()
    reasons = {c.sku: c.reason for c in container.recommendations.buy_again("h1", k=5)}
    assert "on March 5" in reasons["TIDE-PODS-42"] and "March 6" not in reasons["TIDE-PODS-42"]
    assert "January 20, 2025" in reasons["CHARMIN-12"]  # over six months ago: the year is said
    batch = list(container.recommendations.batch(['{"id": "1", "kind": "buy_again", "household": "h1", "k": 5}']))
    assert {r["product"]: r["reason"] for r in batch[0]["results"]} == reasons  # the batch says the same


def test_the_dashboard_says_when_an_order_goes_to_the_store_on_the_households_clock(signed_in, container):
    client, csrf = signed_in  # h1 lives in New York; 11:00 AM there on the test clock
    response = client.post("/dashboard/orders", data={"csrf_token": csrf, "sku": "TIDE-PODS-42", "quantity": "1",
                                                      "key": "k1"})
    assert response.status_code == 302
    with container.uow() as uow:
        submit_after = uow.orders.by_idempotency_key("h1", "dashboard:k1").submit_after
    at = submit_after.astimezone(ZoneInfo("America/New_York"))
    wall = f"{at.hour % 12 or 12}:{at.minute:02d} {'AM' if at.hour < 12 else 'PM'}"
    page = client.get("/dashboard/").get_data(as_text=True)  # the orders page, with the flash
    assert f"Held until today at {wall}, then sent to the store." in page
    assert f"It goes to the store today at {wall}; cancel before then" in page  # the flash after "Order now"
    assert not RAW_TIME.search(re.sub(r"<[^>]+>", " ", page))  # what is shown, not the tags
