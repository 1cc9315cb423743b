"""Cancelling and tracking by voice: CancelOrder, OrderStatus, RunningLow."""
from __future__ import annotations

from replenish.oauth.scopes import CANCEL, PLACE, READ

from .. import dialog
from .base import VoiceHandler, slot_phrases


class CancelOrderIntentHandler(VoiceHandler):
    """"cancel my order" / "cancel the detergent": find the order, then ask before cancelling it."""

    intent = "CancelOrderIntent"
    scope = CANCEL

    def answer(self, turn, handler_input):
        return dialog.ask_cancel(turn, slot_phrases(handler_input, "item"))


class OrderStatusIntentHandler(VoiceHandler):
    """"where's my stuff" / "when does my coffee arrive"."""

    intent = "OrderStatusIntent"
    scope = READ

    def answer(self, turn, handler_input):
        turn.clear_state()
        return dialog.order_status(turn, slot_phrases(handler_input, "item"))


class RunningLowIntentHandler(VoiceHandler):
    intent = "RunningLowIntent"
    scope = PLACE  # it ends with an offer to order

    def answer(self, turn, handler_input):
        return dialog.running_low(turn)
