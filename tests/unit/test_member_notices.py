"""Approval notices on each person's own contact: a new request reaches every owner and adult who has an email or
mobile number of their own and wants these notices; what became of a request reaches the member who asked. Each
notice names people and products, never ids, on the household's clock; the feed always has it."""
from __future__ import annotations

import re

import pytest

from replenish.domain import commands
from replenish.domain.errors import InvalidCommand
from replenish.members.handlers import REACH_TASK
from replenish.members.model import (
    AddMember,
    ChangeMember,
    DecideApproval,
    ExpireApprovals,
    ReachMember,
    RemoveMember,
    RequestApproval,
)
from replenish.services.ports import Message, Recipient

TIDE = commands.LineRequest("TIDE-PODS-42", 2)  # 2 x $12.99 = $25.98
ID = re.compile(r"\b[0-9a-f]{32}\b")


class PersonalChannel:
    """A notifier like SNS: the household's topic (``send``) and one person's own (``send_to``, ``reach``)."""

    channel = "sns"

    def __init__(self, failing: tuple[str, ...] = ()):
        self.household: list[tuple[str, str]] = []
        self.people: list[tuple[str, str, str]] = []  # (name, kind, text)
        self.contacts: dict[str, tuple] = {}  # key -> (email, phone) as last set up
        self.reached: list[str] = []
        self.unreached: list[str] = []
        self.failing = failing

    def send(self, message: Message) -> None:
        self.household.append((message.kind, message.text))

    def send_to(self, person: Recipient, message: Message) -> None:
        if person.name in self.failing:
            raise RuntimeError("SNS said no")
        self.people.append((person.name, message.kind, message.text))
        self.contacts[person.key] = (person.email, person.phone)

    def reach(self, person: Recipient) -> str:
        self.reached.append(person.name)
        self.contacts[person.key] = (person.email, person.phone)
        return f"arn:{person.key}"

    def unreach(self, key: str) -> None:
        self.unreached.append(key)
        self.contacts.pop(key, None)


class HouseholdOnly:
    """A notifier that knows households only (like Alexa's notifications): never a person's."""

    channel = "alexa"

    def __init__(self):
        self.sent: list[str] = []

    def send(self, message: Message) -> None:
        self.sent.append(message.kind)


@pytest.fixture
def sns():
    return PersonalChannel()


@pytest.fixture
def alexa():
    return HouseholdOnly()


@pytest.fixture
def home(make_container, sns, alexa):
    container = make_container(notifiers=[sns, alexa])
    # the household's own channels want everything: they must not get what goes to people on their own
    container.bus.handle(commands.SetNotificationPrefs("h1", {"email": True, "sms": False, "alexa": True}, {},
                                                       email="home@example.com"))
    return container


def add(container, name, role, **contact):
    return container.bus.handle(AddMember("h1", name, role, **contact))


@pytest.fixture
def people(home):
    return {"olivia": add(home, "Olivia", "owner", email="olivia@example.com"),
            "alex": add(home, "Alex", "adult", phone="+1 (555) 010-0199"),
            "pat": add(home, "Pat", "adult"),  # no contact of their own
            "ann": add(home, "Ann", "adult", email="ann@example.com", approval_notices=False),
            "sam": add(home, "Sam", "child", email="sam@example.com"),
            "gus": add(home, "Gus", "guest")}


def feed(container, kind: str) -> list[str]:
    with container.uow() as uow:
        return [n.message for n in uow.notifications.for_household("h1") if n.kind == kind and n.channel == "feed"]


def records(container, kind: str) -> dict[str, str]:
    """Where each notice of this kind went, and how: channel -> status."""
    with container.uow() as uow:
        return {n.channel: n.status for n in uow.notifications.for_household("h1") if n.kind == kind}


REQUESTED = ("Sam asked for 2 × Tide PODS Laundry Detergent, 42 Count ($25.98). Approve or decline it under "
             "Approvals by tomorrow at 11:00 AM.")  # asked at 15:00 UTC: 11:00 AM in New York


def test_a_request_reaches_each_adult_who_wants_it_on_their_own_contact(home, people, sns, alexa):
    home.bus.handle(RequestApproval("h1", people["sam"]["id"], "voice", (TIDE,)))
    assert sorted(sns.people) == [("Alex", "ApprovalRequested", REQUESTED), ("Olivia", "ApprovalRequested", REQUESTED)]
    # Pat has no contact, Ann said no to these notices, Sam and Gus ask rather than approve
    assert sns.contacts[people["alex"]["id"]] == (None, "+15550100199")
    assert feed(home, "ApprovalRequested") == [REQUESTED]
    assert records(home, "ApprovalRequested") == {"feed": "sent", "sns to Olivia": "sent", "sns to Alex": "sent"}
    assert sns.household == [] and alexa.sent == []  # the adults were told themselves: not the household again
    assert not ID.search(REQUESTED) and "TIDE-PODS" not in REQUESTED


def test_the_decision_reaches_the_member_who_asked(home, people, sns, alexa):
    request = home.bus.handle(RequestApproval("h1", people["sam"]["id"], "voice", (TIDE,)))
    sns.people.clear()
    home.bus.handle(DecideApproval("h1", request["id"], True, people["alex"]["id"]))
    said = "Alex approved Sam's request for 2 × Tide PODS Laundry Detergent, 42 Count: it is ordered ($25.98)."
    assert sns.people == [("Sam", "ApprovalApproved", said)]
    assert feed(home, "ApprovalApproved") == [said]
    assert records(home, "ApprovalApproved") == {"feed": "sent", "sns to Sam": "sent"}
    assert sns.household == [] and alexa.sent == []


def test_a_decline_by_the_token_holder_names_the_owner_and_a_member_without_contact_has_the_feed(home, people, sns):
    request = home.bus.handle(RequestApproval("h1", people["gus"]["id"], "web", (TIDE,)))
    sns.people.clear()
    home.bus.handle(DecideApproval("h1", request["id"], False))
    assert feed(home, "ApprovalDeclined") == ["Olivia declined Gus's request for 2 × Tide PODS Laundry Detergent, "
                                              "42 Count."]
    assert sns.people == [] and sns.household == []


def test_an_expired_request_reaches_the_member_who_asked(home, people, sns, clock):
    home.bus.handle(RequestApproval("h1", people["sam"]["id"], "voice", (TIDE,)))
    sns.people.clear()
    clock.advance(days=1)
    assert home.bus.handle(ExpireApprovals()) == 1
    said = ("Sam's request for 2 × Tide PODS Laundry Detergent, 42 Count expired: no adult answered within a day, "
            "so nothing was ordered.")
    assert sns.people == [("Sam", "ApprovalExpired", said)] and feed(home, "ApprovalExpired") == [said]


def test_a_member_who_said_no_to_the_notices_is_not_told(home, people, sns):
    home.bus.handle(ChangeMember("h1", people["sam"]["id"], {"approval_notices": False}))
    request = home.bus.handle(RequestApproval("h1", people["sam"]["id"], "voice", (TIDE,)))
    home.bus.handle(DecideApproval("h1", request["id"], False, people["olivia"]["id"]))
    assert [name for name, kind, _ in sns.people if kind == "ApprovalDeclined"] == []
    assert feed(home, "ApprovalDeclined") == ["Olivia declined Sam's request for 2 × Tide PODS Laundry Detergent, "
                                              "42 Count."]


def test_without_an_adults_own_contact_the_households_channels_carry_the_request(home, sns, alexa):
    sam = add(home, "Sam", "child", email="sam@example.com")
    add(home, "Alex", "adult")
    home.bus.handle(RequestApproval("h1", sam["id"], "voice", (TIDE,)))
    assert sns.people == []
    assert sns.household == [("ApprovalRequested", REQUESTED)] and alexa.sent == ["ApprovalRequested"]


def test_an_adult_who_said_no_is_not_told_through_the_household_instead(home, sns, alexa):
    sam = add(home, "Sam", "child")
    add(home, "Alex", "adult", email="alex@example.com", approval_notices=False)
    home.bus.handle(RequestApproval("h1", sam["id"], "voice", (TIDE,)))
    assert sns.people == [] and sns.household == [] and alexa.sent == []
    assert feed(home, "ApprovalRequested") == [REQUESTED]


def test_one_contact_failing_stops_no_one_else(make_container):
    sns = PersonalChannel(failing=("Olivia",))
    home = make_container(notifiers=[sns])
    add(home, "Olivia", "owner", email="olivia@example.com")
    add(home, "Alex", "adult", phone="+15550100199")
    sam = add(home, "Sam", "child")
    home.bus.handle(RequestApproval("h1", sam["id"], "voice", (TIDE,)))
    assert [name for name, _, _ in sns.people] == ["Alex"]
    assert records(home, "ApprovalRequested") == {"feed": "sent", "sns to Olivia": "failed", "sns to Alex": "sent"}


def test_the_clock_is_the_households(make_container, clock):
    home = make_container(notifiers=[PersonalChannel()])
    home.bus.handle(commands.CreateHousehold("h2", "West", "2 Main St", "America/Los_Angeles"))
    kid = home.bus.handle(AddMember("h2", "Kim", "child"))
    clock.advance(hours=8)  # 23:00 UTC: 4:00 PM in Los Angeles, already tomorrow in UTC
    home.bus.handle(RequestApproval("h2", kid["id"], "web", (TIDE,)))
    with home.uow() as uow:
        [said] = [n.message for n in uow.notifications.for_household("h2") if n.kind == "ApprovalRequested"]
    assert said.endswith("by tomorrow at 4:00 PM.")


# -- the contact ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("changes, field", [
    ({"email": "sam@"}, "email"),
    ({"email": "sam at example.com"}, "email"),
    ({"email": "x" * 250 + "@example.com"}, "email"),
    ({"email": 7}, "email"),
    ({"phone": "555-0199"}, "phone"),  # no country code
    ({"phone": "+1 555 CALL ME"}, "phone"),
    ({"phone": "+0123456789"}, "phone"),
    ({"approval_notices": "yes"}, "approval_notices"),
])
def test_a_contact_is_checked_and_the_error_names_the_field(home, people, changes, field):
    with pytest.raises(InvalidCommand) as bad:
        home.bus.handle(ChangeMember("h1", people["pat"]["id"], changes))
    assert bad.value.field == field
    with pytest.raises(InvalidCommand) as bad:
        home.bus.handle(AddMember("h1", "Kim", "adult", **changes))
    assert bad.value.field == field


def test_a_changed_contact_is_set_up_in_a_worker_and_a_removed_member_taken_down(home, people, sns):
    queue = home.deps.queue
    # adding members with a contact asked for their channels (Olivia, Alex, Ann, Sam); Pat and Gus have none
    assert [args[1] for name, args in queue.sent if name == REACH_TASK] == [
        people[n]["id"] for n in ("olivia", "alex", "ann", "sam")]
    queue.sent.clear()
    home.bus.handle(ChangeMember("h1", people["pat"]["id"], {"per_order_cap_cents": 500}))
    home.bus.handle(ChangeMember("h1", people["pat"]["id"], {"approval_notices": False}))
    assert queue.sent == []  # nothing about the contact changed
    home.bus.handle(ChangeMember("h1", people["pat"]["id"], {"email": "pat@example.com"}))
    assert queue.sent == [(REACH_TASK, ("h1", people["pat"]["id"]))]
    for _, args in queue.sent:  # what the worker does
        assert home.bus.handle(ReachMember(*args)) is True
    assert sns.contacts[people["pat"]["id"]] == ("pat@example.com", None)
    home.bus.handle(ChangeMember("h1", people["pat"]["id"], {"email": ""}))  # empty clears it
    assert home.bus.handle(ReachMember("h1", people["pat"]["id"])) is False
    assert people["pat"]["id"] in sns.unreached
    home.bus.handle(RemoveMember("h1", people["alex"]["id"]))
    assert queue.sent[-1] == (REACH_TASK, ("h1", people["alex"]["id"]))
    home.bus.handle(ReachMember("h1", people["alex"]["id"]))
    assert people["alex"]["id"] in sns.unreached


def test_without_a_notifier_that_reaches_people_nothing_is_queued(container):
    container.bus.handle(AddMember("h1", "Olivia", "owner", email="olivia@example.com"))
    assert container.deps.queue.sent == []
