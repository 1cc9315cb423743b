"""Opening and closing: LaunchRequest, SessionEndedRequest, Help, Stop, Cancel, NavigateHome, Fallback."""
from __future__ import annotations

import logging

from ask_sdk_core.utils import is_request_type

from .. import speech
from ..dialog import Say
from ..turn import quiet, turn_of
from .base import VoiceHandler

log = logging.getLogger(__name__)


class LaunchRequestHandler(VoiceHandler):
    request_type = "LaunchRequest"

    def answer(self, turn, handler_input):
        turn.clear_state()
        return Say(speech.WELCOME, speech.WELCOME_REPROMPT)


class SessionEndedRequestHandler(VoiceHandler):
    request_type = "SessionEndedRequest"
    needs_link = False

    def handle(self, handler_input):
        request = handler_input.request_envelope.request
        error = getattr(request, "error", None)
        if error is not None:
            log.warning("Alexa ended the session with an error: %s %s", getattr(error, "object_type", ""),
                        getattr(error, "message", ""))
        turn_of(handler_input).clear_state()
        return handler_input.response_builder.response  # Alexa ignores any speech here


class HelpIntentHandler(VoiceHandler):
    intent = "AMAZON.HelpIntent"
    needs_link = False

    def answer(self, turn, handler_input):
        return Say(speech.HELP, speech.HELP_REPROMPT, card=(speech.SKILL_NAME, speech.HELP_CARD))


class StopIntentHandler(VoiceHandler):
    intent = "AMAZON.StopIntent"
    needs_link = False

    def answer(self, turn, handler_input):
        turn.clear_state()
        return Say(speech.GOODBYE)


class CancelIntentHandler(VoiceHandler):
    """"Cancel" on its own stops the conversation; cancelling an order is CancelOrderIntent."""

    intent = "AMAZON.CancelIntent"
    needs_link = False

    def answer(self, turn, handler_input):
        pending = turn.state.get("step")
        turn.clear_state()
        return Say(speech.NOTHING_ORDERED if pending else speech.GOODBYE)


class NavigateHomeIntentHandler(StopIntentHandler):
    """Leaving the skill for the home screen ends the conversation like "stop"."""

    intent = "AMAZON.NavigateHomeIntent"


class FallbackIntentHandler(VoiceHandler):
    intent = "AMAZON.FallbackIntent"
    needs_link = False

    def answer(self, turn, handler_input):
        # Keep any offer open: a misheard answer should not throw away the household's choice.
        step = turn.state.get("step")
        if step in speech.FALLBACK_DURING:
            return Say(*speech.FALLBACK_DURING[step])
        return Say(speech.FALLBACK, speech.FALLBACK_REPROMPT)


class UnhandledRequestHandler(VoiceHandler):
    """Anything else Alexa sends: an intent not in the model gets the fallback; a request type we don't use
    (one Amazon adds later, an APL event, CanFulfillIntentRequest...) an empty response."""

    needs_link = False

    def can_handle(self, handler_input):
        return not is_request_type("SessionEndedRequest")(handler_input)

    def handle(self, handler_input):
        if not is_request_type("IntentRequest")(handler_input):
            log.info("%s answered empty", getattr(handler_input.request_envelope.request, "object_type", "?"))
            return quiet(handler_input)
        return super().handle(handler_input)

    def answer(self, turn, handler_input):
        return Say(speech.FALLBACK, speech.FALLBACK_REPROMPT)
