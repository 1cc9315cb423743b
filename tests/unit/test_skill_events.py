"""Requests without a session: skill events, exception reports, AudioPlayer/Messaging, one-shot intents, and
request types the SDK cannot read."""
from __future__ import annotations

import json
import logging
from datetime import UTC, timedelta

import pytest

from replenish.domain.model import hash_secret
from skills import linking, speech
from skills.linking import forget_written
from skills.skill import VoiceSkill
from tests.alexa_certs import USER_ID, envelope, intent_request
from tests.voice_fakes import FakeRecommendations, issue_voice_token


@pytest.fixture
def skill(container):
    forget_written()
    container.recommendations = FakeRecommendations(container)
    return VoiceSkill(container)


def out_of_session(request: dict, access_token: str | None = None, **kwargs) -> dict:
    env = envelope(request, access_token=access_token, **kwargs)
    del env["session"]
    return env


def event(kind: str, body: dict | None = None, access_token: str | None = None) -> dict:
    request = {"type": f"AlexaSkillEvent.{kind}", "eventCreationTime": "2026-03-10T14:59:00Z",
               "eventPublishingTime": "2026-03-10T14:59:30Z"}
    if body is not None:
        request["body"] = body
    return out_of_session(request, access_token)


def assert_quiet(response: dict) -> None:
    assert response["version"] == "1.0"
    body = response["response"]
    assert "outputSpeech" not in body and "reprompt" not in body and "card" not in body


def token_live(container, access_token: str) -> bool:
    with container.uow() as uow:
        return uow.oauth.household_for_access_token(hash_secret(access_token), container.clock()) is not None


def test_account_linked_records_the_link(skill, container):
    access = issue_voice_token(container)["access_token"]
    response = skill.invoke(event("SkillAccountLinked", {"accessToken": access}))
    assert_quiet(response)
    assert linking.link_of(container.redis, USER_ID)["household"] == "h1"
    assert linking.alexa_user_for(container.redis)("h1") == USER_ID


def test_account_linked_with_a_token_we_did_not_issue_records_nothing(skill, container):
    assert_quiet(skill.invoke(event("SkillAccountLinked", {"accessToken": "rpl_forged"})))
    assert linking.link_of(container.redis, USER_ID) is None


def test_skill_disabled_ends_the_link_and_revokes_the_tokens(skill, container):
    access = issue_voice_token(container)["access_token"]
    skill.invoke(event("SkillAccountLinked", {"accessToken": access}))
    skill.invoke(event("SkillPermissionAccepted", {"acceptedPermissions": [
        {"scope": linking.NOTIFICATIONS_PERMISSION}]}))
    assert token_live(container, access)
    response = skill.invoke(event("SkillDisabled", {"userInformationPersistenceStatus": "NOT_PERSISTED"}))
    assert_quiet(response)
    assert not token_live(container, access)
    assert linking.link_of(container.redis, USER_ID) is None
    assert linking.alexa_user_for(container.redis)("h1") is None
    assert not linking.notifications_allowed(container.redis, "h1")


def test_skill_disabled_knows_the_link_from_an_ordinary_turn(skill, container):
    access = issue_voice_token(container)["access_token"]
    skill.invoke(intent_request("AMAZON.HelpIntent", access_token=access))  # a turn remembers who is linked
    skill.invoke(event("SkillDisabled"))
    assert not token_live(container, access)


def test_skill_disabled_by_a_stranger_changes_nothing(skill, container):
    access = issue_voice_token(container)["access_token"]
    assert_quiet(skill.invoke(event("SkillDisabled")))
    assert token_live(container, access)


def test_skill_enabled_is_answered_empty(skill):
    assert_quiet(skill.invoke(event("SkillEnabled")))


def test_permission_events_record_the_consent_the_notifier_needs(skill, container):
    access = issue_voice_token(container)["access_token"]
    skill.invoke(event("SkillAccountLinked", {"accessToken": access}))
    assert not linking.notifications_allowed(container.redis, "h1")
    assert_quiet(skill.invoke(event("SkillPermissionAccepted", {"acceptedPermissions": [
        {"scope": linking.NOTIFICATIONS_PERMISSION}]})))
    assert linking.notifications_allowed(container.redis, "h1")
    assert_quiet(skill.invoke(event("SkillPermissionChanged", {"acceptedPermissions": []})))
    assert not linking.notifications_allowed(container.redis, "h1")


def test_proactive_subscription_changes_are_recorded(skill, container):
    access = issue_voice_token(container)["access_token"]
    skill.invoke(event("SkillAccountLinked", {"accessToken": access}))
    skill.invoke(event("SkillPermissionAccepted", {"acceptedPermissions": [
        {"scope": linking.NOTIFICATIONS_PERMISSION}]}))
    assert_quiet(skill.invoke(event("ProactiveSubscriptionChanged", {"subscriptions": [
        {"eventName": "AMAZON.OrderStatus.Updated"}]})))
    assert linking.subscriptions_of(container.redis, USER_ID) == ["AMAZON.OrderStatus.Updated"]
    assert linking.notifications_allowed(container.redis, "h1")
    skill.invoke(event("ProactiveSubscriptionChanged", {"subscriptions": []}))
    assert not linking.notifications_allowed(container.redis, "h1")


def test_exception_encountered_is_logged_and_answered_empty(skill, caplog):
    request = {"type": "System.ExceptionEncountered",
               "error": {"type": "INVALID_RESPONSE", "message": "Invalid SSML"},
               "cause": {"requestId": "amzn1.echo-api.request.previous"}}
    with caplog.at_level(logging.WARNING):
        response = skill.invoke(out_of_session(request))
    assert_quiet(response)
    assert "Invalid SSML" in caplog.text and "amzn1.echo-api.request.previous" in caplog.text


@pytest.mark.parametrize("request_", [
    {"type": "AudioPlayer.PlaybackStarted", "token": "t", "offsetInMilliseconds": 0},
    {"type": "AudioPlayer.PlaybackFailed", "token": "t",
     "error": {"type": "MEDIA_ERROR_UNKNOWN", "message": "x"}},
    {"type": "PlaybackController.PlayCommandIssued"},
    {"type": "Messaging.MessageReceived", "message": {"note": "hello"}},
])
def test_audio_and_messaging_requests_are_answered_empty(skill, voice_token, request_):
    assert_quiet(skill.invoke(out_of_session(request_, voice_token)))


@pytest.mark.parametrize("kind", ["Alexa.SomethingAmazonAddsLater", "Foo"])
def test_a_request_type_the_sdk_cannot_read_is_answered_empty(skill, kind, caplog):
    env = out_of_session({"type": kind, "whatever": {"new": True}})
    with caplog.at_level(logging.WARNING):
        response = skill.invoke(json.dumps(env))
    assert response == {"version": "1.0", "response": {}}
    assert kind in caplog.text


def test_one_shot_order_without_a_session_asks_and_opens_one(skill, container, voice_token):
    env = out_of_session(intent_request("OrderItemIntent", {"item": "detergent"})["request"], voice_token)
    response = skill.invoke(env)
    assert response["response"]["shouldEndSession"] is False
    assert "Should I order it?" in response["response"]["outputSpeech"]["ssml"]
    assert response["response"]["reprompt"]
    # the offer goes with the response, so the "yes" that follows (in the new session) can place it
    state = response["sessionAttributes"]["state"]
    yes = intent_request("AMAZON.YesIntent", access_token=voice_token, new_session=True,
                         attributes=response["sessionAttributes"])
    answer = skill.invoke(yes)
    assert state["items"][0]["sku"] == "TIDE-PODS-42"
    assert "I've ordered" in answer["response"]["outputSpeech"]["ssml"]
    with container.uow() as uow:
        assert [o.lines[0].sku for o in uow.orders.list("h1")] == ["TIDE-PODS-42"]


def test_one_shot_request_unlinked_gets_the_link_card(skill):
    env = out_of_session(intent_request("OrderItemIntent", {"item": "detergent"})["request"])
    response = skill.invoke(env)
    assert response["response"]["card"] == {"type": "LinkAccount"}
    assert speech.ERROR not in json.dumps(response)


def test_an_error_during_a_skill_event_is_answered_without_speech(skill, container, monkeypatch):
    def broken(*_a, **_k):
        raise RuntimeError("redis is down")
    monkeypatch.setattr(linking, "record_consent", broken)
    response = skill.invoke(event("SkillPermissionAccepted", {"acceptedPermissions": []}))
    assert_quiet(response)


def test_skill_events_may_arrive_an_hour_late():
    from datetime import datetime

    from skills.verify import RequestVerifier, VerificationError
    from tests.alexa_certs import make_pki, timestamp
    pki = make_pki()
    now = datetime.now(UTC)
    verifier = RequestVerifier(store=pki.store, skill_ids=None, clock=lambda: now, fetch_cert=pki.fetch)

    def post(kind, late):
        env = out_of_session({"type": kind})
        env["request"]["timestamp"] = timestamp(now - late)
        body = json.dumps(env).encode()
        return verifier.verify(pki.headers(body), body)

    assert post("AlexaSkillEvent.SkillAccountLinked", timedelta(minutes=50))
    with pytest.raises(VerificationError):
        post("AlexaSkillEvent.SkillAccountLinked", timedelta(minutes=61))
    with pytest.raises(VerificationError):
        post("IntentRequest", timedelta(minutes=5))
