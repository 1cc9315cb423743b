"""The intents the skill's code answers and the intents the interaction model declares are the same set."""
from __future__ import annotations

import json
from pathlib import Path

from ask_sdk_core.handler_input import HandlerInput

from skills.handlers import REQUEST_HANDLERS, handled_intents
from skills.skill import VoiceSkill
from tests.alexa_certs import intent_request

MODEL_PATH = Path(__file__).resolve().parents[2] / "infra/skill-package/interactionModels/custom/en-US.json"


def model_intents() -> set[str]:
    model = json.loads(MODEL_PATH.read_text(encoding="utf-8"))
    return {i["name"] for i in model["interactionModel"]["languageModel"]["intents"]}


def test_every_model_intent_has_a_handler():
    missing = model_intents() - handled_intents()
    assert not missing, f"intents in en-US.json with no handler in skills/handlers: {sorted(missing)}"


def test_every_handled_intent_is_in_the_model():
    extra = handled_intents() - model_intents()
    assert not extra, f"intents handled in code but missing from en-US.json: {sorted(extra)}"


def test_each_model_intent_reaches_its_own_handler(container):
    """Not only declared: the dispatcher really routes each model intent to the class that names it."""
    voice = VoiceSkill(container)
    mapper = voice.skill.request_dispatcher.request_mappers[0]
    by_intent = {h.intent: h for h in REQUEST_HANDLERS if h.intent}
    for name in model_intents():
        envelope = voice.parse(intent_request(name))
        chain = mapper.get_request_handler_chain(HandlerInput(request_envelope=envelope))
        assert type(chain.request_handler) is by_intent[name], name
