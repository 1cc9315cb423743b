"""Members, their roles and caps, and approval requests: the rules a household notices."""
from __future__ import annotations

import pytest

from replenish.domain import commands
from replenish.domain.errors import InvalidCommand, LimitExceeded, ProductUnavailable
from replenish.members.model import (
    AddMember,
    ApprovalNeeded,
    ChangeMember,
    DecideApproval,
    ExpireApprovals,
    NotAllowed,
    RemoveMember,
    RequestApproval,
    RequestClosed,
)

TIDE = commands.LineRequest("TIDE-PODS-42", 2)  # 2 x $12.99 = $25.98


@pytest.fixture
def people(container):
    bus = container.bus
    return {
        "alex": bus.handle(AddMember("h1", "Alex", "adult", per_order_cap_cents=3000, person_id="amzn1.person.alex")),
        "sam": bus.handle(AddMember("h1", "Sam", "child", person_id="amzn1.person.sam")),
        "gus": bus.handle(AddMember("h1", "Gus", "guest")),
        "olivia": bus.handle(AddMember("h1", "Olivia", "owner")),
    }


def _orders(container):
    with container.uow() as uow:
        return [{"id": o.id, "channel": o.channel} for o in uow.orders.list("h1", limit=50)]


def _notices(container) -> list[str]:
    from sqlalchemy import text
    with container.engine.connect() as conn:
        return [r[0] for r in conn.execute(text("SELECT message FROM notifications WHERE channel = 'feed' "
                                                "ORDER BY created_at"))]


def test_a_childs_voice_order_is_refused_and_a_request_is_made_instead(container, people):
    with pytest.raises(ApprovalNeeded):
        container.bus.handle(commands.PlaceOrder("h1", "voice", (TIDE,), speaker="amzn1.person.sam"))
    request = container.bus.handle(RequestApproval("h1", people["sam"]["id"], "voice", (TIDE,)))
    assert request["status"] == "pending" and request["requested_by"] == "Sam"
    assert request["total_cents"] == 2598
    assert _orders(container) == []
    notice = _notices(container)[-1]
    assert "Sam asked for 2 × Tide PODS Laundry Detergent, 42 Count ($25.98)" in notice
    assert people["sam"]["id"] not in notice and "TIDE-PODS-42" not in notice
    assert "tomorrow" in notice  # the expiry, on the household's clock


def test_a_guest_cannot_order_either(container, people):
    with pytest.raises(ApprovalNeeded):
        container.bus.handle(commands.PlaceOrder("h1", "web", (TIDE,), speaker=people["gus"]["id"]))


def test_an_adults_own_per_order_cap_applies_to_their_voice_orders(container, people):
    big = commands.LineRequest("TIDE-PODS-81", 2)  # $45.98 over Alex's $30
    with pytest.raises(LimitExceeded) as refused:
        container.bus.handle(commands.PlaceOrder("h1", "voice", (big,), speaker="amzn1.person.alex"))
    assert refused.value.details["cap_cents"] == 3000 and "Alex's limit is $30.00" in refused.value.message
    assert _orders(container) == []
    placed = container.bus.handle(commands.PlaceOrder("h1", "voice", (TIDE,), speaker="amzn1.person.alex"))
    assert placed.status == "order_placed"
    # an unknown voice and the household itself keep the household's caps only
    assert container.bus.handle(commands.PlaceOrder("h1", "web", (big,))).status == "order_placed"


def test_a_members_monthly_cap_counts_only_their_orders_this_month(container, people, clock):
    container.bus.handle(ChangeMember("h1", people["alex"]["id"], {"per_order_cap_cents": None,
                                                                   "per_month_cap_cents": 4000}))
    container.bus.handle(commands.PlaceOrder("h1", "web", (TIDE,)))  # the household's own: not Alex's
    container.bus.handle(commands.PlaceOrder("h1", "voice", (TIDE,), speaker="amzn1.person.alex",
                                             idempotency_key="a1"))
    with pytest.raises(LimitExceeded) as refused:
        container.bus.handle(commands.PlaceOrder("h1", "voice", (TIDE,), speaker="amzn1.person.alex",
                                                 idempotency_key="a2"))
    assert refused.value.details["limit"] == "per_month" and refused.value.details["spent_cents"] == 2598
    # a retry of the first order is answered with it, not refused by the cap it counts towards
    again = container.bus.handle(commands.PlaceOrder("h1", "voice", (TIDE,), speaker="amzn1.person.alex",
                                                     idempotency_key="a1"))
    assert again.replayed
    clock.advance(days=31)
    assert container.bus.handle(commands.PlaceOrder("h1", "voice", (TIDE,), speaker="amzn1.person.alex",
                                                    idempotency_key="a3")).status == "order_placed"


def test_approving_places_one_order_with_the_requester_as_speaker(container, people):
    request = container.bus.handle(RequestApproval("h1", people["sam"]["id"], "voice", (TIDE,)))
    approved = container.bus.handle(DecideApproval("h1", request["id"], True, people["alex"]["id"]))
    assert approved["status"] == "approved" and approved["decided_by"] == "Alex"
    twice = container.bus.handle(DecideApproval("h1", request["id"], True, people["olivia"]["id"]))
    assert twice["order_id"] == approved["order_id"]
    orders = _orders(container)
    assert [o["id"] for o in orders] == [approved["order_id"]]
    assert orders[0]["channel"] == "voice"
    order_id = orders[0]["id"]
    with container.uow() as uow:
        rows = uow.outbox.timeline(order_id)
        assert rows[0].payload["speaker"] == people["sam"]["id"]
        from replenish.members.handlers import order_people
        assert order_people(uow, "h1", [order_id]) == {order_id: "Asked for by Sam, approved by Alex"}
    notice = _notices(container)[-1]
    assert "Alex approved Sam's request for 2 × Tide PODS" in notice


def test_approval_keeps_the_household_caps_and_availability(container, people):
    request = container.bus.handle(RequestApproval("h1", people["sam"]["id"], "web",
                                                   (commands.LineRequest("BRITA-FILTER-3", 1),)))
    with pytest.raises(ProductUnavailable):
        container.bus.handle(DecideApproval("h1", request["id"], True))
    assert _orders(container) == []
    # still pending: an adult can decline it
    declined = container.bus.handle(DecideApproval("h1", request["id"], False))
    assert declined["status"] == "declined"
    assert "declined Sam's request for Brita Standard Water Filter, 3 Pack" in _notices(container)[-1]
    with pytest.raises(RequestClosed):
        container.bus.handle(DecideApproval("h1", request["id"], True))


def test_only_adults_decide(container, people):
    request = container.bus.handle(RequestApproval("h1", people["sam"]["id"], "voice", (TIDE,)))
    with pytest.raises(NotAllowed):
        container.bus.handle(DecideApproval("h1", request["id"], True, people["sam"]["id"]))
    assert _orders(container) == []


def test_a_request_expires_after_a_day_and_the_feed_says_so(container, people, clock):
    request = container.bus.handle(RequestApproval("h1", people["sam"]["id"], "voice", (TIDE,)))
    clock.advance(hours=23)
    assert container.bus.handle(ExpireApprovals()) == 0
    clock.advance(hours=1)
    assert container.bus.handle(ExpireApprovals()) == 1
    assert "Sam's request for 2 × Tide PODS Laundry Detergent, 42 Count expired" in _notices(container)[-1]
    with pytest.raises(RequestClosed):
        container.bus.handle(DecideApproval("h1", request["id"], True))
    assert _orders(container) == []


def test_an_overdue_request_cannot_be_approved_even_before_the_task_ran(container, people, clock):
    request = container.bus.handle(RequestApproval("h1", people["sam"]["id"], "voice", (TIDE,)))
    clock.advance(days=1, seconds=1)
    with pytest.raises(RequestClosed, match="expired"):
        container.bus.handle(DecideApproval("h1", request["id"], True))
    assert _orders(container) == []


def test_member_input_is_checked(container, people):
    with pytest.raises(InvalidCommand) as bad:
        container.bus.handle(AddMember("h1", "Kim", "boss"))
    assert bad.value.field == "role"
    with pytest.raises(InvalidCommand) as bad:
        container.bus.handle(AddMember("h1", "Kim", "adult", person_id="amzn1.person.sam"))
    assert bad.value.field == "person_id" and "Sam's" in bad.value.message
    with pytest.raises(InvalidCommand) as bad:
        container.bus.handle(AddMember("h1", "sam", "adult"))
    assert bad.value.field == "name"
    with pytest.raises(InvalidCommand) as bad:
        container.bus.handle(ChangeMember("h1", people["sam"]["id"], {"per_order_cap_cents": -5}))
    assert bad.value.field == "per_order_cap_cents"
    assert container.bus.handle(RemoveMember("h1", people["gus"]["id"])) == {"removed": "Gus"}


def test_a_decline_that_lands_while_approving_wins_and_the_order_is_withdrawn(container, people, monkeypatch):
    from replenish.services import handlers as core
    request = container.bus.handle(RequestApproval("h1", people["sam"]["id"], "voice", (TIDE,)))
    place = core.place_order

    def racing(cmd, deps):  # another adult declines between the order and the request's update
        result = place(cmd, deps)
        container.bus.handle(DecideApproval("h1", request["id"], False, people["olivia"]["id"]))
        return result

    monkeypatch.setattr(core, "place_order", racing)
    with pytest.raises(RequestClosed):
        container.bus.handle(DecideApproval("h1", request["id"], True, people["alex"]["id"]))
    with container.uow() as uow:
        [order] = uow.orders.list("h1")
        assert order.status == "cancelled"
        assert uow.members.request("h1", request["id"]).status == "declined"
