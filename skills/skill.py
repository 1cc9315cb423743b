"""The Replenish custom skill, built with ask-sdk-core around a container from ``replenish.bootstrap``.

Both hostings run the same :class:`VoiceSkill`: the Flask endpoint (after verifying the request's signature)
and the Lambda entry point. ``invoke`` takes the request envelope as JSON text or a dict and returns the
response envelope as a dict, serialized by ask-sdk-core's DefaultSerializer.
"""
from __future__ import annotations

import json
import logging
from typing import Any

from ask_sdk_core.serialize import DefaultSerializer
from ask_sdk_core.skill_builder import SkillBuilder
from ask_sdk_model import RequestEnvelope

from replenish import jsonsafe

from . import speech
from .handlers import EXCEPTION_HANDLERS, REQUEST_HANDLERS
from .turn import CURRENT_TURN, LocalizationInterceptor, TurnInterceptor

log = logging.getLogger(__name__)

EMPTY_RESPONSE = {"version": "1.0", "response": {}}


class EnvelopeError(ValueError):
    """The body is JSON but not an Alexa request envelope the SDK can read."""


class UnreadableRequest(Exception):
    """An envelope with a request type the SDK cannot read (one Amazon added later, or malformed fields)."""

    def __init__(self, request_type: str, reason: str):
        super().__init__(f"{request_type}: {reason}")
        self.request_type = request_type


def build_skill(container):
    builder = SkillBuilder()
    builder.add_global_request_interceptor(LocalizationInterceptor(container))
    builder.add_global_request_interceptor(TurnInterceptor(container))
    for handler in REQUEST_HANDLERS:
        builder.add_request_handler(handler())
    for catcher in EXCEPTION_HANDLERS:
        builder.add_exception_handler(catcher())
    return builder.create()


class VoiceSkill:
    def __init__(self, container):
        self.container = container
        self.skill = build_skill(container)
        self.serializer = DefaultSerializer()

    def parse(self, body: str | bytes | dict) -> RequestEnvelope:
        if isinstance(body, dict):
            body = json.dumps(body)
        elif isinstance(body, bytes):
            body = body.decode("utf-8")
        try:
            raw = jsonsafe.loads(body)  # a bound on nesting before the SDK's own (recursive) reading
        except ValueError as exc:
            raise EnvelopeError(f"not an Alexa request envelope: {exc}") from None
        try:
            envelope = self.serializer.deserialize(payload=body, obj_type=RequestEnvelope)
        except Exception as exc:
            request = raw.get("request") if isinstance(raw, dict) else None
            kind = request.get("type") if isinstance(request, dict) else None
            if isinstance(kind, str) and kind and raw.get("version"):
                raise UnreadableRequest(kind[:100], str(exc)[:200]) from None
            raise EnvelopeError(f"not an Alexa request envelope: {exc}") from None
        if envelope is None or envelope.request is None:
            raise EnvelopeError("not an Alexa request envelope: no request")
        return envelope

    def invoke(self, body: str | bytes | dict | RequestEnvelope, context: Any = None) -> dict:
        """The response envelope. A request type the SDK cannot read gets a valid empty response (Amazon adds
        request types; a new one must not break the skill); a body that is no envelope raises EnvelopeError."""
        try:
            envelope = body if isinstance(body, RequestEnvelope) else self.parse(body)
        except UnreadableRequest as exc:
            log.warning("alexa request of a type we cannot read, answered empty: %s", exc)
            return dict(EMPTY_RESPONSE, response={})
        token = CURRENT_TURN.set(None)
        said_in = speech.keep_locale()
        try:
            response = self.skill.invoke(request_envelope=envelope, context=context)
            turn = CURRENT_TURN.get()
        finally:
            CURRENT_TURN.reset(token)
            speech.restore_locale(said_in)
        out = self.serializer.serialize(response)
        if not isinstance(out, dict):  # a response envelope always serialises to an object
            raise TypeError(f"the response envelope serialised to {type(out).__name__}")
        if envelope.session is None and turn is not None and turn.session \
                and (out.get("response") or {}).get("shouldEndSession") is False:
            # A one-shot request without a session (a routine) that asks a question opens a session: its dialog
            # state goes with the response, so the answer ("yes") arrives with it.
            out["sessionAttributes"] = dict(turn.session)
        return out
