"""The household's orders API: list, get (with timeline), place, cancel; limits; notifications."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from flask import Blueprint, g, jsonify, request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from replenish.domain import commands, model
from replenish.services.views import limits_view, order_view

from .auth import container, json_body, require_household
from .errors import ApiError
from .openapi import operation

bp = Blueprint("api", __name__, url_prefix="/v1")

Sku = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
STATUSES = {s.value for s in model.OrderStatus}
# The statuses by name, for the models (the checker needs a literal list; a test compares it with OrderStatus).
StatusName = Literal["cancelled", "confirmed", "delivered", "failed", "pending", "shipped", "submitted"]


class LineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sku: Sku
    quantity: int = Field(default=1, ge=1, le=model.MAX_QUANTITY, strict=True)


class PlaceOrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lines: list[LineIn] | None = Field(default=None, min_length=1, max_length=20)
    sku: Sku | None = None
    quantity: int = Field(default=1, ge=1, le=model.MAX_QUANTITY, strict=True)

    @model_validator(mode="after")
    def one_form(self) -> PlaceOrderIn:
        if (self.lines is None) == (self.sku is None):
            raise ValueError("give either 'sku' (and 'quantity') or 'lines'")
        return self

    def line_requests(self) -> tuple[commands.LineRequest, ...]:
        if self.lines is not None:
            return tuple(commands.LineRequest(line.sku, line.quantity) for line in self.lines)
        if self.sku is None:  # one_form lets no body through without one or the other
            raise ValueError("give either 'sku' (and 'quantity') or 'lines'")
        return (commands.LineRequest(self.sku, self.quantity),)


def _bounds(high: float) -> dict:
    """Bounds the document shows; the domain's rule (``model.check_cap``, ``model.check_cancel_window``) holds
    them, so the API and the dashboard refuse alike and in the same words."""
    return {"minimum": 0, "maximum": int(high)}


class LimitsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    per_order_cap_cents: int | None = Field(default=None, strict=True,
                                            json_schema_extra=_bounds(model.CAPS["per_order_cap_cents"][1]))
    per_month_cap_cents: int | None = Field(default=None, strict=True,
                                            json_schema_extra=_bounds(model.CAPS["per_month_cap_cents"][1]))
    cancel_windows: dict[str, Annotated[int, Field(strict=True, json_schema_extra=_bounds(
        model.MAX_CANCEL_WINDOW.total_seconds()))]] = Field(default_factory=dict)
    recognised_voices_only: bool | None = Field(default=None, strict=True)
    send_together: bool | None = Field(default=None, strict=True)


# -- what the views answer (documented in the OpenAPI document; the schemathesis test holds them to it) ---------
class LineOut(BaseModel):
    sku: str
    title: str
    quantity: int
    unit_price_cents: int
    total_cents: int


class OrderOut(BaseModel):
    """An order"""
    id: str
    household_id: str
    status: StatusName
    channel: str
    source_id: str | None
    lines: list[LineOut]
    total_cents: int
    created_at: str | None
    submit_after: str | None
    submitted_at: str | None
    confirmed_at: str | None
    shipped_at: str | None
    delivered_at: str | None
    cancelled_at: str | None
    failed_at: str | None
    failure_reason: str | None
    retailer_order_id: str | None
    tracking_url: str | None
    delivery_photo_url: str | None
    expected_delivery: str | None
    can_cancel: bool
    test: bool


class TimelineEntry(BaseModel):
    event: str
    at: str | None
    reason: str | None = None
    tracking_url: str | None = None
    delivery_photo_url: str | None = None
    speaker: str | None = None


class OrderWithTimeline(OrderOut):
    """An order and what happened to it, oldest first"""
    timeline: list[TimelineEntry]


class OrdersOut(BaseModel):
    """The household's orders, newest first"""
    orders: list[OrderOut]


class PlacedOut(BaseModel):
    """The order placed (201), or the one an Idempotency-Key already placed (200)"""
    status: Literal["order_placed", "order_in_progress"]
    order_id: str
    order: OrderOut


class LimitsOut(BaseModel):
    """The household's spending caps, cancel windows and voice settings"""
    per_order_cap_cents: int | None
    per_month_cap_cents: int | None
    cancel_windows: dict[str, int]
    voice_pin_set: bool
    recognised_voices_only: bool


class HouseholdOut(BaseModel):
    """The household"""
    id: str
    name: str | None
    address: str | None
    time_zone: str
    members: list[Any]
    limits: LimitsOut


class TokenOut(BaseModel):
    """A token as lists show it: its first characters, never the token"""
    id: str
    label: str
    prefix: str
    created_at: str | None
    revoked_at: str | None


class TokensOut(BaseModel):
    """The household's API tokens"""
    tokens: list[TokenOut]


class NewTokenOut(TokenOut):
    """The new token, shown this once"""
    token: str
    replaces: str | None = None


class NotificationOut(BaseModel):
    id: str
    kind: str
    message: str
    channel: str
    order_id: str | None
    status: str
    created_at: str | None


class NotificationsOut(BaseModel):
    """What the household was told, newest first"""
    notifications: list[NotificationOut]


class CandidateOut(BaseModel):
    sku: str
    score: float
    reason: str
    title: str | None
    size: str | None
    price_cents: int | None


class ResolvedOut(BaseModel):
    """The products a phrase most likely means for this household"""
    query: str
    results: list[CandidateOut]


class BuyAgainOut(BaseModel):
    """What the household is likely to buy again"""
    results: list[CandidateOut]


class TimingOut(BaseModel):
    sku: str
    title: str
    still_buying: float
    days_after_last: float
    low: float
    high: float
    last_purchased_at: str | None
    expected_at: str | None


class RunningLowOut(BaseModel):
    """What is expected to run out within the horizon"""
    days: float
    results: list[TimingOut]


class OrdersQuery(BaseModel):
    status: StatusName | None = None
    limit: int = Field(default=50, ge=1, le=200)


class ResolveQuery(BaseModel):
    q: str = Field(min_length=1, max_length=200, description="What the household calls it, e.g. detergent")
    k: int = Field(default=3, ge=1, le=20)


class TopQuery(BaseModel):
    k: int = Field(default=10, ge=1, le=50)


class RunningLowQuery(BaseModel):
    days: float = Field(default=7, gt=0, le=365)
    k: int = Field(default=10, ge=1, le=50)




def _idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is not None and not (1 <= len(key) <= 200):
        raise ApiError(400, "invalid", "Idempotency-Key must be 1 to 200 characters.", field="Idempotency-Key")
    return key


@bp.get("/orders")
@operation("The household's orders", {200: OrdersOut}, query=OrdersQuery, tag="orders")
@require_household
def list_orders():
    status = request.args.get("status")
    if status and status not in STATUSES:
        raise ApiError(400, "invalid", f"status must be one of {sorted(STATUSES)}.", field="status")
    try:
        limit = int(request.args.get("limit", "50"))
    except ValueError:
        raise ApiError(400, "invalid", "limit must be a whole number.", field="limit") from None
    if not 1 <= limit <= 200:
        raise ApiError(400, "invalid", "limit must be from 1 to 200.", field="limit")
    with container().uow() as uow:
        orders = uow.orders.list(g.household_id, statuses=[status] if status else None, limit=limit)
        return jsonify({"orders": [order_view(o) for o in orders]})


@bp.get("/orders/<order_id>")
@operation("One order and its timeline", {200: OrderWithTimeline}, tag="orders")
@require_household
def get_order(order_id: str):
    with container().uow() as uow:
        order = uow.orders.for_household(g.household_id, order_id)
        if order is None:
            raise ApiError(404, "not_found", f"No order {order_id!r} for this household.", field="order_id")
        body = order_view(order)
        body["timeline"] = [{"event": row.event_type, "at": model.iso(row.created_at),
                             **{k: v for k, v in row.payload.items() if k in ("reason", "tracking_url",
                                                                               "delivery_photo_url")
                                or (k == "speaker" and v)}}
                            for row in uow.outbox.timeline(order.id)]
        return jsonify(body)


@bp.post("/orders")
@operation("Place an order (one product, or several lines)", {201: PlacedOut, 200: PlacedOut}, body=PlaceOrderIn,
           idempotent=True, errors=(404, 409, 422), tag="orders")
@require_household
def place_order():
    body = PlaceOrderIn.model_validate(json_body())
    result = container().bus.handle(commands.PlaceOrder(
        household_id=g.household_id, channel=model.Channel.WEB.value, lines=body.line_requests(),
        idempotency_key=_idempotency_key()))
    return jsonify({"status": result.status, "order_id": result.order_id, "order": result.order}), \
        200 if result.replayed else 201


@bp.post("/orders/<order_id>/cancel")
@operation("Cancel an order in its cancel window", {200: OrderOut}, errors=(409, 422), tag="orders")
@require_household
def cancel_order(order_id: str):
    order = container().bus.handle(commands.CancelOrder(g.household_id, order_id))
    return jsonify(order)


@bp.get("/household")
@operation("The household, its caps and settings", {200: HouseholdOut}, tag="household")
@require_household
def get_household():
    with container().uow() as uow:
        household = uow.households.get(g.household_id)
        return jsonify({"id": household.id, "name": household.name, "address": household.address,
                        "time_zone": household.time_zone, "members": household.members,
                        "limits": limits_view(household.limits)})


@bp.patch("/household/limits")
@operation("Change spending caps, cancel windows or voice settings", {200: LimitsOut}, body=LimitsIn,
           errors=(422,), tag="household")
@require_household
def update_limits():
    raw = json_body()
    body = LimitsIn.model_validate(raw)
    result = container().bus.handle(commands.UpdateLimits(
        g.household_id, per_order_cap_cents=body.per_order_cap_cents, per_month_cap_cents=body.per_month_cap_cents,
        cancel_windows=body.cancel_windows, recognised_voices_only=body.recognised_voices_only,
        send_together=body.send_together,
        clear_per_order_cap="per_order_cap_cents" in raw and raw["per_order_cap_cents"] is None,
        clear_per_month_cap="per_month_cap_cents" in raw and raw["per_month_cap_cents"] is None))
    return jsonify(result)


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)] = "api"


@bp.get("/household/tokens")
@operation("The household's API tokens", {200: TokensOut}, tag="tokens")
@require_household
def list_tokens():
    """The household's API tokens: labels and first characters only."""
    from replenish.services.handlers import list_tokens as listed
    return jsonify({"tokens": listed(g.household_id, container().deps)})


@bp.post("/household/tokens")
@operation("A new API token", {201: NewTokenOut}, body=TokenIn, body_required=False, tag="tokens")
@require_household
def create_token():
    """A new API token, shown this once (only its hash is kept)."""
    from replenish.services.handlers import new_token
    body = TokenIn.model_validate(json_body())
    return jsonify(new_token(commands.IssueToken(g.household_id, body.label), container().deps)), 201


@bp.post("/household/tokens/<token_id>/rotate")
@operation("Rotate a token", {201: NewTokenOut}, tag="tokens")
@require_household
def rotate_token(token_id: str):
    """A new token with this one's label; this one stops working now."""
    return jsonify(container().bus.handle(commands.RotateToken(g.household_id, token_id))), 201


@bp.delete("/household/tokens/<token_id>")
@operation("Revoke a token (not the last one: rotate it)", {200: TokenOut}, errors=(409,), tag="tokens")
@require_household
def revoke_token(token_id: str):
    return jsonify(container().bus.handle(commands.RevokeToken(g.household_id, token_id)))


@bp.get("/notifications")
@operation("What the household was told", {200: NotificationsOut}, tag="notifications")
@require_household
def notifications():
    with container().uow() as uow:
        items = uow.notifications.for_household(g.household_id)
        return jsonify({"notifications": [{"id": n.id, "kind": n.kind, "message": n.message, "channel": n.channel,
                                           "order_id": n.order_id, "status": n.status,
                                           "created_at": model.iso(n.created_at)} for n in items]})


def _candidate_json(candidate) -> dict:
    product = candidate.product
    return {"sku": candidate.sku, "score": round(float(candidate.score), 4), "reason": candidate.reason,
            "title": product.title if product else None, "size": product.size_label if product else None,
            "price_cents": product.price_cents if product else None}


def _timing_json(timing) -> dict:
    return {"sku": timing.sku, "title": getattr(timing, "title", "") or timing.sku,
            "still_buying": round(float(getattr(timing, "still_buying", 1.0)), 3),
            "days_after_last": round(float(timing.days_after_last), 1),
            "low": round(float(timing.low), 1), "high": round(float(timing.high), 1),
            "last_purchased_at": model.iso(timing.last_purchased_at), "expected_at": model.iso(timing.expected_at)}


def _k(default: int, maximum: int) -> int:
    try:
        k = int(request.args.get("k", default))
    except ValueError:
        raise ApiError(400, "invalid", "k must be a whole number.", field="k") from None
    if not 1 <= k <= maximum:
        raise ApiError(400, "invalid", f"k must be from 1 to {maximum}.", field="k")
    return k


@bp.get("/recommendations/resolve")
@operation("Which products a phrase means", {200: ResolvedOut}, query=ResolveQuery, tag="recommendations")
@require_household
def resolve():
    phrase = (request.args.get("q") or "").strip()
    if not phrase or len(phrase) > 200:
        raise ApiError(400, "invalid", "q must be 1 to 200 characters, e.g. ?q=detergent", field="q")
    found = container().recommendations.resolve(g.household_id, phrase, k=_k(3, 20))
    return jsonify({"query": phrase, "results": [_candidate_json(c) for c in found]})


@bp.get("/recommendations/buy-again")
@operation("Products to buy again", {200: BuyAgainOut}, query=TopQuery, tag="recommendations")
@require_household
def buy_again():
    found = container().recommendations.buy_again(g.household_id, k=_k(10, 50))
    return jsonify({"results": [_candidate_json(c) for c in found]})


@bp.get("/recommendations/running-low")
@operation("What runs out soon", {200: RunningLowOut}, query=RunningLowQuery, tag="recommendations")
@require_household
def running_low():
    try:
        days = float(request.args.get("days", "7"))
    except ValueError:
        raise ApiError(400, "invalid", "days must be a number.", field="days") from None
    if not 0 < days <= 365:
        raise ApiError(400, "invalid", "days must be more than 0 and at most 365.", field="days")
    found = container().recommendations.running_low(g.household_id, horizon_days=days, k=_k(10, 50))
    return jsonify({"days": days, "results": [_timing_json(t) for t in found]})
