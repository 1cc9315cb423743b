"""The weekly digest by voice (DigestIntent: "what did we order this week", "give me my weekly summary").

Alexa's proactive notifications carry order status only, so the Sunday digest cannot be pushed as speech; asked
for, the skill says the same digest (``replenish.digest.handlers.weekly_digest``, the one computation), briefly,
with the whole of it on a card. A question changes nothing: what runs low is said, not put on the list."""
from __future__ import annotations

from replenish.digest.handlers import weekly_digest
from replenish.oauth.scopes import READ

from .. import speech
from ..dialog import Say, aisle_name
from .base import VoiceHandler


def _names(products, skus, titles) -> list[str]:
    """What a list calls each thing ("detergent", "toilet paper"; a short name without an aisle), once each."""
    said: list[str] = []
    for sku, title in zip(skus, titles, strict=True):
        name = aisle_name(products[sku]) if sku in products else speech.short_name(title)
        if name not in said:
            said.append(name)
    return said


class DigestIntentHandler(VoiceHandler):
    intent = "DigestIntent"
    scope = READ  # reading, like where's my stuff

    def answer(self, turn, handler_input):
        turn.clear_state()
        week = weekly_digest(turn.container.deps, turn.household_id, turn.now(), put_on_list=False,
                             recommendations=turn.container.recommendations)
        numbers = (week.spent_cents, week.cap_cents, week.saved)
        with turn.container.uow() as uow:  # the products of both lists, read once
            products = uow.products.get_many([*week.skus, *week.running_low_skus])
        said = speech.digest(week.orders, week.total_cents, _names(products, week.skus, week.things),
                             _names(products, week.running_low_skus, week.running_low), *numbers)
        card = speech.digest_card(week.orders, week.total_cents, list(week.things), list(week.running_low), *numbers)
        return Say(said, card=card)
