"""Voice design rules over every reply in ``skills.speech`` (worst-case values), and the dialog rules that go
with them: weak matches asked as questions, a locked PIN and an unrecognised voice said before any offer, dates
far away said with their year, lists summarised with a card, the speaker carried into the order."""
from __future__ import annotations

import contextlib
import inspect
import re
from datetime import UTC, date, datetime, timedelta

import pytest

from catalog.model import Product
from replenish.domain import commands
from replenish.recommend import Timing
from skills import speech
from tests.alexa_certs import intent_request
from tests.voice_fakes import Conversation, FakeRecommendations

LONG_TITLE = "Purina Pro Plan Sensitive Skin and Stomach Dry Dog Food, Salmon & Rice, 30 lb Bag"
LONG_SIZE = "30 lb"
PRICE = 499_999  # $4,999.99
QTY = 99
REASON = "the best match for sensitive stomach salmon dog food"
DAY = "Wednesday, September 30"
PHRASE = "the big green sensitive stomach salmon dog food please"
ITEMS = "99 packs of Purina Pro Dry Dog Food"  # what orders.spoken_items says at most
STATUS = "is placed and goes to the store Wednesday, September 30 at 11:30 PM"
LEAVES = ["refrigerator water filters", "faucet water filters", "whole bean coffee", "dry dog food"]

# Each spoken reply built from worst-case values (the longest titles, prices, dates and phrases there are).
SAMPLES = {
    "offer": [(LONG_TITLE, LONG_SIZE, PRICE, QTY, REASON), (LONG_TITLE, LONG_SIZE, PRICE, QTY, REASON, False),
              (LONG_TITLE, LONG_SIZE, PRICE, 1, REASON, False, "Purina Pro Dry Dog Food is out of stock.")],
    "usual_offer": [(LONG_TITLE, LONG_SIZE, PRICE, QTY, REASON), (LONG_TITLE, LONG_SIZE, PRICE, 1, REASON)],
    "nothing_found": [(PHRASE,)],
    "did_you_mean": [(PHRASE, LONG_TITLE)],
    "bad_quantity": [()],
    "placed": [(ITEMS, PRICE * QTY, DAY, 1440), (ITEMS, PRICE, "tomorrow", 30)],
    "already_in_flight": [(ITEMS, STATUS)],
    "out_of_stock": [(LONG_TITLE,)],
    "not_ordered": [()],
    "limit_per_order": [(PRICE * QTY, 10_000_000)],
    "limit_per_month": [(100_000_000,)],
    "pin_wrong": [()],
    "pin_locked_now": [(1440,), (0,)],
    "pin_locked_up_front": [(1440,), (0,)],
    "order_status": [(ITEMS, speech.status_text("confirmed", arrival=DAY))],
    "status_summary": [(speech.order_status(ITEMS, STATUS), speech.order_status(ITEMS, "is placed"), 9),
                       (speech.order_status(ITEMS, STATUS), speech.order_status(ITEMS, "is placed"), 1),
                       (speech.order_status(ITEMS, "was sent to the store"), "", 0)],
    "no_matching_orders": [(PHRASE,)],
    "no_cancellable_match": [(PHRASE,)],
    "confirm_cancel": [(ITEMS, PRICE * QTY, f"{DAY} at 11:30 PM")],
    "cancelled": [(ITEMS,)],
    "cancel_refused": [("The store could not cancel this order any more.",)],
    "running_low_one": [("Purina Pro Dry Dog Food", "September 30, 2025", PRICE, QTY),
                        ("Purina Pro Dry Dog Food", DAY, PRICE, 1)],
    "running_low_many": [(LEAVES, LEAVES[0]), (LEAVES[:2], LEAVES[0]), (LEAVES, None)],
    "not_allowed": [("orders:place",), ("orders:cancel",), ("orders:read",), ("something:new",)],
}
# The shopping list's replies (issue 18), worst cases: the longest phrases and titles, 25 things, 99 packs.
LIST_NAMES = [PHRASE, "refrigerator water filters", "whole bean coffee"] + ["dry dog food"] * 22
SAMPLES.update({
    "list_added": [(PHRASE, QTY, QTY, LONG_TITLE, LONG_SIZE), (PHRASE, 1, QTY, LONG_TITLE, LONG_SIZE)],
    "list_added_weak": [(PHRASE, LONG_TITLE)],
    "list_added_unmatched": [(PHRASE,), ("unicorn saddles",)],
    "list_picked": [(PHRASE, LONG_TITLE, LONG_SIZE)],
    "list_kept_in_words": [(PHRASE,)],
    "list_read": [(LIST_NAMES, PRICE * QTY), (LIST_NAMES[:2], PRICE * QTY), (LIST_NAMES[:1], PRICE, False)],
    "list_offer": [([ITEMS] * 25, PRICE * QTY, "Your list changed since I read it."), ([ITEMS], PRICE)],
    "list_changed": [()],
    "list_unpicked": [(LIST_NAMES,), (LIST_NAMES[:1],), (["laundry soap"],)],
    "list_needs_picks": [(LIST_NAMES,), (LIST_NAMES[:1],)],
    "list_removed": [(PHRASE,)],
    "list_not_on": [(PHRASE,)],
    "list_which": [(LIST_NAMES,), (LIST_NAMES[:2],)],
    "list_bad_quantity": [()],
    "list_refused": [("Your list holds at most 25 things; order it or remove some first.",)],
})
SAMPLES.update({  # members and approvals
    "approval_asked": [(ITEMS,)],
    "approval_pending": [("Alexandra", ITEMS, PRICE * QTY, 9), ("Sam", ITEMS, PRICE, 0)],
    "approval_approved": [("Alexandra", ITEMS)],
    "approval_declined": [("Alexandra",)],
    "approvals_none": [()],
    "approvals_adults_only": [()],
    "approval_not_placed": [()],
    "approval_closed": [()],
})
# The weekly digest, asked for: 99 orders of 25 different things, three running low, the largest sums; things
# are said as lists say them (an aisle, or a product's short name: five words at most).
WEEK = [f"{LONG_TITLE} {n}" for n in range(25)]
NAMES = ["Purina Pro Dry Dog Food", "refrigerator water filters"] + [speech.short_name(t) for t in WEEK[2:]]
SAMPLES.update({
    "digest": [(99, PRICE * QTY, NAMES, NAMES[:3], 100_000_000, 100_000_000, 99),
               (1, PRICE, NAMES[:1], NAMES[:1], PRICE, None, 1),
               (2, PRICE, NAMES[:2], NAMES[:2], PRICE, 10_000_000, 0),
               (0, 0, [], NAMES[:3], 100_000_000, None, 0)],
})
# Not replies: pieces of replies, formatting, the rules themselves, and card text (read, not heard).
NOT_REPLIES = {"words", "seconds", "asks", "last_question", "fit", "money", "day", "clock_time", "at_time", "day_at",
               "join", "summary", "and_more", "short_name", "product_phrase", "with_reason", "product_card",
               "list_card", "placed_card", "arriving", "status_text", "running_low_item",
               # languages
               "available_locales", "resolve_locale", "translations", "babel_locale", "use_locale", "keep_locale",
               "restore_locale", "current_locale", "N_", "duration", "aisle",
               "list_card_line",  # the shopping list's card
               "digest_card"}
INVITES = re.compile(r"\b(you can say|try saying|try:|say:|say,)", re.I)


LOCALES = speech.available_locales()


def every_reply() -> list[tuple[str, str]]:
    """(name, text) of every spoken reply, in the current locale."""
    found = [(name, getattr(speech, name)) for name in speech._TEXTS if not name.endswith("_CARD")]
    for step, (text, again) in speech.FALLBACK_DURING.items():
        found += [(f"FALLBACK_DURING[{step}]", text), (f"FALLBACK_DURING[{step}] reprompt", again)]
    for name, args_list in SAMPLES.items():
        for args in args_list:
            found.append((f"{name}{args!r}"[:80], getattr(speech, name)(*args)))
    return found


@pytest.fixture(params=LOCALES)
def locale(request):
    kept = speech.keep_locale()
    speech.use_locale(request.param, "EUR" if request.param == "de-DE" else None)
    yield request.param
    speech.restore_locale(kept)


def test_every_reply_function_has_a_worst_case_sample():
    functions = {name for name, f in inspect.getmembers(speech, inspect.isfunction)
                 if f.__module__ == speech.__name__ and not name.startswith("_")}
    assert functions - NOT_REPLIES == set(SAMPLES)


def test_the_locales_are_the_catalogs():
    assert {"en-US", "en-GB", "de-DE"} <= set(LOCALES)


def test_no_reply_is_longer_than_eight_seconds(locale):
    too_long = [(name, speech.words(text), text) for name, text in every_reply() if speech.seconds(text) > 8]
    assert not too_long, too_long


def test_a_reply_that_invites_an_answer_asks_it(locale):
    for name, text in every_reply():
        if INVITES.search(text):
            assert speech.asks(text), f"{name} invites an answer without asking: {text}"
        if speech.asks(text):  # the session stays open, and this is its reprompt when none is given
            assert speech.last_question(text).endswith("?"), name


def test_reprompts_ask(locale):
    for name in (n for n in speech._TEXTS if n.endswith("_REPROMPT")):
        assert speech.asks(getattr(speech, name)), name


def test_every_translation_keeps_the_placeholders():
    import re as re_

    from babel.messages.pofile import read_po
    for po in speech.LOCALES_DIR.glob("*/LC_MESSAGES/skill.po"):
        with open(po, "rb") as handle:
            catalog = read_po(handle)
        for message in catalog:
            if not message.id or not message.string:
                continue
            ids = message.id if isinstance(message.id, tuple) else (message.id,)
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            wanted = set(re_.findall(r"{\w+}", ids[0]))
            for string in strings:
                if string:
                    assert set(re_.findall(r"{\w+}", string)) == wanted, (po.parent.parent.name, message.id)


def test_german_and_british_speech_and_formats():
    from datetime import datetime as dt
    kept = speech.keep_locale()
    try:
        speech.use_locale("de-DE", "EUR")
        assert speech.GOODBYE == "Alles klar. Bis bald!"
        assert speech.money(1299) == "12,99 €"
        assert speech.day(date(2026, 3, 12), date(2026, 3, 10)) == "Donnerstag, 12. März"
        assert speech.day(date(2025, 8, 14), date(2026, 3, 10)) == "14. August 2025"
        assert speech.clock_time(dt(2026, 3, 10, 15, 0)) == "15 Uhr"
        assert speech.summary(["Waschmittel", "Milch", "a", "b"]) == "Waschmittel, Milch und 2 weitere"
        speech.use_locale("de-AT")  # no catalog of its own: German all the same
        assert speech.current_locale() == "de-DE"
        speech.use_locale("en-GB", "GBP")
        assert speech.money(1299) == "£12.99" and speech.GOODBYE == "OK. Goodbye."
        assert speech.day(date(2026, 3, 12), date(2026, 3, 10)) == "Thursday, 12 March"
        assert speech.clock_time(dt(2026, 3, 10, 15, 0)) == "15:00"
        speech.use_locale("fr-FR")  # no French catalog: English
        assert speech.current_locale() == "en-US" and speech.GOODBYE == "Okay. Goodbye."
    finally:
        speech.restore_locale(kept)


def test_words_ignore_ssml_tags():
    assert speech.words('<speak>Hello <break time="1s"/> there</speak>') == 2


def test_dates_over_six_months_away_say_the_year():
    today = date(2026, 3, 10)
    assert speech.day(date(2025, 8, 14), today) == "August 14, 2025"
    assert speech.day(date(2026, 11, 2), today) == "November 2, 2026"
    assert speech.day(date(2026, 2, 10), today) == "Tuesday, February 10"
    assert speech.day(date(2026, 3, 11), today) == "tomorrow"


def test_long_lists_are_summarised():
    assert speech.summary(["detergent", "paper towels", "a", "b", "c"]) == "detergent, paper towels and 3 more"
    assert speech.summary(["detergent", "paper towels"]) == "detergent and paper towels"


def test_the_digest_summarises_lists_over_two_and_cards_them_whole():
    said = speech.digest(3, 6097, ["detergent", "toilet paper", "paper towels"], ["milk"], 6097, 50000, 0)
    assert said == ("This week: 3 orders for $60.97, with detergent, toilet paper and 1 more. This month: $60.97 of "
                    "your $500.00 limit.")  # 20 words: what runs low is on the card
    assert speech.digest(1, 1299, ["detergent"], ["milk"], 1299, None, 0) == (
        "This week: 1 order for $12.99, with detergent. Running low: milk. This month: $12.99 so far.")
    # what was ordered goes first; with no room for its names, the week in brief and the month still fit
    worst = speech.digest(99, PRICE * QTY, NAMES, NAMES[:3], 100_000_000, 100_000_000, 99)
    assert worst == "This week: 99 orders for $494,999.01. This month: $1,000,000.00 of your $1,000,000.00 limit."
    title, card = speech.digest_card(99, PRICE * QTY, WEEK, WEEK[:3], 100_000_000, 100_000_000, 99)
    assert title == "Your week" and all(f"- {t}" in card.splitlines() for t in WEEK)
    assert f"Running low: {WEEK[0]}, {WEEK[1]} and {WEEK[2]}." in card
    assert "This month: $1,000,000.00 of your $1,000,000.00 limit." in card
    assert "Sending orders together saved 99 deliveries." in card


def test_long_titles_are_said_by_a_short_name():
    assert speech.short_name(LONG_TITLE) == "Purina Pro Dry Dog Food"
    assert speech.short_name("Tide PODS Laundry Detergent, 42 Count") == "Tide PODS Laundry Detergent"


# -- through the skill --------------------------------------------------------------------------------------

PAMPERS = Product("PAMPERS-4", "Pampers Swaddlers Diapers, Size 4, 150 Count", "Pampers", "baby/diapers", 150,
                  "count", 4999)
LAUNDRY_SOAP = Product("ECOS-LAUNDRY", "ECOS Laundry Liquid, 100 Loads", "ECOS", "household/laundry/liquid", 100,
                       "loads", 1499)


@pytest.fixture
def fake(container):
    with container.uow() as uow:
        uow.products.upsert_many([PAMPERS, LAUNDRY_SOAP])
        uow.session.commit()
    container.recommendations = FakeRecommendations(container, anything=["PAMPERS-4"])
    return container.recommendations


def orders_of(container):
    with container.uow() as uow:
        return [(o.lines[0].sku, o.status) for o in uow.orders.list("h1")]


def test_unicorn_saddles_do_not_offer_pampers(talk, container):
    talk.say("OrderItemIntent", {"item": "unicorn saddles"})
    assert talk.text == speech.nothing_found("unicorn saddles")
    assert "Pampers" not in talk.text and talk.open and talk.reprompt
    talk.say("AMAZON.YesIntent")
    assert orders_of(container) == []


def test_a_weak_match_is_asked_as_a_question(talk, container, fake):
    fake.anything = ["ECOS-LAUNDRY"]
    talk.say("OrderItemIntent", {"item": "laundry soap"})  # "laundry" matches, "soap" does not
    assert talk.text == "I couldn't find laundry soap. Did you mean ECOS Laundry Liquid?"
    assert talk.open and talk.reprompt == speech.DID_YOU_MEAN_REPROMPT
    talk.say("AMAZON.YesIntent")  # yes, that one: now its price, still asking before buying
    assert talk.text.startswith("I found ECOS Laundry Liquid, 100 Loads, for $14.99.") and talk.open
    assert orders_of(container) == []
    talk.say("AMAZON.YesIntent")
    assert orders_of(container) == [("ECOS-LAUNDRY", "pending")]


def test_no_to_did_you_mean_asks_what_instead(talk, container, fake):
    fake.anything = ["ECOS-LAUNDRY"]
    talk.say("OrderItemIntent", {"item": "laundry soap"})
    talk.say("AMAZON.NoIntent")
    assert talk.text == speech.NOT_THAT and talk.open
    assert orders_of(container) == []


def test_a_strong_match_is_offered(talk):
    talk.say("OrderItemIntent", {"item": "diapers"})
    assert talk.text.startswith("I found Pampers Swaddlers Diapers, 150 Count, for $49.99.") and talk.open


def test_a_locked_pin_is_said_before_any_offer(talk, container, clock):
    container.bus.handle(commands.SetVoicePin("h1", "4321"))
    for pin in ("1111", "2222", "3333"):
        with contextlib.suppress(Exception):
            container.bus.handle(commands.CheckVoicePin("h1", pin))
    talk.say("OrderItemIntent", {"item": "detergent"})
    assert talk.text == speech.pin_locked_up_front(15) and not talk.open
    assert "Tide" not in talk.text
    talk.say("RunningLowIntent")
    assert talk.text == speech.pin_locked_up_front(15)
    clock.advance(minutes=16)
    talk.say("OrderItemIntent", {"item": "detergent"})
    assert "Tide" in talk.text


def test_help_is_short_and_the_rest_is_on_a_card(talk):
    talk.say("AMAZON.HelpIntent")
    assert talk.text == speech.HELP and talk.open
    assert "reorder my usual" in talk.card["content"] and "cancel my order" in talk.card["content"]


def test_running_low_says_the_year_of_a_date_long_ago(talk, fake, container):
    now = container.clock()
    fake.timings = [Timing("CHARMIN-12", 300.0, 250.0, 350.0, now - timedelta(days=290), now + timedelta(days=10))]
    talk.say("RunningLowIntent")
    assert talk.text == ("Charmin Ultra Soft Toilet Paper may be running low, last ordered May 24, 2025. "
                         "Should I order more, for $18.99?")


def test_running_low_leaves_out_what_the_household_stopped_buying(talk, fake, container):
    now = container.clock()
    fake.timings = [Timing("TIDE-PODS-42", 30.0, 25.0, 35.0, now - timedelta(days=400), now - timedelta(days=370)),
                    Timing("CHARMIN-12", 30.0, 25.0, 35.0, now - timedelta(days=28), now + timedelta(days=2))]
    talk.say("RunningLowIntent")
    assert "Tide" not in talk.text and "detergent" not in talk.text
    assert talk.text.startswith("Charmin Ultra Soft Toilet Paper may be running low")


def test_running_low_on_many_summarises_and_cards_the_list(talk, fake, container):
    fake.low = ["CHARMIN-12", "TIDE-PODS-42", "PAMPERS-4", "ECOS-LAUNDRY", "TIDE-PODS-81"]
    talk.say("RunningLowIntent")
    assert talk.text == ("Running low: toilet paper, detergent and 3 more, listed in your Alexa app. "
                         "Should I order the toilet paper?")
    assert len(talk.card["content"].splitlines()) == 5 and "Pampers Swaddlers Diapers" in talk.card["content"]


# -- recognised speakers ------------------------------------------------------------------------------------

def with_person(env: dict, person_id: str | None) -> dict:
    if person_id:
        env["context"]["System"]["person"] = {"personId": person_id}
    return env


class SpeakerConversation(Conversation):
    def __init__(self, send, token, person_id=None):
        super().__init__(lambda env: send(with_person(env, person_id)), token)


def only_recognised_voices(container, on=True):
    container.bus.handle(commands.UpdateLimits("h1", recognised_voices_only=on))


def test_the_speaker_is_recorded_on_the_order(skill, voice_token, container):
    talk = SpeakerConversation(skill.invoke, voice_token, "amzn1.ask.person.ALICE")
    talk.say("OrderItemIntent", {"item": "detergent"})
    talk.say("AMAZON.YesIntent")
    with container.uow() as uow:
        [order_id] = [o.id for o in uow.orders.list("h1")]
        placed = [row.payload for row in uow.outbox.timeline(order_id) if row.event_type == "OrderPlaced"]
    assert placed[0]["speaker"] == "amzn1.ask.person.ALICE"
    talk.say("CancelOrderIntent")
    talk.say("AMAZON.YesIntent")
    with container.uow() as uow:
        cancelled = [row.payload for row in uow.outbox.timeline(order_id) if row.event_type == "OrderCancelled"]
    assert cancelled[0]["speaker"] == "amzn1.ask.person.ALICE"


def test_an_unrecognised_voice_cannot_order_when_the_household_says_so(skill, voice_token, container):
    only_recognised_voices(container)
    stranger = SpeakerConversation(skill.invoke, voice_token, None)
    stranger.say("OrderItemIntent", {"item": "detergent"})
    assert stranger.text == speech.VOICE_NOT_RECOGNISED and not stranger.open and "Tide" not in stranger.text
    stranger.say("ReorderIntent")
    assert stranger.text == speech.VOICE_NOT_RECOGNISED
    stranger.say("OrderStatusIntent")  # reading is not buying
    assert stranger.text == speech.NO_ORDERS
    known = SpeakerConversation(skill.invoke, voice_token, "amzn1.ask.person.ALICE")
    known.say("OrderItemIntent", {"item": "detergent"})
    known.say("AMAZON.YesIntent")
    assert orders_of(container) == [("TIDE-PODS-42", "pending")]


def test_a_stranger_cannot_say_yes_to_someone_elses_offer(skill, voice_token, container):
    only_recognised_voices(container)
    known = SpeakerConversation(skill.invoke, voice_token, "amzn1.ask.person.ALICE")
    known.say("OrderItemIntent", {"item": "detergent"})
    env = intent_request("AMAZON.YesIntent", access_token=voice_token, new_session=False,
                         attributes=known.attributes)
    response = skill.invoke(env)  # no personId: not recognised
    assert speech.VOICE_NOT_RECOGNISED in response["response"]["outputSpeech"]["ssml"]
    assert orders_of(container) == []


def test_anyone_may_order_by_default(skill, voice_token, container):
    SpeakerConversation(skill.invoke, voice_token, None).say("OrderItemIntent", {"item": "detergent"})
    assert orders_of(container) == []  # offered, not bought


def test_the_setting_through_the_household_api(container, token):
    from replenish.web import create_app
    app = create_app(container)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    response = client.patch("/v1/household/limits", json={"recognised_voices_only": True}, headers=headers)
    assert response.status_code == 200 and response.get_json()["recognised_voices_only"] is True
    assert client.get("/v1/household", headers=headers).get_json()["limits"]["recognised_voices_only"] is True
    bad = client.patch("/v1/household/limits", json={"recognised_voices_only": "yes"}, headers=headers)
    assert bad.status_code == 400 and "recognised_voices_only" in bad.get_data(as_text=True)
    with container.uow() as uow:
        assert uow.households.get("h1").limits.recognised_voices_only is True


def test_dates_use_the_household_zone_in_running_low(talk, fake, container):
    now = datetime(2026, 3, 10, 3, 0, tzinfo=UTC)  # still March 9 in New York
    fake.timings = [Timing("CHARMIN-12", 30.0, 25.0, 35.0, now - timedelta(days=1), now + timedelta(days=29))]
    talk.say("RunningLowIntent")
    assert "last ordered yesterday" in talk.text or "last ordered Sunday, March 8" in talk.text


def test_the_speaker_shows_in_the_order_timeline(skill, voice_token, container, token):
    from replenish.web import create_app
    talk = SpeakerConversation(skill.invoke, voice_token, "amzn1.ask.person.ALICE")
    talk.say("OrderItemIntent", {"item": "detergent"})
    talk.say("AMAZON.YesIntent")
    with container.uow() as uow:
        [order_id] = [o.id for o in uow.orders.list("h1")]
    body = create_app(container).test_client().get(f"/v1/orders/{order_id}",
                                                   headers={"Authorization": f"Bearer {token}"}).get_json()
    assert body["timeline"][0]["event"] == "OrderPlaced" and body["timeline"][0]["speaker"] == "amzn1.ask.person.ALICE"


def test_the_setting_on_the_dashboard(container, token):
    from replenish.web import create_app
    from tests.dashboard_forms import sign_in
    client = create_app(container).test_client()
    csrf = sign_in(client, token)
    form = {"csrf_token": csrf, "per_order_cap": "200", "per_month_cap": "500", "window_voice": "30",
            "window_button": "15", "window_appliance": "15", "window_web": "10"}
    html = client.get("/dashboard/settings").get_data(as_text=True)
    assert 'name="recognised_voices_only">' in html  # shown, not ticked
    assert client.post("/dashboard/settings/limits", data={**form, "recognised_voices_only": "on"}).status_code == 302
    with container.uow() as uow:
        assert uow.households.get("h1").limits.recognised_voices_only is True
    assert 'name="recognised_voices_only" checked>' in client.get("/dashboard/settings").get_data(as_text=True)
    client.post("/dashboard/settings/limits", data=form)  # unticked
    with container.uow() as uow:
        assert uow.households.get("h1").limits.recognised_voices_only is False
