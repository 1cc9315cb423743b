"""The catch-all: whatever went wrong, the household hears something useful and nothing half-done."""
from __future__ import annotations

import logging

from ask_sdk_core.dispatch_components import AbstractExceptionHandler

from replenish.services.ports import TransientError

from .. import speech
from ..turn import TURN, quiet, reply
from .events import speech_forbidden

log = logging.getLogger(__name__)


class CatchAllExceptionHandler(AbstractExceptionHandler):
    def can_handle(self, handler_input, exception):
        return True

    def handle(self, handler_input, exception):
        turn = handler_input.attributes_manager.request_attributes.get(TURN)
        request = handler_input.request_envelope.request
        if turn is not None:
            turn.clear_state()
        if speech_forbidden(handler_input) or getattr(request, "object_type", "") == "SessionEndedRequest":
            log.exception("voice request %s (%s) failed", getattr(request, "request_id", ""),
                          getattr(request, "object_type", ""), exc_info=exception)
            return quiet(handler_input)  # Alexa allows no speech here; it may deliver a skill event again
        if isinstance(exception, TransientError):
            log.warning("voice request %s: store unavailable: %s", getattr(request, "request_id", ""), exception)
            return reply(handler_input, speech.STORE_UNAVAILABLE)
        log.exception("voice request %s (%s) failed", getattr(request, "request_id", ""),
                      getattr(request, "object_type", ""), exc_info=exception)
        return reply(handler_input, speech.ERROR, speech.ERROR_REPROMPT)
