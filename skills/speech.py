"""Everything the skill says, kept apart from the handlers so wording can change without touching logic.

Functions take plain values (titles, cents, dates already in the household's time zone) and return plain
text; the response layer escapes it for SSML.
"""
from __future__ import annotations

from datetime import date, datetime

SKILL_NAME = "Replenish"

WELCOME = ("Welcome to Replenish. You can say things like: order detergent, reorder my usual, "
           "where's my stuff, or what am I running low on. What would you like?")
WELCOME_REPROMPT = "What would you like? For example, say: order paper towels."
HELP = ("I can order the household essentials you usually buy, and I always ask before buying anything. "
        "Say: order detergent, or order two paper towels. Say: reorder my usual, cancel my order, "
        "where's my stuff, or what am I running low on. What would you like to do?")
HELP_REPROMPT = "What would you like to do?"
GOODBYE = "Okay. Goodbye."
FALLBACK = ("Sorry, I didn't catch that. You can say: order detergent, cancel my order, or where's my stuff. "
            "What would you like?")
FALLBACK_REPROMPT = "Try saying: order detergent."
# While a question is open: (what to say, the reprompt), by dialog step.
FALLBACK_DURING = {
    "confirm_order": ("Sorry, I didn't catch that. Should I order it? Say yes, no, or something else.",
                      "Should I order it? Say yes, no, or something else."),
    "pin": ("Sorry, I didn't catch that. Please say your four digit voice PIN.", "What's your voice PIN?"),
    "confirm_cancel": ("Sorry, I didn't catch that. Should I cancel that order? Say yes or no.",
                       "Should I cancel it? Say yes or no."),
}
WHAT_NEXT = "Anything else? You can say: where's my stuff, or order something else."

LINK_ACCOUNT = ("To order with Replenish, please link your Replenish account. "
                "I've sent a card to the Alexa app to help you do that.")
# What a linked account may not do unless the household allowed it when linking, by OAuth scope.
SCOPE_ACTIONS = {"orders:place": "place orders", "orders:cancel": "cancel orders", "orders:read": "check your orders"}

ASK_ITEM = "What would you like to order? For example, say: order detergent."
ASK_ITEM_REPROMPT = "What should I order?"
CONFIRM_REPROMPT = "Should I order it? Say yes, no, or something else."
NOTHING_TO_CONFIRM = ("There's nothing waiting for a yes right now. You can say: order detergent, "
                      "or cancel my order.")
NOTHING_TO_CONFIRM_REPROMPT = "What would you like to do?"
NOTHING_ORDERED = "Okay, I didn't order anything."
NO_OTHER_CANDIDATES = "That's all I found, so I didn't order anything. You can try a different name for it."
NO_USUAL = ("I don't see anything you've ordered before yet. Try saying: order detergent.")
ASK_PIN = "Please say your four digit voice PIN to confirm."
ASK_PIN_REPROMPT = "What's your voice PIN?"
PIN_NOT_EXPECTED = "I don't need a PIN right now. You can say: order detergent."
PIN_UNHEARD = "I didn't catch four digits. Please say your voice PIN."
STORE_UNAVAILABLE = "The store isn't answering right now, so I couldn't do that. Please try again in a few minutes."
ERROR = "Sorry, something went wrong on my side and nothing was changed. Please try that again in a moment."
ERROR_REPROMPT = "What would you like to do?"

NO_CANCELLABLE = ("You don't have an order that can still be cancelled. Orders that have already shipped "
                  "can't be cancelled.")
CANCEL_KEPT = "Okay, I'll leave that order as it is."
CANCEL_REPROMPT = "Should I cancel it? Say yes or no."

NO_ORDERS = "You don't have any recent orders."
NOTHING_RUNNING_LOW = ("Nothing looks like it's running low right now, going by what you usually buy. "
                       "You can still say: order, and the item.")
RUNNING_LOW_REPROMPT = "Should I order it? Say yes or no."


# -- formatting ---------------------------------------------------------------------------------------------

def money(cents: int) -> str:
    dollars, rest = divmod(int(cents), 100)
    return f"${dollars:,}.{rest:02d}"


def day(when: datetime | date, today: date | None = None) -> str:
    """'today', 'tomorrow', 'yesterday', or 'Thursday, March 12' (dates are in the household's zone)."""
    target = when.date() if isinstance(when, datetime) else when
    if today is not None:
        delta = (target - today).days
        if delta == 0:
            return "today"
        if delta == 1:
            return "tomorrow"
        if delta == -1:
            return "yesterday"
    return f"{target:%A}, {target:%B} {target.day}"


def clock_time(when: datetime) -> str:
    hour = when.hour % 12 or 12
    suffix = "AM" if when.hour < 12 else "PM"
    return f"{hour}:{when.minute:02d} {suffix}" if when.minute else f"{hour} {suffix}"


def join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def product_phrase(title: str, size: str, quantity: int) -> str:
    """'Tide PODS, 42 Count' or '2 packs of Tide PODS, 42 Count'; the size is added when the title lacks it."""
    name = title
    if size and size.split()[0] not in title:
        name = f"{title}, {size}"
    return name if quantity == 1 else f"{quantity} packs of {name}"


def with_reason(reason: str) -> str:
    """' It's the best match for detergent.' / ' You bought this on March 3.' / '' (the recommender's words)."""
    reason = (reason or "").strip().rstrip(".")
    if not reason:
        return ""
    if reason.startswith(("the ", "a ")):
        return f" It's {reason}."
    return f" {reason[:1].upper()}{reason[1:]}."


# -- ordering -----------------------------------------------------------------------------------------------

def _price(price_cents: int, quantity: int) -> str:
    if quantity == 1:
        return money(price_cents)
    return f"{money(price_cents)} each, {money(price_cents * quantity)} in all"


def offer(title: str, size: str, price_cents: int, quantity: int, reason: str, first: bool = True) -> str:
    price = _price(price_cents, quantity)
    lead = "I found" if first else "Next, there's"
    return f"{lead} {product_phrase(title, size, quantity)}, for {price}.{with_reason(reason)} Should I order it?"


def nothing_found(phrase: str) -> str:
    return f"I couldn't find anything for {phrase}. Try saying it another way, like: order laundry detergent."


def usual_offer(title: str, size: str, price_cents: int, quantity: int, reason: str) -> str:
    price = _price(price_cents, quantity)
    return (f"Your usual is {product_phrase(title, size, quantity)}, for {price}.{with_reason(reason)} "
            "Should I order it?")


def bad_quantity() -> str:
    return ("I can order from one to ninety nine packs at a time. How many would you like? "
            "Say, for example: order two detergent.")


def arriving(arrival: str) -> str:
    return f"should arrive {arrival}" if arrival in ("today", "tomorrow") else f"should arrive by {arrival}"


def placed(items: str, total_cents: int, arrival: str, cancel_minutes: int) -> str:
    text = f"Okay, I've ordered {items} for {money(total_cents)}. It {arriving(arrival)}."
    if cancel_minutes > 0:
        text += (f" You can cancel it in the next {cancel_minutes} minutes by saying: "
                 "ask Replenish to cancel my order.")
    return text


def already_in_flight(items: str, status_text: str) -> str:
    return (f"You already have an order of {items} in progress: it {status_text}. "
            "I didn't place another one.")


def not_ordered(reason_sentence: str) -> str:
    return f"{reason_sentence} Nothing was ordered."


def limit_exceeded(reason_sentence: str) -> str:
    return (f"{reason_sentence} So I didn't order it. You can change your spending limits in the Replenish app.")


def pin_wrong() -> str:
    return "That PIN isn't right. Please say your four digit voice PIN again."


def pin_locked(message: str) -> str:
    return f"{message} Nothing was ordered."


# -- status and cancel --------------------------------------------------------------------------------------

def status_text(status: str, *, at: str = "", arrival: str = "", reason: str = "") -> str:
    """The part after 'it': 'has shipped and should arrive by Thursday, March 12'."""
    if status == "pending":
        return f"is placed and goes to the store at {at}, so you can still cancel it" if at else "is placed"
    if status == "submitted":
        return "has been sent to the store" + (f" and {arriving(arrival)}" if arrival else "")
    if status == "confirmed":
        return "was confirmed by the store" + (f" and {arriving(arrival)}" if arrival else "")
    if status == "shipped":
        return "has shipped" + (f" and {arriving(arrival)}" if arrival else "")
    if status == "delivered":
        return f"was delivered {at}" if at else "was delivered"
    if status == "cancelled":
        return f"was cancelled {at}" if at else "was cancelled"
    if status == "failed":
        return f"couldn't be placed: {reason}" if reason else "couldn't be placed"
    return f"is {status}"


def order_status(items: str, status_sentence: str) -> str:
    return f"Your order of {items} {status_sentence}."


def no_matching_orders(phrase: str) -> str:
    return f"I don't see a recent order of {phrase}."


def no_cancellable_match(phrase: str) -> str:
    return f"I don't see an order of {phrase} that can still be cancelled."


def confirm_cancel(items: str, total_cents: int, placed_on: str) -> str:
    return f"Cancel your order of {items} for {money(total_cents)}, placed {placed_on}?"


def cancelled(items: str) -> str:
    return f"Okay, I've cancelled your order of {items}."


def cancel_refused(message: str) -> str:
    return f"I couldn't cancel it: {message}"


# -- running low --------------------------------------------------------------------------------------------

def running_low(items: list[str]) -> str:
    return f"You may be running low on {join(items)}."


def running_low_item(title: str, last: str, expected: str) -> str:
    return f"{title}, last ordered {last} and usually needed again around {expected}"


def running_low_offer(title: str, size: str, price_cents: int, quantity: int) -> str:
    return f" Should I order {product_phrase(title, size, quantity)} for {money(price_cents * quantity)}?"


def not_allowed(scope: str) -> str:
    action = SCOPE_ACTIONS.get(scope, "do that")
    return (f"Your Replenish account is linked without permission to {action}. To allow it, link your account "
            "again in the Alexa app and approve it. I've sent a card to help you do that.")
