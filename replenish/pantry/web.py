"""Stock levels over HTTP (`/v1/stock`) and their part of the dashboard's List page."""
from __future__ import annotations

from flask import Blueprint, flash, g, jsonify, redirect, url_for
from pydantic import BaseModel, ConfigDict, Field, RootModel
from wtforms import StringField

from replenish.domain.errors import DomainError
from replenish.web.auth import container, json_body, require_household
from replenish.web.dashboard_forms import DashboardForm, NumberField
from replenish.web.openapi import operation

from . import handlers
from .model import MAX_LEVEL, RefillStock, SetStockLevel, UseStock

bp = Blueprint("pantry", __name__, url_prefix="/v1")


class LevelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    minimum: float = Field(ge=0, le=MAX_LEVEL, allow_inf_nan=False)
    refill_to: float = Field(gt=0, le=MAX_LEVEL, allow_inf_nan=False)
    on_hand: float | None = Field(default=None, ge=0, le=MAX_LEVEL, allow_inf_nan=False)


class UsedIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: float | None = Field(default=None, gt=0, le=MAX_LEVEL, allow_inf_nan=False)
    all: bool = Field(default=False, strict=True)


class StockLevelOut(BaseModel):
    """A stock level"""
    sku: str
    title: str
    unit: str
    on_hand: float
    minimum: float
    refill_to: float
    low: bool
    updated_at: str


class StockLevelsOut(RootModel[list[StockLevelOut]]):
    """The household's stock levels"""


class PackLine(BaseModel):
    sku: str
    title: str
    quantity: int


class RefillOut(BaseModel):
    """The packs put on the shopping list to refill"""
    lines: list[PackLine]
    units: float
    price_cents: int | None
    why: str
    on_list: list[str]


class UsedOut(BaseModel):
    """The level after use, and the refill put on the list when it went low"""
    level: StockLevelOut
    refill: RefillOut | None


SKU = {"sku": {"type": "string", "minLength": 1, "maxLength": 64}}


@bp.get("/stock")
@operation("The household's stock levels", {200: StockLevelsOut}, tag="stock")
@require_household
def levels():
    return jsonify(handlers.levels_view(container().deps, g.household_id))


@bp.put("/stock/<sku>")
@operation("Keep count of a product: its minimum, refill level and what is at home", {200: StockLevelOut},
           body=LevelIn, errors=(422,), path=SKU, tag="stock")
@require_household
def set_level(sku: str):
    body = LevelIn.model_validate(json_body())
    return jsonify(container().bus.handle(SetStockLevel(g.household_id, sku[:64], body.minimum, body.refill_to,
                                                        body.on_hand)))


@bp.post("/stock/<sku>/used")
@operation("Some (or all) of it was used", {200: UsedOut}, body=UsedIn, errors=(422,), path=SKU, tag="stock")
@require_household
def used(sku: str):
    body = UsedIn.model_validate(json_body())
    return jsonify(container().bus.handle(UseStock(g.household_id, sku[:64], body.amount, body.all)))


@bp.post("/stock/<sku>/refill")
@operation("Put the refill on the shopping list", {201: RefillOut}, errors=(422,), path=SKU, tag="stock")
@require_household
def refill(sku: str):
    return jsonify(container().bus.handle(RefillStock(g.household_id, sku[:64]))), 201


class LevelForm(DashboardForm):
    """"Keep count of" on the List page."""
    sku = StringField(filters=[lambda v: (v or "")[:64]])
    minimum = NumberField("Minimum", "The minimum is a number, like 10.")
    refill_to = NumberField("Refill to", "Refill to is a number, like 80.")
    on_hand = NumberField("At home now", "What is at home now is a number, like 25 (or empty).", required=False)


def attach_dashboard(dashboard_bp) -> None:
    from replenish.web import dashboard_security as security

    def _back(message: str | None = None, error: Exception | None = None):
        if error is not None:
            flash(getattr(error, "message", str(error)), "error")
        elif message:
            flash(message, "ok")
        return redirect(url_for("dashboard.shopping_list") + "#stock")

    @dashboard_bp.post("/stock")
    @security.login_required
    def set_stock_level():
        form = LevelForm()
        if not form.validate():
            return _back(error=ValueError(form.first_problem()))
        try:
            level = container().bus.handle(SetStockLevel(g.household_id, form.sku.data, form.minimum.data,
                                                         form.refill_to.data, form.on_hand.data))
        except DomainError as exc:
            return _back(error=exc)
        return _back(f"Keeping count of {level['title']}.")

    @dashboard_bp.post("/stock/<sku>/used-up")
    @security.login_required
    def used_up(sku: str):
        try:
            result = container().bus.handle(UseStock(g.household_id, sku[:64], all=True))
        except DomainError as exc:
            return _back(error=exc)
        refill = result["refill"]
        return _back(f"Noted: no {result['level']['title']} left." +
                     (f" Put on your list: {refill['why']}" if refill else ""))

    @dashboard_bp.post("/stock/<sku>/refill")
    @security.login_required
    def refill_stock(sku: str):
        try:
            choice = container().bus.handle(RefillStock(g.household_id, sku[:64]))
        except DomainError as exc:
            return _back(error=exc)
        return _back(f"Put on your list: {choice['why']}")
