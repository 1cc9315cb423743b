"""The household dashboard: server-rendered pages to see, cancel, configure and forecast.

Signed in with the household's API token or a one-time link; a session cookie after that; every POST carries
the session's CSRF token (checked by Flask-WTF before the view runs: ``dashboard_security.protect``), and its
fields are read by the forms of ``dashboard_forms``. Views only translate forms into commands and results into
pages: the rules live in the handlers, and their error messages are shown as they are.
"""
from __future__ import annotations

import hashlib
import json
import logging
import uuid
from pathlib import Path

from flask import Blueprint, abort, flash, g, jsonify, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from replenish.domain import commands, model
from replenish.domain.errors import DomainError
from replenish.services import merging
from replenish.services.handlers import month_start
from replenish.services.ports import PermanentError, TransientError
from replenish.services.views import limits_view, order_view

from . import dashboard_forecast, dashboard_forms, throttle
from . import dashboard_security as security
from .auth import container, household_for_token
from .dashboard_format import CHANNEL_LABELS, STATUS_LABELS, Formatter, image_url, money, timeline
from .errors import public_message, status_for

log = logging.getLogger(__name__)

_HERE = Path(__file__).parent
bp = Blueprint("dashboard", __name__, url_prefix="/dashboard", template_folder=str(_HERE / "templates"),
               static_folder=str(_HERE / "static"), static_url_path="/static")

ORDERS_SHOWN = 30
CSP = ("default-src 'self'; img-src 'self' data: https: http:; style-src 'self'; script-src 'self'; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")


@bp.record_once
def _setup(state) -> None:
    security.configure_app(state.app)
    if not any(rule.rule == "/" for rule in state.app.url_map.iter_rules()):
        state.app.add_url_rule("/", "dashboard_home", lambda: redirect(url_for("dashboard.orders")))


@bp.before_request
def _before() -> None:
    g.household = None
    household_id = security.signed_in_household()
    if household_id:
        with container().uow() as uow:
            household = uow.households.get(household_id)
            if household is None:  # deleted since: the session means nothing any more
                security.sign_out()
                return
            g.household = {"id": household.id, "name": household.name or household.id,
                           "time_zone": household.time_zone}
    g.fmt = Formatter(g.household["time_zone"] if g.household else "UTC", container().clock())


@bp.after_request
def _headers(response):
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    # One-time links carry a secret in the path: never leak it to another site in a Referer.
    response.headers["Referrer-Policy"] = "no-referrer"
    if not request.path.startswith("/dashboard/static/"):
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.context_processor
def _template_globals() -> dict:
    return {"household": g.get("household"), "fmt": g.get("fmt"),
            "money": money, "channel_labels": CHANNEL_LABELS, "status_labels": STATUS_LABELS,
            "devices": _device_modules(), "image_url": image_url}


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    if request.path.endswith(".json"):
        return jsonify({"error": {"code": (exc.name or "error").lower().replace(" ", "_"),
                                  "message": exc.description}}), exc.code
    return render_template("dashboard/error.html", title=exc.name, message=exc.description), exc.code


def error_page(exc: HTTPException, title: str | None = None, message: str | None = None):
    """The dashboard's error page where its blueprint's own handler is not asked: a path under /dashboard that
    no route matched, a refused CSRF token (checked before the dashboard's or the consent page's view)."""
    return render_template("dashboard/error.html", title=title or exc.name, message=message or exc.description,
                           **_template_globals()), exc.code


# -- signing in ---------------------------------------------------------------------------------------------
@bp.get("/signin")
def signin():
    if g.household:
        return redirect(url_for("dashboard.orders"))
    return render_template("dashboard/signin.html", next=security.safe_next(request.args.get("next")))


@bp.post("/signin")
def signin_post():
    token = (request.form.get("token") or "").strip()
    credential = throttle.token_credential(token[:200])
    refused = throttle.over(credential)
    if refused is not None:
        return _throttled(refused)
    household_id = household_for_token(token) if 0 < len(token) <= 200 else None
    if household_id is None:
        if token:
            throttle.failed("dashboard_signin", credential, "unrecognised token in the sign-in form")
        return render_template("dashboard/signin.html", error="That token was not recognised. Paste the whole "
                               "household API token, starting with rpl_.",
                               next=security.safe_next(request.form.get("next"))), 401
    security.sign_in(household_id, "token")
    return redirect(security.safe_next(request.form.get("next")) or url_for("dashboard.orders"))


@bp.post("/signout")
def signout():
    security.sign_out()
    return redirect(url_for("dashboard.signin"))


def _throttled(refused: throttle.Refusal):
    return render_template("dashboard/error.html", title="Too many attempts", message=refused.message()), 429, \
        {"Retry-After": str(refused.retry_after)}


@bp.post("/links")
@security.login_required
def issue_link():
    # a member's link signs in that member again, never the household itself
    secret = security.issue_link(container().redis, g.household_id, member_id=g.get("member_id"))
    link = url_for("dashboard.link", secret=secret, _external=True)
    base = (container().settings.public_url or "").rstrip("/")
    if base:
        link = base + url_for("dashboard.link", secret=secret)
    minutes = int(security.LINK_TTL.total_seconds() // 60)
    return render_template("dashboard/share.html", link=link, minutes=minutes)


LINK_MINUTES = int(security.LINK_TTL.total_seconds() // 60)


@bp.get("/link/<secret>")
def link(secret: str):
    # Opening the link only asks; signing in is a POST, so a chat app's link preview cannot use it up.
    credential = throttle.link_credential(secret)
    refused = throttle.over(credential)
    if refused is not None:
        return _throttled(refused)
    state = security.link_state(container().redis, secret)
    if state != "live":  # asking whether a guessed link is live is a guess too
        throttle.failed("dashboard_link", credential, "unknown, used or expired sign-in link")
    return render_template("dashboard/link.html", secret=secret, state=state,
                           minutes=LINK_MINUTES), 200 if state == "live" else 410


@bp.post("/link/<secret>")
def link_post(secret: str):
    credential = throttle.link_credential(secret)
    refused = throttle.over(credential)
    if refused is not None:
        return _throttled(refused)
    taken = security.take_member_link(container().redis, secret)
    household_id, member_id = taken or (None, None)
    if household_id is None:
        throttle.failed("dashboard_link", credential, "unknown, used or expired sign-in link")
        state = security.link_state(container().redis, secret)
        return render_template("dashboard/link.html", secret=secret, state=state, minutes=LINK_MINUTES), 410
    security.sign_in(household_id, "link", member_id)
    flash("You are signed in on this device.", "ok")
    return redirect(url_for("dashboard.orders"))


# -- orders -------------------------------------------------------------------------------------------------
def _orders_context(household_id: str) -> dict:
    with container().uow() as uow:
        orders = uow.orders.list(household_id, limit=ORDERS_SHOWN)
        together = merging.sent_together(uow, household_id, orders)
        shown = []
        for order in orders:
            view = order_view(order)
            view["steps"] = timeline(view, uow.outbox.timeline(order.id), g.fmt)
            view["sent_together_with"] = together.get(order.id)
            shown.append(view)
        people = _order_people()
        if people is not None:  # "Asked for by Sam, approved by Alex" (replenish.members)
            said = people(uow, household_id, [o["id"] for o in shown])
            for view in shown:
                view["people"] = said.get(view["id"])
        household = uow.households.get(household_id)
        saved = merging.deliveries_saved(uow, household_id,
                                         month_start(container().deps.clock(), household.time_zone if household
                                                     else "UTC"))
    active = [o for o in shown if o["status"] in ("pending", "submitted", "confirmed", "shipped")]
    past = [o for o in shown if o not in active]
    digest = hashlib.sha256(json.dumps([(o["id"], o["status"], o["can_cancel"]) for o in shown]).encode())
    return {"active": active, "past": past, "digest": digest.hexdigest()[:16], "deliveries_saved": saved}


@bp.get("/")
@security.login_required
def orders():
    return render_template("dashboard/orders.html", page="orders", **_orders_context(g.household_id))


@bp.get("/orders.json")
@security.login_required
def orders_json():
    """What the orders page polls: each order's status, and the list re-rendered when anything changed."""
    context = _orders_context(g.household_id)
    body = {"digest": context["digest"],
            "orders": [{"id": o["id"], "status": o["status"], "can_cancel": o["can_cancel"]}
                       for o in context["active"] + context["past"]]}
    if request.args.get("digest") != context["digest"]:
        body["html"] = render_template("dashboard/_orders.html", **context)
    return jsonify(body)


@bp.post("/orders/<order_id>/cancel")
@security.login_required
def cancel(order_id: str):
    try:
        container().bus.handle(commands.CancelOrder(g.household_id, order_id, "cancelled on the dashboard"))
        flash("The order was cancelled.", "ok")
    except (DomainError, PermanentError, TransientError) as exc:
        flash(public_message(exc), "error")
    return redirect(url_for("dashboard.orders"))


@bp.post("/orders")
@security.login_required
def place():
    form = dashboard_forms.OrderForm()
    if not form.validate():
        flash(form.first_problem(), "error")
        return redirect(url_for("dashboard.forecast"))
    sku, key = form.sku.data, form.key.data
    try:
        result = container().bus.handle(commands.PlaceOrder(
            g.household_id, model.Channel.WEB.value, (commands.LineRequest(sku, form.quantity.data),),
            idempotency_key=f"dashboard:{key}" if key else None,
            speaker=g.get("member_id")))  # a member signed in by their own link: their caps, their name
    except (DomainError, PermanentError, TransientError) as exc:
        flash(public_message(exc), "error")
        return redirect(url_for("dashboard.forecast"))
    order = result.order
    flash(f"Ordered {order['lines'][0]['title'] or sku} for {money(order['total_cents'])}. "
          f"It goes to the store {g.fmt.moment(order['submit_after'])}; cancel before then and nothing is sent.", "ok")
    return redirect(url_for("dashboard.orders"))


# -- forecast -----------------------------------------------------------------------------------------------
@bp.get("/forecast")
@security.login_required
def forecast():
    now = container().clock()
    with container().uow() as uow:
        data = dashboard_forecast.build(container().recommendations, uow, g.household_id, now)
    chart = dashboard_forecast.chart(data.items, now, g.fmt.day)
    narrow = dashboard_forecast.chart(data.items, now, g.fmt.day, width=360, past_days=75, future_days=60,
                                      title_chars=42)
    return render_template("dashboard/forecast.html", page="forecast", forecast=data, chart=chart, narrow=narrow,
                           form_key=uuid.uuid4().hex, soon_days=dashboard_forecast.SOON_DAYS)


# -- settings -----------------------------------------------------------------------------------------------
def _settings_page(status: int = 200, errors: dict | None = None, values: dict | None = None, prefs=None,
                   shown_token: dict | None = None):
    from replenish.services.handlers import list_tokens
    with container().uow() as uow:
        limits = limits_view(uow.households.get(g.household_id).limits)
    form = dashboard_forms.limits_form_values(limits)
    form.update(values or {})
    return render_template(
        "dashboard/settings.html", page="settings", limits=limits, form=form, errors=errors or {},
        prefs=prefs or dashboard_forms.load_prefs(container(), g.household_id),
        channels=dashboard_forms.CHANNELS, channel_names=dashboard_forms.CHANNEL_NAMES,
        notify_channels=dashboard_forms.NOTIFY_CHANNELS, notify_events=dashboard_forms.NOTIFY_EVENTS,
        linked_apps=_linked_apps(g.household_id), shown_token=shown_token,
        tokens=[t for t in list_tokens(g.household_id, container().deps) if not t["revoked_at"]]), status


@bp.post("/settings/tokens")
@security.login_required
def settings_token_create():
    """A new API token, shown on this page once."""
    from replenish.services.handlers import new_token
    label = (request.form.get("label") or "").strip() or "api"
    try:
        made = new_token(commands.IssueToken(g.household_id, label), container().deps)
    except DomainError as exc:
        return _settings_page(400, errors={"label": exc.message})
    return _settings_page(shown_token=made)


@bp.post("/settings/tokens/<token_id>/<action>")
@security.login_required
def settings_token_change(token_id: str, action: str):
    """Rotate (a new token replaces this one) or revoke a token: either signs every device out."""
    if action not in ("rotate", "revoke"):
        abort(404)
    command = (commands.RotateToken if action == "rotate" else commands.RevokeToken)(g.household_id, token_id[:64])
    try:
        result = container().bus.handle(command)
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("dashboard.settings") + "#tokens")
    if action == "rotate":  # this session ended with the old token: the new one is shown on a page of its own
        return render_template("dashboard/token_rotated.html", page="settings", token=result), 200
    return render_template("dashboard/token_rotated.html", page="settings", token=None, revoked=result), 200


def _order_people():
    from flask import current_app
    return current_app.extensions.get("replenish_order_people")


def _linked_apps(household_id: str) -> list | None:
    """The OAuth clients (Alexa) linked to the household, when account linking is part of this build."""
    from flask import current_app
    listing = current_app.extensions.get("replenish_linked_apps")
    return listing(container(), household_id) if callable(listing) else None


@bp.get("/settings")
@security.login_required
def settings():
    return _settings_page()


@bp.post("/settings/limits")
@security.login_required
def settings_limits():
    form = dashboard_forms.LimitsForm()
    entered = form.entered("per_order_cap", "per_month_cap", *(f"window_{c}" for c in dashboard_forms.CHANNELS))
    if not form.validate():
        return _settings_page(400, form.problems(), entered)
    try:
        container().bus.handle(form.command(g.household_id))
    except DomainError as exc:
        status = status_for(exc)
        return _settings_page(status if 400 <= status < 500 else 400, {exc.field or "limits": exc.message}, entered)
    flash("Spending limits and cancel windows saved.", "ok")
    return redirect(url_for("dashboard.settings") + "#limits")


@bp.post("/settings/pin")
@security.login_required
def settings_pin():
    form = dashboard_forms.PinForm()
    if not form.removing and not form.validate():
        return _settings_page(400, form.problems())
    cmd = form.command(g.household_id)
    try:
        container().bus.handle(cmd)
    except DomainError as exc:
        return _settings_page(400, {"pin": exc.message})
    flash("The voice PIN was removed." if cmd.pin is None else "The voice PIN was saved.", "ok")
    return redirect(url_for("dashboard.settings") + "#pin")


@bp.post("/settings/notifications")
@security.login_required
def settings_notifications():
    form = dashboard_forms.NotificationsForm()
    prefs = form.prefs()
    if not form.validate():
        prefs.email, prefs.phone = prefs.email[:254], prefs.phone[:20]  # shown again, as typed
        return _settings_page(400, form.problems(), prefs=prefs)
    dashboard_forms.save_prefs(container(), g.household_id, prefs)
    flash("Notification choices saved.", "ok")
    return redirect(url_for("dashboard.settings") + "#notifications")


# -- notifications ------------------------------------------------------------------------------------------
@bp.get("/notifications")
@security.login_required
def notifications():
    with container().uow() as uow:
        items = [{"kind": n.kind, "message": n.message, "channel": n.channel, "status": n.status,
                  "order_id": n.order_id, "at": g.fmt.when(n.created_at)}
                 for n in uow.notifications.for_household(g.household_id, limit=100)]
    return render_template("dashboard/notifications.html", page="notifications", items=items)


# -- buttons and appliances (present when their modules are in this build) ----------------------------------
def _device_modules() -> dict:
    """The device pages a feature attached (see ``replenish.devices.wiring``), and whether they are available."""
    from flask import current_app
    pages = current_app.extensions.get("replenish_dashboard_pages", {})
    available = pages.get("available")
    return available() if callable(available) else {"buttons": False, "appliances": False}


