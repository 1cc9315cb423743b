"""The household shopping list by voice (issue 18): adding with the pick said, weak and no matches, reading the
list within the voice design rules, ordering it as one order with the usual confirmation, PIN and caps, a list
changed between the offer and the "yes", and removing by name with a question when the name fits several things.

Driven through ask-sdk-core with real-shaped envelopes, on the lists feature's real commands (SQLite)."""
from __future__ import annotations

import pytest

from catalog.model import Product
from replenish.domain import commands
from replenish.lists.handlers import list_view
from replenish.lists.model import AddToList, ChangeListItem
from skills import speech
from tests.voice_fakes import Conversation, FakeRecommendations, issue_voice_token

from .test_voice_design import SpeakerConversation, only_recognised_voices

BOUNTY = Product("BOUNTY-6", "Bounty Select-A-Size Paper Towels, 6 Rolls", "Bounty", "paper/paper towels", 6,
                 "rolls", 1599)
WHOLE_MILK = Product("MILK-WHOLE", "Horizon Organic Whole Milk, Half Gallon", "Horizon", "grocery/dairy/milk", 1,
                     "count", 499)
OAT_MILK = Product("MILK-OAT", "Oatly Oat Milk, Half Gallon", "Oatly", "grocery/dairy/oat milk", 1, "count", 549)
ECOS = Product("ECOS-LAUNDRY", "ECOS Laundry Liquid, 100 Loads", "ECOS", "household/laundry/liquid", 100, "loads",
               1499)


@pytest.fixture
def fake(container):
    with container.uow() as uow:
        uow.products.upsert_many([BOUNTY, WHOLE_MILK, OAT_MILK, ECOS])
        uow.session.commit()
    container.recommendations = FakeRecommendations(container)
    return container.recommendations


def on_list(container):
    return [(i["phrase"], i["sku"], i["quantity"], i["added_by"]) for i in list_view(container.deps, "h1")["items"]]


def placed(container):
    with container.uow() as uow:
        return [(sorted((line.sku, line.quantity) for line in o.lines), o.channel, o.status)
                for o in uow.orders.list("h1")]


def add(container, phrase=None, sku=None, quantity=1, pick=True):
    return container.bus.handle(AddToList("h1", phrase, sku, quantity, "web", pick=pick))


# -- adding ----------------------------------------------------------------------------------------------------

def test_add_says_the_pick_by_name_and_puts_the_words_on_the_list(talk, container):
    talk.say("AddToListIntent", {"item": "paper towels"})
    assert talk.text == ("I've added paper towels to your list. I'll get Bounty Select-A-Size Paper Towels, "
                         "6 Rolls.")
    assert not talk.open
    assert on_list(container) == [("paper towels", "BOUNTY-6", 1, "voice")]
    assert placed(container) == []  # a list is not an order


def test_adding_again_adds_up_and_says_the_total(talk, container):
    talk.say("AddToListIntent", {"item": "paper towels"})
    talk.say("AddToListIntent", {"item": "paper towels", "quantity": "2"})
    assert talk.text.startswith("Your list now has 3 packs of paper towels. I'll get Bounty")
    assert on_list(container) == [("paper towels", "BOUNTY-6", 3, "voice")]


def test_a_weak_match_is_asked_about_and_the_words_are_on_the_list_meanwhile(talk, container, fake):
    fake.anything = ["ECOS-LAUNDRY"]
    talk.say("AddToListIntent", {"item": "laundry soap"})  # "laundry" matches ECOS, "soap" does not
    assert talk.text == "I've put laundry soap on your list. Did you mean ECOS Laundry Liquid?"
    assert talk.open and talk.reprompt == speech.DID_YOU_MEAN_REPROMPT
    assert on_list(container) == [("laundry soap", None, 1, "voice")]  # in words, nothing picked blind
    talk.say("AMAZON.YesIntent")
    assert talk.text == "Okay, for laundry soap I'll get ECOS Laundry Liquid, 100 Loads." and not talk.open
    assert on_list(container) == [("laundry soap", "ECOS-LAUNDRY", 1, "voice")]
    assert placed(container) == []


def test_no_to_a_weak_match_keeps_the_words_to_be_chosen_later(talk, container, fake):
    fake.anything = ["ECOS-LAUNDRY"]
    talk.say("AddToListIntent", {"item": "laundry soap"})
    talk.say("AMAZON.NoIntent")
    assert talk.text == speech.list_kept_in_words("laundry soap") and not talk.open
    assert on_list(container) == [("laundry soap", None, 1, "voice")]


def test_no_match_is_added_in_words_and_nothing_unrelated_is_picked(talk, container, fake):
    fake.anything = ["TV-65"]  # a trained model offers something for anything; it must not be picked
    talk.say("AddToListIntent", {"item": "unicorn saddles"})
    assert talk.text == speech.list_added_unmatched("unicorn saddles") and "Television" not in talk.text
    assert on_list(container) == [("unicorn saddles", None, 1, "voice")]


def test_the_words_go_on_the_list_while_the_recommender_cannot_answer(talk, container, fake):
    def down(*args, **kwargs):
        raise RuntimeError("model not loaded")
    fake.resolve = down
    talk.say("AddToListIntent", {"item": "paper towels"})
    assert talk.text == speech.list_added_unmatched("paper towels")
    assert on_list(container) == [("paper towels", None, 1, "voice")]


def test_add_without_an_item_or_with_a_bad_quantity_asks_and_changes_nothing(talk, container):
    talk.say("AddToListIntent", {"item": None})
    assert talk.text == speech.LIST_ASK_ITEM and talk.open
    talk.say("AddToListIntent", {"item": "paper towels", "quantity": "500"})
    assert talk.text == speech.list_bad_quantity() and talk.open
    assert on_list(container) == []


# -- reading ---------------------------------------------------------------------------------------------------

def test_an_empty_list(talk, container):
    talk.say("ListIntent")
    assert talk.text == speech.LIST_EMPTY and not talk.open
    talk.say("OrderListIntent")
    assert talk.text == speech.LIST_EMPTY and not talk.open
    assert placed(container) == []


def test_what_is_on_the_list_then_yes_orders_it_as_one_order(talk, container):
    talk.say("AddToListIntent", {"item": "paper towels"})
    talk.say("AddToListIntent", {"item": "detergent", "quantity": "2"})
    talk.say("ListIntent")
    assert talk.text == "Your list has paper towels and detergent, for $41.97 in all. Should I order your list?"
    assert talk.open and talk.reprompt == speech.LIST_CONFIRM_REPROMPT
    assert talk.card["content"] == ("- paper towels: Bounty Select-A-Size Paper Towels, 6 Rolls, $15.99\n"
                                    "- 2 packs of detergent: Tide PODS Laundry Detergent, 42 Count, $25.98")
    talk.say("AMAZON.YesIntent")
    assert talk.text == ("Okay, I've ordered Bounty Select-A-Size Paper Towels and 1 more for $41.97. It should "
                         "arrive by Thursday, March 12.")
    assert placed(container) == [([("BOUNTY-6", 1), ("TIDE-PODS-42", 2)], "voice", "pending")]
    assert on_list(container) == []


def test_a_long_list_is_summarised_and_the_whole_of_it_is_on_the_card(talk, container):
    for phrase in ("paper towels", "detergent", "toilet paper", "whole milk", "oat milk"):
        talk.say("AddToListIntent", {"item": phrase})
    talk.say("ListIntent")
    assert talk.text == ("Your list has paper towels, detergent and 3 more, for $58.45 in all. Should I order "
                         "your list?")
    assert len(talk.card["content"].splitlines()) == 5 and "Oatly Oat Milk" in talk.card["content"]
    assert speech.seconds(talk.text) <= 8


def test_checked_off_items_are_neither_read_nor_ordered(talk, container):
    add(container, sku="CHARMIN-12")
    tide = add(container, sku="TIDE-PODS-42")
    container.bus.handle(ChangeListItem("h1", tide["id"], checked=True))
    talk.say("OrderListIntent")
    assert talk.text == ("I'll order Charmin Ultra Soft Toilet Paper, for $18.99 in all. Should I order your "
                         "list?")
    talk.say("AMAZON.YesIntent")
    assert placed(container) == [([("CHARMIN-12", 1)], "voice", "pending")]


def test_a_thing_without_a_product_is_named_and_the_list_is_not_offered(talk, container):
    add(container, sku="CHARMIN-12")
    add(container, "laundry soap", pick=False)
    talk.say("ListIntent")
    assert talk.text == ("Your list has Charmin Ultra Soft Toilet Paper and laundry soap, for $18.99 in all. "
                         "laundry soap needs a product.") and not talk.open
    assert "Charmin" in talk.card["content"] and "laundry soap: no product chosen yet" in talk.card["content"]
    talk.say("OrderListIntent")
    assert talk.text == speech.list_unpicked(["laundry soap"]) and not talk.open
    talk.say("AMAZON.YesIntent")
    assert placed(container) == []


# -- ordering --------------------------------------------------------------------------------------------------

def test_order_my_list_says_each_pick_and_the_total(talk, container):
    add(container, "paper towels")
    add(container, sku="TIDE-PODS-42", quantity=2)
    talk.say("OrderListIntent")
    assert talk.text == ("I'll order Bounty Select-A-Size Paper Towels and 2 packs of Tide PODS Laundry Detergent, "
                         "for $41.97. Should I order it?")
    assert talk.open
    talk.say("AMAZON.NoIntent")
    assert talk.text == speech.LIST_NOT_ORDERED and not talk.open
    assert placed(container) == [] and len(on_list(container)) == 2


def test_a_list_changed_between_the_offer_and_the_yes_is_said_and_offered_again(talk, container):
    add(container, sku="CHARMIN-12")
    talk.say("OrderListIntent")
    assert "$18.99" in talk.text
    add(container, sku="TIDE-PODS-42")  # someone else adds to the list meanwhile (the dashboard)
    talk.say("AMAZON.YesIntent")
    assert talk.text == ("Your list changed since I read it. That's 2 things for $31.98. Should I order your "
                         "list?")
    assert talk.open and placed(container) == []  # nothing ordered blind
    talk.say("AMAZON.YesIntent")
    assert placed(container) == [([("CHARMIN-12", 1), ("TIDE-PODS-42", 1)], "voice", "pending")]


def test_the_voice_pin_is_asked_after_the_yes(talk, container):
    container.bus.handle(commands.SetVoicePin("h1", "1234"))
    add(container, sku="CHARMIN-12")
    talk.say("OrderListIntent")
    talk.say("AMAZON.YesIntent")
    assert talk.text == speech.ASK_PIN and talk.open and placed(container) == []
    talk.say("AMAZON.FallbackIntent")  # misheard: the question stays
    assert talk.text == speech.FALLBACK_DURING["list_pin"][0] and talk.open
    talk.say("PinIntent", {"pin": "12"})
    assert talk.text == speech.PIN_UNHEARD
    talk.say("PinIntent", {"pin": "9999"})
    assert talk.text == speech.pin_wrong() and talk.open and placed(container) == []
    talk.say("PinIntent", {"pin": "1234"})
    assert talk.text.startswith("Okay, I've ordered Charmin Ultra Soft Toilet Paper for $18.99.")
    assert placed(container) == [([("CHARMIN-12", 1)], "voice", "pending")]


def test_three_wrong_pins_lock_and_a_locked_pin_is_said_before_any_offer(talk, container):
    container.bus.handle(commands.SetVoicePin("h1", "1234"))
    add(container, sku="CHARMIN-12")
    talk.say("OrderListIntent")
    talk.say("AMAZON.YesIntent")
    for pin in ("1111", "2222"):
        talk.say("PinIntent", {"pin": pin})
    talk.say("PinIntent", {"pin": "3333"})
    assert talk.text == speech.pin_locked_now(15) and not talk.open
    talk.say("OrderListIntent")
    assert talk.text == speech.pin_locked_up_front(15) and "Charmin" not in talk.text
    talk.say("ListIntent")  # reading still works, without the offer
    assert talk.text == "Your list has Charmin Ultra Soft Toilet Paper, for $18.99 in all." and not talk.open
    assert placed(container) == [] and len(on_list(container)) == 1


def test_a_cap_refuses_the_list_as_an_order_would_be_and_the_list_stays(talk, container):
    container.bus.handle(commands.UpdateLimits("h1", per_order_cap_cents=2000))
    add(container, sku="CHARMIN-12")
    add(container, sku="TIDE-PODS-42")
    talk.say("OrderListIntent")
    talk.say("AMAZON.YesIntent")
    assert talk.text == speech.limit_per_order(3198, 2000) and not talk.open
    assert speech.LIMITS_CARD in talk.card["content"]
    assert placed(container) == [] and len(on_list(container)) == 2


def test_an_out_of_stock_pick_is_said_and_the_list_stays(talk, container):
    add(container, sku="CHARMIN-12")
    talk.say("OrderListIntent")
    with container.uow() as uow:
        uow.products.upsert_many([Product("CHARMIN-12", "Charmin Ultra Soft Toilet Paper, 12 Mega Rolls", "Charmin",
                                          "paper/toilet paper", 12, "rolls", 1899, available=False)])
        uow.session.commit()
    talk.say("AMAZON.YesIntent")
    assert talk.text == speech.LIST_OUT_OF_STOCK and "out of stock" in talk.card["content"]
    assert placed(container) == [] and len(on_list(container)) == 1


def test_the_speaker_is_recorded_on_the_list_order(skill, voice_token, container):
    add(container, sku="CHARMIN-12")
    talk = SpeakerConversation(skill.invoke, voice_token, "amzn1.ask.person.ALICE")
    talk.say("OrderListIntent")
    talk.say("AMAZON.YesIntent")
    with container.uow() as uow:
        [order] = uow.orders.list("h1")
        events = [row.payload for row in uow.outbox.timeline(order.id) if row.event_type == "OrderPlaced"]
    assert events[0]["speaker"] == "amzn1.ask.person.ALICE"


def test_an_unrecognised_voice_may_add_but_not_order(skill, voice_token, container):
    only_recognised_voices(container)
    stranger = SpeakerConversation(skill.invoke, voice_token, None)
    stranger.say("AddToListIntent", {"item": "toilet paper"})
    assert stranger.text.startswith("I've added toilet paper to your list.")
    stranger.say("OrderListIntent")
    assert stranger.text == speech.VOICE_NOT_RECOGNISED and not stranger.open
    stranger.say("ListIntent")
    assert stranger.text == "Your list has toilet paper, for $18.99 in all." and not stranger.open
    assert placed(container) == []


def test_a_stranger_cannot_say_yes_to_someone_elses_list_offer(skill, voice_token, container):
    only_recognised_voices(container)
    add(container, sku="CHARMIN-12")
    known = SpeakerConversation(skill.invoke, voice_token, "amzn1.ask.person.ALICE")
    known.say("OrderListIntent")
    stranger = SpeakerConversation(skill.invoke, voice_token, None)
    stranger.attributes, stranger.new = known.attributes, False
    stranger.say("AMAZON.YesIntent")
    assert stranger.text == speech.VOICE_NOT_RECOGNISED and placed(container) == []


def test_each_list_intent_needs_its_scope(skill, container):
    add(container, sku="CHARMIN-12")
    read_only = Conversation(skill.invoke, issue_voice_token(container, scope="orders:read")["access_token"])
    read_only.say("ListIntent")
    assert read_only.text == "Your list has Charmin Ultra Soft Toilet Paper, for $18.99 in all."  # no offer
    for intent in ("AddToListIntent", "RemoveFromListIntent", "OrderListIntent"):
        read_only.say(intent, {"item": "toilet paper"} if intent != "OrderListIntent" else None)
        assert read_only.text == speech.not_allowed("orders:place"), intent
    assert len(on_list(container)) == 1 and placed(container) == []


def test_a_misheard_answer_keeps_the_list_offer(talk, container):
    add(container, sku="CHARMIN-12")
    talk.say("OrderListIntent")
    talk.say("AMAZON.FallbackIntent")
    assert talk.text == speech.FALLBACK_DURING["confirm_list"][0] and talk.open
    talk.say("AMAZON.YesIntent")
    assert placed(container) == [([("CHARMIN-12", 1)], "voice", "pending")]


def test_a_plain_yes_after_the_list_question_is_gone_is_not_a_list_order(talk, container):
    add(container, sku="CHARMIN-12")
    talk.say("OrderListIntent")
    talk.say("AMAZON.CancelIntent")
    talk.say("AMAZON.YesIntent")
    assert talk.text == speech.NOTHING_TO_CONFIRM and placed(container) == []


def test_a_tampered_version_orders_nothing(talk, container):
    add(container, sku="CHARMIN-12")
    talk.attributes, talk.new = {"state": {"step": "confirm_list", "version": "all"}}, False
    talk.say("AMAZON.YesIntent")
    assert talk.text == speech.NOTHING_TO_CONFIRM and placed(container) == []


# -- removing --------------------------------------------------------------------------------------------------

def test_remove_by_name(talk, container):
    talk.say("AddToListIntent", {"item": "paper towels"})
    talk.say("RemoveFromListIntent", {"item": "paper towels"})
    assert talk.text == "Okay, I've taken paper towels off your list." and not talk.open
    assert on_list(container) == []
    talk.say("RemoveFromListIntent", {"item": "caviar"})
    assert talk.text == "I don't see caviar on your list."


def test_a_name_that_fits_several_things_is_asked_about(talk, container):
    add(container, "whole milk")
    add(container, "oat milk")
    talk.say("RemoveFromListIntent", {"item": "milk"})
    assert talk.text == "Do you mean whole milk or oat milk?" and talk.open
    assert talk.reprompt == speech.LIST_REMOVE_REPROMPT
    assert len(on_list(container)) == 2  # nothing removed on a guess
    talk.say("RemoveFromListIntent", {"item": "oat"})  # "I mean oat": the one of the two it names
    assert talk.text == "Okay, I've taken oat milk off your list."
    assert [i[0] for i in on_list(container)] == ["whole milk"]


def test_no_to_which_one_leaves_the_list(talk, container):
    add(container, "whole milk")
    add(container, "oat milk")
    talk.say("RemoveFromListIntent", {"item": "milk"})
    talk.say("AMAZON.NoIntent")
    assert talk.text == speech.LIST_REMOVE_KEPT and len(on_list(container)) == 2


def test_an_item_added_by_product_is_removed_by_its_words_and_said_by_its_short_name(talk, container):
    add(container, sku="CHARMIN-12")
    talk.say("RemoveFromListIntent", {"item": "toilet paper"})
    assert talk.text == "Okay, I've taken Charmin Ultra Soft Toilet Paper off your list."
    assert on_list(container) == []


# -- the lists feature's additions the voice needs ---------------------------------------------------------------

def test_add_to_list_takes_the_callers_pick_or_none_and_refuses_an_unknown_one(container, fake):
    assert add(container, "kitchen roll", pick="BOUNTY-6")["sku"] == "BOUNTY-6"
    assert add(container, "unicorn saddles", pick=False)["sku"] is None
    from replenish.domain.errors import UnknownProduct
    with pytest.raises(UnknownProduct) as refused:
        add(container, "milk", pick="NOPE")
    assert refused.value.field == "pick"
    assert [i[0] for i in on_list(container)] == ["kitchen roll", "unicorn saddles"]


def test_an_item_in_words_gets_its_product_later(container, fake):
    item = add(container, "laundry soap", pick=False)
    assert container.bus.handle(ChangeListItem("h1", item["id"], sku="ECOS-LAUNDRY"))["sku"] == "ECOS-LAUNDRY"
    from replenish.domain.errors import UnknownProduct
    with pytest.raises(UnknownProduct):
        container.bus.handle(ChangeListItem("h1", item["id"], sku="NOPE"))
    assert on_list(container) == [("laundry soap", "ECOS-LAUNDRY", 1, "web")]
