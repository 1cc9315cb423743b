"""POST /alexa over HTTP with verification ON: signed (test CA) envelopes, multi-turn conversations, and every
way a request can fail verification answered with a 400.

The verifier runs on real time (Alexa's timestamps are real); the domain runs on the test's manual clock.
"""
from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime, timedelta

import pytest
import requests
from werkzeug.serving import make_server

from catalog.model import Product
from replenish.domain import commands
from replenish.domain.history import Purchase
from replenish.web import create_app
from skills import speech
from skills.linking import alexa_user_key, forget_written
from skills.recommending import HISTORIES
from tests.alexa_certs import (
    CERT_URL,
    SKILL_ID,
    USER_ID,
    envelope_bytes,
    intent_request,
    launch_request,
    make_ca,
    make_leaf,
    make_pki,
    sign,
    signed_headers,
    timestamp,
)
from tests.voice_fakes import Conversation, FakeRecommendations, issue_voice_token


@pytest.fixture(scope="module")
def pki():
    return make_pki()


@pytest.fixture
def app(container, pki):
    forget_written()
    HISTORIES.clear()
    container.alexa_cert_store, container.alexa_fetch_cert = pki.store, pki.fetch
    container.settings.alexa_skill_ids = (SKILL_ID,)
    container.recommendations = FakeRecommendations(container)
    return create_app(container)


@pytest.fixture
def post(client, pki):
    def send(env: dict) -> dict:
        body = envelope_bytes(env)
        response = client.post("/alexa", data=body, headers=pki.headers(body))
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.mimetype == "application/json"
        return response.get_json()
    return send


@pytest.fixture
def talk(post, voice_token):
    return Conversation(post, voice_token)


def orders(container):
    with container.uow() as uow:
        return [(o.lines[0].sku, o.lines[0].quantity, o.channel, o.status) for o in uow.orders.list("h1")]


# -- conversations ------------------------------------------------------------------------------------------

def test_order_then_yes(talk, container):
    talk.launch()
    assert talk.text == speech.WELCOME and talk.open
    talk.say("OrderItemIntent", {"item": "detergent"})
    assert talk.text == ("I found Tide PODS Laundry Detergent, 42 Count, for $12.99. It's the best match for "
                         "detergent. Should I order it?")
    assert orders(container) == []  # nothing is bought without a yes
    talk.say("AMAZON.YesIntent")
    assert talk.text == ("Okay, I've ordered Tide PODS Laundry Detergent for $12.99. "
                         "It should arrive by Thursday, March 12.")
    assert not talk.open and "Tide PODS Laundry Detergent, 42 Count" in talk.card["title"]
    assert orders(container) == [("TIDE-PODS-42", 1, "voice", "pending")]
    assert container.redis.get(alexa_user_key("h1")) == USER_ID.encode()


def test_order_something_else_yes(talk, container):
    talk.say("OrderItemIntent", {"item": "detergent"})
    talk.say("SomethingElseIntent")
    assert talk.text.startswith("Next, there's Tide PODS Laundry Detergent, 81 Count, for $22.99.")
    talk.say("AMAZON.YesIntent")
    assert orders(container) == [("TIDE-PODS-81", 1, "voice", "pending")]


def test_order_then_no(talk, container):
    talk.say("OrderItemIntent", {"item": "toilet paper"})
    assert "Charmin" in talk.text
    talk.say("AMAZON.NoIntent")
    assert talk.text == speech.NO_OTHER_CANDIDATES and talk.open and talk.reprompt
    assert orders(container) == []


def test_quantity(talk, container):
    talk.say("OrderItemIntent", {"item": "toilet paper", "quantity": "3"})
    assert talk.text == "I found 3 packs of Charmin Ultra Soft Toilet Paper, for $56.97 in all. Should I order them?"
    assert "$18.99 each, $56.97 in all" in talk.card["content"]
    talk.say("AMAZON.YesIntent")
    assert "for $56.97" in talk.text
    assert orders(container) == [("CHARMIN-12", 3, "voice", "pending")]


def test_pin_right(talk, container):
    container.bus.handle(commands.SetVoicePin("h1", "4321"))
    talk.say("OrderItemIntent", {"item": "toilet paper"})
    talk.say("AMAZON.YesIntent")
    assert talk.text == speech.ASK_PIN and orders(container) == []
    talk.say("PinIntent", {"pin": "4321"})
    assert talk.text.startswith("Okay, I've ordered Charmin")
    assert orders(container) == [("CHARMIN-12", 1, "voice", "pending")]


def test_pin_wrong_then_lockout(talk, container, clock):
    container.bus.handle(commands.SetVoicePin("h1", "4321"))
    talk.say("OrderItemIntent", {"item": "toilet paper"})
    talk.say("AMAZON.YesIntent")
    talk.say("PinIntent", {"pin": "1111"})
    assert talk.text == speech.pin_wrong() and talk.open
    talk.say("PinIntent", {"pin": "2222"})
    assert talk.text == speech.pin_wrong()
    talk.say("PinIntent", {"pin": "3333"})
    assert "locked for 15 minutes" in talk.text and "Nothing was ordered" in talk.text and not talk.open
    # Still locked in a new conversation: said up front, before any offer.
    talk.say("OrderItemIntent", {"item": "toilet paper"})
    assert talk.text == speech.pin_locked_up_front(15) and not talk.open
    assert "Charmin" not in talk.text
    assert orders(container) == []
    clock.advance(minutes=16)
    talk.say("OrderItemIntent", {"item": "toilet paper"})
    talk.say("AMAZON.YesIntent")
    talk.say("PinIntent", {"pin": "4321"})
    assert orders(container) == [("CHARMIN-12", 1, "voice", "pending")]


def test_limit_explained(talk, container):
    talk.say("OrderItemIntent", {"item": "television"})
    assert "$999.00" in talk.text
    talk.say("AMAZON.YesIntent")
    assert talk.text == "That's $999.00, over your $200.00 limit per order, so I didn't order it."
    assert speech.LIMITS_CARD in talk.card["content"] and not talk.open
    assert orders(container) == []


def test_order_already_in_flight(talk, container):
    talk.say("OrderItemIntent", {"item": "detergent"})
    talk.say("AMAZON.YesIntent")
    talk.say("OrderItemIntent", {"item": "detergent"})
    talk.say("AMAZON.YesIntent")
    assert talk.text == "You already have an order of Tide PODS Laundry Detergent, so I didn't place another."
    assert len(orders(container)) == 1


def test_cancel(talk, container, clock):
    talk.say("OrderItemIntent", {"item": "detergent"})
    talk.say("AMAZON.YesIntent")
    clock.advance(minutes=2)
    talk.say("OrderItemIntent", {"item": "toilet paper"})
    talk.say("AMAZON.YesIntent")
    talk.say("CancelOrderIntent", {"item": "detergent"})
    assert talk.text == ("You placed it today at 11 AM. Should I cancel your order of Tide PODS Laundry Detergent "
                         "for $12.99?")
    talk.say("AMAZON.YesIntent")
    assert talk.text == "Okay, I've cancelled your order of Tide PODS Laundry Detergent."
    assert sorted(orders(container)) == [("CHARMIN-12", 1, "voice", "pending"),
                                         ("TIDE-PODS-42", 1, "voice", "cancelled")]
    talk.say("CancelOrderIntent")
    assert "Charmin" in talk.text
    talk.say("AMAZON.NoIntent")
    assert talk.text == speech.CANCEL_KEPT


def test_status(talk, container, clock):
    talk.say("OrderStatusIntent")
    assert talk.text == speech.NO_ORDERS
    talk.say("OrderItemIntent", {"item": "toilet paper"})
    talk.say("AMAZON.YesIntent")
    talk.say("OrderStatusIntent", {"item": "toilet paper"})
    assert talk.text == "Your order of Charmin Ultra Soft Toilet Paper is placed and goes to the store at 11:30 AM."
    # The cancel window closes, the store takes it, and it ships.
    clock.advance(minutes=31)
    with container.uow() as uow:
        order_id = uow.orders.list("h1")[0].id
    container.bus.handle(commands.SubmitOrder(order_id))
    clock.advance(minutes=90)
    container.bus.handle(commands.TrackOrder(order_id))
    talk.token = issue_voice_token(container)["access_token"]  # Alexa refreshes the hour-long access token
    talk.say("OrderStatusIntent", {"item": "toilet paper"})
    assert talk.text == "Your order of Charmin Ultra Soft Toilet Paper has shipped and should arrive today."
    clock.advance(minutes=60)
    container.bus.handle(commands.TrackOrder(order_id))
    talk.token = issue_voice_token(container)["access_token"]
    talk.say("OrderStatusIntent", {"item": "toilet paper"})
    assert talk.text == "Your order of Charmin Ultra Soft Toilet Paper was delivered today."
    talk.say("OrderStatusIntent", {"item": "coffee"})
    assert talk.text == "I don't see a recent order of coffee."


def test_running_low(talk, container):
    container.recommendations.low = ["TIDE-PODS-81"]
    talk.say("RunningLowIntent")
    assert talk.text == ("Tide PODS Laundry Detergent may be running low, last ordered Tuesday, February 10. "
                         "Should I order more, for $22.99?")
    assert "usually needed again around Thursday, March 12" in talk.card["content"]
    talk.say("AMAZON.YesIntent")
    assert orders(container) == [("TIDE-PODS-81", 1, "voice", "pending")]


def test_unlinked_account_gets_a_link_account_card(post, container):
    talk = Conversation(post, None)
    talk.say("OrderItemIntent", {"item": "detergent"})
    assert talk.card == {"type": "LinkAccount"} and not talk.open
    assert talk.text == speech.LINK_ACCOUNT
    talk = Conversation(post, "rpl_revoked-or-made-up")
    talk.launch()
    assert talk.card == {"type": "LinkAccount"}
    assert orders(container) == []


def test_real_recommender_from_history(container, pki, voice_token, clock):
    """The same conversation on the project's recommender (catalog baselines), with purchase history."""
    container.alexa_cert_store, container.alexa_fetch_cert = pki.store, pki.fetch
    container.settings.alexa_skill_ids = (SKILL_ID,)
    HISTORIES.clear()
    with container.uow() as uow:
        uow.purchases.add_many([Purchase("h1", "TIDE-PODS-42", datetime(2026, 3, 3, 18, tzinfo=UTC), 1,
                                         "o-old")])
        uow.session.commit()
    client = create_app(container).test_client()

    def send(env):
        body = envelope_bytes(env)
        response = client.post("/alexa", data=body, headers=pki.headers(body))
        assert response.status_code == 200
        return response.get_json()

    talk = Conversation(send, voice_token)
    talk.say("OrderItemIntent", {"item": "detergent"})
    assert "Tide PODS Laundry Detergent" in talk.text and talk.text.endswith("Should I order it?")
    talk.say("AMAZON.YesIntent")
    assert talk.text.startswith("Okay, I've ordered Tide PODS")
    assert orders(container)[0][2:] == ("voice", "pending")


def test_over_a_real_http_server(app, pki, voice_token, container):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/alexa"

        def send(env):
            body = envelope_bytes(env)
            response = requests.post(url, data=body, headers=pki.headers(body), timeout=10)
            assert response.status_code == 200, response.text
            return response.json()

        talk = Conversation(send, voice_token)
        talk.say("OrderItemIntent", {"item": "detergent"})
        talk.say("AMAZON.YesIntent")
        assert orders(container) == [("TIDE-PODS-42", 1, "voice", "pending")]
        body = envelope_bytes(launch_request(access_token=voice_token))
        bad = requests.post(url, data=body, headers={**pki.headers(body), "Signature-256": sign(b"x", pki.leaf)},
                            timeout=10)
        assert bad.status_code == 400
    finally:
        server.shutdown()
        thread.join(5)


# -- verification failures ----------------------------------------------------------------------------------

def _signed(pki, env, **overrides):
    body = envelope_bytes(env)
    return body, {**pki.headers(body), **overrides}


def _stale_launch(voice_token):
    env = launch_request(access_token=voice_token)
    env["request"]["timestamp"] = timestamp(datetime.now(UTC) - timedelta(minutes=10))
    return env


@pytest.mark.parametrize("case, reason", [
    ("bad_cert_url", "certificate URL host"),
    ("http_cert_url", "scheme must be https"),
    ("bad_signature", "signature does not match"),
    ("signature_not_base64", "not valid base64"),
    ("no_signature", "missing Signature-256"),
    ("no_cert_url", "missing SignatureCertChainUrl"),
    ("stale_timestamp", "timestamp is outside"),
    ("wrong_skill_id", "different skill"),
    ("tampered_body", "signature does not match"),
    ("not_json", "not valid JSON"),
    ("untrusted_chain", "not trusted"),
])
def test_verification_failures_are_400(client, pki, voice_token, container, caplog, case, reason):
    env = intent_request("OrderItemIntent", {"item": "detergent"}, access_token=voice_token)
    body, headers = _signed(pki, env)
    if case == "bad_cert_url":
        headers["SignatureCertChainUrl"] = "https://evil.example.com/echo.api/cert.pem"
    elif case == "http_cert_url":
        headers["SignatureCertChainUrl"] = CERT_URL.replace("https://", "http://")
    elif case == "bad_signature":
        headers["Signature-256"] = sign(b"something else", pki.leaf)
    elif case == "signature_not_base64":
        headers["Signature-256"] = "%%%not-base64%%%"
    elif case == "no_signature":
        del headers["Signature-256"]
    elif case == "no_cert_url":
        del headers["SignatureCertChainUrl"]
    elif case == "stale_timestamp":
        body, headers = _signed(pki, _stale_launch(voice_token))
    elif case == "wrong_skill_id":
        body, headers = _signed(pki, intent_request("OrderItemIntent", {"item": "detergent"}, access_token=voice_token,
                                                    application_id="amzn1.ask.skill.someone-else"))
    elif case == "tampered_body":
        body = body.replace(b"detergent", b"television")
    elif case == "not_json":
        body = b"not json at all"
        headers = {**headers, "Signature-256": sign(body, pki.leaf)}
    elif case == "untrusted_chain":
        rogue_root = make_ca("Rogue Root", key_slot="rogue-root")
        rogue_leaf = make_leaf(rogue_root, key_slot="rogue-leaf")
        container.alexa_fetch_cert = lambda url: rogue_leaf.pem
        client.application.extensions.pop("alexa.verifier", None)
        headers = signed_headers(body, rogue_leaf, CERT_URL.replace(".pem", "-rogue.pem"))
    with caplog.at_level(logging.WARNING, logger="replenish.web.alexa"):
        response = client.post("/alexa", data=body, headers=headers)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "verification_failed"
    assert reason in caplog.text
    assert orders(container) == []


def test_verified_request_that_is_not_an_envelope_is_a_400(client, pki):
    body = json.dumps({"request": {"type": "LaunchRequest", "timestamp": timestamp()},
                       "session": {"application": {"applicationId": SKILL_ID}}, "context": "nonsense"}).encode()
    response = client.post("/alexa", data=body, headers=pki.headers(body))
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "invalid_request"


def test_verification_off_warns_loudly_once(container, voice_token, caplog):
    from replenish.web import alexa as alexa_module
    container.settings.alexa_verify = False
    container.recommendations = FakeRecommendations(container)
    alexa_module._warned.discard("verify")
    client = create_app(container).test_client()
    with caplog.at_level(logging.WARNING, logger="replenish.web.alexa"):
        first = client.post("/alexa", data=envelope_bytes(launch_request(access_token=voice_token)))
        second = client.post("/alexa", data=envelope_bytes(launch_request(access_token=voice_token)))
    assert first.status_code == second.status_code == 200
    assert caplog.text.count("verification is OFF") == 1
    assert client.post("/alexa", data=b"{nope").status_code == 400


def test_get_is_not_allowed(client):
    assert client.get("/alexa").status_code == 405


def test_an_absurdly_nested_body_is_a_400_signed_or_not(container, client, pki):
    nested = b"[" * 1000 + b"]" * 1000
    signed = client.post("/alexa", data=nested, headers=pki.headers(nested))
    assert signed.status_code == 400
    container.settings.alexa_verify = False
    assert create_app(container).test_client().post("/alexa", data=nested).status_code == 400


def test_without_a_configured_skill_id_every_request_is_refused(container, voice_token, pki):
    container.settings.alexa_skill_ids = ()
    client = create_app(container).test_client()
    body = envelope_bytes(launch_request(access_token=voice_token))
    refused = client.post("/alexa", data=body, headers=pki.headers(body))
    assert refused.status_code == 400 and refused.get_json()["error"]["code"] == "verification_failed"


def test_a_rejection_that_quotes_the_body_is_logged_in_one_short_line(container, caplog):
    from replenish.web import alexa as alexa_module
    app = create_app(container)
    with app.app_context(), caplog.at_level(logging.WARNING, logger="replenish.web.alexa"):
        alexa_module._reject("not an Alexa request envelope: " + "x" * 200_000)
    assert len(caplog.records) == 1 and len(caplog.records[0].getMessage()) < 300


# -- locales ------------------------------------------------------------------------------------------------

def resolved(env: dict, slot: str, value: str) -> dict:
    """The slot as the locale's interaction model resolves it to a catalog value (entity resolution)."""
    env["request"]["intent"]["slots"][slot]["resolutions"] = {"resolutionsPerAuthority": [{
        "authority": f"amzn1.er-authority.echo-sdk.{SKILL_ID}.CatalogItem",
        "status": {"code": "ER_SUCCESS_MATCH"},
        "values": [{"value": {"name": value, "id": value.replace(' ', '_')}}]}]}
    return env


def one_shot_order(post, voice_token, locale: str, said: str, catalog_value: str) -> tuple[dict, dict]:
    """"Alexa, ask home replenish to order <said>": a new session that starts with the intent, then "yes"."""
    env = resolved(intent_request("OrderItemIntent", {"item": said}, access_token=voice_token, new_session=True,
                                  locale=locale), "item", catalog_value)
    offer = post(env)
    assert offer["response"]["shouldEndSession"] is False and offer["response"]["reprompt"]
    yes = post(intent_request("AMAZON.YesIntent", access_token=voice_token, new_session=False, locale=locale,
                              attributes=offer["sessionAttributes"]))
    return offer, yes


def said(answer: dict, part: str = "outputSpeech") -> str:
    node = answer["response"][part] if part == "outputSpeech" else answer["response"]["reprompt"]["outputSpeech"]
    return node["ssml"].removeprefix("<speak>").removesuffix("</speak>")


def test_one_shot_order_in_british_english(post, voice_token, container):
    offer, yes = one_shot_order(post, voice_token, "en-GB", "washing powder", "detergent")
    assert said(offer) == ("I found Tide PODS Laundry Detergent, 42 Count, for US$12.99. It's the best match for "
                           "detergent. Should I order it?")
    assert said(yes) == ("OK, I've ordered Tide PODS Laundry Detergent for US$12.99. "
                         "It should arrive by Thursday, 12 March.")
    assert orders(container) == [("TIDE-PODS-42", 1, "voice", "pending")]


def test_one_shot_order_in_german(post, voice_token, container):
    offer, yes = one_shot_order(post, voice_token, "de-DE", "Waschmittel", "detergent")
    assert said(offer) == ("Ich habe Tide PODS Laundry Detergent, 42 Count gefunden. Das macht 12,99 $. "
                           "Soll ich es bestellen?")
    assert said(offer, "reprompt") == "Soll ich es bestellen? Sag ja, nein oder etwas anderes."
    assert said(yes) == ("Alles klar, bestellt: Tide PODS Laundry Detergent für 12,99 $. "
                         "Lieferung bis Donnerstag, 12. März.")
    assert "Um sie in den nächsten 30 Minuten zu stornieren" in yes["response"]["card"]["content"]
    assert orders(container) == [("TIDE-PODS-42", 1, "voice", "pending")]


def test_the_next_request_in_english_is_english_again(post, voice_token):
    post(intent_request("AMAZON.HelpIntent", access_token=voice_token, locale="de-DE"))
    assert said(post(intent_request("AMAZON.HelpIntent", access_token=voice_token))) == speech.HELP


# -- the shopping list (issue 18) ---------------------------------------------------------------------------

BOUNTY = Product("BOUNTY-6", "Bounty Select-A-Size Paper Towels, 6 Rolls", "Bounty", "paper/paper towels", 6, "rolls",
                 1599)


def list_of(container):
    from replenish.lists.handlers import list_view
    return [(i["phrase"], i["sku"], i["quantity"], i["added_by"]) for i in list_view(container.deps, "h1")["items"]]


def test_the_list_built_by_voice_and_ordered_in_one_order(talk, container):
    with container.uow() as uow:
        uow.products.upsert_many([BOUNTY])
        uow.session.commit()
    talk.launch()
    talk.say("AddToListIntent", {"item": "paper towels"})
    assert talk.text == ("I've added paper towels to your list. I'll get Bounty Select-A-Size Paper Towels, "
                         "6 Rolls.")
    talk.say("AddToListIntent", {"item": "detergent", "quantity": "2"})
    assert talk.text == ("I've added 2 packs of detergent to your list. I'll get Tide PODS Laundry Detergent, "
                         "42 Count.")
    talk.say("AddToListIntent", {"item": "toilet paper"})
    talk.say("AddToListIntent", {"item": "unicorn saddles"})
    talk.say("RemoveFromListIntent", {"item": "unicorn saddles"})
    assert talk.text == "Okay, I've taken unicorn saddles off your list."
    assert list_of(container) == [("paper towels", "BOUNTY-6", 1, "voice"), ("detergent", "TIDE-PODS-42", 2, "voice"),
                                  ("toilet paper", "CHARMIN-12", 1, "voice")]
    assert orders(container) == []  # a list is not an order
    talk.say("ListIntent")
    assert talk.text == ("Your list has paper towels, detergent and 1 more, for $60.96 in all. Should I order your "
                         "list?")
    assert talk.open and talk.reprompt == speech.LIST_CONFIRM_REPROMPT and len(talk.card["content"].splitlines()) == 3
    talk.say("AMAZON.YesIntent")
    assert talk.text == ("Okay, I've ordered Bounty Select-A-Size Paper Towels and 2 more for $60.96. It should "
                         "arrive by Thursday, March 12.")
    with container.uow() as uow:
        [order] = uow.orders.list("h1")
        assert sorted((line.sku, line.quantity) for line in order.lines) == [
            ("BOUNTY-6", 1), ("CHARMIN-12", 1), ("TIDE-PODS-42", 2)]
        assert (order.channel, order.status, order.total_cents) == ("voice", "pending", 6096)
    assert list_of(container) == []


def test_a_list_turn_in_german(post, voice_token, container):
    with container.uow() as uow:
        uow.products.upsert_many([BOUNTY])
        uow.session.commit()
    env = resolved(intent_request("AddToListIntent", {"item": "Küchenrolle"}, access_token=voice_token,
                                  new_session=True, locale="de-DE"), "item", "paper towels")
    answer = post(env)
    assert said(answer) == ("Ich habe Küchenrolle auf deine Liste gesetzt. Ich nehme Bounty Select-A-Size Paper "
                            "Towels, 6 Rolls.")
    assert list_of(container) == [("Küchenrolle", "BOUNTY-6", 1, "voice")]
    answer = post(intent_request("ListIntent", access_token=voice_token, new_session=True, locale="de-DE"))
    assert said(answer) == "Deine Liste: Küchenrolle, zusammen 15,99 $. Soll ich deine Liste bestellen?"
    assert said(answer, "reprompt") == "Soll ich deine Liste bestellen? Sag ja oder nein."
