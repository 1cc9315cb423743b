"""Recorded public Alexa request envelopes of every request type (tests/fixtures/alexa, sources in its README),
posted to /alexa signed by the test CA with verification ON: every answer is well-formed.

Each envelope is adapted only where a recording cannot be replayed as is: our skill id (the verifier refuses any
other), a current timestamp (it refuses old ones), and, where the recording carried an account-linking token,
one of ours for the test household (theirs names nobody here)."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from replenish.web import create_app
from skills import speech
from skills.linking import forget_written
from tests.alexa_certs import SKILL_ID, envelope_bytes, make_pki, timestamp
from tests.voice_fakes import FakeRecommendations

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "alexa"
# Request types whose answers Alexa refuses speech in (or ignores it: SessionEndedRequest).
NO_SPEECH = ("AlexaSkillEvent.", "AlexaHouseholdListEvent.", "System.ExceptionEncountered", "AudioPlayer.",
             "PlaybackController.", "Messaging.", "SessionEndedRequest")
REQUIRED_TYPES = {
    "LaunchRequest", "IntentRequest", "SessionEndedRequest", "CanFulfillIntentRequest",
    "AlexaSkillEvent.SkillEnabled", "AlexaSkillEvent.SkillDisabled", "AlexaSkillEvent.SkillAccountLinked",
    "AlexaSkillEvent.SkillPermissionAccepted", "AlexaSkillEvent.SkillPermissionChanged",
    "AlexaSkillEvent.ProactiveSubscriptionChanged", "System.ExceptionEncountered",
    "AudioPlayer.PlaybackStarted", "AudioPlayer.PlaybackFinished", "AudioPlayer.PlaybackStopped",
    "AudioPlayer.PlaybackNearlyFinished", "AudioPlayer.PlaybackFailed", "PlaybackController.PlayCommandIssued",
    "PlaybackController.NextCommandIssued", "Messaging.MessageReceived", "Connections.Response",
    "Display.ElementSelected", "GameEngine.InputHandlerEvent", "AlexaHouseholdListEvent.ItemsCreated",
}


def fixtures() -> list[Path]:
    return sorted(FIXTURES.glob("*.json"))


def adapt(env: dict, access_token: str) -> dict:
    env = json.loads(json.dumps(env))
    system = env.setdefault("context", {}).setdefault("System", {})
    system.setdefault("application", {})["applicationId"] = SKILL_ID
    if isinstance(env.get("session"), dict):
        env["session"].setdefault("application", {})["applicationId"] = SKILL_ID
    env["request"]["timestamp"] = timestamp()
    for user in (system.get("user"), (env.get("session") or {}).get("user")):
        if isinstance(user, dict) and user.get("accessToken"):
            user["accessToken"] = access_token
    body = env["request"].get("body")
    if isinstance(body, dict) and body.get("accessToken"):
        body["accessToken"] = access_token
    return env


@pytest.fixture(scope="module")
def pki():
    return make_pki()


@pytest.fixture
def client(container, pki):
    forget_written()
    container.alexa_cert_store, container.alexa_fetch_cert = pki.store, pki.fetch
    container.settings.alexa_skill_ids = (SKILL_ID,)
    container.recommendations = FakeRecommendations(container)
    return create_app(container).test_client()


def test_the_fixtures_cover_every_request_type():
    found = {json.loads(path.read_text())["request"]["type"] for path in fixtures()}
    assert found >= REQUIRED_TYPES, sorted(REQUIRED_TYPES - found)
    assert any("session" not in json.loads(p.read_text()) and json.loads(p.read_text())["request"]["type"]
               == "IntentRequest" for p in fixtures())  # a one-shot intent without a session
    assert found - REQUIRED_TYPES - {"UnknownRequest"} == set()  # and one type the SDK cannot read


def test_every_fixture_is_listed_with_its_source():
    readme = (FIXTURES / "README.md").read_text()
    for path in fixtures():
        assert path.name in readme, path.name


def ssml_ok(ssml: str) -> bool:
    root = ElementTree.fromstring(ssml)  # raises on anything not well-formed
    return root.tag == "speak"


@pytest.mark.parametrize("path", fixtures(), ids=lambda p: p.stem)
def test_each_recorded_envelope_gets_a_well_formed_answer(client, pki, voice_token, path):
    recorded = json.loads(path.read_text())
    kind = recorded["request"]["type"]
    body = envelope_bytes(adapt(recorded, voice_token))
    response = client.post("/alexa", data=body, headers=pki.headers(body))
    assert response.status_code == 200, response.get_data(as_text=True)
    answer = response.get_json()
    assert answer["version"] == "1.0"
    out = answer["response"]
    speeches = [out.get("outputSpeech"), (out.get("reprompt") or {}).get("outputSpeech")]
    for said in filter(None, speeches):
        assert said["type"] == "SSML" and ssml_ok(said["ssml"]), said
        assert speech.ERROR not in said["ssml"]
    if kind.startswith(NO_SPEECH):
        assert "outputSpeech" not in out and "reprompt" not in out and "card" not in out, out
    if out.get("shouldEndSession") is False:
        assert out.get("reprompt"), out
    if out.get("outputSpeech") and speech.asks(out["outputSpeech"]["ssml"]):
        assert out.get("shouldEndSession") is False and out.get("reprompt")


def test_an_unverified_recorded_envelope_is_still_refused(client, voice_token):
    recorded = json.loads((FIXTURES / "jovo__AlexaSkillEvent.SkillDisabled.json").read_text())
    body = envelope_bytes(adapt(recorded, voice_token))
    assert client.post("/alexa", data=body, headers={"Content-Type": "application/json"}).status_code == 400
    unknown = json.loads((FIXTURES / "alexa-app__unknown_type_request.json").read_text())
    body = envelope_bytes(adapt(unknown, voice_token))
    assert client.post("/alexa", data=body, headers={"Content-Type": "application/json"}).status_code == 400
