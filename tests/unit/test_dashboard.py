"""The household dashboard over HTTP (Flask test client): sign-in, CSRF, orders, settings, forecast, links."""
from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest

from replenish.domain import commands, model
from replenish.domain.history import Purchase
from replenish.recommend import Timing
from replenish.web import create_app
from tests.dashboard_forms import csrf_of, sign_in


class FakeRecommendations:
    """The recommendations contract the dashboard codes against, with answers fixed by the test."""

    def __init__(self, timings=(), purchases=(), broken=False):
        self.timings, self.purchases, self.broken = list(timings), list(purchases), broken
        self.calls = []

    def running_low(self, household_id, horizon_days=7, k=10):
        self.calls.append(("running_low", household_id, horizon_days, k))
        if self.broken:
            raise RuntimeError("model file missing")
        return self.timings[:k]

    def next_purchase(self, household_id, sku):
        return next((t for t in self.timings if t.sku == sku), None)

    def history(self, household_id):
        return [p for p in self.purchases if p.household_id == household_id]


def place(container, sku="TIDE-PODS-42", quantity=1, channel="voice"):
    return container.bus.handle(commands.PlaceOrder("h1", channel, (commands.LineRequest(sku, quantity),))).order_id


# -- sign-in ------------------------------------------------------------------------------------------------
def test_root_and_pages_send_strangers_to_sign_in(client):
    assert client.get("/").location.endswith("/dashboard/")
    response = client.get("/dashboard/settings")
    assert response.status_code == 302 and "/dashboard/signin?next=/dashboard/settings" in response.location
    assert client.get("/dashboard/orders.json").status_code == 401


def test_sign_in_with_the_token_sets_a_safe_session_cookie(client, token):
    page = client.get("/dashboard/signin")
    response = client.post("/dashboard/signin", data={"token": token, "csrf_token": csrf_of(page)})
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    orders = client.get("/dashboard/")
    assert orders.status_code == 200 and "Test Household" in orders.get_data(as_text=True)
    assert orders.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in orders.headers["Content-Security-Policy"]


def test_a_bad_token_is_refused_with_a_message(client, token):
    page = client.get("/dashboard/signin")
    response = client.post("/dashboard/signin", data={"token": "rpl_wrong", "csrf_token": csrf_of(page)})
    assert response.status_code == 401
    assert "not recognised" in response.get_data(as_text=True)
    assert client.get("/dashboard/").status_code == 302


def test_sign_in_returns_to_the_page_asked_for_but_never_off_site(client, token):
    page = client.get("/dashboard/signin?next=/dashboard/forecast")
    response = client.post("/dashboard/signin", data={"token": token, "csrf_token": csrf_of(page),
                                                      "next": "/dashboard/forecast"})
    assert response.location.endswith("/dashboard/forecast")
    client.post("/dashboard/signout", data={"csrf_token": csrf_of(client.get("/dashboard/"))})
    page = client.get("/dashboard/signin")
    response = client.post("/dashboard/signin", data={"token": token, "csrf_token": csrf_of(page),
                                                      "next": "//evil.example/x"})
    assert response.location.endswith("/dashboard/")


def test_sign_out_ends_the_session(signed_in):
    client, csrf = signed_in
    assert client.post("/dashboard/signout", data={"csrf_token": csrf}).status_code == 302
    assert client.get("/dashboard/").status_code == 302


# -- CSRF ---------------------------------------------------------------------------------------------------
def test_posts_without_the_csrf_token_are_refused(signed_in, container, app, token):
    client, csrf = signed_in
    order_id = place(container)
    other = app.test_client()  # another browser's token is no good here either
    others = sign_in(other, token)
    for data in ({}, {"csrf_token": "forged"}, {"csrf_token": others}, {"csrf_token": csrf[:-2]}):
        response = client.post(f"/dashboard/orders/{order_id}/cancel", data=data)
        html = response.get_data(as_text=True)
        assert response.status_code == 400
        # the dashboard's own page, saying what happened and what to do
        assert "Nothing was changed" in html and "did not come from this site" in html
    with container.uow() as uow:
        assert uow.orders.get(order_id).status == "pending"
    # The sign-in form is protected too (login CSRF).
    assert client.post("/dashboard/signin", data={"token": "x"}).status_code == 400


def test_a_page_left_open_for_days_still_sends_its_forms(signed_in, container, clock):
    client, csrf = signed_in
    order_id = place(container, channel="web")
    clock.advance(days=3)  # the token lasts as long as the session (14 days), not Flask-WTF's hour
    assert client.post(f"/dashboard/orders/{order_id}/cancel", data={"csrf_token": csrf}).status_code == 302


def test_signing_in_starts_a_new_csrf_token(client, token, container):
    page = client.get("/dashboard/signin")
    before = csrf_of(page)
    client.post("/dashboard/signin", data={"token": token, "csrf_token": before})
    after = csrf_of(client.get("/dashboard/"))
    assert after != before
    order_id = place(container)
    refused = client.post(f"/dashboard/orders/{order_id}/cancel", data={"csrf_token": before})
    assert refused.status_code == 400  # a token seen before sign-in (a planted page's, say) does nothing now
    assert client.post(f"/dashboard/orders/{order_id}/cancel", data={"csrf_token": after}).status_code == 302


def test_the_api_and_alexa_need_no_csrf_token(signed_in, token):
    client, _ = signed_in  # a browser with a dashboard session: the API still goes by its bearer token
    placed = client.post("/v1/orders", json={"sku": "TIDE-PODS-42"}, headers={"Authorization": f"Bearer {token}"})
    assert placed.status_code == 201
    cancelled = client.post(f"/v1/orders/{placed.json['order_id']}/cancel",
                            headers={"Authorization": f"Bearer {token}"})
    assert cancelled.status_code == 200
    assert client.post("/v1/orders", json={"sku": "TIDE-PODS-42"}).status_code == 401  # no token, no order
    unsigned = client.post("/alexa", json={"version": "1.0"})  # refused for its missing signature, not for CSRF
    assert unsigned.status_code in (400, 401) and "did not come from this site" not in unsigned.get_data(as_text=True)


def test_the_csrf_header_is_accepted_for_scripts(signed_in, container):
    client, csrf = signed_in
    order_id = place(container)
    response = client.post(f"/dashboard/orders/{order_id}/cancel", headers={"X-CSRF-Token": csrf})
    assert response.status_code == 302


# -- orders -------------------------------------------------------------------------------------------------
def test_orders_page_shows_channel_timeline_and_cancel(signed_in, container):
    client, csrf = signed_in
    order_id = place(container, quantity=2, channel="voice")
    html = client.get("/dashboard/").get_data(as_text=True)
    assert f'id="order-{order_id}"' in html and "Voice" in html and "$25.98" in html
    assert "Placed" in html and "Sent to store" in html and "Cancel order" in html

    response = client.post(f"/dashboard/orders/{order_id}/cancel", data={"csrf_token": csrf})
    assert response.status_code == 302
    html = client.get("/dashboard/").get_data(as_text=True)
    assert "The order was cancelled." in html and "cancelled on the dashboard" in html
    with container.uow() as uow:
        assert uow.orders.get(order_id).status == "cancelled"


def test_cancelling_too_late_shows_the_domain_message(signed_in, container, clock):
    client, csrf = signed_in
    order_id = place(container)
    container.bus.handle(commands.CancelOrder("h1", order_id))
    client.post(f"/dashboard/orders/{order_id}/cancel", data={"csrf_token": csrf})
    html = client.get("/dashboard/").get_data(as_text=True)
    assert "already cancelled and can no longer be cancelled" in html
    assert client.post("/dashboard/orders/nope/cancel", data={"csrf_token": csrf}).status_code == 302
    assert "No order" in client.get("/dashboard/").get_data(as_text=True)


def test_delivered_order_shows_its_photo_and_whole_timeline(signed_in, container, clock):
    client, _ = signed_in
    order_id = place(container, channel="button")
    clock.advance(minutes=16)
    container.bus.handle(commands.SubmitOrder(order_id))
    clock.advance(hours=3)  # past the simulated store's delivery delay
    assert container.bus.handle(commands.TrackOrder(order_id)) == "delivered"
    with container.uow() as uow:
        photo = uow.orders.get(order_id).delivery_photo_url
    html = client.get("/dashboard/").get_data(as_text=True)
    assert "Delivered" in html and "Shipped" in html and "Button" in html
    assert photo and f'src="{photo}"' in html
    assert "Cancel order" not in html


def test_orders_json_reports_status_and_only_sends_html_when_changed(signed_in, container):
    client, csrf = signed_in
    order_id = place(container)
    first = client.get("/dashboard/orders.json").get_json()
    assert first["orders"] == [{"id": order_id, "status": "pending", "can_cancel": True}] and "html" in first
    same = client.get(f"/dashboard/orders.json?digest={first['digest']}").get_json()
    assert "html" not in same
    container.bus.handle(commands.CancelOrder("h1", order_id))
    changed = client.get(f"/dashboard/orders.json?digest={first['digest']}").get_json()
    assert changed["orders"][0]["status"] == "cancelled" and "Cancelled" in changed["html"]


def test_order_now_places_a_web_order_once_per_form(signed_in, container):
    client, csrf = signed_in
    form = {"csrf_token": csrf, "sku": "CHARMIN-12", "quantity": "2", "key": "form-1"}
    assert client.post("/dashboard/orders", data=form).status_code == 302
    assert client.post("/dashboard/orders", data=form).status_code == 302
    with container.uow() as uow:
        orders = uow.orders.list("h1")
        assert len(orders) == 1 and orders[0].channel == "web" and orders[0].lines[0].quantity == 2
    client.post("/dashboard/orders", data={**form, "sku": "TV-65", "key": "form-2", "quantity": "1"})
    assert "over your limit" in client.get("/dashboard/").get_data(as_text=True)


def test_another_household_cannot_see_or_cancel_my_orders(client, container, token):
    container.bus.handle(commands.CreateHousehold("h2", "Other", "2 Main St"))
    theirs = container.bus.handle(commands.PlaceOrder("h2", "voice", (commands.LineRequest("TIDE-PODS-42", 1),)))
    csrf = sign_in(client, token)
    assert theirs.order_id not in client.get("/dashboard/").get_data(as_text=True)
    client.post(f"/dashboard/orders/{theirs.order_id}/cancel", data={"csrf_token": csrf})
    with container.uow() as uow:
        assert uow.orders.get(theirs.order_id).status == "pending"


# -- settings -----------------------------------------------------------------------------------------------
def test_limits_are_saved_in_dollars_and_minutes(signed_in, container):
    client, csrf = signed_in
    response = client.post("/dashboard/settings/limits", data={
        "csrf_token": csrf, "per_order_cap": "45.50", "per_month_cap": "", "window_voice": "5",
        "window_button": "15", "window_appliance": "15", "window_web": "0"})
    assert response.status_code == 302
    with container.uow() as uow:
        limits = uow.households.get("h1").limits
        assert limits.per_order_cap_cents == 4550 and limits.per_month_cap_cents is None
        assert limits.cancel_windows["voice"] == 300 and limits.cancel_windows["web"] == 0
    html = client.get("/dashboard/settings").get_data(as_text=True)
    assert 'value="45.50"' in html and "saved" in html


@pytest.mark.parametrize("field, value, message", [
    ("per_order_cap", "lots", "must be an amount in dollars"),
    ("per_month_cap", "-5", "must be an amount in dollars"),
    ("per_order_cap", "99999999", "The per-order limit is an amount from $0 to $100,000"),
    ("window_voice", "1.5", "Voice (Alexa): the cancel window is a whole number of minutes"),
    ("window_voice", "", "Voice (Alexa): the cancel window is a whole number of minutes"),
    ("window_web", "99999", "This dashboard: the cancel window is from 0 minutes to 7 days."),
])
def test_limit_validation_errors_are_shown_next_to_the_field(signed_in, container, field, value, message):
    client, csrf = signed_in
    data = {"csrf_token": csrf, "per_order_cap": "200", "per_month_cap": "500", "window_voice": "30",
            "window_button": "15", "window_appliance": "15", "window_web": "10", field: value}
    response = client.post("/dashboard/settings/limits", data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert message in html and f'id="err-{field}"' in html and "Nothing was saved" in html
    assert f'value="{value}"' in html  # what was typed stays in the field
    with container.uow() as uow:
        assert uow.households.get("h1").limits.per_order_cap_cents == 20000


@pytest.mark.parametrize("api, field, typed, words", [
    ({"per_order_cap_cents": 10_000_001}, "per_order_cap", "100000.01",
     "The per-order limit is an amount from $0 to $100,000, or none for no limit."),
    ({"per_month_cap_cents": 100_000_100}, "per_month_cap", "$1,000,001",
     "The monthly limit is an amount from $0 to $1,000,000, or none for no limit."),
    ({"cancel_windows": {"voice": 7 * 86400 + 60}}, "window_voice", "10081",
     "Voice (Alexa): the cancel window is from 0 minutes to 7 days."),
])
def test_the_api_and_the_dashboard_refuse_the_same_limits_in_the_same_words(signed_in, container, token, api,
                                                                             field, typed, words):
    client, csrf = signed_in
    by_api = client.patch("/v1/household/limits", json=api, headers={"Authorization": f"Bearer {token}"})
    assert by_api.status_code == 400 and by_api.json["error"]["message"] == words
    form = {"csrf_token": csrf, "per_order_cap": "200", "per_month_cap": "500", "window_voice": "30",
            "window_button": "15", "window_appliance": "15", "window_web": "10", field: typed}
    on_page = client.post("/dashboard/settings/limits", data=form)
    assert on_page.status_code == 400 and words in unescape(on_page.get_data(as_text=True))
    with container.uow() as uow:
        limits = uow.households.get("h1").limits
        assert (limits.per_order_cap_cents, limits.per_month_cap_cents) == (20000, 50000)
        assert limits.cancel_windows == model.DEFAULT_CANCEL_WINDOWS


def test_the_api_refuses_negative_limits_naming_them(client, token):
    for body, words in (({"per_order_cap_cents": -1}, "The per-order limit is an amount from $0"),
                        ({"cancel_windows": {"web": -60}}, "This dashboard: the cancel window is from 0 minutes"),
                        ({"cancel_windows": {"fax": 60}}, "Unknown channel 'fax'")):
        refused = client.patch("/v1/household/limits", json=body, headers={"Authorization": f"Bearer {token}"})
        assert refused.status_code == 400 and refused.json["error"]["message"].startswith(words), refused.json


def test_voice_pin_set_change_and_remove(signed_in, container):
    client, csrf = signed_in
    bad = client.post("/dashboard/settings/pin", data={"csrf_token": csrf, "pin": "12a4", "pin_again": "12a4"})
    assert bad.status_code == 400 and "exactly four digits" in bad.get_data(as_text=True)
    mismatch = client.post("/dashboard/settings/pin", data={"csrf_token": csrf, "pin": "1234", "pin_again": "4321"})
    assert mismatch.status_code == 400 and "do not match" in mismatch.get_data(as_text=True)
    assert client.post("/dashboard/settings/pin", data={"csrf_token": csrf, "pin": "1234", "pin_again": "1234",
                                                        "action": "set"}).status_code == 302
    assert container.bus.handle(commands.CheckVoicePin("h1", "1234")) is True
    assert "Remove PIN" in client.get("/dashboard/settings").get_data(as_text=True)
    client.post("/dashboard/settings/pin", data={"csrf_token": csrf, "pin": "9876", "pin_again": "9876"})
    assert container.bus.handle(commands.CheckVoicePin("h1", "9876")) is True
    client.post("/dashboard/settings/pin", data={"csrf_token": csrf, "action": "remove"})
    with container.uow() as uow:
        assert not uow.households.get("h1").limits.has_pin


def test_notification_preferences_are_kept_with_the_household(signed_in, container):
    client, csrf = signed_in
    bad = client.post("/dashboard/settings/notifications", data={"csrf_token": csrf, "channel_sms": "on",
                                                                  "phone": "555-1234"})
    assert bad.status_code == 400 and "country code" in bad.get_data(as_text=True)
    ok = client.post("/dashboard/settings/notifications", data={
        "csrf_token": csrf, "channel_email": "on", "email": "sam@example.com", "event_shipped": "on"})
    assert ok.status_code == 302
    from replenish.web.dashboard_forms import load_prefs
    prefs = load_prefs(container, "h1")
    assert prefs.channels == {"email": True, "sms": False, "alexa": False}
    assert prefs.events["shipped"] and not prefs.events["delivered"] and prefs.email == "sam@example.com"
    container.redis.flushall()  # durable: kept in the database, not in Redis
    with container.uow() as uow:
        assert uow.households.get("h1").limits.wants("OrderShipped", "sns")
        assert not uow.households.get("h1").limits.wants("OrderDelivered", "sns")


# -- forecast -----------------------------------------------------------------------------------------------
def _timing(sku, last, days, low, high):
    return Timing(sku, days, low, high, last, last + timedelta(days=days))


def test_forecast_page_renders_the_chart_and_what_runs_low(signed_in, container, clock):
    client, _ = signed_in
    now = clock()
    purchases = [Purchase("h1", "TIDE-PODS-42", now - timedelta(days=d), 1, f"a{d}") for d in (85, 55, 25)]
    purchases += [Purchase("h1", "CHARMIN-12", now - timedelta(days=d), 2, f"b{d}") for d in (40, 20)]
    container.recommendations = FakeRecommendations(
        [_timing("TIDE-PODS-42", now - timedelta(days=25), 29.0, 24.0, 36.0),
         _timing("CHARMIN-12", now - timedelta(days=20), 40.0, 30.0, 55.0)], purchases)
    html = client.get("/dashboard/forecast").get_data(as_text=True)
    wide = html[html.index('<svg id="forecast-chart"'):html.index('<svg id="forecast-chart-narrow"')]
    narrow = html[html.index('<svg id="forecast-chart-narrow"'):]
    assert wide.count('class="purchase"') == 5 and wide.count('class="expected"') == 2
    assert narrow.count('class="purchase"') == 4  # the phone's chart shows a shorter past (75 days)
    soon = html[html.index('id="running-low"'):html.index('id="chart-heading"')]
    assert "Tide PODS Laundry Detergent, 42 Count" in soon and "Charmin" not in soon and "in 4 days" in soon
    assert "Order now" in soon
    assert "Charmin Ultra Soft" in html  # in the chart and table, not in "running low"
    legend = html[html.index('class="legend"'):]
    legend = legend[:legend.index("</ul>")]
    # one lane is soon (orange) and one is not (green): the legend explains both colours the chart uses
    assert 'key-band-soon' in legend and 'class="key key-band"' in legend
    ticks = re.findall(r'class="tick"[^>]*>([^<]+)<', wide)
    assert re.fullmatch(r"[A-Z][a-z]{2} \d{4}", ticks[0]), ticks  # the axis says which year it starts in


def test_running_low_soon_follows_the_recommender_and_asks_about_a_doubtful_item(signed_in, container, clock):
    client, _ = signed_in
    now = clock()
    purchases = [Purchase("h1", "TIDE-PODS-42", now - timedelta(days=d), 1, f"a{d}") for d in (59, 30, 2)]
    purchases += [Purchase("h1", "CHARMIN-12", now - timedelta(days=d), 1, f"b{d}") for d in (140, 100)]
    purchases += [Purchase("h1", "TIDE-PODS-81", now - timedelta(days=d), 1, f"c{d}") for d in (40, 20)]
    # the recommender's running-low order: the most needed first, whatever the dates
    container.recommendations = FakeRecommendations(
        [Timing("TIDE-PODS-42", 29.0, 24.0, 36.0, now - timedelta(days=2), now + timedelta(days=3), "", 0.95),
         Timing("TIDE-PODS-81", 18.0, 14.0, 24.0, now - timedelta(days=20), now - timedelta(days=2), "", 0.85),
         Timing("CHARMIN-12", 40.0, 30.0, 55.0, now - timedelta(days=100), now - timedelta(days=60), "", 0.45)],
        purchases)
    html = unescape(client.get("/dashboard/forecast").get_data(as_text=True))
    soon = html[html.index('id="running-low"'):html.index('id="chart-heading"')]
    order = [soon.index(name) for name in ("42 Count", "81 Count", "Charmin")]
    assert order == sorted(order), soon
    cards = re.split(r'<article class="card soon-item', soon)[1:]
    assert "Runs out around" in cards[0] and "in 3 days" in cards[0]
    assert "Probably already out: expected 2 days ago." in re.sub(r"\s+", " ", cards[1])
    assert "Due 60 days ago, not bought since: still need it?" in re.sub(r"\s+", " ", cards[2])
    assert "Probably already out" not in cards[2]
    # the chart keeps its time order: the longest overdue first
    wide = html[html.index('<svg id="forecast-chart"'):html.index('<svg id="forecast-chart-narrow"')]
    lanes = [wide.index(name) for name in ("Charmin", "81 Count", "42 Count")]
    assert lanes == sorted(lanes)


def test_forecast_with_the_real_recommendations(signed_in, container, clock):
    client, _ = signed_in
    now = clock()
    with container.uow() as uow:
        uow.purchases.add_many([Purchase("h1", "TIDE-PODS-42", now - timedelta(days=30 * i + 28), 1, f"o{i}")
                                for i in range(5)])
        uow.session.commit()
    html = client.get("/dashboard/forecast").get_data(as_text=True)
    assert '<svg id="forecast-chart"' in html and "Tide PODS" in html


def test_forecast_page_survives_a_broken_model(signed_in, container):
    client, _ = signed_in
    container.recommendations = FakeRecommendations(broken=True)
    response = client.get("/dashboard/forecast")
    assert response.status_code == 200 and "not available right now" in response.get_data(as_text=True)


def test_forecast_page_with_no_history(signed_in, container):
    client, _ = signed_in
    container.recommendations = FakeRecommendations()
    html = client.get("/dashboard/forecast").get_data(as_text=True)
    assert "Nothing to forecast yet" in html and "<svg" not in html


# -- notifications ------------------------------------------------------------------------------------------
def test_notification_feed(signed_in, container):
    from replenish.domain.model import Notification
    client, _ = signed_in
    with container.uow() as uow:
        uow.notifications.add(Notification("h1", "OrderShipped", "Your order of <b>soap</b> has shipped.", "feed"))
        uow.notifications.add(Notification("h1", "OrderShipped", "sms copy", "sns", status="failed"))
        uow.commit()
    html = client.get("/dashboard/notifications").get_data(as_text=True)
    assert "Your order of &lt;b&gt;soap&lt;/b&gt; has shipped." in html  # escaped, never markup
    assert "failed" in html


# -- one-time links -----------------------------------------------------------------------------------------
def test_one_time_link_signs_in_another_phone_once(signed_in, app, container):
    client, csrf = signed_in
    page = client.post("/dashboard/links", data={"csrf_token": csrf})
    assert page.status_code == 200
    link = re.search(r'value="(http[^"]+/dashboard/link/[^"]+)"', page.get_data(as_text=True)).group(1)
    secret = link.rsplit("/", 1)[1]
    keys = [k.decode() for k in container.redis.keys("dashboard:link:*")]
    assert len(keys) == 1 and secret not in keys[0]  # stored hashed
    assert 0 < container.redis.ttl(keys[0]) <= 15 * 60

    phone = app.test_client()
    confirm = phone.get(f"/dashboard/link/{secret}")  # opening it (or a link preview) does not use it up
    assert confirm.status_code == 200 and confirm.headers["Referrer-Policy"] == "no-referrer"
    assert phone.get(f"/dashboard/link/{secret}").status_code == 200
    used = phone.post(f"/dashboard/link/{secret}", data={"csrf_token": csrf_of(confirm)})
    assert used.status_code == 302 and phone.get("/dashboard/").status_code == 200

    thief = app.test_client()
    again = thief.get(f"/dashboard/link/{secret}")
    assert again.status_code == 410 and "This link was already used" in again.get_data(as_text=True)
    assert thief.post(f"/dashboard/link/{secret}", data={"csrf_token": csrf_of(again)}).status_code == 410
    assert thief.get("/dashboard/").status_code == 302


def test_link_needs_a_signed_in_household_and_expires(client, container):
    assert client.post("/dashboard/links", data={"csrf_token": csrf_of(client.get("/dashboard/signin"))}
                       ).status_code == 302
    from replenish.web.dashboard_security import issue_link, take_link
    secret = issue_link(container.redis, "h1", ttl=timedelta(seconds=1))
    container.redis.delete(*container.redis.keys("dashboard:link:*"))  # what the TTL does when it runs out
    assert take_link(container.redis, secret) is None
    expired = client.get(f"/dashboard/link/{secret}")
    assert expired.status_code == 410 and "This link has expired" in expired.get_data(as_text=True)
    assert "15 minutes" in expired.get_data(as_text=True)
    made_up = client.get("/dashboard/link/" + "x" * 43)
    assert made_up.status_code == 410 and "This link does not work" in made_up.get_data(as_text=True)


# -- devices ------------------------------------------------------------------------------------------------
devices_present = pytest.mark.skipif(
    not __import__("replenish.devices.web.dashboard", fromlist=["available"]).available()["buttons"],
    reason="the buttons/appliances modules are not in this build")


@devices_present
def test_pair_a_button_and_see_its_battery_and_last_press(signed_in, container, clock):
    from replenish.devices.domain.commands import PressButton
    client, csrf = signed_in
    page = client.get("/dashboard/buttons")
    assert page.status_code == 200 and "Pair a button" in page.get_data(as_text=True)
    bad = client.post("/dashboard/buttons", data={"csrf_token": csrf, "kind": "sku", "sku": "", "quantity": "0"})
    assert bad.status_code == 400
    assert "Choose the product" in bad.get_data(as_text=True) and "from 1 to 99" in bad.get_data(as_text=True)
    paired = client.post("/dashboard/buttons", data={"csrf_token": csrf, "kind": "sku", "sku": "TIDE-PODS-42",
                                                     "quantity": "2"})
    html = paired.get_data(as_text=True)
    assert paired.status_code == 201 and "Button paired" in html
    serial = re.search(r'id="paired-serial">([A-Z0-9]+)<', html).group(1)
    assert 'id="paired-secret"' in html
    container.bus.handle(PressButton(serial, "SINGLE", battery_mv=1200))
    html = client.get("/dashboard/buttons").get_data(as_text=True)
    card = html[html.index(f'id="button-{serial}"'):]
    assert "Low, 1.2 V" in card and "Battery low" in card and "today" in card and "× 2" in card
    orders = client.get("/dashboard/").get_data(as_text=True)
    assert "Button" in orders and "2 ×" in orders
    category = client.post("/dashboard/buttons", data={"csrf_token": csrf, "kind": "category",
                                                       "category": "detergent", "quantity": "1"})
    assert category.status_code == 201 and "your usual detergent" in category.get_data(as_text=True)


def test_refreshing_the_pairing_result_does_not_pair_a_second_button(signed_in, container):
    client, csrf = signed_in
    page = client.get("/dashboard/buttons").get_data(as_text=True)
    nonce = re.search(r'name="pair_nonce" value="([^"]+)"', page).group(1)
    form = {"csrf_token": csrf, "pair_nonce": nonce, "kind": "sku", "sku": "TIDE-PODS-42", "quantity": "1"}
    assert client.post("/dashboard/buttons", data=form).status_code == 201
    again = client.post("/dashboard/buttons", data=form)
    assert again.status_code == 409 and "already paired" in again.get_data(as_text=True)
    with container.uow() as uow:
        assert len(uow.devices.buttons_for("h1")) == 1


TIDE_TITLE = "Tide PODS Laundry Detergent, 42 Count"


def pair(client, csrf, **form) -> dict:
    """Pairs a button on the dashboard; its serial and secret as the pairing result shows them."""
    response = client.post("/dashboard/buttons", data={"csrf_token": csrf, "kind": "sku", "sku": "TIDE-PODS-42",
                                                       "quantity": "1", **form})
    assert response.status_code == 201
    html = response.get_data(as_text=True)
    return {"serial": re.search(r'id="paired-serial">([A-Z0-9]+)<', html).group(1),
            "secret": re.search(r'id="paired-secret"[^>]* value="([^"]+)"', html).group(1)}


def press(client, button):
    """A signed press through the API, as the button sends it."""
    from replenish_partner import signature_headers
    path, body = f"/v1/buttons/{button['serial']}/press", b'{"click_type": "SINGLE"}'
    headers = signature_headers("POST", "http://test" + path, body, button["serial"], button["secret"],
                                headers={"Content-Type": "application/json"})
    return client.post(path, data=body, headers=headers, base_url="http://test")


def button_card(client, serial) -> str | None:
    html = client.get("/dashboard/buttons").get_data(as_text=True)
    if f'id="button-{serial}"' not in html:
        return None
    card = html[html.index(f'id="button-{serial}"'):]
    return card[:card.index("</article>")]


def key_accepted(app, serial) -> bool:
    """Whether this process still accepts the button's signing key (its short-lived key cache included)."""
    from replenish.devices.web import common as device_common
    with app.app_context():
        return device_common.lookups().button_key(serial) is not None


def flashes(html) -> list[str]:
    return [unescape(m) for m in re.findall(r'<p class="flash flash-\w+"[^>]*>([^<]*)</p>', html)]


@devices_present
def test_disable_and_enable_a_button(signed_in, app, container):
    client, csrf = signed_in
    button = pair(client, csrf, quantity="2")
    card = button_card(client, button["serial"])
    assert ">Active<" in card and ">Disable<" in card and ">Unpair<" in card and ">Enable<" not in card
    assert press(client, button).get_json()["status"] == "order_placed"  # this process now keeps its key
    assert key_accepted(app, button["serial"])
    with container.uow() as uow:
        first = uow.orders.list("h1")[0].id
    container.bus.handle(commands.CancelOrder("h1", first))  # nothing in flight: the next press would order

    url = f"/dashboard/buttons/{button['serial']}/status"
    response = client.post(url, data={"csrf_token": csrf, "status": "disabled"})
    assert response.status_code == 302 and response.location.endswith(f"/dashboard/buttons#button-{button['serial']}")
    html = client.get("/dashboard/buttons").get_data(as_text=True)
    assert flashes(html) == [f"The button for {TIDE_TITLE} is disabled; pressing it orders nothing."]
    card = button_card(client, button["serial"])
    assert ">Disabled<" in card and ">Enable<" in card and ">Disable<" not in card
    assert "pressing it orders nothing until you enable it" in card
    assert not key_accepted(app, button["serial"])  # at once, not when the key cache expires
    assert press(client, button).status_code == 404
    with container.uow() as uow:
        assert [o.id for o in uow.orders.list("h1")] == [first]
        assert uow.devices.button(button["serial"]).status == "disabled"

    assert client.post(url, data={"csrf_token": csrf, "status": "active"}).status_code == 302
    html = client.get("/dashboard/buttons").get_data(as_text=True)
    assert flashes(html) == [f"The button for {TIDE_TITLE} is active again; pressing it places an order."]
    assert ">Active<" in button_card(client, button["serial"])
    assert press(client, button).get_json()["status"] == "order_placed"
    with container.uow() as uow:
        assert len(uow.orders.list("h1")) == 2


@devices_present
def test_a_category_button_is_named_by_its_category(signed_in):
    client, csrf = signed_in
    button = pair(client, csrf, kind="category", category="detergent", sku="")
    client.post(f"/dashboard/buttons/{button['serial']}/status", data={"csrf_token": csrf, "status": "disabled"})
    html = client.get("/dashboard/buttons").get_data(as_text=True)
    assert flashes(html) == ["The button for your usual detergent is disabled; pressing it orders nothing."]


@devices_present
def test_unpair_a_button_for_good(signed_in, app, container):
    client, csrf = signed_in
    button = pair(client, csrf)
    kept = pair(client, csrf, sku="CHARMIN-12")
    assert press(client, button).get_json()["status"] == "order_placed"
    assert key_accepted(app, button["serial"])
    card = button_card(client, button["serial"])
    # Unpairing asks first: the form that unpairs is inside a <details> opened by the "Unpair" summary.
    details = card[card.index('<details class="unpair">'):card.index("</details>")]
    assert "<summary" in details and f'action="/dashboard/buttons/{button["serial"]}/unpair"' in details
    assert "Yes, unpair it" in details and "never order again" in details

    response = client.post(f"/dashboard/buttons/{button['serial']}/unpair", data={"csrf_token": csrf})
    assert response.status_code == 302
    html = client.get("/dashboard/buttons").get_data(as_text=True)
    assert flashes(html) == [f"The button for {TIDE_TITLE} is unpaired; it will never order anything again."]
    assert button_card(client, button["serial"]) is None  # unpaired buttons are not listed
    assert button_card(client, kept["serial"]) is not None
    assert not key_accepted(app, button["serial"])
    assert press(client, button).status_code == 404
    with container.uow() as uow:
        assert uow.devices.button(button["serial"]).status == "unpaired"
        assert len(uow.orders.list("h1")) == 1

    # It cannot be enabled or unpaired again.
    client.post(f"/dashboard/buttons/{button['serial']}/status", data={"csrf_token": csrf, "status": "active"})
    assert flashes(client.get("/dashboard/buttons").get_data(as_text=True)) == [f"No button '{button['serial']}'."]
    assert press(client, button).status_code == 404


@devices_present
def test_button_actions_without_the_csrf_token_change_nothing(signed_in, container):
    client, csrf = signed_in
    button = pair(client, csrf)
    for data in ({"status": "disabled"}, {"status": "disabled", "csrf_token": "forged"}):
        response = client.post(f"/dashboard/buttons/{button['serial']}/status", data=data)
        assert response.status_code == 400 and "did not come from this site" in response.get_data(as_text=True)
        assert client.post(f"/dashboard/buttons/{button['serial']}/unpair", data=data).status_code == 400
    with container.uow() as uow:
        assert uow.devices.button(button["serial"]).status == "active"
    assert press(client, button).get_json()["status"] == "order_placed"


@devices_present
def test_bad_button_actions_show_a_message_and_change_nothing(signed_in, container):
    client, csrf = signed_in
    button = pair(client, csrf)
    for status in ("unpaired", "", "off"):
        assert client.post(f"/dashboard/buttons/{button['serial']}/status",
                           data={"csrf_token": csrf, "status": status}).status_code == 302
        assert flashes(client.get("/dashboard/buttons").get_data(as_text=True)) == ["Choose “Disable” or “Enable”."]
    for serial in ("NOPE", "X" * 500):
        for action, data in (("status", {"status": "disabled"}), ("unpair", {})):
            response = client.post(f"/dashboard/buttons/{serial}/{action}", data={"csrf_token": csrf, **data})
            assert response.status_code == 302
            assert flashes(client.get("/dashboard/buttons").get_data(as_text=True))[0].startswith("No ")
    with container.uow() as uow:
        assert uow.devices.button(button["serial"]).status == "active"


@devices_present
def test_another_household_cannot_disable_or_unpair_my_button(app, container, token):
    owner = app.test_client()
    button = pair(owner, sign_in(owner, token))
    container.bus.handle(commands.CreateHousehold("h2", "Other", "2 Main St"))
    stranger = app.test_client()
    csrf = sign_in(stranger, container.bus.handle(commands.IssueToken("h2")))
    assert button["serial"] not in stranger.get("/dashboard/buttons").get_data(as_text=True)
    stranger.post(f"/dashboard/buttons/{button['serial']}/status", data={"csrf_token": csrf, "status": "disabled"})
    html = stranger.get("/dashboard/buttons").get_data(as_text=True)
    assert flashes(html) == [f"No button '{button['serial']}'."] and TIDE_TITLE not in flashes(html)[0]
    stranger.post(f"/dashboard/buttons/{button['serial']}/unpair", data={"csrf_token": csrf})
    with container.uow() as uow:
        assert uow.devices.button(button["serial"]).status == "active"
    assert press(owner, button).get_json()["status"] == "order_placed"
    assert ">Active<" in button_card(owner, button["serial"])


@devices_present
def test_appliance_link_code_levels_mode_and_unlink(signed_in, container, clock):
    from replenish.devices.domain import commands as dc
    client, csrf = signed_in
    page = client.post("/dashboard/appliances/code", data={"csrf_token": csrf})
    code = re.search(r'id="link-code-value">([A-Z0-9]+)<', page.get_data(as_text=True)).group(1)
    partner = container.bus.handle(dc.CreatePartner("Acme Appliances"))["partner_id"]
    # The device handlers ask the recommender for repurchase timing; in-memory SQLite shares one connection
    # between sessions, so a nested real recommender session would end the handler's transaction.
    container.deps.recommendations = FakeRecommendations()
    device = container.bus.handle(dc.RegisterDevice(partner, code, "washer-1", "Acme Washer 9000", slots=(
        dc.SlotSpec("detergent", ("TIDE-PODS-42", "TIDE-PODS-81"), capacity=42, mode="notify"),)))
    for remaining in (40, 33, 27):
        container.bus.handle(dc.ReportSlotStatus(partner, device["device_id"], "detergent", remaining))
        clock.advance(days=2)
    html = client.get("/dashboard/appliances").get_data(as_text=True)
    assert "Acme Washer 9000" in html and "27 of 42 left" in html and "count left" not in html
    assert '<svg class="spark"' in html and "3 readings" in html
    assert 'value="notify" checked' in html

    url = f"/dashboard/appliances/{device['device_id']}/slots/detergent/mode"
    assert client.post(url, data={"csrf_token": csrf, "mode": "auto"}).status_code == 302
    with container.uow() as uow:
        assert uow.devices.device(device["device_id"]).slot("detergent").mode == "auto"
    client.post(url, data={"csrf_token": csrf, "mode": "sometimes"})
    assert "Choose" in client.get("/dashboard/appliances").get_data(as_text=True)

    assert client.post(f"/dashboard/appliances/{device['device_id']}/unlink", data={"csrf_token": csrf}
                       ).status_code == 302
    html = client.get("/dashboard/appliances").get_data(as_text=True)
    assert "was unlinked" in html and "Unlinked" in html
    with container.uow() as uow:
        assert uow.devices.device(device["device_id"]).status == "deregistered"


@devices_present
def test_another_household_cannot_touch_my_appliance(client, container, token):
    from replenish.devices.domain import commands as dc
    container.bus.handle(commands.CreateHousehold("h2", "Other", "2 Main St"))
    code = container.bus.handle(dc.CreateLinkCode("h2"))["code"]
    partner = container.bus.handle(dc.CreatePartner("Acme"))["partner_id"]
    device = container.bus.handle(dc.RegisterDevice(partner, code, "w-2", "Washer", slots=(
        dc.SlotSpec("detergent", ("TIDE-PODS-42",), capacity=42),)))
    csrf = sign_in(client, token)
    client.post(f"/dashboard/appliances/{device['device_id']}/unlink", data={"csrf_token": csrf})
    assert "No device" in client.get("/dashboard/appliances").get_data(as_text=True)
    with container.uow() as uow:
        assert uow.devices.device(device["device_id"]).status == "active"


def test_device_pages_say_when_the_modules_are_missing(signed_in, monkeypatch):
    from replenish.devices.web import dashboard as dashboard_devices
    client, csrf = signed_in
    monkeypatch.setattr(dashboard_devices, "available", lambda: {"buttons": False, "appliances": False})
    for path in ("/dashboard/buttons", "/dashboard/appliances"):
        response = client.get(path)
        assert response.status_code == 200 and "not available in this build" in response.get_data(as_text=True)
    assert client.post("/dashboard/buttons", data={"csrf_token": csrf}).status_code == 404


@pytest.mark.parametrize("key", ["change-me", "CHANGE-ME", "secret", "short-but-not-a-placeholder"])
def test_a_guessable_secret_key_is_refused_before_anything_is_signed(container, key):
    from replenish.config import ConfigError
    container.settings.secret_key = key
    with pytest.raises(ConfigError, match="REPLENISH_SECRET_KEY"):
        create_app(container)


def test_a_long_random_secret_key_is_used_and_a_session_lasts_fourteen_days(container):
    container.settings.secret_key = "k" * 16 + "0123456789abcdef0123456789"
    app = create_app(container)
    assert app.config["SECRET_KEY"] == container.settings.secret_key
    assert app.config["PERMANENT_SESSION_LIFETIME"].days == 14


def test_serve_refuses_a_placeholder_key_with_a_message_and_no_traceback(monkeypatch):
    from click.testing import CliRunner

    from replenish.cli import main
    monkeypatch.setenv("REPLENISH_SECRET_KEY", "change-me")
    result = CliRunner().invoke(main, ["serve", "--no-seed"])
    assert result.exit_code != 0 and "placeholder" in result.output and "Traceback" not in result.output


def test_a_retailers_link_that_is_not_http_is_shown_as_text_never_as_a_link(signed_in, container, clock):
    client, _ = signed_in
    order_id = place(container, channel="button")
    with container.uow() as uow:  # what a misbehaving retailer could send back for an order
        order = uow.orders.get(order_id)
        order.mark_submitted("R-1", clock())
        order.advance_to(model.OrderStatus.SHIPPED, clock(), tracking_url="javascript:alert(document.cookie)")
        order.deliver(clock(), photo_url="data:text/html,<script>alert(1)</script>")
        uow.commit()
    html = client.get("/dashboard/").get_data(as_text=True)
    assert 'href="javascript:' not in html and 'src="data:' not in html
    assert "Tracking: javascript:alert(document.cookie)" in unescape(html)


def test_http_tracking_links_stay_links():
    from replenish.web.dashboard_format import web_url
    assert web_url("https://track.example/1?x=2") == "https://track.example/1?x=2"
    assert web_url("HTTP://track.example/") == "HTTP://track.example/"
    for bad in ("javascript:alert(1)", "data:text/html,x", "//track.example", "https:///nohost", None, 42):
        assert web_url(bad) is None


def test_settings_make_a_token_shown_once_then_rotate_one_which_signs_every_device_out(signed_in, container, token):
    client, csrf = signed_in
    page = client.get("/dashboard/settings").get_data(as_text=True)
    assert token[:10] in page and token not in page  # listed by its first characters only
    made = client.post("/dashboard/settings/tokens", data={"csrf_token": csrf, "label": "kitchen tablet"})
    html = unescape(made.get_data(as_text=True))
    secret = re.search(r'<code class="secret">(rpl_[^<]+)</code>', html).group(1)
    assert "kitchen tablet" in html and secret not in client.get("/dashboard/settings").get_data(as_text=True)
    with container.uow() as uow:
        first = next(t.id for t in uow.households.tokens("h1") if t.label != "kitchen tablet")
    rotated = client.post(f"/dashboard/settings/tokens/{first}/rotate", data={"csrf_token": csrf})
    new = re.search(r'id="rotated-token">(rpl_[^<]+)<', rotated.get_data(as_text=True)).group(1)
    assert "Every device was signed out" in rotated.get_data(as_text=True)
    assert client.get("/dashboard/settings").status_code in (302, 401)  # this device too
    assert sign_in(container_client := create_app(container).test_client(), new)
    assert container_client.get("/dashboard/settings").status_code == 200
    assert create_app(container).test_client().get("/v1/orders", headers={
        "Authorization": f"Bearer {token}"}).status_code == 401


def test_settings_refuse_a_bad_label_and_a_token_change_without_csrf(signed_in, container):
    client, csrf = signed_in
    bad = client.post("/dashboard/settings/tokens", data={"csrf_token": csrf, "label": "x" * 65})
    assert bad.status_code == 400 and "1 to 64" in bad.get_data(as_text=True)
    with container.uow() as uow:
        first = uow.households.tokens("h1")[0].id
        before = len(uow.households.tokens("h1"))
    assert client.post(f"/dashboard/settings/tokens/{first}/rotate").status_code == 400  # no CSRF token
    assert client.post(f"/dashboard/settings/tokens/{first}/explode", data={"csrf_token": csrf}).status_code == 404
    with container.uow() as uow:
        assert len(uow.households.tokens("h1")) == before and uow.households.tokens("h1")[0].live


@devices_present
def test_a_big_catalog_pairs_a_button_by_searching_not_by_sku(signed_in, container, monkeypatch):
    from catalog.model import Product
    from replenish.devices.web import dashboard as device_pages
    monkeypatch.setattr(device_pages, "PRODUCT_SELECT_MAX", 3)  # the test catalog counts as big
    with container.uow() as uow:
        uow.products.upsert_many([Product("BOUNTY-6", "Bounty Paper Towels, 6 Rolls", "Bounty", price_cents=1599),
                                  Product("100%_X", "Odd 100% Cotton Swabs", "Q", price_cents=299)])
        uow.session.commit()
    client, csrf = signed_in
    page = client.get("/dashboard/buttons").get_data(as_text=True)
    assert 'id="pair-find"' in page and 'placeholder="SKU"' not in page
    found = client.get("/dashboard/buttons?find=paper+TOWELS").get_data(as_text=True)
    assert "Bounty Paper Towels, 6 Rolls — $15.99" in found and "Tide" not in found.split('id="pair"')[1]
    assert "No product matches" in client.get("/dashboard/buttons?find=unicorn+saddles").get_data(as_text=True)
    odd = client.get("/dashboard/buttons?find=100%25").get_data(as_text=True)  # a % is a character, not a wildcard
    assert "Odd 100% Cotton Swabs" in odd and "Bounty" not in odd.split('id="pair"')[1]
    paired = client.post("/dashboard/buttons", data={"csrf_token": csrf, "kind": "sku", "sku": "BOUNTY-6",
                                                     "quantity": "1"})
    assert paired.status_code == 201 and "Bounty Paper Towels" in paired.get_data(as_text=True)


def test_an_unknown_dashboard_page_is_the_dashboards_error_page_not_json(signed_in):
    client, _ = signed_in
    for path in ("/dashboard/nope", "/dashboard/orders/extra/bits"):
        page = client.get(path)
        html = page.get_data(as_text=True)
        assert page.status_code == 404 and page.mimetype == "text/html", path
        assert "<h1>Not Found</h1>" in html and "Back to the dashboard" in html and '"error"' not in html
    assert client.get("/v1/nope").mimetype == "application/json"  # the API still answers in JSON
