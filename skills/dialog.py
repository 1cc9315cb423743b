"""The ordering conversation: offer a product, move to the next on "no", ask for the PIN, place on "yes".

State lives in the session attributes (``Turn.state``) as plain JSON:

    {"step": "confirm_order", "items": [{sku, title, size, price_cents, reason}, ...], "index": 0,
     "quantity": 2 | None (what the household asked for), "qty": 2 (what was offered), "phrase": "detergent"}
    {"step": "pin", ...the same...}
    {"step": "confirm_cancel", "order_id": "...", "items": "..."}

Nothing here decides a business rule: limits, the in-flight check and the PIN lockout are the services'.
The household id always comes from the access token of the current request, never from the session.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from replenish.domain import commands, model
from replenish.domain.errors import (DomainError, InvalidCommand, LimitExceeded, NotFound, PinLocked,
                                     ProductUnavailable)
from replenish.services.ports import PermanentError, TransientError

from . import orders, speech
from .turn import Turn

log = logging.getLogger(__name__)

CONFIRM_ORDER, PIN, CONFIRM_CANCEL = "confirm_order", "pin", "confirm_cancel"
MAX_CANDIDATES = 3
MAX_QUANTITY = 99


@dataclass(frozen=True)
class Say:
    text: str
    reprompt: str | None = None  # None ends the session
    card: tuple[str, str] | None = None


def item_of(candidate) -> dict:
    product = candidate.product
    return {"sku": product.sku, "title": product.title, "size": product.size_label,
            "price_cents": int(product.price_cents), "reason": candidate.reason or ""}


def parse_quantity(raw: str | None) -> int | None | bool:
    """None when not said, False when said but unusable, else the number."""
    if raw is None or str(raw).strip() in ("", "?"):
        return None
    try:
        value = int(str(raw).strip())
    except ValueError:
        return False
    return value if 1 <= value <= MAX_QUANTITY else False


# -- offering -----------------------------------------------------------------------------------------------

def offer_item(turn: Turn, phrase: str, quantity: int | None, candidates, *, usual: bool = False) -> Say:
    items = [item_of(c) for c in candidates[:MAX_CANDIDATES]]
    if not items:
        turn.clear_state()
        return Say(speech.NO_USUAL if usual else speech.nothing_found(phrase))
    turn.set_state(CONFIRM_ORDER, items=items, index=0, quantity=quantity, phrase=phrase, usual=usual)
    return _speak_current(turn, first=True)


def _speak_current(turn: Turn, first: bool) -> Say:
    state = turn.state
    item = state["items"][state["index"]]
    qty = state.get("quantity") or turn.recs.quantity(item["sku"])
    qty = max(1, min(int(qty or 1), MAX_QUANTITY))
    turn.set_state(CONFIRM_ORDER, **{**_data(state), "qty": qty})
    if first and state.get("usual"):
        text = speech.usual_offer(item["title"], item["size"], item["price_cents"], qty, item["reason"])
    else:
        text = speech.offer(item["title"], item["size"], item["price_cents"], qty, item["reason"], first=first)
    return Say(text, speech.CONFIRM_REPROMPT)


def _data(state: dict) -> dict:
    return {k: v for k, v in state.items() if k != "step"}


def next_candidate(turn: Turn, lead: str = "") -> Say:
    """The household said no or "something else": offer the next candidate, or stop when none is left."""
    state = turn.state
    if state.get("step") not in (CONFIRM_ORDER, PIN):
        turn.clear_state()
        return Say(speech.NOTHING_ORDERED)
    index = int(state.get("index", 0)) + 1
    if index >= len(state.get("items") or ()):
        turn.clear_state()
        return Say(f"{lead} {speech.NO_OTHER_CANDIDATES}".strip())
    turn.set_state(CONFIRM_ORDER, **{**_data(state), "index": index})
    said = _speak_current(turn, first=False)
    return Say(f"{lead} {said.text}".strip(), said.reprompt)


# -- confirming ---------------------------------------------------------------------------------------------

def confirm_order(turn: Turn) -> Say:
    """The household said yes to the offered product."""
    if turn.pin_locked:
        turn.clear_state()
        return Say(speech.pin_locked("Voice purchasing is locked for a few minutes after three wrong PINs."))
    if turn.has_pin:
        turn.set_state(PIN, **_data(turn.state))
        return Say(speech.ASK_PIN, speech.ASK_PIN_REPROMPT)
    return place(turn)


def check_pin(turn: Turn, pin: str | None) -> Say:
    if turn.state.get("step") != PIN:
        return Say(speech.PIN_NOT_EXPECTED, speech.NOTHING_TO_CONFIRM_REPROMPT)
    if not pin or not str(pin).isdigit() or len(str(pin)) != 4:
        return Say(speech.PIN_UNHEARD, speech.ASK_PIN_REPROMPT)
    try:
        ok = turn.bus.handle(commands.CheckVoicePin(turn.household_id, str(pin)))
    except PinLocked as exc:
        turn.clear_state()
        return Say(speech.pin_locked(exc.message))
    if not ok:
        return Say(speech.pin_wrong(), speech.ASK_PIN_REPROMPT)
    return place(turn)


def place(turn: Turn) -> Say:
    state = turn.state
    item = state["items"][state["index"]]
    qty = int(state.get("qty") or 1)
    command = commands.PlaceOrder(turn.household_id, model.Channel.VOICE.value,
                                  (commands.LineRequest(item["sku"], qty),), source_id=f"voice:{item['sku']}",
                                  idempotency_key=turn.request_id)
    try:
        result = turn.bus.handle(command)
    except LimitExceeded as exc:
        turn.clear_state()
        return Say(speech.limit_exceeded(exc.message))
    except ProductUnavailable as exc:
        return next_candidate(turn, lead=exc.message)
    except (InvalidCommand, NotFound) as exc:
        log.info("voice order refused for %s: %s", turn.household_id, exc)
        return next_candidate(turn, lead=speech.not_ordered(exc.message))
    except TransientError:
        turn.clear_state()
        return Say(speech.STORE_UNAVAILABLE)
    turn.clear_state()
    order = result.order
    if result.status == "order_in_progress":
        return Say(speech.already_in_flight(orders.items(order), orders.status_words(turn, order)))
    text = speech.placed(orders.items(order), order["total_cents"], orders.arrival_words(turn, order),
                         orders.cancel_minutes(order))
    return Say(text, card=(f"Ordered: {orders.items(order)}", text))


# -- cancelling ---------------------------------------------------------------------------------------------

def ask_cancel(turn: Turn, phrases: list[str]) -> Say:
    found = orders.recent(turn, statuses=orders.CANCELLABLE)
    if phrases:
        found = orders.matching(found, phrases)
        if not found:
            turn.clear_state()
            return Say(speech.no_cancellable_match(phrases[0]))
    if not found:
        turn.clear_state()
        return Say(speech.NO_CANCELLABLE)
    order = found[0]
    turn.set_state(CONFIRM_CANCEL, order_id=order["id"], items=orders.items(order))
    return Say(speech.confirm_cancel(orders.items(order), order["total_cents"], orders.placed_words(turn, order)),
               speech.CANCEL_REPROMPT)


def confirm_cancel(turn: Turn) -> Say:
    state = turn.state
    turn.clear_state()
    try:
        order = turn.bus.handle(commands.CancelOrder(turn.household_id, str(state.get("order_id")),
                                                     reason="cancelled by voice"))
    except DomainError as exc:
        return Say(speech.cancel_refused(exc.message))
    except PermanentError as exc:
        return Say(speech.cancel_refused(str(exc)))
    except TransientError:
        return Say(speech.STORE_UNAVAILABLE)
    return Say(speech.cancelled(orders.items(order)))


# -- status and running low --------------------------------------------------------------------------------

def order_status(turn: Turn, phrases: list[str]) -> Say:
    found = orders.recent(turn, limit=20)
    if phrases:
        found = orders.matching(found, phrases)
        if not found:
            return Say(speech.no_matching_orders(phrases[0]))
    active = [o for o in found if o["status"] in {s.value for s in model.ACTIVE}]
    chosen = (active or found)[:3]
    if not chosen:
        return Say(speech.NO_ORDERS)
    sentences = [speech.order_status(orders.items(o), orders.status_words(turn, o)) for o in chosen]
    return Say(" ".join(sentences))


def running_low(turn: Turn) -> Say:
    timings = list(turn.recs.running_low())[:3]
    if not timings:
        turn.clear_state()
        return Say(speech.NOTHING_RUNNING_LOW)
    with turn.container.uow() as uow:
        products = uow.products.get_many(t.sku for t in timings)
    timings = [t for t in timings if t.sku in products]
    if not timings:
        turn.clear_state()
        return Say(speech.NOTHING_RUNNING_LOW)
    today = turn.today()
    parts = [speech.running_low_item(products[t.sku].title,
                                     speech.day(turn.local(model.as_utc(t.last_purchased_at)), today),
                                     speech.day(turn.local(model.as_utc(t.expected_at)), today))
             for t in timings]
    text = speech.running_low(parts)
    first = next((products[t.sku] for t in timings if products[t.sku].available), None)
    if first is None:
        turn.clear_state()
        return Say(text)
    item = {"sku": first.sku, "title": first.title, "size": first.size_label, "price_cents": int(first.price_cents),
            "reason": ""}
    qty = max(1, min(int(turn.recs.quantity(first.sku) or 1), MAX_QUANTITY))
    turn.set_state(CONFIRM_ORDER, items=[item], index=0, quantity=None, qty=qty, phrase=first.title, usual=False)
    return Say(text + speech.running_low_offer(first.title, first.size_label, first.price_cents, qty),
               speech.RUNNING_LOW_REPROMPT)
