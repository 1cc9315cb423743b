"""Use cases of the button and appliance channels. Orders go through the core's ``place_order``, whose
one-order-in-flight rule (``source_id`` + ``exclusive_source``, backed by a unique index) is what keeps a
button or a slot to a single order however many presses or reports arrive at once."""
from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError, OperationalError

from replenish.adapters.device_repository import DeviceStatements
from replenish.domain import commands, device_commands as dc, devices
from replenish.domain.errors import DomainError, InvalidCommand, NotFound, UnknownProduct
from replenish.domain.model import Channel, as_utc, iso

from . import handlers
from .device_views import button_view, device_view, slot_view, subscription_view

log = logging.getLogger(__name__)


class LinkCodeInvalid(DomainError):
    code = "invalid_link_code"
    status = 400
    field = "link_code"


class NotifyOnly(DomainError):
    code = "notify_only"
    status = 409
    field = "slot_id"


def lead_time(deps) -> timedelta:
    """How long an order takes to arrive (``REPLENISH_LEAD_DAYS``): a slot reorders this far ahead of run-out."""
    return timedelta(days=getattr(deps.settings, "delivery_lead_days", 2.0))


def recommendations(deps):
    """The container's recommender (one model in memory per process), given to the handlers by bootstrap."""
    return deps.recommendations


def _household(uow, household_id: str):
    household = uow.households.get(household_id)
    if household is None:
        raise NotFound(f"No household {household_id!r}.", field="household_id")
    return household


def slot_source(device_id: str, slot_id: str) -> str:
    return f"slot:{device_id}:{slot_id}"


def _statements(deps) -> DeviceStatements:
    """The channel's single-statement units of work (presses, slot reports), on the database of ``deps.uow``:
    made on first use and kept on ``deps``."""
    found = deps.device_statements
    if found is None:
        with deps.uow() as uow:
            found = deps.device_statements = DeviceStatements.for_engine(uow.session.get_bind())
    return found


# -- buttons -----------------------------------------------------------------------------------------------

def register_button(cmd: dc.RegisterButton, deps) -> dict:
    with deps.uow() as uow:
        _household(uow, cmd.household_id)
        category = (cmd.category or "").strip() or None
        if cmd.sku and uow.products.get(cmd.sku) is None:
            raise UnknownProduct(f"There is no product with SKU {cmd.sku!r}.", field="sku")
        button = devices.Button(cmd.household_id, sku=cmd.sku or None, category=category, quantity=cmd.quantity,
                                created_at=deps.clock())
        uow.devices.add_button(button)
        uow.track(button)
        uow.commit()
        return {**button_view(button), "secret": button.secret}


def resolve_category(deps, household_id: str, phrase: str) -> str:
    """The product a category button orders now: the recommender's pick, else the cheapest catalog match."""
    try:
        found = recommendations(deps).resolve(household_id, phrase, k=1)
        if found:
            return found[0].sku
    except ImportError:
        log.info("recommender not available; matching %r in the catalog", phrase)
    except Exception:  # the recommender is an aid: a button must still work without it
        log.exception("recommender failed resolving %r; matching in the catalog", phrase)
    words = phrase.lower().split()
    with deps.uow() as uow:
        matches = [p for p in uow.products.all() if p.available
                   and all(w in f"{p.title} {p.category} {' '.join(p.synonyms)}".lower() for w in words)]
    if not matches:
        raise UnknownProduct(f"No product matches {phrase!r}.", field="category")
    return min(matches, key=lambda p: (p.price_cents, p.sku)).sku


def plain_press(cmd: dc.PressButton) -> bool:
    """A single click with no battery reading: what a press answered from the mirrored order in flight is."""
    return cmd.click_type == devices.ClickType.SINGLE.value and cmd.battery_mv is None and \
        cmd.battery_percent is None


def press_button(cmd: dc.PressButton, deps) -> dict:
    click = devices.ClickType(cmd.click_type)
    if cmd.in_flight is not None and plain_press(cmd):
        # an order is in flight (mirrored in Redis, read with the guard, which noted the press's time)
        return {"status": "order_in_progress", "order_id": cmd.in_flight}
    now = deps.clock()
    source_id = f"button:{cmd.serial}"  # Button.source_id
    if click is not devices.ClickType.DOUBLE and cmd.battery_mv is None and cmd.battery_percent is None:
        # Most presses: nothing for the outbox (Button.pressed with no battery reading only notes the time), so
        # noting the press and reading the order in flight is one statement, a unit of work by itself.
        press = _statements(deps).note_press(cmd.serial, now, source_id)
        if press is None:
            raise NotFound(f"No button {cmd.serial!r}.", field="serial")
        household_id, sku, category, quantity, order_id, order_status = press
    else:
        with deps.uow() as uow:
            found = uow.devices.button_for_press(cmd.serial, source_id)  # locked, with the order in flight
            if found is None or found[0].status != "active":
                raise NotFound(f"No button {cmd.serial!r}.", field="serial")
            button, in_flight = found
            household_id, sku, category, quantity = button.household_id, button.sku, button.category, \
                button.quantity
            order_id, order_status = in_flight or (None, None)
            button.pressed(now, cmd.battery_mv, cmd.battery_percent)
            if click is devices.ClickType.DOUBLE:
                button.status_requested(order_id, order_status)
            uow.devices.save_press(button)
            uow.track(button)
            uow.commit()
    if click is devices.ClickType.DOUBLE:
        return {"status": "status_requested", "order_id": order_id, "order_status": order_status}
    if click is devices.ClickType.LONG:
        if order_id is None:
            return {"status": "no_order_to_cancel", "order_id": None}
        try:
            order = handlers.cancel_order(commands.CancelOrder(household_id, order_id, "cancelled from the button"),
                                          deps)
        except DomainError as exc:
            return {"status": "cannot_cancel", "order_id": order_id, "reason": exc.message}
        return {"status": "order_cancelled", "order_id": order["id"]}
    if order_id is not None:  # as Dash did: a press while an order is in flight orders nothing
        _mirror(deps, cmd.serial, order_id)
        return {"status": "order_in_progress", "order_id": order_id}
    if sku is None:
        sku = resolve_category(deps, household_id, category)
    result = handlers.place_order(commands.PlaceOrder(household_id, Channel.BUTTON.value,
                                                      (commands.LineRequest(sku, quantity),), source_id=source_id,
                                                      exclusive_source=True), deps)
    _mirror(deps, cmd.serial, result.order_id)
    return {"status": result.status, "order_id": result.order_id}


def _mirror(deps, serial: str, order_id: str) -> None:
    if deps.button_mirror is not None:
        deps.button_mirror.remember(serial, order_id)


ORDER_ENDED = frozenset({"OrderCancelled", "OrderDelivered", "OrderFailed"})


def button_orders_ended(committed_events, deps) -> None:
    """After a commit: buttons whose order it ended have no order in flight any more (the mirror forgets)."""
    if deps.button_mirror is None:
        return
    serials = [event.source_id.split(":", 1)[1] for event in committed_events
               if event.name in ORDER_ENDED and (getattr(event, "source_id", None) or "").startswith("button:")]
    if serials:
        deps.button_mirror.forget(serials)


def flush_button_presses(deps) -> int:
    """Writes the press times noted in Redis (presses answered from the mirror) to the buttons; returns how
    many buttons. What the database does not take goes back for the next flush."""
    mirror = deps.button_mirror
    if mirror is None:
        return 0
    presses = mirror.take_presses()
    try:
        _statements(deps).note_presses(presses)
    except Exception:
        mirror.put_back(presses)
        raise
    return len(presses)


# -- partners and devices ----------------------------------------------------------------------------------

def create_partner(cmd: dc.CreatePartner, deps) -> dict:
    with deps.uow() as uow:
        partner = devices.Partner(cmd.name, cmd.webhook_url, created_at=deps.clock())
        api_key = partner.issue_api_key()
        secret = partner.add_webhook_secret()
        uow.devices.add_partner(partner)
        uow.commit()
        return {"partner_id": partner.id, "name": partner.name, "api_key": api_key, "webhook_secret": secret,
                "webhook_url": partner.webhook_url}


def rotate_webhook_secret(cmd: dc.RotateWebhookSecret, deps) -> dict:
    with deps.uow() as uow:
        partner = uow.devices.partner(cmd.partner_id)
        if partner is None:
            raise NotFound("No such partner.", field="partner_id")
        added = None
        if cmd.retire:
            partner.retire_webhook_secret(cmd.retire)
        else:
            added = partner.add_webhook_secret()
        uow.commit()
        return {"partner_id": partner.id, "added": added, "active_secrets": len(partner.webhook_secrets)}


def create_link_code(cmd: dc.CreateLinkCode, deps) -> dict:
    with deps.uow() as uow:
        _household(uow, cmd.household_id)
        code = devices.LinkCode(cmd.household_id, deps.clock())
        uow.devices.add_link_code(code)
        uow.commit()
        return {"code": code.code, "expires_at": iso(code.expires_at)}


def register_device(cmd: dc.RegisterDevice, deps) -> dict:
    now = deps.clock()
    if not cmd.slots:
        raise InvalidCommand("A device needs at least one slot.", field="slots")
    if len({s.slot_id for s in cmd.slots}) != len(cmd.slots):
        raise InvalidCommand("Slot ids must be unique.", field="slots")
    with deps.uow() as uow:
        link = uow.devices.link_code(cmd.link_code, for_update=True)
        if link is None or not link.usable(now):
            raise LinkCodeInvalid("That link code is unknown, used or expired; ask the household for a new one.")
        products = uow.products.get_many(sku for spec in cmd.slots for sku in spec.products)
        for spec in cmd.slots:
            for sku in spec.products:
                if sku not in products:
                    raise UnknownProduct(f"There is no product with SKU {sku!r}.", field="slots.products")
        previous = uow.devices.active_device(cmd.partner_id, cmd.external_id)
        if previous is not None:  # the same appliance joining again (new owner, factory reset)
            previous.deregister(now, "registered again")
            uow.track(previous)
            uow.session.flush()
        device = devices.Device(cmd.partner_id, link.household_id, cmd.external_id, cmd.model, created_at=now)
        for spec in cmd.slots:
            device.slots.append(devices.Slot(device.id, spec.slot_id, list(spec.products), spec.capacity, spec.unit,
                                             spec.threshold, spec.target, spec.mode, spec.sku))
        token = device.issue_token()
        link.used_at, link.device_id = now, device.id
        uow.devices.add_device(device)
        uow.track(device)
        try:
            uow.commit()
        except IntegrityError:
            raise LinkCodeInvalid("That link code or device was just registered by another request.")
        return {**device_view(device), "device_token": token}


def _partner_device(uow, partner_id: str | None, device_id: str, *, for_update: bool = False,
                    household_id: str | None = None) -> devices.Device:
    device = uow.devices.device(device_id, for_update=for_update)
    if device is None or (partner_id is not None and device.partner_id != partner_id) or \
            (household_id is not None and device.household_id != household_id):
        raise NotFound(f"No device {device_id!r}.", field="device_id")
    return device


def get_device(partner_id: str | None, device_id: str, deps, household_id: str | None = None) -> dict:
    with deps.uow() as uow:
        return device_view(_partner_device(uow, partner_id, device_id, household_id=household_id))


def subscription_info(partner_id: str, device_id: str, deps) -> dict:
    with deps.uow() as uow:
        device = _partner_device(uow, partner_id, device_id)
        device.ensure_active()
        return subscription_view(device)


def order_info(partner_id: str, device_id: str, deps) -> dict:
    """Orders placed for the device's slots, newest first (the DRS orderInfo idea)."""
    from .views import order_view
    with deps.uow() as uow:
        device = _partner_device(uow, partner_id, device_id)
        sources = {slot_source(device.id, s.slot_id): s.slot_id for s in device.slots}
        orders = [o for o in uow.orders.list(device.household_id, limit=200) if o.source_id in sources]
        return {"orders": [{"slot_id": sources[o.source_id], "order_id": o.id, "status": o.status,
                            "lines": order_view(o)["lines"], "created_at": iso(o.created_at),
                            "expected_delivery": iso(o.expected_delivery)} for o in orders[:50]]}


def heartbeat(cmd: dc.Heartbeat, deps) -> dict:
    now = deps.clock()
    with deps.uow() as uow:
        device = _partner_device(uow, cmd.partner_id, cmd.device_id)
        device.heartbeat(now)
        uow.commit()
        return {"device_id": device.id, "last_seen_at": iso(device.last_seen_at)}


TIMING_TTL = 60.0  # seconds of the clock a (household, product) repurchase timing is reused by slot reports


def _expected_purchase(deps, household_id: str, sku: str):
    """The recommender's expected repurchase time, which a slot with no level trend yet goes by. Kept per
    (household, product) for ``TIMING_TTL`` seconds: reports (several a minute per appliance) do not each ask
    the recommender (and the database, for the household's history); a purchase recorded meanwhile shows in
    the timing at most that much later."""
    try:
        service = recommendations(deps)
        cache = deps.timings
        now, key = deps.clock(), (household_id, sku)
        hit = cache.get(key)
        if hit is not None and hit[2] is service and 0 <= (now - hit[0]).total_seconds() < TIMING_TTL:
            return hit[1]
        expected = None
        history = getattr(service, "history", None)
        if not callable(history) or history(household_id):  # nothing bought yet: no timing, no model to load
            timing = service.next_purchase(household_id, sku)
            expected = timing.expected_at if timing else None
        if len(cache) >= 4096:
            cache.clear()
        cache[key] = (now, expected, service)
        return expected
    except ImportError:
        return None
    except Exception:
        log.exception("recommender timing failed for %s", sku)
        return None


def _place_for_slot(deps, household_id: str, device_id: str, slot_id: str, sku: str, packs: int):
    return handlers.place_order(commands.PlaceOrder(
        household_id, Channel.APPLIANCE.value, (commands.LineRequest(sku, max(1, min(99, packs))),),
        source_id=slot_source(device_id, slot_id), exclusive_source=True), deps)


REPORT_ATTEMPTS = 3  # lock-free tries of a slot report before it waits for the slot's lock instead


def report_slot_status(cmd: dc.ReportSlotStatus, deps) -> dict:
    """Reports of a slot are serialised: each applies to the slot's latest state. Most are applied without a
    transaction: the slot is read (one statement), the policy decides, and the result is written only if the
    slot is still as read (one statement); another report in between makes it try again. A report that makes an
    event for the outbox, or that keeps meeting others, is applied in a unit of work holding the slot's row.
    A report applied after it arrived (see ``apply_slot_reports``) is applied as of its arrival."""
    now = cmd.received_at or deps.clock()
    source_id = slot_source(cmd.device_id, cmd.slot_id)
    statements = _statements(deps)
    saved = None
    with statements.connection() as held:  # the read and the write on one pooled connection
        for _ in range(REPORT_ATTEMPTS):
            found = statements.slot_for_report(cmd.device_id, cmd.slot_id, source_id, held)
            if found is None or found.device.partner_id != cmd.partner_id:
                break  # which 404 it is: the locked path tells
            fresh, decision = _apply_report(cmd, deps, found, now)
            if found.device.events:
                break  # an event: written to the outbox with the slot, in a unit of work
            if statements.save_report_if_unchanged(found, held):
                saved = found, fresh, decision
                break
    if saved is not None:  # answered with the connection back in the pool (an order takes one of its own)
        return _report_answer(cmd, deps, *saved)
    with deps.uow() as uow:
        found = uow.devices.slot_for_report(cmd.device_id, cmd.slot_id, source_id)  # the slot's row locked
        if found is None or found.device.partner_id != cmd.partner_id:
            device = _partner_device(uow, cmd.partner_id, cmd.device_id)  # which 404 (or 410) it is
            device.ensure_active()
            device.slot(cmd.slot_id)
            raise NotFound(f"Device has no slot {cmd.slot_id!r}.", field="slot_id")
        fresh, decision = _apply_report(cmd, deps, found, now)
        uow.devices.save_report(found)
        uow.track(found.device)
        uow.commit()
    return _report_answer(cmd, deps, found, fresh, decision)


def apply_slot_reports(deps, inbox, consumer: str, batch: int = 100, max_batches: int = 50) -> int:
    """Applies reports queued by the web tier (``SlotReportInbox``), oldest first, each as
    ``report_slot_status`` would have at once; returns how many. A report the rules refuse (a slot or device
    that is gone, a nonsensical level) is dropped, logged, and told to the partner in a
    ``slot_report.rejected`` webhook: it was not waiting for the answer. One the database cannot take right
    now stays pending, and is taken again later (by this or another worker)."""
    inbox.apply_started()
    applied = 0
    for _ in range(max_batches):
        entries = inbox.take(consumer, batch)
        if not entries:
            break
        finished = []  # acknowledged whatever happens: a database outage leaves only the rest pending
        try:
            for entry_id, entry in entries:
                try:
                    body = json.loads(entry["body"])
                    when = {k: as_utc(datetime.fromisoformat(body[k])) if body.get(k) else None
                            for k in ("expectedReplenishmentDate", "lastUseDate")}
                    report_slot_status(dc.ReportSlotStatus(
                        entry["partner"], entry["device"], entry["slot"], float(body["remainingQuantityInUnit"]),
                        body.get("originalQuantityInUnit"), body.get("totalQuantityOnHand"),
                        when["expectedReplenishmentDate"], when["lastUseDate"],
                        received_at=as_utc(datetime.fromisoformat(entry["received_at"]))), deps)
                    applied += 1
                except DomainError as exc:
                    log.warning("slot report %s for %s/%s dropped: %s", entry_id, entry.get("device"),
                                entry.get("slot"), exc.message)
                    _report_rejected(deps, entry_id, entry, exc)
                except (KeyError, TypeError, ValueError) as exc:
                    log.warning("slot report %s dropped: unreadable (%s)", entry_id, exc)
                except OperationalError:
                    raise
                except Exception:  # a fault of ours: logged, and not retried for ever
                    log.exception("slot report %s dropped: applying it failed", entry_id)
                finished.append(entry_id)
        finally:
            inbox.done(finished)
        if len(entries) < batch:
            break
    return applied


def _report_rejected(deps, entry_id: str, entry: dict, exc: DomainError) -> None:
    """Tells the partner that a report it sent without waiting was refused when applied (webhook
    ``slot_report.rejected``, in its delivery log), with the reason and the report as received."""
    from .device_events import queue_webhook
    try:
        with deps.uow() as uow:
            data = {"device_id": entry["device"], "slot_id": entry["slot"], "received_at": entry["received_at"],
                    "report": json.loads(entry["body"]), "code": exc.code, "reason": exc.message}
            if queue_webhook(uow, deps, uow.devices.partner(entry["partner"]), "slot_report.rejected",
                             f"SlotReportRejected:{entry['device']}:{entry_id}", data):
                uow.commit()
    except OperationalError:
        raise
    except Exception:  # telling the partner is a courtesy: the report is dropped either way
        log.exception("could not tell the partner that slot report %s was rejected", entry_id)


def _apply_report(cmd: dc.ReportSlotStatus, deps, found, now):
    """The report and the policy's decision, on the slot and device as read: (fresh, decision)."""
    device, slot = found.device, found.slot
    device.ensure_active()
    fresh = slot.report(now, cmd.remaining, cmd.original, cmd.on_hand, cmd.expected_replenishment, cmd.last_use)
    device.last_seen_at = now
    pack_size, lead = (found.pack_size if found.pack_size is not None else 1.0), lead_time(deps)
    decision = slot.decide(now, pack_size, lead)
    if decision.action == "none" and decision.runout_at is None and slot.remaining is not None:
        # above the threshold with no level trend yet (no predicted run-out): the recommender's repurchase
        # timing stands in for the trend
        expected = _expected_purchase(deps, device.household_id, slot.sku)
        if expected is not None:
            decision = slot.decide(now, pack_size, lead, expected)
    if decision.action == "notify" and slot.notified_at is None:
        slot.notified_at = now
        device.slot_low(slot, decision.reason)
    return fresh, decision


def _report_answer(cmd: dc.ReportSlotStatus, deps, found, fresh: bool, decision) -> dict:
    """The answer to a report once it is stored, with the order it placed (or the one in flight)."""
    device, slot = found.device, found.slot
    body = {"slot": slot_view(slot), "fresh": fresh,
            "decision": {"action": decision.action, "reason": decision.reason, "packs": decision.packs,
                         "predicted_runout": iso(decision.runout_at)}, "order": None}
    if decision.action != "order":
        return body
    if found.order_id is not None:  # most reports below the threshold: what place_order would answer
        body["order"] = {"status": "order_in_progress", "order_id": found.order_id}
        return body
    try:
        result = _place_for_slot(deps, device.household_id, device.id, cmd.slot_id, slot.sku, decision.packs)
        body["order"] = {"status": result.status, "order_id": result.order_id}
    except DomainError as exc:  # a spend limit or stock: tell the household, answer the partner calmly
        body["order"] = {"status": "not_placed", "reason": exc.message, "code": exc.code}
        _notify_refused(deps, device.id, cmd.slot_id, exc.message)
    return body


def _notify_refused(deps, device_id: str, slot_id: str, message: str) -> None:
    with deps.uow() as uow:
        device = uow.devices.device(device_id)
        slot = device.slot(slot_id)
        if slot.notified_at is None:
            slot.notified_at = deps.clock()
            device.slot_low(slot, f"could not order: {message}")
            uow.track(device)
        uow.commit()


def replenish(cmd: dc.Replenish, deps) -> dict:
    with deps.uow() as uow:
        device = _partner_device(uow, cmd.partner_id, cmd.device_id)
        device.ensure_active()
        slot = device.slot(cmd.slot_id)
        if slot.mode == devices.SlotMode.NOTIFY.value:
            if slot.notified_at is None:
                slot.notified_at = deps.clock()
                device.slot_low(slot, "replenish requested")
                uow.track(device)
                uow.commit()
            raise NotifyOnly("The household set this slot to notify only; it was told instead.")
        product = uow.products.get(slot.sku)
        packs = slot.packs_needed(product.pack_size if product else 1.0) if slot.remaining is not None else 1
        household_id, device_id, sku = device.household_id, device.id, slot.sku
    result = _place_for_slot(deps, household_id, device_id, cmd.slot_id, sku, packs)
    code = "ORDER_PLACED" if result.status == "order_placed" else "ORDER_IN_PROGRESS"
    return {"detailCode": code, "eventInstanceId": result.order_id, "order_id": result.order_id,
            "status": result.status}


def deregister_device(cmd: dc.DeregisterDevice, deps) -> dict:
    """Stops ordering (pending slot orders are cancelled) and revokes the device's credentials."""
    now = deps.clock()
    with deps.uow() as uow:
        device = _partner_device(uow, cmd.partner_id, cmd.device_id, household_id=cmd.household_id)
        changed = device.deregister(now, cmd.reason)
        cancelled = []
        if changed:
            for slot in device.slots:
                order = uow.orders.active_for_source(device.household_id, slot_source(device.id, slot.slot_id))
                if order is not None and order.status == "pending":
                    order.cancel(now, "device deregistered")
                    cancelled.append(order.id)
        uow.track(device)
        uow.commit()
        return {"device_id": device.id, "status": device.status, "cancelled_orders": cancelled}


def configure_slot(cmd: dc.ConfigureSlot, deps) -> dict:
    with deps.uow() as uow:
        device = _partner_device(uow, None, cmd.device_id, household_id=cmd.household_id)
        device.ensure_active()
        slot = device.slot(cmd.slot_id)
        slot.configure(mode=cmd.mode, sku=cmd.sku, threshold=cmd.threshold, target=cmd.target)
        device.slot_changed(slot)
        uow.track(device)
        uow.commit()
        return slot_view(slot)


DEVICE_COMMAND_HANDLERS = {
    dc.RegisterButton: register_button,
    dc.PressButton: press_button,
    dc.CreatePartner: create_partner,
    dc.RotateWebhookSecret: rotate_webhook_secret,
    dc.CreateLinkCode: create_link_code,
    dc.RegisterDevice: register_device,
    dc.ReportSlotStatus: report_slot_status,
    dc.Heartbeat: heartbeat,
    dc.Replenish: replenish,
    dc.DeregisterDevice: deregister_device,
    dc.ConfigureSlot: configure_slot,
}
