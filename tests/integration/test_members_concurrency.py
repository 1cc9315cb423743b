"""Approving a request spends money: on real PostgreSQL and Redis, adults approving the same request at once (and
again and again) place one order; a member's monthly cap holds when they order several things at once."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text

from replenish.domain import commands
from replenish.domain.errors import DomainError
from replenish.members.model import AddMember, DecideApproval, RequestApproval

pytestmark = pytest.mark.integration


@pytest.fixture
def container(pg_container):
    pg_container.bus.handle(commands.CreateHousehold("fam", "Family", time_zone="America/Los_Angeles"))
    return pg_container


def _count(container, sql: str) -> int:
    with container.engine.connect() as conn:
        return conn.execute(text(sql)).scalar_one()


def _try(container, command):
    try:
        return container.bus.handle(command)
    except DomainError as exc:
        return exc


def test_adults_approving_one_request_at_once_place_one_order(container):
    sam = container.bus.handle(AddMember("fam", "Sam", "child"))
    adults = [container.bus.handle(AddMember("fam", name, "adult"))["id"] for name in ("Alex", "Bo", "Cy")]
    request = container.bus.handle(RequestApproval("fam", sam["id"], "voice",
                                                   (commands.LineRequest("TIDE-PODS-42", 2),)))
    start = threading.Barrier(12)

    def approve(i):
        start.wait()
        return _try(container, DecideApproval("fam", request["id"], True, adults[i % 3] if i % 4 else None))

    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(approve, range(12)))
    assert all(not isinstance(r, DomainError) for r in results), [getattr(r, "message", r) for r in results]
    assert len({r["order_id"] for r in results}) == 1
    assert _count(container, "SELECT count(*) FROM orders WHERE household_id = 'fam'") == 1
    assert _count(container, "SELECT count(*) FROM notifications WHERE kind = 'ApprovalApproved' "
                             "AND channel = 'feed'") == 1
    with container.uow() as uow:
        [order] = uow.orders.list("fam")
        assert [row.payload.get("speaker") for row in uow.outbox.timeline(order.id)][0] == sam["id"]


def test_an_approval_racing_a_decline_leaves_no_live_order(container):
    sam = container.bus.handle(AddMember("fam", "Sam", "child"))
    alex = container.bus.handle(AddMember("fam", "Alex", "adult"))["id"]
    for _ in range(5):
        request = container.bus.handle(RequestApproval("fam", sam["id"], "web",
                                                       (commands.LineRequest("CHARMIN-12", 1),)))
        start = threading.Barrier(2)

        def decide(approve, request_id=request["id"], start=start):
            start.wait()
            return _try(container, DecideApproval("fam", request_id, approve, alex))

        with ThreadPoolExecutor(max_workers=2) as pool:
            approved, declined = pool.submit(decide, True), pool.submit(decide, False)
            approved, declined = approved.result(), declined.result()
        with container.uow() as uow:
            status = uow.members.request("fam", request["id"]).status
            live = [o for o in uow.orders.list("fam") if o.status != "cancelled"
                    and o.idempotency_key == f"approval:{request['id']}"]
        assert (status, len(live)) in (("approved", 1), ("declined", 0)), (status, approved, declined)


def test_a_members_monthly_cap_holds_when_they_order_at_once(container):
    alex = container.bus.handle(AddMember("fam", "Alex", "adult", per_month_cap_cents=5000,
                                          person_id="amzn1.ask.person.ALEX"))
    start = threading.Barrier(8)

    def order(i):
        start.wait()
        return _try(container, commands.PlaceOrder("fam", "voice", (commands.LineRequest("CHARMIN-12", 1),),
                                                   idempotency_key=f"k{i}", speaker="amzn1.ask.person.ALEX"))

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(order, range(8)))
    placed = [r for r in results if not isinstance(r, DomainError)]
    assert len(placed) == 2  # 2 x $18.99 fits in $50; a third would not
    assert all(r.code == "limit_exceeded" for r in results if isinstance(r, DomainError))
    assert alex["per_month_cap_cents"] == 5000
