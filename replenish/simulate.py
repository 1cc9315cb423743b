"""`replenish simulate`: simulated households, appliances and buttons against a running server, via the SDK.

Setup (households, a partner) goes straight to the database the server uses (same DATABASE_URL); everything
after that is HTTP through the partner SDK and the button client. Simulated days pass in the report dates
(lastUseDate), so the server's trend sees days, not milliseconds. Orders take real time at the server, so a
slot whose order the simulation has already "delivered" may still be answered ORDER_IN_PROGRESS: those are
counted as held back, never as orders."""
from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import requests

from replenish.domain import commands, device_commands as dc
from replenish.sdk import ButtonClient, PartnerClient, PartnerError

LEAD_DAYS = 2
CAPACITY = 84.0


@dataclass
class SimSlot:
    device_id: str
    level: float = CAPACITY
    use_per_day: float = 6.0
    arriving: list = field(default_factory=list)  # (day, amount)
    order_id: str | None = None


def run(container, url: str, *, appliances: int, buttons: int, days: int, seed: int = 7, echo=None) -> dict:
    rng = random.Random(seed)
    say = echo or (lambda *_: None)
    http = requests.Session()
    tag = uuid.uuid4().hex[:6]
    with container.uow() as uow:
        products = {p.sku: p for p in uow.products.all() if p.available}
    if not products:
        raise RuntimeError("the catalog is empty: run `replenish seed-demo` first")
    sku = next((s for s, p in products.items() if "detergent" in p.category.lower()), next(iter(products)))
    pack = products[sku].pack_size or 1.0
    partner = container.bus.handle(dc.CreatePartner(f"Simulated appliances {tag}", ""))
    sdk = PartnerClient(url, partner["key_id"], partner["secret"], webhook_secrets=[partner["webhook_secret"]],
                        session=http)
    stats = {"orders_placed": 0, "in_progress_answers": 0, "held_back": 0, "duplicate_orders": 0,
             "runout_days": 0, "runouts_avoided": 0, "notifications": 0, "button_orders": 0,
             "button_in_progress": 0, "errors": 0}

    slots: list[SimSlot] = []
    for i in range(appliances):
        household = f"sim-{tag}-a{i}"
        container.bus.handle(commands.CreateHousehold(household, f"Simulated {i}"))
        token = container.bus.handle(commands.IssueToken(household))
        code = http.post(f"{url}/v1/devices/link-codes", headers={"Authorization": f"Bearer {token}"},
                         timeout=10).json()["code"]
        device = sdk.register_device(code, f"SIM-{tag}-{i}", model="washer", slots=[{
            "slot_id": "detergent", "products": [sku], "capacity": CAPACITY, "threshold": CAPACITY * 0.2,
            "target": CAPACITY}])
        slots.append(SimSlot(device["device_id"], level=rng.uniform(30, CAPACITY),
                             use_per_day=rng.uniform(3, 9) * pack / 42))
    presses = []
    for i in range(buttons):
        household = f"sim-{tag}-b{i}"
        container.bus.handle(commands.CreateHousehold(household, f"Simulated button {i}"))
        button = container.bus.handle(dc.RegisterButton(household, sku))
        presses.append(ButtonClient(url, button["serial"], button["secret"], session=http))
    say(f"simulating {appliances} appliances and {buttons} buttons for {days} days against {url}")

    start = datetime.now(timezone.utc).replace(microsecond=0)
    for day in range(days):
        when = start + timedelta(days=day)
        for slot in slots:
            for arrival in [a for a in slot.arriving if a[0] <= day]:
                slot.level = min(CAPACITY * 1.5, slot.level + arrival[1])
                slot.arriving.remove(arrival)
            slot.level = max(0.0, slot.level - slot.use_per_day * rng.uniform(0.6, 1.4))
            if slot.level == 0:
                stats["runout_days"] += 1
            try:
                answer = sdk.report_slot_status(slot.device_id, "detergent", round(slot.level, 2),
                                                original=CAPACITY, last_use=when)
            except PartnerError as exc:
                stats["errors"] += 1
                say(f"day {day}: {exc}")
                continue
            order = answer.get("order")
            if answer["decision"]["action"] == "notify":
                stats["notifications"] += 1
            if not order:
                continue
            if order["status"] == "order_placed":
                if slot.arriving:  # a second order while the first is on its way would be a duplicate
                    stats["duplicate_orders"] += 1
                stats["orders_placed"] += 1
                stats["runouts_avoided"] += slot.level > 0
                packs = answer["decision"]["packs"] or 1
                slot.arriving.append((day + LEAD_DAYS, packs * pack))
                slot.order_id = order["order_id"]
            elif order["status"] == "order_in_progress":
                stats["in_progress_answers"] += 1
                if not slot.arriving:
                    stats["held_back"] += 1
        for client in presses:
            if rng.random() < 0.15:
                for _ in range(rng.choice((1, 1, 2, 3))):  # impatient people press again
                    try:
                        result = client.press("SINGLE")
                    except PartnerError:
                        stats["errors"] += 1
                        continue
                    key = "button_orders" if result["status"] == "order_placed" else "button_in_progress"
                    stats[key] += 1
        if echo and (day + 1) % max(1, days // 10) == 0:
            say(f"day {day + 1}: {stats['orders_placed']} appliance orders, {stats['button_orders']} button "
                f"orders, {stats['runout_days']} run-out days")
    summary = (f"{days} days, {appliances} appliances, {buttons} buttons: {stats['orders_placed']} appliance "
               f"orders ({stats['runouts_avoided']} before the tank was empty, {stats['runout_days']} run-out "
               f"days), {stats['in_progress_answers']} in-progress answers ({stats['held_back']} held back "
               f"while the server's order was still open), {stats['duplicate_orders']} duplicate orders; "
               f"{stats['button_orders']} button orders, {stats['button_in_progress']} presses answered "
               f"order_in_progress; {stats['errors']} errors")
    return {**stats, "summary": summary}
