"""Dashboard pages for buttons and appliances, when those modules are part of this build.

Buttons: pair one (a product or a category, and a quantity), see its battery and last press, disable it (its
presses order nothing), enable it again, or unpair it for good. Appliances: make a link code to type into the
appliance, see each slot's level over time, switch a slot between ordering by itself and only telling the
household, and unlink. Without the device modules the pages say so instead.
"""
from __future__ import annotations

import importlib
import logging
import secrets
from functools import wraps

from flask import flash, g, redirect, render_template, request, session, url_for
from wtforms import StringField
from wtforms.validators import ValidationError

from replenish.devices.domain.slots import amount_words
from replenish.domain.errors import DomainError
from replenish.domain.model import as_utc
from replenish.web import dashboard_security as security
from replenish.web.auth import container
from replenish.web.dashboard_forms import DashboardForm, quantity_field, strip

log = logging.getLogger(__name__)

MODULES = ("replenish.devices.domain.model", "replenish.devices.domain.commands", "replenish.devices.services.handlers",
           "replenish.devices.services.views", "replenish.devices.adapters.repository")
PRODUCT_SELECT_MAX = 300  # a bigger catalog gets a SKU field with suggestions instead of a list
SPARK_W, SPARK_H = 240, 48


def available() -> dict[str, bool]:
    try:
        for name in MODULES:
            importlib.import_module(name)
    except ImportError as exc:
        log.debug("device pages unavailable: %s", exc)
        return {"buttons": False, "appliances": False}
    return {"buttons": True, "appliances": True}


def _unavailable(page: str, what: str):
    return render_template("dashboard/unavailable.html", page=page, what=what)


# -- buttons ------------------------------------------------------------------------------------------------
FIND_MAX = 100  # characters of a product search


def _catalog(uow, find: str = "") -> dict:
    """What the pairing form offers: every product in a list, or, for a big catalog, a search and its matches."""
    count = uow.products.count()
    big = count > PRODUCT_SELECT_MAX
    find = find.strip()[:FIND_MAX]
    products = [p for p in uow.products.all() if p.available] if not big else uow.products.find(find) if find else []
    categories = sorted({p.category.rsplit("/", 1)[-1] for p in products if p.category}) if not big else []
    return {"products": products, "categories": categories, "big_catalog": big, "find": find}


BUTTON_STATES = {"active": "Active", "disabled": "Disabled"}  # what a household can switch a paired button to
SERIAL_MAX = 64


def _what_it_orders(titles: dict, sku: str | None, category: str | None) -> str:
    """How people know a button: by the product it orders, or "your usual …" for a category button."""
    return titles.get(sku, sku) if sku else f"your usual {category}"


def _button_action(cmd) -> str | None:
    """Runs a command on one of the household's buttons; what the button orders, or None (and an error flashed)."""
    from replenish.devices.web import common
    if not 1 <= len(cmd.serial) <= SERIAL_MAX:
        flash("No such button.", "error")
        return None
    try:
        result = container().bus.handle(cmd)
    except DomainError as exc:
        flash(exc.message, "error")
        return None
    common.lookups().forget()  # this process stops accepting the button's key at once
    with container().uow() as uow:
        titles = {sku: p.title for sku, p in uow.products.get_many([result["sku"]] if result["sku"] else []).items()}
    return _what_it_orders(titles, result["sku"], result["category"])


def _buttons_page(status: int = 200, paired: dict | None = None, errors: dict | None = None,
                  form: dict | None = None, find: str = ""):
    from replenish.devices.services.views import button_view
    with container().uow() as uow:
        # An unpaired button is gone for good (its secret was replaced): it is not listed.
        buttons = [b for b in uow.devices.buttons_for(g.household_id) if b.status != "unpaired"]
        skus = [b.sku for b in buttons if b.sku]
        titles = {sku: p.title for sku, p in uow.products.get_many(skus).items()}
        shown = []
        for button in buttons:
            view = button_view(button)
            view["orders"] = _what_it_orders(titles, button.sku, button.category)
            view["state"] = BUTTON_STATES.get(button.status, button.status.capitalize())
            view["battery_words"] = button.battery_words()
            in_flight = uow.orders.active_for_source(g.household_id, button.source_id)
            view["in_flight"] = in_flight.status if in_flight else None
            shown.append(view)
        catalog = _catalog(uow, find)
    return render_template("dashboard/buttons.html", page="buttons", buttons=shown, paired=paired,
                           errors=errors or {}, form=form or {"kind": "sku", "quantity": "1"},
                           pair_nonce=secrets.token_urlsafe(16), **catalog), status


def _first_use_of(nonce: str) -> bool:
    """A pairing form is good for one button: sending the same form again (a page refresh) pairs nothing."""
    if not nonce:
        return True
    used = session.get("used_pair_forms", [])
    if nonce in used:
        return False
    session["used_pair_forms"] = (used + [nonce])[-20:]
    return True


class PairButtonForm(DashboardForm):
    """Pair a button: one product (``kind`` sku) or a category, a quantity per press, and what a press does."""
    kind = StringField(default="sku")
    sku = StringField(filters=[strip])
    category = StringField(filters=[strip])
    quantity = quantity_field("Quantity")
    action = StringField()

    @property
    def by_category(self) -> bool:
        return self.kind.data == "category"

    def validate_sku(self, field):
        if not self.by_category and not 1 <= len(field.data or "") <= 64:
            raise ValidationError("Choose the product the button orders.")

    def validate_category(self, field):
        if self.by_category and not 1 <= len(field.data or "") <= 60:
            raise ValidationError("Say what kind of thing the button orders, like “detergent”.")

    def command(self, household_id: str):
        from replenish.devices.domain.commands import RegisterButton
        return RegisterButton(household_id, sku=None if self.by_category else self.sku.data,
                              category=self.category.data if self.by_category else None,
                              quantity=self.quantity.data, action="list" if self.action.data == "list" else "order")


def _needs(page: str, what: str):
    def wrap(view):
        @wraps(view)
        def guarded(*args, **kwargs):
            if not available()[page]:
                return _unavailable(page, what), 404
            return view(*args, **kwargs)
        return guarded
    return wrap


def init(bp) -> None:
    @bp.get("/buttons")
    @security.login_required
    def buttons():
        if not available()["buttons"]:
            return _unavailable("buttons", "Buttons")
        return _buttons_page(find=request.args.get("find", ""))

    @bp.post("/buttons")
    @security.login_required
    @_needs("buttons", "Buttons")
    def pair_button():
        form = PairButtonForm()
        entered = form.entered("kind", "sku", "category", "quantity", "action")
        if not form.validate():
            return _buttons_page(400, errors=form.problems(), form=entered)
        if not _first_use_of(request.form.get("pair_nonce", "")):
            return _buttons_page(409, errors={"form": "That button was already paired; its secret was shown once. "
                                                      "Pair a new button with the form below."})
        try:
            paired = container().bus.handle(form.command(g.household_id))
        except DomainError as exc:
            return _buttons_page(400, errors={exc.field or "sku": exc.message}, form=entered)
        return _buttons_page(201, paired=paired)

    @bp.post("/buttons/<serial>/status")
    @security.login_required
    @_needs("buttons", "Buttons")
    def button_status(serial: str):
        from replenish.devices.domain.commands import SetButtonStatus
        status = request.form.get("status")
        if status not in BUTTON_STATES:
            flash("Choose “Disable” or “Enable”.", "error")
            return redirect(url_for("dashboard.buttons"))
        what = _button_action(SetButtonStatus(g.household_id, serial, status))
        if what is None:
            return redirect(url_for("dashboard.buttons"))
        flash(f"The button for {what} is disabled; pressing it orders nothing." if status == "disabled" else
              f"The button for {what} is active again; pressing it places an order.", "ok")
        return redirect(url_for("dashboard.buttons") + f"#button-{serial}")

    @bp.post("/buttons/<serial>/unpair")
    @security.login_required
    @_needs("buttons", "Buttons")
    def unpair_button(serial: str):
        from replenish.devices.domain.commands import UnpairButton
        what = _button_action(UnpairButton(g.household_id, serial))
        if what is not None:
            flash(f"The button for {what} is unpaired; it will never order anything again.", "ok")
        return redirect(url_for("dashboard.buttons"))

    # -- appliances -------------------------------------------------------------------------------------
    @bp.get("/appliances")
    @security.login_required
    def appliances():
        if not available()["appliances"]:
            return _unavailable("appliances", "Appliances")
        return _appliances_page()

    @bp.post("/appliances/code")
    @security.login_required
    @_needs("appliances", "Appliances")
    def link_code():
        from replenish.devices.domain.commands import CreateLinkCode
        code = container().bus.handle(CreateLinkCode(g.household_id))
        return _appliances_page(code=code)

    @bp.post("/appliances/<device_id>/slots/<slot_id>/mode")
    @security.login_required
    @_needs("appliances", "Appliances")
    def slot_mode(device_id: str, slot_id: str):
        from replenish.devices.domain.commands import ConfigureSlot
        mode = request.form.get("mode")
        if mode not in ("auto", "notify"):
            flash("Choose “order by itself” or “only tell me”.", "error")
        else:
            try:
                container().bus.handle(ConfigureSlot(g.household_id, device_id, slot_id, mode=mode))
                flash("The appliance will order by itself when this runs low." if mode == "auto" else
                      "The appliance will only tell you when this runs low.", "ok")
            except DomainError as exc:
                flash(exc.message, "error")
        return redirect(url_for("dashboard.appliances") + f"#device-{device_id}")

    @bp.post("/appliances/<device_id>/unlink")
    @security.login_required
    @_needs("appliances", "Appliances")
    def unlink(device_id: str):
        from replenish.devices.domain.commands import DeregisterDevice
        try:
            result = container().bus.handle(DeregisterDevice(None, device_id, household_id=g.household_id,
                                                             reason="removed on the dashboard"))
            cancelled = len(result.get("cancelled_orders") or [])
            waiting = "1 waiting order" if cancelled == 1 else f"{cancelled} waiting orders"
            flash(f"The appliance was unlinked and {waiting} cancelled." if cancelled else
                  "The appliance was unlinked.", "ok")
        except DomainError as exc:
            flash(exc.message, "error")
        return redirect(url_for("dashboard.appliances"))


def _spark(slot, now) -> dict | None:
    """A small line of the slot's level since its last refill, with its reorder threshold."""
    readings = slot.readings()
    if not readings:
        return None
    top = max([slot.capacity] + [r.level for r in readings]) or 1.0
    first, last = readings[0].at, max(readings[-1].at, readings[0].at)
    span = (last - first).total_seconds() or 1.0

    def y(level: float) -> float:
        return round(SPARK_H - 4 - (SPARK_H - 8) * min(level, top) / top, 1)

    points = " ".join(f"{round(4 + (SPARK_W - 8) * (r.at - first).total_seconds() / span, 1)},{y(r.level)}"
                      for r in readings)
    if len(readings) == 1:
        points = f"4,{y(readings[0].level)} {SPARK_W - 4},{y(readings[0].level)}"
    return {"points": points, "threshold_y": y(slot.threshold), "width": SPARK_W, "height": SPARK_H,
            "count": len(readings), "since": readings[0].at}


def _appliances_page(code: dict | None = None, status: int = 200):
    now = container().clock()
    with container().uow() as uow:
        found = uow.devices.devices_for(g.household_id)
        skus = {s.sku for d in found for s in d.slots} | {p for d in found for s in d.slots for p in s.products}
        titles = {sku: p.title for sku, p in uow.products.get_many(skus).items()}
        shown = []
        for device in sorted(found, key=lambda d: (not d.active, d.created_at)):
            slots = []
            for slot in device.slots:
                remaining = slot.remaining
                runout = slot.predicted_runout(now)
                slots.append({
                    "slot_id": slot.slot_id, "title": titles.get(slot.sku, "its consumable"), "unit": slot.unit,
                    "mode": slot.mode, "remaining": remaining, "capacity": slot.capacity,
                    "threshold": slot.threshold,
                    "percent": None if remaining is None else max(0, min(100, round(100 * remaining / slot.capacity))),
                    "low": remaining is not None and remaining <= slot.threshold,
                    "left": None if remaining is None else amount_words(remaining, slot.unit, of=slot.capacity),
                    "reported_at": slot.reported_at, "runout": as_utc(runout) if runout else None,
                    "spark": _spark(slot, now)})
            shown.append({"id": device.id, "model": device.model or "Appliance", "external_id": device.external_id,
                          "active": device.active, "last_seen_at": device.last_seen_at,
                          "deregistered_at": device.deregistered_at, "slots": slots})
    return render_template("dashboard/appliances.html", page="appliances", devices_=shown, code=code), status
