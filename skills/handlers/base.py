"""The shape every handler shares: it names the request or intent it answers, needs a linked account unless it
says otherwise, and names the scope the household must have allowed (``orders:place``, ``orders:cancel``,
``orders:read``) when it does something with the household's orders."""
from __future__ import annotations

from ask_sdk_core.dispatch_components import AbstractRequestHandler
from ask_sdk_core.utils import is_intent_name, is_request_type

from replenish.oauth.scopes import PLACE

from .. import speech
from ..dialog import Say
from ..turn import Turn, link_account, reply, turn_of


class VoiceHandler(AbstractRequestHandler):
    """Subclasses set ``intent`` (an intent name) or ``request_type``, and implement ``answer(turn, handler_input)``."""

    intent: str | None = None
    request_type: str | None = None
    needs_link = True
    scope: str | None = None  # the OAuth scope this handler needs, if any

    def can_handle(self, handler_input):
        if self.intent is not None:
            return is_intent_name(self.intent)(handler_input)
        return self.request_type is not None and is_request_type(self.request_type)(handler_input)

    def handle(self, handler_input):
        turn = turn_of(handler_input)
        if self.needs_link and not turn.linked:
            turn.clear_state()
            return link_account(handler_input)
        scope = self.scope_for(turn) if self.needs_link else None
        if scope and not turn.may(scope):
            turn.clear_state()
            return link_account(handler_input, speech.not_allowed(scope))
        said = self.refuse_purchase(turn, scope) or self.answer(turn, handler_input)
        return reply(handler_input, said.text, said.reprompt, card=said.card)

    @staticmethod
    def refuse_purchase(turn: Turn, scope: str | None) -> Say | None:
        """Before any offer: a voice that may not buy hears so up front, not after saying yes."""
        if scope != PLACE:
            return None
        if turn.unrecognised:
            turn.clear_state()
            return Say(speech.VOICE_NOT_RECOGNISED)
        if turn.pin_locked:
            turn.clear_state()
            return Say(speech.pin_locked_up_front(turn.lockout))
        return None

    def scope_for(self, turn: Turn) -> str | None:
        return self.scope

    def answer(self, turn: Turn, handler_input) -> Say:
        raise NotImplementedError


def slot_value(handler_input, name: str) -> str | None:
    intent = getattr(handler_input.request_envelope.request, "intent", None)
    slot = (intent.slots or {}).get(name) if intent is not None else None
    value = getattr(slot, "value", None)
    return value.strip() if isinstance(value, str) and value.strip() else None


def slot_phrases(handler_input, name: str) -> list[str]:
    """What was said for a slot, then the catalog values Alexa resolved it to ("laundry soap" -> "detergent")."""
    said = slot_value(handler_input, name)
    if said is None:
        return []
    phrases = [said]
    intent = handler_input.request_envelope.request.intent
    resolutions = getattr(intent.slots[name], "resolutions", None)
    for authority in getattr(resolutions, "resolutions_per_authority", None) or []:
        code = getattr(getattr(authority.status, "code", None), "value", None)
        if code != "ER_SUCCESS_MATCH":
            continue
        for value in authority.values or []:
            name_ = getattr(value.value, "name", None)
            if name_ and name_ not in phrases:
                phrases.append(name_)
            # the value's id is the same in every locale ("paper_towels"): a German "küchenrolle" still finds
            # the catalog's English words
            ident = getattr(value.value, "id", None)
            if ident and ident.replace("_", " ") not in phrases:
                phrases.append(ident.replace("_", " "))
    return phrases
