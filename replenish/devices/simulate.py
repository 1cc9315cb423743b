"""`replenish simulate`: simulated households, appliances and buttons against a running server, via the SDK.

Setup (households, a partner, buttons) goes straight to the database the server uses (same DATABASE_URL); the
devices register and everything after that is HTTP, signed, through the partner SDK and the button client.
Simulated days pass in the report dates (``lastUseDate``), so the server's trend sees days, not milliseconds.
An order's goods arrive when the server says the order was delivered (the partner API's order list), so run
the server with a retailer that delivers within a simulated day (the simulated store with short
``SIM_*_DELAY``s, e.g. 0.2 / 0.3 / 0.5 s).

What it counts, and what must stay at zero:
- errors: any answer other than 2xx (by status code);
- duplicate orders: an order placed for a slot (or a button) while an earlier one was not delivered yet;
- run-out days: a slot empty at the end of a day;
- wrong orders: an order placed for a slot whose level was above its threshold and would not have run out
  within the delivery lead time at its true rate of use.
"""
from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from replenish.devices.domain import commands as dc
from replenish.domain import commands
from replenish_partner import ButtonClient, PartnerClient, PartnerError

LEAD_DAYS = 2
DELIVERY_WAIT = 30.0  # seconds a simulated day waits for yesterday's orders to be delivered
CAPACITY = 84.0
THRESHOLD = CAPACITY * 0.2


@dataclass
class SimSlot:
    device_id: str
    level: float = CAPACITY  # in the tank
    spare: float = 0.0  # delivered beyond what the tank holds, in the cupboard
    use_per_day: float = 6.0
    waiting: list = field(default_factory=list)  # (order id, amount) placed and not delivered yet


@dataclass
class SimButton:
    client: ButtonClient
    waiting: str | None = None  # the order placed and not delivered yet


class Stats:
    def __init__(self):
        self.counts: Counter = Counter()
        self.errors: Counter = Counter()
        self._lock = threading.Lock()

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.counts[name] += n

    def error(self, status) -> None:
        with self._lock:
            self.errors[str(status)] += 1

    def answer_of(self, call):
        """``call()``'s answer; None, counted as an error by its status (or the failure's name), when it fails."""
        try:
            return call()
        except PartnerError as exc:
            self.error(exc.status)
        except requests.RequestException as exc:
            self.error(type(exc).__name__)
        return None


_local = threading.local()


def _session() -> requests.Session:
    if not hasattr(_local, "session"):
        _local.session = requests.Session()
    return _local.session


class _PerThread(requests.Session):
    """A session whose requests go through one real session per thread (requests' Session is not thread-safe)."""

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        return _session().request(*args, **kwargs)


def _setup(container, url: str, appliances: int, buttons: int, tag: str, rng, say, pool):
    with container.uow() as uow:
        products = {p.sku: p for p in uow.products.all() if p.available}
    if not products:
        raise RuntimeError("the catalog is empty: run `replenish seed-demo` first")
    sku = next((s for s, p in products.items() if "detergent" in p.category.lower()), next(iter(products)))
    pack = products[sku].pack_size or 1.0
    partner = container.bus.handle(dc.CreatePartner(f"Simulated appliances {tag}", ""))
    sdk = PartnerClient(url, partner["key_id"], partner["secret"], webhook_secrets=[partner["webhook_secret"]],
                        session=_PerThread())

    def household(name: str) -> str:
        container.bus.handle(commands.CreateHousehold(name, name.replace("-", " ").title()))
        # no cancel window: a simulated day lasts moments, and the order should be on its way within it
        container.bus.handle(commands.UpdateLimits(name, clear_per_month_cap=True,
                                                   cancel_windows={"appliance": 0, "button": 0}))
        return name

    def appliance(i: int) -> SimSlot:
        code = container.bus.handle(dc.CreateLinkCode(household(f"sim-{tag}-a{i}")))["code"]
        device = sdk.register_device(code, f"SIM-{tag}-{i}", model="washer", slots=[{
            "slot_id": "detergent", "products": [sku], "capacity": CAPACITY, "threshold": THRESHOLD,
            "target": CAPACITY}])
        return SimSlot(device["device_id"], level=rng.uniform(30, CAPACITY), use_per_day=rng.uniform(3, 9) * pack / 42)

    def button(i: int) -> SimButton:
        made = container.bus.handle(dc.RegisterButton(household(f"sim-{tag}-b{i}"), sku))
        return SimButton(ButtonClient(url, made["key_id"], made["secret"], session=_PerThread()))

    slots = list(pool.map(appliance, range(appliances)))
    presses = list(pool.map(button, range(buttons)))
    say(f"set up {appliances} appliances and {buttons} buttons")
    return sdk, slots, presses, pack


def _delivered(container, order_ids: list[str]) -> set[str]:
    """Which of these orders the server has delivered (cancelled or failed ones count as ended too)."""
    if not order_ids:
        return set()
    with container.uow() as uow:
        found = {oid: uow.orders.get(oid) for oid in order_ids}
        return {oid for oid, order in found.items() if order is not None and order.status in (
            "delivered", "cancelled", "failed")}


def run(container, url: str, *, appliances: int, buttons: int, days: int, seed: int = 7, echo=None,
        concurrency: int = 16) -> dict:
    rng = random.Random(seed)
    say = echo or (lambda *_: None)
    tag = uuid.uuid4().hex[:6]
    stats = Stats()
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        sdk, slots, presses, pack = _setup(container, url, appliances, buttons, tag, rng, say, pool)
        say(f"simulating {appliances} appliances and {buttons} buttons for {days} days against {url}")
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=days)
        # each slot and button draws from a generator of its own: the run is the same whatever the threads do
        slot_rngs = [random.Random(rng.random()) for _ in slots]
        button_rngs = [random.Random(rng.random()) for _ in presses]

        def slot_day(index: int, day: int) -> None:
            slot, own = slots[index], slot_rngs[index]
            slot.level = max(0.0, slot.level - slot.use_per_day * own.uniform(0.6, 1.4))
            topped = min(slot.spare, CAPACITY - slot.level)  # the household tops the tank up from the cupboard
            slot.level, slot.spare = slot.level + topped, slot.spare - topped
            if slot.level == 0:
                stats.add("runout_days")
            answer = stats.answer_of(lambda: sdk.report_slot_status(
                slot.device_id, "detergent", round(slot.level, 2), on_hand=round(slot.level + slot.spare, 2),
                last_use=start + timedelta(days=day, hours=8)))
            if answer is None:
                return
            order = answer.get("order")
            if answer["decision"]["action"] == "notify":
                stats.add("notifications")
            if not order:
                return
            if order["status"] == "order_placed":
                stats.add("orders_placed")
                if slot.waiting:
                    stats.add("duplicate_orders")
                if slot.level > THRESHOLD and slot.spare == 0:
                    stats.add("orders_above_threshold")
                    if slot.level / slot.use_per_day > LEAD_DAYS + 1:
                        stats.add("wrong_orders")  # it would not have run out before another report and a delivery
                stats.add(f"reason:{answer['decision']['reason']}")
                slot.waiting.append((order["order_id"], (answer["decision"]["packs"] or 1) * pack))
            elif order["status"] == "order_in_progress":
                stats.add("in_progress_answers")
            else:
                stats.add("orders_refused")

        def button_day(index: int) -> None:
            button, own = presses[index], button_rngs[index]
            if own.random() >= 0.15:
                return
            for _ in range(own.choice((1, 1, 2, 3))):  # impatient people press again
                result = stats.answer_of(lambda: button.client.press("SINGLE"))
                if result is None:
                    continue
                if result["status"] == "order_placed":
                    stats.add("button_orders")
                    if button.waiting is not None:
                        stats.add("duplicate_orders")
                    button.waiting = result["order_id"]
                else:
                    stats.add("button_in_progress")

        for day in range(days):
            # goods arrive for the orders the server has delivered since yesterday: a delivery takes a day, so
            # the day does not start before they are (or ``DELIVERY_WAIT`` seconds have passed)
            waiting = [oid for s in slots for oid, _ in s.waiting] + [b.waiting for b in presses if b.waiting]
            deadline = time.monotonic() + DELIVERY_WAIT
            ended = _delivered(container, waiting)
            while len(ended) < len(waiting) and time.monotonic() < deadline:
                time.sleep(0.2)
                ended = _delivered(container, waiting)
            if len(ended) < len(waiting):
                stats.add("late_deliveries", len(waiting) - len(ended))
            for slot in slots:
                for order_id, amount in [w for w in slot.waiting if w[0] in ended]:
                    slot.spare += amount
                    slot.waiting.remove((order_id, amount))
            for button in presses:
                if button.waiting in ended:
                    button.waiting = None
            list(pool.map(lambda i, today=day: slot_day(i, today), range(len(slots))))
            list(pool.map(button_day, range(len(presses))))
            if echo and (day + 1) % max(1, days // 10) == 0:
                c = stats.counts
                say(f"day {day + 1}/{days}: {c['orders_placed']} appliance orders, {c['button_orders']} button "
                    f"orders, {c['runout_days']} run-out days, {sum(stats.errors.values())} errors "
                    f"({time.monotonic() - started:.0f} s)")
    seconds = time.monotonic() - started
    c = stats.counts
    result: dict[str, Any] = {key: c[key] for key in (
        "orders_placed", "in_progress_answers", "orders_refused", "duplicate_orders", "runout_days",
        "orders_above_threshold", "wrong_orders", "notifications", "button_orders", "button_in_progress")}
    result["late_deliveries"] = c["late_deliveries"]
    result["order_reasons"] = {k.split(":", 1)[1]: v for k, v in c.items() if k.startswith("reason:")}
    result["errors"] = sum(stats.errors.values())
    result["errors_by_status"] = dict(stats.errors)
    result["seconds"] = round(seconds, 1)
    result["summary"] = (
        f"{days} days, {appliances} appliances, {buttons} buttons in {seconds:.0f} s: "
        f"{result['errors']} errors, {result['duplicate_orders']} duplicate orders, {result['runout_days']} run-out "
        f"days, {result['wrong_orders']} orders for a slot above its threshold that would not have run out "
        f"({result['orders_above_threshold']} above the threshold in all, ordered on the level's trend); "
        f"{result['orders_placed']} appliance orders, {result['in_progress_answers']} reports answered "
        f"order_in_progress; {result['button_orders']} button orders, {result['button_in_progress']} presses "
        f"answered order_in_progress")
    return result
