"""The skill's handlers, driven through ask-sdk-core with real-shaped envelopes (no HTTP, no signatures)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from catalog.model import Product
from replenish.bootstrap import make_alexa_notifier, make_notifiers
from replenish.domain import commands
from replenish.services.ports import Message, TransientError
from skills import lambda_function, speech
from skills.linking import alexa_user_key
from skills.skill import EnvelopeError
from tests.alexa_certs import SKILL_ID, USER_ID, envelope, intent_request, launch_request
from tests.voice_fakes import Conversation


def voice_orders(container):
    with container.uow() as uow:
        return [(o.lines[0].sku, o.lines[0].quantity, o.source_id, o.idempotency_key, o.status)
                for o in uow.orders.list("h1")]


def test_launch_welcomes_and_listens(talk):
    talk.launch()
    assert talk.text == speech.WELCOME and talk.open


@pytest.mark.parametrize("token", [None, "rpl_not-a-token"])
def test_unlinked_user_gets_a_link_account_card(skill, token):
    talk = Conversation(skill.invoke, token)
    talk.say("OrderItemIntent", {"item": "detergent"})
    assert talk.card == {"type": "LinkAccount"}
    assert talk.text == speech.LINK_ACCOUNT and not talk.open


def test_help_works_without_linking(skill):
    talk = Conversation(skill.invoke, None)
    talk.say("AMAZON.HelpIntent")
    assert talk.text == speech.HELP and talk.open


def test_order_with_quantity_then_yes(talk, container):
    talk.say("OrderItemIntent", {"item": "detergent", "quantity": "2"})
    assert talk.text == ("I found 2 packs of Tide PODS Laundry Detergent, 42 Count, for $25.98 in all. "
                         "Should I order them?") and talk.open
    assert "$12.99 each, $25.98 in all" in talk.card["content"]  # the full title and the price per pack
    talk.say("AMAZON.YesIntent")
    assert talk.text == ("Okay, I've ordered 2 packs of Tide PODS Laundry Detergent for $25.98. It should arrive "
                         "by Thursday, March 12.")
    assert talk.card["title"].startswith("Ordered:") and not talk.open
    assert "next 30 minutes" in talk.card["content"] and "cancel my order" in talk.card["content"]
    [(sku, qty, source, key, status)] = voice_orders(container)
    assert (sku, qty, source, status) == ("TIDE-PODS-42", 2, "voice:TIDE-PODS-42", "pending")
    assert key.startswith("amzn1.echo-api.request.")  # the request id of the confirming turn


def test_usual_quantity_comes_from_the_recommender(talk, fake, container):
    fake.quantities = {"CHARMIN-12": 3}
    talk.say("OrderItemIntent", {"item": "toilet paper"})
    assert "3 packs of Charmin" in talk.text
    talk.say("AMAZON.YesIntent")
    assert voice_orders(container)[0][:2] == ("CHARMIN-12", 3)


@pytest.mark.parametrize("said", ["0", "500", "lots"])
def test_unusable_quantity_is_explained(talk, said):
    talk.say("OrderItemIntent", {"item": "detergent", "quantity": said})
    assert "one to ninety nine" in talk.text and talk.open


def test_unrecognised_quantity_falls_back_to_the_usual(talk):
    talk.say("OrderItemIntent", {"item": "detergent", "quantity": "?"})
    assert talk.text.startswith("I found Tide PODS Laundry Detergent, 42 Count, for $12.99.")


def test_missing_item_asks_what_to_order(talk):
    talk.say("OrderItemIntent", {"item": None})
    assert talk.text == speech.ASK_ITEM and talk.open


def test_nothing_found(talk):
    talk.say("OrderItemIntent", {"item": "caviar"})
    assert talk.text == speech.nothing_found("caviar") and talk.open  # it asks what else: the session stays


def test_no_walks_the_candidates_then_orders_nothing(talk, container):
    talk.say("OrderItemIntent", {"item": "detergent"})
    talk.say("AMAZON.NoIntent")
    assert talk.text.startswith("Next, there's Tide PODS Laundry Detergent, 81 Count") and talk.open
    talk.say("AMAZON.NoIntent")
    assert talk.text == speech.NO_OTHER_CANDIDATES and talk.open  # it asks what else to look for
    assert voice_orders(container) == []


def test_something_else_without_an_offer_asks_for_an_item(talk):
    talk.say("SomethingElseIntent")
    assert talk.text == speech.ASK_ITEM


def test_yes_with_nothing_pending(talk, container):
    talk.say("AMAZON.YesIntent")
    assert talk.text == speech.NOTHING_TO_CONFIRM and voice_orders(container) == []


def test_fallback_during_an_offer_keeps_it(talk, container):
    talk.say("OrderItemIntent", {"item": "toilet paper"})
    talk.say("AMAZON.FallbackIntent")
    assert talk.text == speech.FALLBACK_DURING["confirm_order"][0] and talk.open
    talk.say("AMAZON.YesIntent")
    assert voice_orders(container)[0][0] == "CHARMIN-12"


def test_cancel_intent_abandons_an_offer(talk, container):
    talk.say("OrderItemIntent", {"item": "toilet paper"})
    talk.say("AMAZON.CancelIntent")
    assert talk.text == speech.NOTHING_ORDERED and not talk.open and voice_orders(container) == []


@pytest.mark.parametrize("intent, text", [("AMAZON.StopIntent", speech.GOODBYE),
                                          ("AMAZON.NavigateHomeIntent", speech.GOODBYE),
                                          ("AMAZON.FallbackIntent", speech.FALLBACK),
                                          ("SomeIntentNotInTheModel", speech.FALLBACK)])
def test_builtins(talk, intent, text):
    talk.say(intent)
    assert talk.text == text


def test_session_ended_request_answers_quietly(skill, voice_token):
    response = skill.invoke(envelope({"type": "SessionEndedRequest", "reason": "ERROR",
                                      "error": {"type": "INVALID_RESPONSE", "message": "x"}},
                                     access_token=voice_token))
    assert "outputSpeech" not in response["response"]


def test_reorder_usual(talk, fake, container):
    fake.usual = ["CHARMIN-12", "TIDE-PODS-42"]
    talk.say("ReorderIntent")
    assert talk.text.startswith("Your usual is Charmin Ultra Soft Toilet Paper, 12 Mega Rolls, for $18.99.")
    talk.say("SomethingElseIntent")
    assert "Tide PODS Laundry Detergent, 42 Count" in talk.text
    talk.say("AMAZON.YesIntent")
    assert voice_orders(container)[0][0] == "TIDE-PODS-42"


def test_reorder_without_history(talk):
    talk.say("ReorderIntent")
    assert talk.text == speech.NO_USUAL


def test_running_low_offers_the_first(talk, fake, container):
    fake.low = ["CHARMIN-12", "TIDE-PODS-81"]
    talk.say("RunningLowIntent")
    assert talk.text == ("You may be running low on toilet paper and detergent. Should I order the toilet "
                         "paper?") and talk.open
    assert "last ordered Tuesday, February 10" in talk.card["content"]
    talk.say("AMAZON.YesIntent")  # yes, the toilet paper: now its price
    assert talk.text.startswith("I found Charmin Ultra Soft Toilet Paper, 12 Mega Rolls, for $18.99.")
    assert voice_orders(container) == []
    talk.say("AMAZON.YesIntent")
    assert voice_orders(container)[0][0] == "CHARMIN-12"


def test_running_low_on_one_thing_offers_it_with_its_price(talk, fake, container):
    fake.low = ["CHARMIN-12"]
    talk.say("RunningLowIntent")
    assert talk.text == ("Charmin Ultra Soft Toilet Paper may be running low, last ordered Tuesday, February 10. "
                         "Should I order more, for $18.99?") and talk.open
    talk.say("AMAZON.YesIntent")
    assert voice_orders(container)[0][0] == "CHARMIN-12"


def test_running_low_nothing(talk):
    talk.say("RunningLowIntent")
    assert talk.text == speech.NOTHING_RUNNING_LOW


def place(container, sku, qty=1, channel="web"):
    return container.bus.handle(commands.PlaceOrder("h1", channel, (commands.LineRequest(sku, qty),))).order_id


def move(container, order_id, *steps, expected=None):
    now = container.clock()
    with container.uow() as uow:
        order = uow.orders.get(order_id)
        for step in steps:
            if step == "submit":
                order.mark_submitted("R-" + order_id[:6], now)
            elif step == "confirm":
                order.confirm(now, expected)
            elif step == "ship":
                order.ship(now, "https://track.example/1", expected)
            elif step == "deliver":
                order.deliver(now)
        uow.commit()


def test_status_of_recent_orders(talk, container):
    shipped = place(container, "CHARMIN-12")
    move(container, shipped, "submit", "confirm", "ship", expected=container.clock() + timedelta(days=1))
    place(container, "TIDE-PODS-42", 2)
    talk.say("OrderStatusIntent", {"item": None})
    # the newest said, the other counted; both in full on the card
    assert talk.text in ("Your order of 2 packs of Tide PODS Laundry Detergent is placed. 1 more is in your "
                         "Alexa app.",
                         "Your order of Charmin Ultra Soft Toilet Paper has shipped. 1 more is in your Alexa app.")
    assert "2 packs of Tide PODS Laundry Detergent, 42 Count is placed and goes to the store" in talk.card["content"]
    assert "Charmin Ultra Soft Toilet Paper, 12 Mega Rolls has shipped and should arrive tomorrow" \
        in talk.card["content"]
    talk.say("OrderStatusIntent", {"item": "toilet paper"})
    assert talk.text.startswith("Your order of Charmin") and "Tide" not in talk.text
    talk.say("OrderStatusIntent", {"item": "coffee"})
    assert talk.text == speech.no_matching_orders("coffee")


def test_status_without_orders(talk):
    talk.say("OrderStatusIntent")
    assert talk.text == speech.NO_ORDERS


def test_cancel_flows(talk, container, clock):
    talk.say("CancelOrderIntent")
    assert talk.text == speech.NO_CANCELLABLE
    tide = place(container, "TIDE-PODS-42")
    clock.advance(minutes=1)
    charmin = place(container, "CHARMIN-12")
    talk.say("CancelOrderIntent", {"item": "detergent"})
    assert talk.text == ("You placed it today at 11 AM. Should I cancel your order of Tide PODS Laundry "
                         "Detergent for $12.99?")
    talk.say("AMAZON.NoIntent")
    assert talk.text == speech.CANCEL_KEPT
    talk.say("CancelOrderIntent", {"item": "coffee"})
    assert talk.text == speech.no_cancellable_match("coffee")
    talk.say("CancelOrderIntent")  # the most recent one
    assert "Charmin" in talk.text
    talk.say("AMAZON.YesIntent")
    assert talk.text == speech.cancelled("Charmin Ultra Soft Toilet Paper")
    with container.uow() as uow:
        assert uow.orders.get(charmin).status == "cancelled" and uow.orders.get(tide).status == "pending"


def test_cancel_of_a_shipped_order_is_not_offered(talk, container):
    shipped = place(container, "CHARMIN-12")
    move(container, shipped, "submit", "confirm", "ship")
    talk.say("CancelOrderIntent", {"item": "toilet paper"})
    assert talk.text == speech.no_cancellable_match("toilet paper")


def test_pin_flow(talk, container):
    container.bus.handle(commands.SetVoicePin("h1", "1234"))
    talk.say("OrderItemIntent", {"item": "toilet paper"})
    talk.say("AMAZON.YesIntent")
    assert talk.text == speech.ASK_PIN and talk.open
    talk.say("PinIntent", {"pin": "12"})
    assert talk.text == speech.PIN_UNHEARD
    talk.say("PinIntent", {"pin": "9999"})
    assert talk.text == speech.pin_wrong() and voice_orders(container) == []
    talk.say("PinIntent", {"pin": "1234"})
    assert talk.text.startswith("Okay, I've ordered Charmin")
    assert len(voice_orders(container)) == 1


def test_pin_when_not_expected(talk):
    talk.say("PinIntent", {"pin": "1234"})
    assert talk.text == speech.PIN_NOT_EXPECTED


def test_tampered_session_cannot_buy_an_unavailable_product(talk, container):
    talk.attributes = {"state": {"step": "confirm_order", "index": 0, "qty": 1, "items": [
        {"sku": "BRITA-FILTER-3", "title": "Brita", "size": "3 count", "price_cents": 1, "reason": ""}]}}
    talk.new = False
    talk.say("AMAZON.YesIntent")
    assert "out of stock" in talk.text and voice_orders(container) == []


def test_speech_is_escaped_for_ssml(talk, container):
    with container.uow() as uow:
        uow.products.upsert_many([Product("PT-1", "Bounty Paper Towels <Select-A-Size> & More, 6 Rolls", "Bounty",
                                          "paper/paper towels", 6, "rolls", 1599)])
        uow.session.commit()
    talk.say("OrderItemIntent", {"item": "paper towels"})
    assert "&lt;Select-A-Size&gt; &amp; More" in talk.text


def test_errors_are_answered_helpfully(talk, fake):
    def broken(*args, **kwargs):
        raise RuntimeError("model exploded")
    fake.resolve = broken
    talk.say("OrderItemIntent", {"item": "detergent"})
    assert talk.text == speech.ERROR and talk.open

    def down(*args, **kwargs):
        raise TransientError("timeout")
    fake.resolve = down
    talk.say("OrderItemIntent", {"item": "detergent"})
    assert talk.text == speech.STORE_UNAVAILABLE


def test_linked_request_remembers_the_alexa_user(talk, container):
    talk.launch()
    assert container.redis.get(alexa_user_key("h1")) == USER_ID.encode()


def test_not_an_envelope(skill):
    with pytest.raises(EnvelopeError):
        skill.parse(b'{"version": "1.0"}')


def test_lambda_handler_runs_the_same_skill(container, fake, voice_token):
    token = voice_token
    lambda_function.use_container(container)
    try:
        response = lambda_function.handler(intent_request("OrderItemIntent", {"item": "detergent"},
                                                          access_token=token), None)
        assert "Tide PODS" in response["response"]["outputSpeech"]["ssml"]
        container.settings.alexa_skill_ids = ("amzn1.ask.skill.other",)
        with pytest.raises(lambda_function.WrongSkill):
            lambda_function.handler(launch_request(access_token=token), None)
        container.settings.alexa_skill_ids = (SKILL_ID,)
        assert lambda_function.handler(launch_request(access_token=token), None)["response"]
    finally:
        container.settings.alexa_skill_ids = ()
        lambda_function.use_container(None)


def test_alexa_notifier_backend(settings, container):
    class Session:
        def __init__(self):
            self.posts = []

        def post(self, url, **kwargs):
            self.posts.append((url, kwargs))

            class R:
                status_code = 200
                text = ""

                def json(self):
                    return {"access_token": "tok", "expires_in": 3600}
            return R()

    settings.notifiers = ("alexa",)
    assert make_notifiers(settings, container.redis) == []  # no credentials: off, with a warning
    settings.alexa_client_id, settings.alexa_client_secret = "id", "secret"
    settings.alexa_events_url, settings.alexa_token_url = "https://events.test/", "https://token.test/"
    notifier = make_alexa_notifier(settings, container.redis)
    assert notifier.channel == "alexa" and notifier._client.events_url == "https://events.test/"
    notifier._client._session = session = Session()
    notifier.send(Message("h1", "OrderShipped", "shipped", "o1"))
    assert session.posts == []  # the household never spoke to the skill: nobody to notify
    container.redis.set(alexa_user_key("h1"), USER_ID)
    notifier.send(Message("h1", "OrderShipped", "shipped", "o1"))
    assert session.posts == []  # linked, but the notifications permission was never granted
    from skills.linking import NOTIFICATIONS_PERMISSION, record_consent
    record_consent(container.redis, USER_ID, [NOTIFICATIONS_PERMISSION])
    notifier.send(Message("h1", "OrderShipped", "shipped", "o1"))
    assert [url for url, _ in session.posts] == ["https://token.test/", "https://events.test/"]
    assert session.posts[1][1]["json"]["relevantAudience"]["payload"]["user"] == USER_ID


def test_turn_recommendations_read_history_once():
    from skills.recommending import HISTORIES, TurnRecommendations

    class Model:
        def resolve(self, phrase, history, k=3, now=None):
            return [("resolved", phrase, len(history))]

        def quantity(self, history, sku):
            return len(history)

    class Service:
        model = Model()
        reads = 0

        def clock(self):
            return None

        def history(self, household_id):
            Service.reads += 1
            return [1, 2, 3]

    HISTORIES.clear()
    service = Service()
    turn = TurnRecommendations(service, "h1")
    assert turn.resolve("milk") == [("resolved", "milk", 3)] and turn.quantity("X") == 3
    assert Service.reads == 1
    TurnRecommendations(service, "h1").quantity("X")  # the conversation's next turn
    assert Service.reads == 1
    TurnRecommendations(service, "h1", cache=None).quantity("X")
    assert Service.reads == 2


def test_turn_recommendations_read_history_again_once_it_is_kept_no_longer():
    from skills.recommending import HISTORY_TTL, HistoryCache, TurnRecommendations

    class Service:
        model = None
        reads = 0

        def clock(self):
            return None

        def history(self, household_id):
            Service.reads += 1
            return [Service.reads]

    now = [0.0]
    cache, service = HistoryCache(timer=lambda: now[0]), Service()
    assert TurnRecommendations(service, "h1", cache).history() == [1]
    now[0] += HISTORY_TTL - 1
    assert TurnRecommendations(service, "h1", cache).history() == [1]  # the conversation's next turn
    assert TurnRecommendations(service, "h2", cache).history() == [2]  # households are kept apart
    now[0] += 1
    assert TurnRecommendations(service, "h1", cache).history() == [3]  # read again after HISTORY_TTL


# -- account linking: OAuth access tokens and their scopes --------------------------------------------------
def test_the_household_api_token_is_not_an_alexa_token(skill, token):
    talk = Conversation(skill.invoke, token)
    talk.say("OrderItemIntent", {"item": "detergent"})
    assert talk.card == {"type": "LinkAccount"} and talk.text == speech.LINK_ACCOUNT


def test_an_expired_or_unlinked_token_asks_to_link_again(skill, container, clock):
    from replenish.oauth import service
    from tests.voice_fakes import issue_voice_token
    access = issue_voice_token(container)["access_token"]
    talk = Conversation(skill.invoke, access)
    talk.say("OrderStatusIntent")
    assert talk.text == speech.NO_ORDERS
    clock.advance(minutes=61)
    talk.say("OrderStatusIntent")
    assert talk.card == {"type": "LinkAccount"}
    fresh = issue_voice_token(container)["access_token"]
    with container.uow() as uow:
        client_id = uow.oauth.client_named("alexa").id
    service.unlink(container, "h1", client_id)
    talk = Conversation(skill.invoke, fresh)
    talk.say("OrderStatusIntent")
    assert talk.card == {"type": "LinkAccount"}


def test_each_intent_needs_its_scope(skill, container):
    from tests.voice_fakes import issue_voice_token
    read_only = Conversation(skill.invoke, issue_voice_token(container, scope="orders:read")["access_token"])
    read_only.launch()
    assert read_only.text == speech.WELCOME
    read_only.say("OrderStatusIntent")
    assert read_only.text == speech.NO_ORDERS
    for intent, scope in (("OrderItemIntent", "orders:place"), ("ReorderIntent", "orders:place"),
                          ("RunningLowIntent", "orders:place"), ("CancelOrderIntent", "orders:cancel")):
        read_only.say(intent, {"item": "detergent"} if intent == "OrderItemIntent" else None)
        assert read_only.text == speech.not_allowed(scope), intent
        assert read_only.card == {"type": "LinkAccount"} and not read_only.open
    assert "place orders" in speech.not_allowed("orders:place")

    place_only = Conversation(skill.invoke, issue_voice_token(container, scope="orders:place")["access_token"])
    place_only.say("OrderItemIntent", {"item": "detergent"})
    assert place_only.open and place_only.card is None
    place_only.say("AMAZON.YesIntent")
    assert place_only.text.startswith("Okay, I've ordered")
    place_only.say("OrderStatusIntent")
    assert place_only.text == speech.not_allowed("orders:read")
    order_id = voice_orders(container)[0]
    # a session that claims a cancel question was asked still needs orders:cancel for the yes
    place_only.attributes = {"state": {"step": "confirm_cancel", "order_id": "x", "items": "Tide"}}
    place_only.new = False
    place_only.say("AMAZON.YesIntent")
    assert place_only.text == speech.not_allowed("orders:cancel")
    assert voice_orders(container)[0] == order_id


def test_help_and_stop_need_no_scope(skill, container):
    from tests.voice_fakes import issue_voice_token
    talk = Conversation(skill.invoke, issue_voice_token(container, scope="orders:read")["access_token"])
    talk.say("AMAZON.HelpIntent")
    assert talk.text == speech.HELP
    talk.say("AMAZON.StopIntent")
    assert talk.text == speech.GOODBYE
