"""Members by voice: a child's yes is a request for an adult; an adult hears what needs approval and answers;
an adult's own cap holds by voice. In English, British English and German."""
from __future__ import annotations

from datetime import timedelta

import pytest

from replenish.members.model import AddMember
from skills import speech
from skills.linking import forget_written
from skills.skill import VoiceSkill
from tests.unit.test_voice_design import SpeakerConversation
from tests.voice_fakes import FakeRecommendations

SAM, ALEX = "amzn1.ask.person.SAM", "amzn1.ask.person.ALEX"


@pytest.fixture
def skill(container):
    container.recommendations = FakeRecommendations(container)
    container.deps.recommendations = container.recommendations
    forget_written()
    return VoiceSkill(container)


@pytest.fixture
def family(container):
    return {"sam": container.bus.handle(AddMember("h1", "Sam", "child", person_id=SAM)),
            "alex": container.bus.handle(AddMember("h1", "Alex", "adult", per_order_cap_cents=3000,
                                                   person_id=ALEX))}


def _orders(container):
    with container.uow() as uow:
        return [(o.id, [(line.sku, line.quantity) for line in o.lines]) for o in uow.orders.list("h1")]


def _pending(container):
    with container.uow() as uow:
        return uow.members.requests("h1", ["pending"])


def test_a_childs_yes_asks_an_adult_and_orders_nothing(skill, voice_token, container, family):
    sam = SpeakerConversation(skill.invoke, voice_token, SAM)
    sam.say("OrderItemIntent", {"item": "detergent"})
    sam.say("AMAZON.YesIntent")
    assert sam.text.startswith("Okay, I've asked an adult to approve Tide PODS Laundry Detergent")
    assert not sam.open
    assert _orders(container) == []
    [request] = _pending(container)
    assert request.member_id == family["sam"]["id"] and request.channel == "voice"


def test_an_adult_hears_what_needs_approval_and_says_yes(skill, voice_token, container, family):
    sam = SpeakerConversation(skill.invoke, voice_token, SAM)
    sam.say("OrderItemIntent", {"item": "detergent"})
    sam.say("AMAZON.YesIntent")
    alex = SpeakerConversation(skill.invoke, voice_token, ALEX)
    alex.say("ApprovalsIntent")
    assert alex.text == "Sam asked for Tide PODS Laundry Detergent, for $12.99. Should I approve it?"
    assert alex.open
    alex.say("AMAZON.YesIntent")
    assert alex.text == "Okay, I've approved Sam's request and ordered Tide PODS Laundry Detergent."
    [(order_id, lines)] = _orders(container)
    with container.uow() as uow:
        from replenish.members.handlers import order_people
        assert order_people(uow, "h1", [order_id])[order_id] == "Asked for by Sam, approved by Alex"


def test_no_declines_and_a_child_cannot_approve(skill, voice_token, container, family):
    sam = SpeakerConversation(skill.invoke, voice_token, SAM)
    sam.say("OrderItemIntent", {"item": "detergent"})
    sam.say("AMAZON.YesIntent")
    sam.say("ApprovalsIntent")
    assert sam.text == "Only an adult can approve requests."
    alex = SpeakerConversation(skill.invoke, voice_token, ALEX)
    alex.say("ApprovalsIntent")
    alex.say("AMAZON.NoIntent")
    assert alex.text == "Okay, I've declined Sam's request."
    assert _pending(container) == [] and _orders(container) == []
    alex.say("ApprovalsIntent")
    assert alex.text == "Nothing is waiting for approval right now."


def test_an_adults_own_cap_holds_by_voice(skill, voice_token, container, family):
    alex = SpeakerConversation(skill.invoke, voice_token, ALEX)
    alex.say("OrderItemIntent", {"item": "detergent", "quantity": "4"})  # 4 x $12.99 = $51.96, over $30
    alex.say("AMAZON.YesIntent")
    assert "over your $30.00 limit per order" in alex.text
    assert _orders(container) == []


@pytest.mark.parametrize("locale, asked, pending", [
    ("en-GB", "OK, I've asked an adult to approve", "Should I approve it?"),
    ("de-DE", "Alles klar, ich habe einen Erwachsenen gebeten,", "Soll ich das genehmigen?"),
])
def test_the_approval_speech_is_translated(locale, asked, pending):
    kept = speech.keep_locale()
    try:
        speech.use_locale(locale, "EUR" if locale == "de-DE" else "GBP")
        assert speech.approval_asked("Tide PODS").startswith(asked)
        said = speech.approval_pending("Sam", "Tide PODS", 1299, 2)
        assert said.endswith(pending)
        if locale == "de-DE":
            assert "2 weitere Anfragen warten" in said and "12,99" in said
    finally:
        speech.restore_locale(kept)


def test_a_request_past_its_day_is_not_offered(skill, voice_token, container, family, clock):
    sam = SpeakerConversation(skill.invoke, voice_token, SAM)
    sam.say("OrderItemIntent", {"item": "detergent"})
    sam.say("AMAZON.YesIntent")
    with container.uow() as uow:  # a day later (the voice token would have expired by then: moved the other way)
        [request] = uow.members.requests("h1", ["pending"])
        request.expires_at = clock() - timedelta(minutes=1)
        uow.members.save_request(request)
        uow.commit()
    alex = SpeakerConversation(skill.invoke, voice_token, ALEX)
    alex.say("ApprovalsIntent")
    assert alex.text == "Nothing is waiting for approval right now."
