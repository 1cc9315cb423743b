"""The Replenish custom skill, built with ask-sdk-core around a container from ``replenish.bootstrap``.

Both hostings run the same :class:`VoiceSkill`: the Flask endpoint (after verifying the request's signature)
and the Lambda entry point. ``invoke`` takes the request envelope as JSON text or a dict and returns the
response envelope as a dict, serialized by ask-sdk-core's DefaultSerializer.
"""
from __future__ import annotations

import json
from typing import Any

from ask_sdk_core.serialize import DefaultSerializer
from ask_sdk_core.skill_builder import SkillBuilder
from ask_sdk_model import RequestEnvelope

from replenish import jsonsafe

from .handlers import EXCEPTION_HANDLERS, REQUEST_HANDLERS
from .turn import TurnInterceptor


class EnvelopeError(ValueError):
    """The body is JSON but not an Alexa request envelope the SDK can read."""


def build_skill(container):
    builder = SkillBuilder()
    builder.add_global_request_interceptor(TurnInterceptor(container))
    for handler in REQUEST_HANDLERS:
        builder.add_request_handler(handler())
    for handler in EXCEPTION_HANDLERS:
        builder.add_exception_handler(handler())
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
            jsonsafe.loads(body)  # a bound on nesting before the SDK's own (recursive) reading
        except ValueError as exc:
            raise EnvelopeError(f"not an Alexa request envelope: {exc}") from None
        try:
            envelope = self.serializer.deserialize(payload=body, obj_type=RequestEnvelope)
        except Exception as exc:
            raise EnvelopeError(f"not an Alexa request envelope: {exc}") from None
        if envelope is None or envelope.request is None:
            raise EnvelopeError("not an Alexa request envelope: no request")
        return envelope

    def invoke(self, body: str | bytes | dict | RequestEnvelope, context: Any = None) -> dict:
        envelope = body if isinstance(body, RequestEnvelope) else self.parse(body)
        response = self.skill.invoke(request_envelope=envelope, context=context)
        return self.serializer.serialize(response)
