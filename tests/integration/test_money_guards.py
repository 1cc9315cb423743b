"""Guards on a household's money under concurrency, on real PostgreSQL: spending caps, and voice PIN attempts,
checked and recorded one after the other (a lock on the household's limits row), whatever arrives at once."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text

from replenish.domain import commands
from replenish.domain.commands import LineRequest
from replenish.domain.errors import LimitExceeded, PinLocked
from tests.conftest import PRODUCTS

pytestmark = pytest.mark.integration


@pytest.fixture
def container(pg_container):
    return pg_container


def _household(container, household_id: str, month_cap: int | None = None) -> None:
    container.bus.handle(commands.CreateHousehold(household_id, household_id.title()))
    container.bus.handle(commands.UpdateLimits(household_id, per_order_cap_cents=None, per_month_cap_cents=month_cap,
                                               clear_per_order_cap=True))


def _order(container, household_id: str):
    try:
        return container.bus.handle(commands.PlaceOrder(household_id, "web", (LineRequest(PRODUCTS[0].sku, 1),)))
    except LimitExceeded:
        return None


def test_twenty_orders_at_once_against_a_month_cap_that_fits_two_place_exactly_two(container):
    price = PRODUCTS[0].price_cents
    _household(container, "capped", month_cap=2 * price)
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(lambda _: _order(container, "capped"), range(20)))
    assert sum(r is not None for r in results) == 2
    with container.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM orders WHERE household_id = 'capped'")).scalar_one() == 2


def test_two_households_ordering_at_once_never_affect_each_other(container):
    price = PRODUCTS[0].price_cents
    _household(container, "east", month_cap=2 * price)
    _household(container, "west", month_cap=3 * price)
    jobs = ["east", "west"] * 15
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(lambda h: (h, _order(container, h)), jobs))
    placed = {h: sum(r is not None for who, r in results if who == h) for h in ("east", "west")}
    assert placed == {"east": 2, "west": 3}


def test_thirty_wrong_pins_at_once_are_counted_three_times_then_locked(container):
    _household(container, "pin")
    container.bus.handle(commands.SetVoicePin("pin", "1234"))

    def attempt(i):
        try:
            return "wrong" if not container.bus.handle(commands.CheckVoicePin("pin", f"{i % 9000 + 1000:04d}"
                                                                            if i % 9000 + 1000 != 1234 else "0000"))\
                else "right"
        except PinLocked:
            return "locked"
    with ThreadPoolExecutor(max_workers=30) as pool:
        outcomes = list(pool.map(attempt, range(30)))
    # two wrong codes are counted, the third locks (and says so), the other 27 find it locked
    assert outcomes.count("wrong") == 2 and outcomes.count("locked") == 28
    with container.engine.connect() as conn:
        lockouts = conn.execute(text("SELECT pin_lockouts FROM household_limits WHERE household_id = 'pin'")
                                ).scalar_one()
        events = conn.execute(text("SELECT count(*) FROM outbox WHERE event_type = 'VoicePinLocked'")).scalar_one()
    assert lockouts == 1 and events == 1
    with pytest.raises(PinLocked):  # the right code too, while locked
        container.bus.handle(commands.CheckVoicePin("pin", "1234"))
