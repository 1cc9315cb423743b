"""The dashboard in a real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright) against a real
werkzeug server in a thread: sign in, cancel a pending order, change a limit, read the forecast, on a phone
and on a desktop. Screenshots go to test-artifacts/dashboard/.

Skips when Chromium or Playwright is missing, except under CI=true, where that is a failure.
"""
from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

import pytest

from replenish.domain import commands
from replenish.domain.history import Purchase

from .browser import DESKTOP, PHONE, page_errors, shot, sign_in

pytestmark = pytest.mark.e2e

PHOTO = "data:image/svg+xml," + quote(
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 320 180"><rect width="320" height="180" fill="#d9cbb4"/>'
    '<rect x="190" y="20" width="90" height="160" fill="#7a5236"/><circle cx="266" cy="105" r="4" fill="#e8c35b"/>'
    '<rect x="60" y="100" width="100" height="70" fill="#b88a57"/><rect x="60" y="100" width="100" height="12" '
    'fill="#a27443"/><rect x="104" y="100" width="12" height="70" fill="#e5d3a8"/></svg>')


@pytest.fixture
def household(container, clock):
    """A household with a history worth forecasting, one order waiting in its cancel window and one delivered."""
    now = clock()
    purchases = []
    for sku, every, quantity, times in (("TIDE-PODS-42", 30, 1, 6), ("CHARMIN-12", 14, 2, 9),
                                        ("TIDE-PODS-81", 55, 1, 3)):
        purchases += [Purchase("h1", sku, now - timedelta(days=every * i + every - 4), quantity, f"{sku}-{i}")
                      for i in range(times)]
    with container.uow() as uow:
        uow.purchases.add_many(purchases)
        uow.session.commit()
    delivered = container.bus.handle(commands.PlaceOrder("h1", "button", (commands.LineRequest("CHARMIN-12", 2),)))
    clock.advance(minutes=16)
    container.bus.handle(commands.SubmitOrder(delivered.order_id))
    clock.advance(hours=3)
    container.bus.handle(commands.TrackOrder(delivered.order_id))
    with container.uow() as uow:  # the simulated store's photo host does not exist; show a picture that loads
        uow.orders.get(delivered.order_id).delivery_photo_url = PHOTO
        uow.commit()
    pending = container.bus.handle(commands.PlaceOrder("h1", "voice", (commands.LineRequest("TIDE-PODS-42", 2),)))
    token = container.bus.handle(commands.IssueToken("h1"))
    return {"token": token, "pending": pending.order_id, "delivered": delivered.order_id}


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_sign_in_cancel_change_limit_and_forecast(browser, server, household, container, device):
    context = browser.new_context(**(PHONE if device == "phone" else DESKTOP))
    page = context.new_page()
    # Failed loads are expected here (a refused sign-in, a 400 form, the simulated store's photo host).
    errors = page_errors(page, failed_loads_expected=True)
    try:
        page.goto(f"{server}/dashboard/signin")
        shot(page, f"{device}-signin")
        page.fill("#token", "rpl_not-the-token")
        page.click("button:has-text('Sign in')")
        assert "not recognised" in page.inner_text("#signin-error")
        sign_in(page, server, household["token"])

        card = page.locator(f"#order-{household['pending']}")
        assert card.locator(".pill.channel").inner_text() == "Voice"
        assert page.locator(f"#order-{household['delivered']} .photo img").count() == 1
        shot(page, f"{device}-orders")
        card.locator("button:has-text('Cancel order')").click()
        page.wait_for_selector(".flash-ok")
        assert "The order was cancelled." in page.inner_text(".flash-ok")
        assert page.get_attribute(f"#order-{household['pending']}", "data-status") == "cancelled"
        with container.uow() as uow:
            assert uow.orders.get(household["pending"]).status == "cancelled"

        page.click(".tabs >> text=Settings")
        page.fill("#per_order_cap", "abc")
        page.click("#limits button[type=submit]")
        assert "must be an amount in dollars" in page.inner_text("#err-per_order_cap")
        shot(page, f"{device}-settings-error")
        page.fill("#per_order_cap", "75")
        page.fill("#window_voice", "5")
        page.click("#limits button[type=submit]")
        page.wait_for_selector(".flash-ok")
        assert page.input_value("#per_order_cap") == "75" and page.input_value("#window_voice") == "5"
        with container.uow() as uow:
            limits = uow.households.get("h1").limits
            assert limits.per_order_cap_cents == 7500 and limits.cancel_windows["voice"] == 300
        shot(page, f"{device}-settings")

        page.click(".tabs >> text=Forecast")
        chart = "#forecast-chart-narrow" if device == "phone" else "#forecast-chart"
        page.wait_for_selector(chart, state="visible")
        assert page.locator(f"{chart} .lane").count() == 3
        assert page.locator(f"{chart} circle.purchase").count() >= (8 if device == "phone" else 15)
        soon = page.inner_text("#running-low")
        assert "Tide PODS Laundry Detergent, 42 Count" in soon
        box = page.locator(chart).bounding_box()
        assert 300 < box["width"] <= page.viewport_size["width"] and box["height"] > 100
        # Nothing on the page is wider than the screen (no sideways scrolling on a phone).
        assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
        shot(page, f"{device}-forecast")

        page.click(".tabs >> text=Notifications")
        shot(page, f"{device}-notifications")
        assert not errors, errors
    finally:
        context.close()


def test_order_status_updates_live_without_a_reload(browser, server, household, container, clock):
    context = browser.new_context(**DESKTOP)
    page = context.new_page()
    try:
        sign_in(page, server, household["token"])
        order_id = household["pending"]
        assert page.get_attribute(f"#order-{order_id}", "data-status") == "pending"
        page.evaluate("window.__marker = 1")  # survives only if the page is never reloaded
        clock.advance(minutes=31)
        container.bus.handle(commands.SubmitOrder(order_id))
        page.wait_for_selector(f"#order-{order_id}[data-status=submitted]", timeout=15000)
        assert page.evaluate("window.__marker") == 1
        assert "Sent to store" in page.inner_text(f"#order-{order_id} .steps li.done >> nth=1")
    finally:
        context.close()


def test_one_time_link_signs_in_a_second_phone(browser, server, household):
    owner = browser.new_context(**DESKTOP)
    phone = browser.new_context(**PHONE)
    try:
        page = owner.new_page()
        sign_in(page, server, household["token"])
        page.click(".tabs >> text=Settings")
        page.click("button:has-text('Make a one-time link')")
        link = page.input_value("#one-time-link")
        assert "/dashboard/link/" in link
        other = phone.new_page()
        other.goto(link)
        shot(other, "phone-link")
        other.click("button:has-text('Sign in')")
        other.wait_for_url(f"{server}/dashboard/")
        assert "Test Household" in other.inner_text(".who")
        again = browser.new_context(**PHONE).new_page()
        again.goto(link)
        assert "already used" in again.inner_text("h1")
        again.context.close()
    finally:
        owner.close()
        phone.close()


def test_pair_a_button_and_see_appliances(browser, server, household, container):
    from replenish.devices.web.dashboard import available
    if not available()["buttons"]:
        pytest.skip("the buttons module is not in this build")
    from replenish.devices.domain import commands as dc
    context = browser.new_context(**PHONE)
    page = context.new_page()
    try:
        sign_in(page, server, household["token"])
        page.click(".tabs >> text=Buttons")
        page.select_option("#pair-sku", "CHARMIN-12")
        page.fill("#pair-quantity", "2")
        page.click("button:has-text('Pair button')")
        serial = page.inner_text("#paired-serial")
        assert page.input_value("#paired-secret").startswith("btn_")
        container.bus.handle(dc.PressButton(serial, "DOUBLE", battery_percent=64))
        page.goto(f"{server}/dashboard/buttons")
        assert "64%" in page.inner_text(f"#button-{serial}")
        assert page.locator(".button-card").count() == 1
        shot(page, "phone-buttons")

        container.deps.recommendations = container.recommendations
        code = container.bus.handle(dc.CreateLinkCode("h1"))["code"]
        partner = container.bus.handle(dc.CreatePartner("Acme"))["partner_id"]
        device = container.bus.handle(dc.RegisterDevice(partner, code, "washer-1", "Acme Washer 9000", slots=(
            dc.SlotSpec("detergent", ("TIDE-PODS-42", "TIDE-PODS-81"), capacity=42, mode="auto"),)))
        for remaining in (41, 36, 30, 26):
            container.bus.handle(dc.ReportSlotStatus(partner, device["device_id"], "detergent", remaining))
            container.clock.advance(days=1)
        page.goto(f"{server}/dashboard/appliances")
        assert "26 of 42 left" in page.inner_text(f"#device-{device['device_id']}")
        page.check("input[value=notify]")
        page.click(".mode-form button")
        page.wait_for_selector(".flash-ok")
        shot(page, "phone-appliances")
        with container.uow() as uow:
            assert uow.devices.device(device["device_id"]).slot("detergent").mode == "notify"
    finally:
        context.close()


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_build_the_list_keep_count_and_order_it_in_one_order(browser, server, household, container, device):
    context = browser.new_context(**(PHONE if device == "phone" else DESKTOP))
    page = context.new_page()
    errors = page_errors(page)
    try:
        sign_in(page, server, household["token"])
        page.click(".tabs >> text=List")
        assert "Your list is empty" in page.inner_text("#shopping-list")
        page.fill("#add-phrase", "laundry detergent")
        page.fill("#add-quantity", "2")
        page.click("#add button:has-text('Add')")
        page.wait_for_selector(".flash-ok")
        page.fill("input[name=find]", "charmin")
        page.click("#add button:has-text('Find')")
        page.click("button:has-text('Add Charmin Ultra Soft Toilet Paper')")
        page.wait_for_selector(".flash-ok")
        assert page.locator(".list-item").count() == 2
        page.select_option("#stock-sku", "TIDE-PODS-42")
        page.fill("#stock-on-hand", "6")
        page.click("button:has-text('Keep count')")
        page.wait_for_selector("#stock-TIDE-PODS-42")
        assert "Low" in page.inner_text("#stock-TIDE-PODS-42")
        # Nothing on the page is wider than the screen (no sideways scrolling on a phone).
        assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
        shot(page, f"{device}-list")
        page.click("#order-list")
        page.wait_for_url(f"{server}/dashboard/")
        assert "Ordered your list: 2 products" in page.inner_text(".flash-ok")
        with container.uow() as uow:
            placed = [sorted(line.sku for line in o.lines) for o in uow.orders.list("h1") if o.channel == "web"]
        assert len(placed) == 1 and placed[0][0] == "CHARMIN-12" and placed[0][1].startswith("TIDE-PODS")
        assert not errors, errors
    finally:
        context.close()


def test_a_form_with_a_forged_token_changes_nothing_and_says_so(browser, server, household, container):
    context = browser.new_context(**PHONE)
    page = context.new_page()
    try:
        sign_in(page, server, household["token"])
        card = f"#order-{household['pending']}"
        page.evaluate(f"document.querySelector('{card} input[name=csrf_token]').value = 'forged'")
        with page.expect_response(lambda r: r.request.method == "POST") as answer:
            page.click(f"{card} button:has-text('Cancel order')")
        assert answer.value.status == 400
        assert page.inner_text("h1") == "Nothing was changed"
        assert "did not come from this site. Reload the page and try again." in page.inner_text("main")
        shot(page, "phone-form-expired")
        with container.uow() as uow:
            assert uow.orders.get(household["pending"]).status == "pending"
        page.goto(f"{server}/dashboard/")  # reloaded, the page's own token works
        page.click(f"{card} button:has-text('Cancel order')")
        page.wait_for_selector(".flash-ok")
        assert page.get_attribute(card, "data-status") == "cancelled"
    finally:
        context.close()
