"""The weekly digest: on the household's own Sunday evening, once, what was ordered, what is running low (put on the
list), the month's spending against its limit; named by product, with plurals right, never an id."""
import re
from datetime import UTC, datetime, timedelta

from replenish.digest.handlers import KIND, SendWeeklyDigests
from replenish.domain import commands
from replenish.domain.history import Purchase
from replenish.lists.handlers import list_view


def feed(container, household="h1"):
    with container.uow() as uow:
        return [n.message for n in uow.notifications.for_household(household) if n.kind == KIND]


def sunday_evening_in_new_york(clock):
    # March 15 2026 is a Sunday; 22:30 UTC is 6:30 PM in New York (daylight saving time)
    clock.advance(seconds=(datetime(2026, 3, 15, 22, 30, tzinfo=UTC) - clock()).total_seconds())


def test_the_digest_names_the_week_the_running_low_and_the_month_and_puts_them_on_the_list(container, clock):
    now = clock()
    with container.uow() as uow:  # a household that buys toilet paper every two weeks, last 13 days ago
        uow.purchases.add_many([Purchase("h1", "CHARMIN-12", now - timedelta(days=13 + 14 * i), 1, f"c{i}")
                                for i in range(6)])
        uow.session.commit()
    container.bus.handle(commands.UpdateLimits("h1", per_month_cap_cents=20000))
    for sku, qty in (("TIDE-PODS-42", 2), ("TIDE-PODS-81", 1)):
        container.bus.handle(commands.PlaceOrder("h1", "web", (commands.LineRequest(sku, qty),)))
        clock.advance(minutes=1)
    sunday_evening_in_new_york(clock)
    assert container.bus.handle(SendWeeklyDigests()) == 1
    [digest] = feed(container)
    assert digest.startswith("This week: 2 orders for $48.97, with Tide PODS Laundry Detergent, 42 Count and "
                             "Tide PODS Laundry Detergent, 81 Count.")
    assert "Running low: Charmin Ultra Soft Toilet Paper, 12 Mega Rolls; I've put it on your shopping list." in digest
    assert "This month you've spent $48.97 of your $200.00 limit." in digest
    assert not re.search(r"\b[0-9a-f]{32}\b|CHARMIN-12|TIDE-PODS", digest)  # products by name, never ids or SKUs
    [item] = list_view(container.deps, "h1")["items"]
    assert (item["sku"], item["added_by"]) == ("CHARMIN-12", "digest")


def test_one_digest_a_week_and_only_on_the_households_sunday_evening(container, clock):
    container.bus.handle(commands.CreateHousehold("h2", "West", "2 Main St", "America/Los_Angeles"))
    sunday_evening_in_new_york(clock)  # 3:30 PM in Los Angeles: too early there
    assert container.bus.handle(SendWeeklyDigests()) == 1
    assert len(feed(container)) == 1 and feed(container, "h2") == []
    clock.advance(hours=2)  # 5:30 PM in Los Angeles; New York had its digest already
    assert container.bus.handle(SendWeeklyDigests()) == 1
    assert len(feed(container)) == 1 and len(feed(container, "h2")) == 1
    assert feed(container, "h2")[0].startswith("Nothing was ordered this week.")
    clock.advance(days=1)  # Monday: nobody's Sunday
    assert container.bus.handle(SendWeeklyDigests()) == 0
    clock.advance(days=6)  # the next Sunday evening: a new week's digest
    assert container.bus.handle(SendWeeklyDigests()) == 2
    assert len(feed(container)) == 2


# -- by voice: "what did we order this week" -------------------------------------------------------------------
def _a_week(container, clock, fake):
    for sku in ("TIDE-PODS-42", "TIDE-PODS-81"):  # two detergents: "detergent", said once
        container.bus.handle(commands.PlaceOrder("h1", "web", (commands.LineRequest(sku, 1),)))
        clock.advance(minutes=1)
    fake.low = ["CHARMIN-12"]


def test_the_digest_is_heard_briefly_with_the_whole_of_it_on_a_card(talk, container, clock, fake):
    _a_week(container, clock, fake)
    talk.say("DigestIntent")
    assert talk.text == ("This week: 2 orders for $35.98, with detergent. Running low: toilet paper. This month: "
                         "$35.98 of your $500.00 limit.")
    assert not talk.open  # an answer, not a question
    assert talk.card["title"] == "Your week"
    assert talk.card["content"].splitlines() == [
        "This week: 2 orders for $35.98.", "- Tide PODS Laundry Detergent, 42 Count",
        "- Tide PODS Laundry Detergent, 81 Count", "Running low: Charmin Ultra Soft Toilet Paper, 12 Mega Rolls.",
        "This month: $35.98 of your $500.00 limit."]
    assert list_view(container.deps, "h1")["items"] == []  # a question changes nothing: the list is as it was
    assert feed(container) == []  # and it is not the Sunday notice


def test_the_voice_and_the_sunday_notice_tell_the_same_week(talk, container, clock, fake):
    _a_week(container, clock, fake)
    container.deps.recommendations = fake  # the digest's own recommender gives the same answers as the skill's
    talk.say("DigestIntent")
    heard = talk.card["content"]
    sunday_evening_in_new_york(clock)  # the same week, five days on
    assert container.bus.handle(SendWeeklyDigests()) == 1
    [notice] = feed(container)
    assert heard.startswith("This week: 2 orders for $35.98.") and notice.startswith("This week: 2 orders for $35.98")
    assert "Charmin Ultra Soft Toilet Paper, 12 Mega Rolls" in heard and "Charmin Ultra Soft Toilet Paper" in notice
    assert "This month: $35.98 of your $500.00 limit." in heard
    assert "This month you've spent $35.98 of your $500.00 limit." in notice


def test_the_digest_in_german_and_british_english(skill, voice_token, container, clock, fake):
    from tests.voice_fakes import Conversation
    _a_week(container, clock, fake)
    german = Conversation(lambda env: skill.invoke({**env, "request": {**env["request"], "locale": "de-DE"}}),
                          voice_token)
    german.say("DigestIntent")
    assert german.text.startswith("Diese Woche: 2 Bestellungen für 35,98 $, mit Waschmittel.")
    assert german.card["title"] == "Deine Woche"
    british = Conversation(lambda env: skill.invoke({**env, "request": {**env["request"], "locale": "en-GB"}}),
                           voice_token)
    british.say("DigestIntent")
    assert british.text.startswith("This week: 2 orders for US$35.98, with washing powder.")


def test_nothing_ordered_is_said_too(talk, container):
    talk.say("DigestIntent")
    assert talk.text == "Nothing was ordered this week. This month: $0.00 of your $500.00 limit."
