"""The intents the skill's code answers and the intents the interaction models declare are the same set, in
every locale the skill package is built for."""
from __future__ import annotations

import pytest
from ask_sdk_core.handler_input import HandlerInput

from skills.handlers import REQUEST_HANDLERS, handled_intents
from skills.skill import VoiceSkill
from skills.skill_package import build
from tests.alexa_certs import intent_request

LOCALES = build.available_locales()


def model_intents(locale: str) -> set[str]:
    models, _ = build.interaction_models([], "home replenish", [locale])
    return {i["name"] for i in models[locale]["interactionModel"]["languageModel"]["intents"]}


def test_the_package_is_built_for_three_locales():
    assert LOCALES == ["de-DE", "en-GB", "en-US"]


@pytest.mark.parametrize("locale", LOCALES)
def test_every_model_intent_has_a_handler(locale):
    missing = model_intents(locale) - handled_intents()
    assert not missing, f"intents in the {locale} model with no handler in skills/handlers: {sorted(missing)}"


@pytest.mark.parametrize("locale", LOCALES)
def test_every_handled_intent_is_in_the_model(locale):
    extra = handled_intents() - model_intents(locale)
    assert not extra, f"intents handled in code but missing from the {locale} model: {sorted(extra)}"


def test_each_model_intent_reaches_its_own_handler(container):
    """Not only declared: the dispatcher really routes each model intent to the class that names it."""
    voice = VoiceSkill(container)
    mapper = voice.skill.request_dispatcher.request_mappers[0]
    by_intent = {h.intent: h for h in REQUEST_HANDLERS if h.intent}
    for name in model_intents("en-US"):
        envelope = voice.parse(intent_request(name))
        chain = mapper.get_request_handler_chain(HandlerInput(request_envelope=envelope))
        assert type(chain.request_handler) is by_intent[name], name
