"""The list over HTTP (the household API, `/v1/list`) and its dashboard page (`/dashboard/list`)."""
from __future__ import annotations

import secrets
from typing import Annotated

from flask import Blueprint, flash, g, jsonify, redirect, render_template, request, url_for
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from wtforms import StringField

from replenish.domain.errors import DomainError
from replenish.domain.model import MAX_QUANTITY, Channel
from replenish.services.ports import PermanentError, TransientError
from replenish.web.api import OrderOut
from replenish.web.auth import container, json_body, require_household
from replenish.web.dashboard_forms import DashboardForm, WholeNumberField, quantity_field, strip
from replenish.web.errors import public_message
from replenish.web.openapi import operation

from . import handlers
from .model import MAX_PHRASE, AddToList, ChangeListItem, ClearChecked, OrderList, RemoveFromList

bp = Blueprint("lists", __name__, url_prefix="/v1")

Phrase = Annotated[str, StringConstraints(min_length=1, max_length=MAX_PHRASE, strip_whitespace=True)]
Sku = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class AddIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    phrase: Phrase | None = None
    sku: Sku | None = None
    quantity: int = Field(default=1, ge=1, le=MAX_QUANTITY, strict=True)


class ChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    quantity: int | None = Field(default=None, ge=1, le=MAX_QUANTITY, strict=True)
    checked: bool | None = Field(default=None, strict=True)
    position: int | None = Field(default=None, ge=0, le=1000, strict=True)


class OrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int | None = Field(default=None, ge=0, strict=True)


class ListItemOut(BaseModel):
    """An item on the list"""
    id: str
    phrase: str
    sku: str | None
    title: str | None
    quantity: int
    position: int
    checked: bool
    added_by: str
    added_at: str
    already: bool | None = None


class ShownItem(ListItemOut):
    price_cents: int | None


class ListOut(BaseModel):
    """The list: its version (to order exactly this), its items in order, the total of those not checked off"""
    version: int
    items: list[ShownItem]
    total_cents: int


class RemovedOut(BaseModel):
    """How many checked-off items were cleared"""
    removed: int


class ListOrderOut(BaseModel):
    """The order placed from the list"""
    status: str
    order_id: str
    order: OrderOut


@bp.get("/list")
@operation("The shopping list", {200: ListOut}, tag="list")
@require_household
def get_list():
    return jsonify(handlers.list_view(container().deps, g.household_id))


@bp.post("/list")
@operation("Put something on the list (a phrase or a product)", {201: ListItemOut}, body=AddIn, errors=(404, 422),
           tag="list")
@require_household
def add():
    body = AddIn.model_validate(json_body())
    item = container().bus.handle(AddToList(g.household_id, body.phrase, body.sku, body.quantity, "web"))
    return jsonify(item), 201


@bp.patch("/list/<item_id>")
@operation("Change an item's quantity, check it off, or move it", {200: ListItemOut}, body=ChangeIn,
           errors=(422,), tag="list")
@require_household
def change(item_id: str):
    body = ChangeIn.model_validate(json_body())
    return jsonify(container().bus.handle(ChangeListItem(g.household_id, item_id[:32], body.quantity, body.checked,
                                                         body.position)))


@bp.delete("/list/<item_id>")
@operation("Take an item off the list", {204: None}, tag="list")
@require_household
def remove(item_id: str):
    container().bus.handle(RemoveFromList(g.household_id, item_id=item_id[:32]))
    return "", 204


@bp.post("/list/clear-checked")
@operation("Clear the checked-off items", {200: RemovedOut}, tag="list")
@require_household
def clear_checked():
    return jsonify(container().bus.handle(ClearChecked(g.household_id)))


@bp.post("/list/order")
@operation("Order the list (the version seen, if given)", {201: ListOrderOut, 200: ListOrderOut},
           body=OrderIn, body_required=False, errors=(409, 422), tag="list")
@require_household
def order():
    body = OrderIn.model_validate(json_body() if request.get_data(cache=True) else {})
    result = container().bus.handle(OrderList(g.household_id, Channel.WEB.value, body.version))
    return jsonify({"status": result.status, "order_id": result.order_id, "order": result.order}), \
        200 if result.replayed else 201


# -- the dashboard page ----------------------------------------------------------------------------------------
class AddForm(DashboardForm):
    """In words (``phrase``), or a product chosen from the search (``sku``); ``from`` the forecast page."""
    phrase = StringField(filters=[strip])
    sku = StringField(filters=[lambda v: (v or "")[:64] or None])
    quantity = quantity_field()
    from_ = StringField(name="from")


class ItemForm(DashboardForm):
    """One item's buttons: check, move (its ``position`` as shown), quantity, remove."""
    action = StringField()
    position = WholeNumberField("Position", "That item moved; try again.")
    quantity = quantity_field(default=None)


def attach_dashboard(dashboard_bp) -> None:
    from replenish.web import dashboard_security as security

    def _done(message: str | None = None, error: str | None = None):
        if error is not None:
            flash(error, "error")
        elif message:
            flash(message, "ok")
        return redirect(url_for("dashboard.shopping_list"))

    def _run(command, message: str | None = None):
        try:
            container().bus.handle(command)
        except DomainError as exc:
            return _done(error=public_message(exc))
        return _done(message)

    @dashboard_bp.get("/list")
    @security.login_required
    def shopping_list():
        view = handlers.list_view(container().deps, g.household_id)
        find = request.args.get("find", "").strip()[:100]
        with container().uow() as uow:
            matches = uow.products.find(find, 10) if find else []
            recent = []
            for purchase in reversed(uow.purchases.for_household(g.household_id)):
                if purchase.sku not in recent:
                    recent.append(purchase.sku)
                if len(recent) >= 60:
                    break
            products = uow.products.get_many(recent)
            bought = sorted((p for p in products.values() if p.available), key=lambda p: p.title)
        from replenish.pantry.handlers import levels_view
        stock = levels_view(container().deps, g.household_id)
        return render_template("dashboard/list.html", page="list", list=view, find=find, matches=matches,
                               form_key=secrets.token_urlsafe(8), stock=stock, bought=bought)

    @dashboard_bp.post("/list")
    @security.login_required
    def add_to_list():
        form = AddForm()
        if not form.validate():
            return _done(error=form.first_problem())
        sku, phrase = form.sku.data, form.phrase.data or None
        source = "forecast" if form.from_.data == "forecast" else "web"
        try:
            item = container().bus.handle(AddToList(g.household_id, None if sku else phrase, sku, form.quantity.data,
                                                    source))
        except DomainError as exc:
            return _done(error=public_message(exc))
        if source == "forecast":
            flash(f"Added {item['title'] or item['phrase']} to your list.", "ok")
            return redirect(url_for("dashboard.forecast"))
        return _done(f"Added {item['phrase']}" + (f" ({item['title']})" if item["title"] and
                                                   item["title"] != item["phrase"] else "") + ".")

    @dashboard_bp.post("/list/<item_id>")
    @security.login_required
    def change_list_item(item_id: str):
        form = ItemForm()
        action = form.action.data
        item_id = item_id[:32]
        if action == "remove":
            return _run(RemoveFromList(g.household_id, item_id=item_id), "Removed from your list.")
        if action in ("check", "uncheck"):
            return _run(ChangeListItem(g.household_id, item_id, checked=action == "check"))
        if action in ("up", "down"):
            if not form.position.validate(form):
                return _done(error=form.position.errors[0])
            target = max(0, form.position.data + (-1 if action == "up" else 1))
            return _run(ChangeListItem(g.household_id, item_id, position=target))
        if action == "quantity":
            if not form.quantity.validate(form):
                return _done(error=form.quantity.errors[0])
            return _run(ChangeListItem(g.household_id, item_id, quantity=form.quantity.data))
        return _done(error="Unknown action.")

    @dashboard_bp.post("/list/clear-checked")
    @security.login_required
    def clear_checked_items():
        return _run(ClearChecked(g.household_id), "Checked-off items cleared.")

    @dashboard_bp.post("/list/order")
    @security.login_required
    def order_list():
        version = request.form.get("version", "")
        try:
            result = container().bus.handle(OrderList(g.household_id, Channel.WEB.value,
                                                      int(version) if version.isdigit() else None))
        except (DomainError, PermanentError, TransientError) as exc:
            return _done(error=public_message(exc))
        count = len(result.order["lines"])
        flash(f"Ordered your list: {count} product{'s' if count != 1 else ''}. See it under Orders.", "ok")
        return redirect(url_for("dashboard.orders"))
