"""The household shopping list by voice: AddToList, List, OrderList, RemoveFromList, and the yes, no and PIN that
answer the list's own questions.

The list is the lists feature's (``replenish.lists``): these handlers only send its commands (``AddToList`` with
``added_by="voice"``, ``RemoveFromList`` by name, ``OrderList`` with the version the offer was made from and the
speaker) and say what came back. Dialog state (``Turn.state``), as plain JSON:

    {"step": "list_pick", "item_id", "sku", "title", "size", "phrase"}: a weak match, "Did you mean ...?"
    {"step": "confirm_list", "version": 7}: "... Should I order your list?"
    {"step": "list_pin", "version": 7}: the voice PIN, before the list is ordered
    {"step": "list_remove", "names": [...]}: "Do you mean whole milk or oat milk?"

The ordering rules are the ordering dialog's (``skills.dialog``): a weak match is asked about, a locked PIN or an
unrecognised voice is said before any offer, the PIN is asked after the yes, the caps are the core's and said the
same way. The version makes a changed list safe: a "yes" to a list that changed since it was read is refused by
``OrderList`` (``ListChanged``), and the new list is offered instead.
"""
from __future__ import annotations

import logging

from replenish.domain import model
from replenish.domain.errors import (
    DomainError,
    InvalidCommand,
    LimitExceeded,
    NotFound,
    ProductUnavailable,
)
from replenish.lists.handlers import list_view
from replenish.lists.model import AddToList, ChangeListItem, ListChanged, OrderList, RemoveFromList
from replenish.oauth.scopes import PLACE, READ
from replenish.services.ports import PermanentError, TransientError

from .. import dialog, orders, speech
from ..dialog import Say
from ..turn import TURN, Turn
from .base import VoiceHandler, slot_phrases, slot_value

log = logging.getLogger(__name__)

LIST_PICK, CONFIRM_LIST, LIST_PIN, LIST_REMOVE = "list_pick", "confirm_list", "list_pin", "list_remove"
LIST_STEPS = (LIST_PICK, CONFIRM_LIST, LIST_PIN, LIST_REMOVE)
BUYING_STEPS = (CONFIRM_LIST, LIST_PIN)


def spoken_name(item: dict) -> str:
    """What an item is called aloud: the words it was added as, or its product's short name."""
    if item.get("title") and item["phrase"] == item["title"]:
        return speech.short_name(item["title"])
    return item["phrase"]


def _open(view: dict) -> list[dict]:
    return [i for i in view["items"] if not i["checked"]]


def _card(items: list[dict]) -> tuple[str, str]:
    return speech.list_card(speech.SKILL_NAME, [speech.list_card_line(spoken_name(i), i.get("title"), i["quantity"],
                                                                      i.get("price_cents")) for i in items])


# -- adding --------------------------------------------------------------------------------------------------

def _best(turn: Turn, phrases: list[str]):
    """The candidate that answers best to what was said, and how well (``dialog.match_strength``)."""
    candidates = []
    try:
        for phrase in phrases:  # what was said first, then Alexa's catalog value for it
            candidates = turn.recs.resolve(phrase, k=dialog.MAX_CANDIDATES)
            if candidates:
                break
    except Exception:  # the list keeps working while the recommender cannot answer: the words go on it
        log.warning("could not resolve %r for the list by voice", phrases[0], exc_info=True)
        return 0.0, None
    scored = [(dialog.match_strength(phrases, c.product), c) for c in candidates[:dialog.MAX_CANDIDATES]]
    scored = [sc for sc in scored if sc[0] >= dialog.WEAK_MATCH]
    if not scored:
        return 0.0, None
    scored.sort(key=lambda sc: -sc[0])  # stable: the recommender's order among equally good matches
    return scored[0]


def add_to_list(turn: Turn, phrases: list[str], quantity: int) -> Say:
    phrase = phrases[0]
    strength, best = _best(turn, phrases)
    strong = best is not None and strength >= dialog.STRONG_MATCH
    try:
        view = turn.bus.handle(AddToList(turn.household, phrase=phrase, quantity=quantity, added_by="voice",
                                         pick=best.product.sku if strong else False))
    except DomainError as exc:
        turn.clear_state()
        return Say(speech.list_refused(exc.message))
    if view["sku"]:  # a strong match, or the same words already on the list with their pick
        with turn.container.uow() as uow:
            product = uow.products.get(view["sku"])
        size = product.size_label if product is not None else ""
        turn.clear_state()
        text = speech.list_added(phrase, quantity, view["quantity"], view["title"] or view["sku"], size)
        card = (speech.SKILL_NAME, speech.list_card_line(phrase, view["title"], view["quantity"],
                                                         (product.price_cents * view["quantity"]) if product else 0))
        return Say(text, card=card)
    if best is not None:  # a weak match: asked about, as an order would be; the words are on the list meanwhile
        product = best.product
        turn.set_state(LIST_PICK, item_id=view["id"], sku=product.sku, title=product.title,
                       size=product.size_label, phrase=phrase)
        return Say(speech.list_added_weak(phrase, product.title), speech.DID_YOU_MEAN_REPROMPT)
    turn.clear_state()
    return Say(speech.list_added_unmatched(phrase))


def accept_pick(turn: Turn) -> Say:
    """"Yes, that one": the item in words gets the product that was proposed."""
    state = turn.state
    turn.clear_state()
    try:
        turn.bus.handle(ChangeListItem(turn.household, str(state.get("item_id")), sku=str(state.get("sku"))))
    except NotFound:
        return Say(speech.LIST_GONE)
    return Say(speech.list_picked(str(state.get("phrase") or ""), str(state.get("title") or ""),
                                  str(state.get("size") or "")))


# -- reading and ordering ------------------------------------------------------------------------------------

def _may_buy(turn: Turn) -> bool:
    return turn.may(PLACE) and not turn.unrecognised and not turn.pin_locked


def read_list(turn: Turn) -> Say:
    view = list_view(turn.container.deps, turn.household)
    items = _open(view)
    turn.clear_state()
    if not items:
        return Say(speech.LIST_EMPTY)
    card = _card(items)
    unpicked = [spoken_name(i) for i in items if not i["sku"]]
    offer = not unpicked and _may_buy(turn)
    text = speech.list_read([spoken_name(i) for i in items], view["total_cents"], offer=offer)
    if unpicked:  # read, not offered: what it needs first is said as fully as there is room for (and carded)
        for then in (speech.list_unpicked(unpicked), speech.list_needs_picks(unpicked), ""):
            if speech.words(text) + speech.words(then) <= speech.MAX_WORDS:
                return Say(f"{text} {then}".strip(), card=card)
    if not offer:
        return Say(text, card=card)
    turn.set_state(CONFIRM_LIST, version=view["version"])
    return Say(text, speech.LIST_CONFIRM_REPROMPT, card=card)


def offer_list(turn: Turn, lead: str = "") -> Say:
    """The whole list as one order, each thing said by its pick where there is room, with its total."""
    view = list_view(turn.container.deps, turn.household)
    items = _open(view)
    turn.clear_state()
    if not items:
        return Say(speech.fit(lead, speech.LIST_EMPTY) if lead else speech.LIST_EMPTY)
    card = _card(items)
    unpicked = [spoken_name(i) for i in items if not i["sku"]]
    if unpicked:
        return Say(speech.list_unpicked(unpicked), card=card)
    picks = [speech.short_name(i["title"] or i["phrase"]) if i["quantity"] == 1 else
             speech.product_phrase(i["title"] or i["phrase"], "", i["quantity"]) for i in items]
    turn.set_state(CONFIRM_LIST, version=view["version"])
    return Say(speech.list_offer(picks, view["total_cents"], lead), speech.LIST_CONFIRM_REPROMPT, card=card)


def confirm_list(turn: Turn) -> Say:
    """The household said yes to the list: the PIN first when it has one."""
    if turn.has_pin:
        turn.set_state(LIST_PIN, version=turn.state.get("version"))
        return Say(speech.ASK_PIN, speech.ASK_PIN_REPROMPT)
    return place_list(turn)


def check_list_pin(turn: Turn, pin: str | None) -> Say:
    return dialog.verify_pin(turn, pin, place_list)


def place_list(turn: Turn) -> Say:
    version = turn.state.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        turn.clear_state()
        return Say(speech.NOTHING_TO_CONFIRM, speech.NOTHING_TO_CONFIRM_REPROMPT)
    try:
        result = turn.bus.handle(OrderList(turn.household, model.Channel.VOICE.value, version,
                                           speaker=turn.speaker))
    except ListChanged:
        return offer_list(turn, lead=speech.list_changed())  # says so, and offers what is on it now
    except LimitExceeded as exc:
        return dialog.over_limit(turn, exc)
    except ProductUnavailable as exc:
        turn.clear_state()
        return Say(speech.LIST_OUT_OF_STOCK, card=(speech.SKILL_NAME, exc.message))
    except InvalidCommand as exc:
        turn.clear_state()
        if (exc.details or {}).get("unresolved"):
            return Say(speech.list_unpicked(list(exc.details["unresolved"])))
        if "already" in exc.message:
            return Say(speech.LIST_BUSY)
        return Say(speech.LIST_EMPTY)
    except (NotFound, PermanentError) as exc:
        turn.clear_state()
        log.info("voice list order refused for %s: %s", turn.household_id, exc)
        return Say(speech.list_refused(getattr(exc, "message", None) or str(exc)))
    except TransientError:
        turn.clear_state()
        return Say(speech.STORE_UNAVAILABLE)
    turn.clear_state()
    order = result.order
    arrival, minutes = orders.arrival_words(turn, order), orders.cancel_minutes(order)
    return Say(speech.placed(orders.spoken_items(order), order["total_cents"], arrival, minutes),
               card=speech.placed_card(orders.items(order), order["total_cents"], arrival, minutes))


# -- removing ------------------------------------------------------------------------------------------------

def remove_from_list(turn: Turn, phrases: list[str]) -> Say:
    asked = turn.state.get("names") if turn.state.get("step") == LIST_REMOVE else None
    turn.clear_state()
    phrase = phrases[0]
    if isinstance(asked, list):  # the answer to "Do you mean A or B?": the one it names
        wanted = set(orders.words(phrase)) - orders.STOP_WORDS
        named = [n for n in asked if isinstance(n, str) and wanted and wanted <= orders.words(n)]
        if len(named) == 1:
            phrase = named[0]
    try:
        removed = turn.bus.handle(RemoveFromList(turn.household, phrase=phrase))
    except NotFound:
        return Say(speech.list_not_on(phrases[0]))
    except InvalidCommand as exc:
        names = [n for n in (exc.details or {}).get("matches") or [] if isinstance(n, str)]
        if not names:
            return Say(speech.list_refused(exc.message))
        turn.set_state(LIST_REMOVE, names=names)
        return Say(speech.list_which([spoken_or_short(n) for n in names]), speech.LIST_REMOVE_REPROMPT,
                   card=speech.list_card(speech.SKILL_NAME, names))
    return Say(speech.list_removed(spoken_or_short(removed["removed"])))


def spoken_or_short(name: str) -> str:
    """A phrase as it was said, or a product title (an item added by product) by its short name."""
    return speech.short_name(name) if "," in name else name


# -- handlers ------------------------------------------------------------------------------------------------

class _ListHandler(VoiceHandler):
    """Changing the list buys nothing: an unrecognised voice or a locked PIN may still add and remove (ordering the
    list still refuses them up front), but the linked account must allow placing orders."""

    scope = PLACE

    @staticmethod
    def refuse_purchase(turn, scope):
        return None


class AddToListIntentHandler(_ListHandler):
    """"add paper towels to my list", "put two detergent on the list"."""

    intent = "AddToListIntent"

    def answer(self, turn, handler_input):
        phrases = slot_phrases(handler_input, "item")
        if not phrases:
            turn.clear_state()
            return Say(speech.LIST_ASK_ITEM, speech.LIST_ASK_ITEM)
        quantity = dialog.parse_quantity(slot_value(handler_input, "quantity"))
        if quantity is False:
            turn.clear_state()
            return Say(speech.list_bad_quantity(), speech.LIST_ASK_ITEM)
        return add_to_list(turn, phrases, quantity or 1)


class RemoveFromListIntentHandler(_ListHandler):
    """"remove milk from my list"; "I mean oat milk" answers "Do you mean whole milk or oat milk?"."""

    intent = "RemoveFromListIntent"

    def answer(self, turn, handler_input):
        phrases = slot_phrases(handler_input, "item")
        if not phrases:
            turn.clear_state()
            return Say(speech.LIST_ASK_REMOVE, speech.LIST_ASK_REMOVE)
        return remove_from_list(turn, phrases)


class ListIntentHandler(VoiceHandler):
    """"what's on my list": read to anyone who may read orders; the offer to order it only to a voice that may
    buy."""

    intent = "ListIntent"
    scope = READ

    def answer(self, turn, handler_input):
        return read_list(turn)


class OrderListIntentHandler(VoiceHandler):
    """"order my list": the whole list as one order, offered with its total and confirmed like any order."""

    intent = "OrderListIntent"
    scope = PLACE

    def answer(self, turn, handler_input):
        return offer_list(turn)


class _ListAnswer(VoiceHandler):
    """A yes, no or PIN answering one of the list's questions; any other is the ordering dialog's."""

    steps: tuple = LIST_STEPS

    def can_handle(self, handler_input):
        if not super().can_handle(handler_input):
            return False
        attributes = getattr(handler_input.attributes_manager, "request_attributes", None) or {}
        turn = attributes.get(TURN)  # built by the turn interceptor, which runs before the dispatcher asks
        return turn is not None and turn.state.get("step") in self.steps

    def scope_for(self, turn):
        return PLACE

    @staticmethod
    def refuse_purchase(turn: Turn, scope: str | None) -> Say | None:
        if turn.state.get("step") not in BUYING_STEPS:
            return None  # choosing a product for an item, or which item to remove, buys nothing
        return VoiceHandler.refuse_purchase(turn, scope)


class ListYesHandler(_ListAnswer):
    intent = "AMAZON.YesIntent"

    def answer(self, turn, handler_input):
        step = turn.state.get("step")
        if step == CONFIRM_LIST:
            return confirm_list(turn)
        if step == LIST_PICK:
            return accept_pick(turn)
        if step == LIST_PIN:
            return Say(speech.ASK_PIN, speech.ASK_PIN_REPROMPT)
        return Say(speech.LIST_REMOVE_REPROMPT, speech.LIST_REMOVE_REPROMPT)  # "yes" to "A or B?"


class ListNoHandler(_ListAnswer):
    intent = "AMAZON.NoIntent"

    def answer(self, turn, handler_input):
        state = turn.state
        turn.clear_state()
        if state.get("step") == LIST_PICK:
            return Say(speech.list_kept_in_words(str(state.get("phrase") or "")))
        if state.get("step") == LIST_REMOVE:
            return Say(speech.LIST_REMOVE_KEPT)
        return Say(speech.LIST_NOT_ORDERED)


class ListPinHandler(_ListAnswer):
    intent = "PinIntent"
    steps = (LIST_PIN,)

    def answer(self, turn, handler_input):
        return check_list_pin(turn, slot_value(handler_input, "pin"))


# In the order the dispatcher tries them: the answers to the list's questions come before the ordering dialog's
# yes, no and PIN (they claim a request only while one of the list's questions is open).
LIST_HANDLERS = (AddToListIntentHandler, ListIntentHandler, OrderListIntentHandler, RemoveFromListIntentHandler,
                 ListYesHandler, ListNoHandler, ListPinHandler)
