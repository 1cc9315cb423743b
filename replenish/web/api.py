"""The household's orders API: list, get (with timeline), place, cancel; limits; notifications."""
from __future__ import annotations

from typing import Annotated

from flask import Blueprint, g, jsonify, request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from replenish.domain import commands, model
from replenish.services.views import limits_view, order_view

from .auth import container, json_body, require_household
from .errors import ApiError

bp = Blueprint("api", __name__, url_prefix="/v1")

Sku = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
STATUSES = {s.value for s in model.OrderStatus}


class LineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sku: Sku
    quantity: int = Field(default=1, ge=1, le=99, strict=True)


class PlaceOrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lines: list[LineIn] | None = Field(default=None, min_length=1, max_length=20)
    sku: Sku | None = None
    quantity: int = Field(default=1, ge=1, le=99, strict=True)

    @model_validator(mode="after")
    def one_form(self):
        if (self.lines is None) == (self.sku is None):
            raise ValueError("give either 'sku' (and 'quantity') or 'lines'")
        return self

    def line_requests(self) -> tuple[commands.LineRequest, ...]:
        lines = self.lines or [LineIn(sku=self.sku, quantity=self.quantity)]
        return tuple(commands.LineRequest(l.sku, l.quantity) for l in lines)


class LimitsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    per_order_cap_cents: int | None = Field(default=None, ge=0, le=10_000_000, strict=True)
    per_month_cap_cents: int | None = Field(default=None, ge=0, le=100_000_000, strict=True)
    cancel_windows: dict[str, Annotated[int, Field(ge=0, le=7 * 86400, strict=True)]] = Field(default_factory=dict)
    recognised_voices_only: bool | None = Field(default=None, strict=True)
    send_together: bool | None = Field(default=None, strict=True)


def _idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is not None and not (1 <= len(key) <= 200):
        raise ApiError(400, "invalid", "Idempotency-Key must be 1 to 200 characters.", field="Idempotency-Key")
    return key


@bp.get("/orders")
@require_household
def list_orders():
    status = request.args.get("status")
    if status and status not in STATUSES:
        raise ApiError(400, "invalid", f"status must be one of {sorted(STATUSES)}.", field="status")
    try:
        limit = int(request.args.get("limit", "50"))
    except ValueError:
        raise ApiError(400, "invalid", "limit must be a whole number.", field="limit")
    if not 1 <= limit <= 200:
        raise ApiError(400, "invalid", "limit must be from 1 to 200.", field="limit")
    with container().uow() as uow:
        orders = uow.orders.list(g.household_id, statuses=[status] if status else None, limit=limit)
        return jsonify({"orders": [order_view(o) for o in orders]})


@bp.get("/orders/<order_id>")
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
@require_household
def place_order():
    body = PlaceOrderIn.model_validate(json_body())
    result = container().bus.handle(commands.PlaceOrder(
        household_id=g.household_id, channel=model.Channel.WEB.value, lines=body.line_requests(),
        idempotency_key=_idempotency_key()))
    return jsonify({"status": result.status, "order_id": result.order_id, "order": result.order}), \
        200 if result.replayed else 201


@bp.post("/orders/<order_id>/cancel")
@require_household
def cancel_order(order_id: str):
    order = container().bus.handle(commands.CancelOrder(g.household_id, order_id))
    return jsonify(order)


@bp.get("/household")
@require_household
def get_household():
    with container().uow() as uow:
        household = uow.households.get(g.household_id)
        return jsonify({"id": household.id, "name": household.name, "address": household.address,
                        "time_zone": household.time_zone, "members": household.members,
                        "limits": limits_view(household.limits)})


@bp.patch("/household/limits")
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
@require_household
def list_tokens():
    """The household's API tokens: labels and first characters only."""
    from replenish.services.handlers import list_tokens as listed
    return jsonify({"tokens": listed(g.household_id, container().deps)})


@bp.post("/household/tokens")
@require_household
def create_token():
    """A new API token, shown this once (only its hash is kept)."""
    from replenish.services.handlers import new_token
    body = TokenIn.model_validate(json_body())
    return jsonify(new_token(commands.IssueToken(g.household_id, body.label), container().deps)), 201


@bp.post("/household/tokens/<token_id>/rotate")
@require_household
def rotate_token(token_id: str):
    """A new token with this one's label; this one stops working now."""
    return jsonify(container().bus.handle(commands.RotateToken(g.household_id, token_id))), 201


@bp.delete("/household/tokens/<token_id>")
@require_household
def revoke_token(token_id: str):
    return jsonify(container().bus.handle(commands.RevokeToken(g.household_id, token_id)))


@bp.get("/notifications")
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
        raise ApiError(400, "invalid", "k must be a whole number.", field="k")
    if not 1 <= k <= maximum:
        raise ApiError(400, "invalid", f"k must be from 1 to {maximum}.", field="k")
    return k


@bp.get("/recommendations/resolve")
@require_household
def resolve():
    phrase = (request.args.get("q") or "").strip()
    if not phrase or len(phrase) > 200:
        raise ApiError(400, "invalid", "q must be 1 to 200 characters, e.g. ?q=detergent", field="q")
    found = container().recommendations.resolve(g.household_id, phrase, k=_k(3, 20))
    return jsonify({"query": phrase, "results": [_candidate_json(c) for c in found]})


@bp.get("/recommendations/buy-again")
@require_household
def buy_again():
    found = container().recommendations.buy_again(g.household_id, k=_k(10, 50))
    return jsonify({"results": [_candidate_json(c) for c in found]})


@bp.get("/recommendations/running-low")
@require_household
def running_low():
    try:
        days = float(request.args.get("days", "7"))
    except ValueError:
        raise ApiError(400, "invalid", "days must be a number.", field="days")
    if not 0 < days <= 365:
        raise ApiError(400, "invalid", "days must be more than 0 and at most 365.", field="days")
    found = container().recommendations.running_low(g.household_id, horizon_days=days, k=_k(10, 50))
    return jsonify({"days": days, "results": [_timing_json(t) for t in found]})
