"""The ordering conversation: offer a product, move to the next on "no", ask for the PIN, place on "yes".

State lives in the session attributes (``Turn.state``) as plain JSON:

    {"step": "confirm_order", "items": [{sku, title, size, price_cents, reason}, ...], "index": 0,
     "quantity": 2 | None (what the household asked for), "qty": 2 (what was offered), "phrase": "detergent"}
    {"step": "pin", ...the same...}
    {"step": "confirm_cancel", "order_id": "...", "items": "..."}
    {"step": "did_you_mean", ...as confirm_order...}: a weak match or a running-low item, asked about first

Nothing here decides a business rule: limits, the in-flight check and the PIN lockout are the services'.
The household id always comes from the access token of the current request, never from the session.
"""
from __future__ import annotations

import difflib
import logging
from dataclasses import dataclass

from replenish.domain import commands, model
from replenish.domain.errors import DomainError, InvalidCommand, LimitExceeded, NotFound, PinLocked, ProductUnavailable
from replenish.services.ports import PermanentError, TransientError

from . import orders, speech
from .turn import Turn, lockout_minutes

log = logging.getLogger(__name__)

CONFIRM_ORDER, PIN, CONFIRM_CANCEL = "confirm_order", "pin", "confirm_cancel"
PROPOSE = "did_you_mean"  # "Did you mean X?" / "Should I order the detergent?": yes -> the offer, with its price
MAX_CANDIDATES = 3
MAX_LISTED = 10  # orders or items on a card
STRONG_MATCH = 0.99  # every word of what was said found in the product
WEAK_MATCH = 0.5  # at least half of it: asked as a question; less is not offered
MAX_QUANTITY = model.MAX_QUANTITY  # of one product in one order


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

def match_strength(phrases: list[str], product) -> float:
    """How much of what was said the product answers to, 0..1: each meaningful word of a phrase found in the
    product's title, brand, aisle or synonyms (a near spelling counts 0.8); the best phrase counts. The
    recommender ranks candidates; this only says whether the best one is what was asked for."""
    known = orders.words(product.title) | orders.words(product.brand) \
        | orders.words(product.category.replace("/", " ").replace("_", " "))
    for synonym in getattr(product, "synonyms", ()) or ():
        known |= orders.words(synonym)
    best = 0.0
    for phrase in phrases:
        wanted = orders.words(phrase) - orders.STOP_WORDS
        if not wanted:
            continue
        got = sum(1.0 if w in known else (0.8 if difflib.get_close_matches(w, known, n=1, cutoff=0.8) else 0.0)
                  for w in wanted)
        best = max(best, got / len(wanted))
    return best


def offer_item(turn: Turn, phrase: str, quantity: int | None, candidates, *, usual: bool = False,
               phrases: list[str] | None = None) -> Say:
    """Offer the best candidate. For a phrase: a candidate that answers to what was said is offered; one that
    only half does is asked about first ("Did you mean ...?"); below ``WEAK_MATCH`` it is not offered at all."""
    candidates = list(candidates[:MAX_CANDIDATES])
    weak = False
    if not usual and candidates:
        said = phrases or [phrase]
        scored = [(match_strength(said, c.product), c) for c in candidates]
        kept = [(s, c) for s, c in scored if s >= WEAK_MATCH]
        kept.sort(key=lambda sc: -sc[0])  # stable: the recommender's order among equally good matches
        candidates = [c for _, c in kept]
        weak = bool(kept) and kept[0][0] < STRONG_MATCH
    items = [item_of(c) for c in candidates]
    if not items:
        turn.clear_state()
        if usual:
            return Say(speech.NO_USUAL, speech.ASK_ITEM_REPROMPT)
        return Say(speech.nothing_found(phrase), speech.ASK_ITEM_REPROMPT)
    turn.set_state(CONFIRM_ORDER, items=items, index=0, quantity=quantity, phrase=phrase, usual=usual)
    if weak:
        return propose(turn, speech.did_you_mean(phrase, items[0]["title"]))
    return _speak_current(turn, first=True)


def propose(turn: Turn, question: str, card: tuple[str, str] | None = None) -> Say:
    """Ask whether the current item is the one wanted, before saying its price and asking to order it."""
    turn.set_state(PROPOSE, **_data(turn.state))
    return Say(question, speech.DID_YOU_MEAN_REPROMPT, card=card)


def accept_proposal(turn: Turn) -> Say:
    """"Yes, that one": now the real offer (price, quantity), still to be confirmed."""
    turn.set_state(CONFIRM_ORDER, **_data(turn.state))
    return _speak_current(turn, first=True)


def _speak_current(turn: Turn, first: bool, lead: str = "") -> Say:
    state = turn.state
    item = state["items"][state["index"]]
    qty = state.get("quantity") or turn.recs.quantity(item["sku"])
    qty = max(1, min(int(qty or 1), MAX_QUANTITY))
    turn.set_state(CONFIRM_ORDER, **{**_data(state), "qty": qty})
    if first and state.get("usual") and not lead:
        text = speech.usual_offer(item["title"], item["size"], item["price_cents"], qty, item["reason"])
    else:
        text = speech.offer(item["title"], item["size"], item["price_cents"], qty, item["reason"], first=first,
                            lead=lead)
    reprompt = speech.CONFIRM_REPROMPT if qty == 1 else speech.CONFIRM_MANY_REPROMPT
    # several packs: the price of each (not said, to keep it short) goes on a card with the full title
    card = speech.product_card(item["title"], item["price_cents"], qty, item["reason"]) if qty > 1 else None
    return Say(text, reprompt, card=card)


def _data(state: dict) -> dict:
    return {k: v for k, v in state.items() if k != "step"}


def next_candidate(turn: Turn, lead: str = "") -> Say:
    """The household said no or "something else": offer the next candidate, or stop when none is left."""
    state = turn.state
    if state.get("step") not in (CONFIRM_ORDER, PIN, PROPOSE):
        turn.clear_state()
        return Say(speech.NOTHING_ORDERED)
    index = int(state.get("index", 0)) + 1
    if index >= len(state.get("items") or ()):
        turn.clear_state()
        return Say(speech.fit(lead, speech.NO_OTHER_CANDIDATES, required=0) if lead else
                   speech.NO_OTHER_CANDIDATES, speech.ASK_ITEM_REPROMPT)
    turn.set_state(CONFIRM_ORDER, **{**_data(state), "index": index})
    return _speak_current(turn, first=False, lead=lead)


# -- confirming ---------------------------------------------------------------------------------------------

def confirm_order(turn: Turn) -> Say:
    """The household said yes to the offered product."""
    if turn.pin_locked:
        turn.clear_state()
        return Say(speech.pin_locked_up_front(turn.lockout))
    if turn.has_pin:
        turn.set_state(PIN, **_data(turn.state))
        return Say(speech.ASK_PIN, speech.ASK_PIN_REPROMPT)
    return place(turn)


def check_pin(turn: Turn, pin: str | None) -> Say:
    if turn.state.get("step") != PIN:
        return Say(speech.PIN_NOT_EXPECTED, speech.NOTHING_TO_CONFIRM_REPROMPT)
    return verify_pin(turn, pin, place)


def verify_pin(turn: Turn, pin: str | None, proceed) -> Say:
    """The PIN said for an offer: ``proceed(turn)`` when right; asked again when unheard or wrong; a lockout is
    said and ends the offer."""
    if not pin or not str(pin).isdigit() or len(str(pin)) != 4:
        return Say(speech.PIN_UNHEARD, speech.ASK_PIN_REPROMPT)
    try:
        ok = turn.bus.handle(commands.CheckVoicePin(turn.household, str(pin)))
    except PinLocked:
        turn.clear_state()
        with turn.container.uow() as uow:
            household = uow.households.get(turn.household_id)
            lockout = lockout_minutes(household.limits) if household is not None else 0
        return Say(speech.pin_locked_now(lockout))
    if not ok:
        return Say(speech.pin_wrong(), speech.ASK_PIN_REPROMPT)
    return proceed(turn)


def place(turn: Turn) -> Say:
    state = turn.state
    item = state["items"][state["index"]]
    qty = int(state.get("qty") or 1)
    command = commands.PlaceOrder(turn.household, model.Channel.VOICE.value,
                                  (commands.LineRequest(item["sku"], qty),), source_id=f"voice:{item['sku']}",
                                  idempotency_key=turn.request_id, speaker=turn.speaker)
    try:
        result = turn.bus.handle(command)
    except LimitExceeded as exc:
        return over_limit(turn, exc)
    except ProductUnavailable:
        return next_candidate(turn, lead=speech.out_of_stock(item["title"]))
    except (InvalidCommand, NotFound) as exc:
        log.info("voice order refused for %s: %s", turn.household_id, exc)
        return next_candidate(turn, lead=speech.not_ordered())
    except TransientError:
        turn.clear_state()
        return Say(speech.STORE_UNAVAILABLE)
    turn.clear_state()
    order = result.order
    spoken = orders.spoken_items(order)
    if result.status == "order_in_progress":
        return Say(speech.already_in_flight(spoken, orders.status_words(turn, order)))
    arrival, minutes = orders.arrival_words(turn, order), orders.cancel_minutes(order)
    return Say(speech.placed(spoken, order["total_cents"], arrival, minutes),
               card=speech.placed_card(orders.items(order), order["total_cents"], arrival, minutes))


# -- cancelling ---------------------------------------------------------------------------------------------

def over_limit(turn: Turn, exc: LimitExceeded) -> Say:
    """A spending cap refused the order: which cap, and by how much, with the caps on a card."""
    turn.clear_state()
    details = exc.details or {}
    if details.get("limit") == "per_month":
        text = speech.limit_per_month(int(details.get("cap_cents") or 0))
    else:
        text = speech.limit_per_order(int(details.get("total_cents") or 0), int(details.get("cap_cents") or 0))
    return Say(text, card=(speech.SKILL_NAME, f"{exc.message}\n{speech.LIMITS_CARD}"))


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
    turn.set_state(CONFIRM_CANCEL, order_id=order["id"], items=orders.spoken_items(order))
    return Say(speech.confirm_cancel(orders.spoken_items(order), order["total_cents"],
                                     orders.placed_words(turn, order)),
               speech.CANCEL_REPROMPT)


def confirm_cancel(turn: Turn) -> Say:
    state = turn.state
    turn.clear_state()
    try:
        order = turn.bus.handle(commands.CancelOrder(turn.household, str(state.get("order_id")),
                                                     reason="cancelled by voice", speaker=turn.speaker))
    except DomainError as exc:
        return Say(speech.cancel_refused(exc.message))
    except PermanentError as exc:
        return Say(speech.cancel_refused(str(exc)))
    except TransientError:
        return Say(speech.STORE_UNAVAILABLE)
    return Say(speech.cancelled(orders.spoken_items(order)))


# -- status and running low --------------------------------------------------------------------------------

def order_status(turn: Turn, phrases: list[str]) -> Say:
    """The newest order's status; any others (up to ten) on a card, counted in the speech."""
    found = orders.recent(turn, limit=20)
    if phrases:
        found = orders.matching(found, phrases)
        if not found:
            return Say(speech.no_matching_orders(phrases[0]))
    active = [o for o in found if o["status"] in {s.value for s in model.ACTIVE}]
    chosen = (active or found)[:MAX_LISTED]
    if not chosen:
        return Say(speech.NO_ORDERS)
    first = chosen[0]
    full = speech.order_status(orders.spoken_items(first), orders.status_words(turn, first))
    brief = speech.order_status(orders.spoken_items(first), speech.status_text(first["status"]))
    text = speech.status_summary(full, brief, len(chosen) - 1)
    card = None
    if len(chosen) > 1:
        card = speech.list_card(speech.SKILL_NAME, [speech.order_status(orders.items(o), orders.status_words(turn, o))
                                                    for o in chosen])
    return Say(text, card=card)


def stopped_buying(timing, now) -> bool:
    """Long overdue (more than twice the usual gap past when it was due, and over a month): the household has
    stopped buying it, so it is not offered."""
    overdue = (now - model.as_utc(timing.expected_at)).total_seconds() / 86400
    usual = float(getattr(timing, "days_after_last", 0) or 0)
    return overdue > max(2 * usual, 30)


def aisle_name(product) -> str:
    """What a list calls a product: its aisle ("detergent", "toilet paper") in the request's language, else its
    short name."""
    leaf = (product.category or "").rsplit("/", 1)[-1].replace("_", " ").strip()
    return (speech.aisle(leaf) if leaf else None) or speech.short_name(product.title)


def running_low(turn: Turn) -> Say:
    now = turn.now()
    timings = [t for t in turn.recs.running_low() if not stopped_buying(t, now)][:MAX_LISTED]
    if timings:
        with turn.container.uow() as uow:
            products = uow.products.get_many(t.sku for t in timings)
        timings = [t for t in timings if t.sku in products]
    if not timings:
        turn.clear_state()
        return Say(speech.NOTHING_RUNNING_LOW, speech.ASK_ITEM_REPROMPT)
    today = turn.today()

    def when(moment):
        return speech.day(turn.local(model.as_utc(moment)), today)

    card = speech.list_card(speech.SKILL_NAME, [speech.running_low_item(products[t.sku].title,
                                                                        when(t.last_purchased_at),
                                                                        when(t.expected_at)) for t in timings])
    first = next((products[t.sku] for t in timings if products[t.sku].available), None)
    if first is None:
        turn.clear_state()
        return Say(speech.running_low_many([aisle_name(products[t.sku]) for t in timings]), card=card)
    item = {"sku": first.sku, "title": first.title, "size": first.size_label, "price_cents": int(first.price_cents),
            "reason": ""}
    qty = max(1, min(int(turn.recs.quantity(first.sku) or 1), MAX_QUANTITY))
    turn.set_state(CONFIRM_ORDER, items=[item], index=0, quantity=None, qty=qty, phrase=first.title, usual=False)
    if len(timings) == 1:
        last = when(timings[0].last_purchased_at)
        return Say(speech.running_low_one(speech.short_name(first.title), last, first.price_cents, qty),
                   speech.RUNNING_LOW_REPROMPT, card=card)
    names = [aisle_name(products[t.sku]) for t in timings]
    return propose(turn, speech.running_low_many(names, offer=aisle_name(first)), card=card)
