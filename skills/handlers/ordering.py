"""Ordering by voice: OrderItem, Reorder, SomethingElse, Yes, No, Pin."""
from __future__ import annotations

from replenish.oauth.scopes import CANCEL, PLACE

from .. import dialog, speech
from ..dialog import Say
from . import approvals
from .base import VoiceHandler, slot_phrases, slot_value


class OrderItemIntentHandler(VoiceHandler):
    """"order detergent", "order two paper towels": resolve the phrase, offer the best candidate."""

    intent = "OrderItemIntent"
    scope = PLACE

    def answer(self, turn, handler_input):
        phrases = slot_phrases(handler_input, "item")
        if not phrases:
            turn.clear_state()
            return Say(speech.ASK_ITEM, speech.ASK_ITEM_REPROMPT)
        quantity = dialog.parse_quantity(slot_value(handler_input, "quantity"))
        if quantity is False:
            turn.clear_state()
            return Say(speech.bad_quantity(), speech.ASK_ITEM_REPROMPT)
        candidates = []
        for phrase in phrases:  # what was said first, then Alexa's catalog value for it
            candidates = turn.recs.resolve(phrase, k=dialog.MAX_CANDIDATES)
            if candidates:
                break
        return dialog.offer_item(turn, phrases[0], quantity, candidates, phrases=phrases)


class ReorderIntentHandler(VoiceHandler):
    """"reorder my usual": the household's top buy-again product."""

    intent = "ReorderIntent"
    scope = PLACE

    def answer(self, turn, handler_input):
        candidates = turn.recs.buy_again(dialog.MAX_CANDIDATES)
        return dialog.offer_item(turn, "your usual", None, candidates, usual=True)


class SomethingElseIntentHandler(VoiceHandler):
    intent = "SomethingElseIntent"
    scope = PLACE

    def answer(self, turn, handler_input):
        if turn.state.get("step") not in (dialog.CONFIRM_ORDER, dialog.PIN, dialog.PROPOSE):
            return Say(speech.ASK_ITEM, speech.ASK_ITEM_REPROMPT)
        return dialog.next_candidate(turn)


class YesIntentHandler(VoiceHandler):
    intent = "AMAZON.YesIntent"

    def scope_for(self, turn):
        step = turn.state.get("step")
        if step == dialog.CONFIRM_CANCEL:
            return CANCEL
        return PLACE if step in (dialog.CONFIRM_ORDER, dialog.PIN, dialog.PROPOSE, approvals.APPROVE) else None

    def answer(self, turn, handler_input):
        step = turn.state.get("step")
        if step == dialog.CONFIRM_ORDER:
            asker = approvals.member(turn)
            if asker is not None and asker.asks:  # a child or guest: a request for an adult, never an order
                return approvals.ask_approval(turn, asker)
            return dialog.confirm_order(turn)
        if step == approvals.APPROVE:
            return approvals.decide(turn, True)
        if step == dialog.PROPOSE:
            return dialog.accept_proposal(turn)
        if step == dialog.CONFIRM_CANCEL:
            return dialog.confirm_cancel(turn)
        if step == dialog.PIN:
            return Say(speech.ASK_PIN, speech.ASK_PIN_REPROMPT)
        return Say(speech.NOTHING_TO_CONFIRM, speech.NOTHING_TO_CONFIRM_REPROMPT)


class NoIntentHandler(VoiceHandler):
    intent = "AMAZON.NoIntent"

    def answer(self, turn, handler_input):
        step = turn.state.get("step")
        if step == dialog.CONFIRM_ORDER:
            return dialog.next_candidate(turn)
        if step == approvals.APPROVE:
            return approvals.decide(turn, False)
        turn.clear_state()
        if step == dialog.PROPOSE:
            return Say(speech.NOT_THAT, speech.ASK_ITEM_REPROMPT)
        if step == dialog.CONFIRM_CANCEL:
            return Say(speech.CANCEL_KEPT)
        return Say(speech.NOTHING_ORDERED)


class PinIntentHandler(VoiceHandler):
    intent = "PinIntent"
    scope = PLACE

    def answer(self, turn, handler_input):
        return dialog.check_pin(turn, slot_value(handler_input, "pin"))
