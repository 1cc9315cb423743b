"""Use cases of the button and appliance channels. Orders go through the core's ``place_order``, whose
one-order-in-flight rule (``source_id`` + ``exclusive_source``, backed by a unique index) is what keeps a
button or a slot to a single order however many presses or reports arrive at once."""
from __future__ import annotations

import logging
from datetime import timedelta

from replenish.devices.domain import commands as dc
from replenish.devices.domain import model as devices
from replenish.devices.services.views import (
    button_view,
    device_view,
    slot_view,
    subscription_view,
)
from replenish.domain import commands
from replenish.domain.errors import (
    DomainError,
    DuplicateEntry,
    InvalidCommand,
    NotFound,
    UnknownProduct,
)
from replenish.domain.model import MAX_QUANTITY, Channel, iso
from replenish.services import handlers

log = logging.getLogger(__name__)


class LinkCodeInvalid(DomainError):
    code = "invalid_link_code"
    field = "link_code"


class SlotFull(DomainError):
    code = "slot_full"
    field = "slot_id"


class NotATestOrder(DomainError):
    code = "not_a_test_order"
    field = "order_id"


class NotifyOnly(DomainError):
    code = "notify_only"
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


# -- buttons -----------------------------------------------------------------------------------------------

def register_button(cmd: dc.RegisterButton, deps) -> dict:
    with deps.uow() as uow:
        _household(uow, cmd.household_id)
        category = (cmd.category or "").strip() or None
        if cmd.sku:
            uow.products.require(cmd.sku)
        button = devices.Button(cmd.household_id, sku=cmd.sku or None, category=category, quantity=cmd.quantity,
                                created_at=deps.clock(), action=cmd.action)
        uow.devices.add_button(button)
        uow.track(button)
        uow.commit()
        return {**button_view(button), "key_id": button.serial, "secret": button.secret}


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


def press_button(cmd: dc.PressButton, deps) -> dict:
    """A press: noted on the button (locked, so presses of one button are answered one after the other), then,
    by click: SINGLE orders unless an order is in flight, DOUBLE tells the household the order's status, LONG
    cancels the order in flight. A press the rules refuse (a spending limit) is told to the household."""
    click = devices.ClickType(cmd.click_type)
    now = deps.clock()
    with deps.uow() as uow:
        button = uow.devices.button(cmd.serial, for_update=True)
        if button is None or button.status != "active":
            raise NotFound(f"No button {cmd.serial!r}.", field="serial")
        order_id, order_status = uow.orders.in_flight(button.household_id, button.source_id) or (None, None)
        household_id, sku, category, quantity = button.household_id, button.sku, button.category, button.quantity
        action = getattr(button, "action", None) or "order"
        button.pressed(now, cmd.battery_mv, cmd.battery_percent)
        if click is devices.ClickType.DOUBLE:
            button.status_requested(order_id, order_status)
        uow.track(button)
        uow.commit()
    if click is devices.ClickType.DOUBLE:
        return {"status": "status_requested", "order_id": order_id, "order_status": order_status}
    if action == "list":
        return _press_list_button(deps, cmd.serial, click, household_id, sku, category, quantity)
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
        return {"status": "order_in_progress", "order_id": order_id}
    if sku is None:
        sku = resolve_category(deps, household_id, category)
    try:
        result = handlers.place_order(commands.PlaceOrder(household_id, Channel.BUTTON.value,
                                                          (commands.LineRequest(sku, quantity),),
                                                          source_id=f"button:{cmd.serial}", exclusive_source=True),
                                      deps)
    except DomainError as exc:
        _press_refused(deps, cmd.serial, exc)
        raise
    return {"status": result.status, "order_id": result.order_id}


def _press_list_button(deps, serial: str, click, household_id: str, sku: str | None, category: str | None,
                       quantity: int) -> dict:
    """A list button: a single press puts its product on the shopping list (once: pressing again while it is
    there adds nothing, so a child pressing ten times does not ask for ten); a long press takes it off."""
    from replenish.lists import handlers as lists
    from replenish.lists.model import AddToList, RemoveFromList
    if click is devices.ClickType.LONG:
        try:
            with deps.uow() as uow:
                item = lists.find_open(uow, household_id, sku, category)
            if item is None:
                return {"status": "not_on_list"}
            lists.remove_from_list(RemoveFromList(household_id, item_id=item.id), deps)
        except DomainError as exc:
            return {"status": "cannot_remove", "reason": exc.message}
        return {"status": "removed_from_list"}
    try:
        added = lists.add_to_list(AddToList(household_id, phrase=category, sku=sku, quantity=quantity,
                                            added_by="button", only_if_absent=True), deps)
    except DomainError as exc:
        _press_refused(deps, serial, exc)
        raise
    return {"status": "already_on_list" if added.get("already") else "added_to_list", "item_id": added["id"]}


def _press_refused(deps, serial: str, exc: DomainError) -> None:
    """Tells the household that a press ordered nothing, and why (the button only shows a failure light)."""
    try:
        with deps.uow() as uow:
            button = uow.devices.button(serial)
            if button is not None:
                button.refused(exc.message, exc.code)
                uow.track(button)
                uow.commit()
    except Exception:  # telling is a courtesy: the press is refused either way
        log.exception("could not tell the household that a press of %s was refused", serial)


def set_button_status(cmd: dc.SetButtonStatus, deps) -> dict:
    """A household disables a button (its presses are refused at once) or enables it again."""
    if cmd.status not in ("active", "disabled"):
        raise InvalidCommand("status is 'active' or 'disabled'.", field="status")
    with deps.uow() as uow:
        button = uow.devices.button(cmd.serial, for_update=True)
        if button is None or button.household_id != cmd.household_id or button.status == "unpaired":
            raise NotFound(f"No button {cmd.serial!r}.", field="serial")
        button.status = cmd.status
        uow.commit()
        return button_view(button)


def unpair_button(cmd: dc.UnpairButton, deps) -> dict:
    """The household unpairs a button: its secret stops verifying and it orders nothing ever again."""
    with deps.uow() as uow:
        button = uow.devices.button(cmd.serial, for_update=True)
        if button is None or button.household_id != cmd.household_id or button.status == "unpaired":
            raise NotFound(f"No button {cmd.serial!r}.", field="serial")
        button.status = "unpaired"
        button.secret = devices.new_secret("btn_")  # the old one is gone for good
        uow.commit()
        return button_view(button)


# -- partners and devices ----------------------------------------------------------------------------------

def create_partner(cmd: dc.CreatePartner, deps) -> dict:
    with deps.uow() as uow:
        partner = devices.Partner(cmd.name, cmd.webhook_url, created_at=deps.clock())
        partner.test_mode = cmd.test_mode
        key = partner.issue_key(deps.clock())
        secret = partner.add_webhook_secret()
        uow.devices.add_partner(partner)
        uow.commit()
        return {"partner_id": partner.id, "name": partner.name, "key_id": key.id, "secret": key.secret,
                "webhook_secret": secret, "webhook_url": partner.webhook_url, "test_mode": partner.test_mode}


def _partner(uow, partner_id: str) -> devices.Partner:
    partner = uow.devices.partner(partner_id)
    if partner is None or partner.revoked_at is not None:
        raise NotFound("No such partner.", field="partner_id")
    return partner


def _key_view(key: devices.PartnerKey) -> dict:
    return {"key_id": key.id, "created_at": iso(key.created_at), "revoked_at": iso(key.revoked_at)}


def partner_keys(partner_id: str, deps) -> dict:
    with deps.uow() as uow:
        return {"keys": [_key_view(k) for k in _partner(uow, partner_id).keys]}


def create_partner_key(cmd: dc.CreatePartnerKey, deps) -> dict:
    with deps.uow() as uow:
        key = _partner(uow, cmd.partner_id).issue_key(deps.clock())
        uow.commit()
        return {**_key_view(key), "secret": key.secret}


def revoke_partner_key(cmd: dc.RevokePartnerKey, deps) -> dict:
    with deps.uow() as uow:
        key = _partner(uow, cmd.partner_id).revoke_key(cmd.key_id, deps.clock())
        uow.commit()
        return _key_view(key)


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
        device.test = cmd.test
        for spec in cmd.slots:
            device.slots.append(devices.Slot(device.id, spec.slot_id, list(spec.products), spec.capacity, spec.unit,
                                             spec.threshold, spec.target, spec.mode, spec.sku,
                                             debounce=spec.debounce))
        device_secret = device.issue_secret()
        link.used_at, link.device_id = now, device.id
        uow.devices.add_device(device)
        uow.track(device)
        try:
            uow.commit()
        except DuplicateEntry:
            raise LinkCodeInvalid("That link code or device was just registered by another request.") from None
        return {**device_view(device), "key_id": device.id, "secret": device_secret}


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
    from replenish.services.views import order_view
    with deps.uow() as uow:
        device = _partner_device(uow, partner_id, device_id)
        sources = {slot_source(device.id, s.slot_id): s.slot_id for s in device.slots}
        orders = [o for o in uow.orders.list(device.household_id, limit=200) if o.source_id in sources]
        return {"orders": [{"slot_id": sources[o.source_id], "order_id": o.id, "status": o.status,
                            "lines": order_view(o)["lines"], "created_at": iso(o.created_at),
                            "expected_delivery": iso(o.expected_delivery)} for o in orders[:50]]}


def partner_order(partner_id: str, order_id: str, deps) -> dict:
    """One order placed for one of the partner's devices (DRS getOrderInfo): its status, lines and delivery.
    Any other order, another partner's included, is a 404 that tells nothing about it."""
    from replenish.services.views import order_view
    with deps.uow() as uow:
        order = uow.orders.get(order_id)
        source = (order.source_id or "") if order is not None else ""
        device = None
        if source.startswith("slot:"):
            _, device_id, slot_id = source.split(":", 2)
            device = uow.devices.device(device_id)
        if device is None or device.partner_id != partner_id:
            raise NotFound(f"No order {order_id!r} for your devices.", field="order_id")
        view = order_view(order)
        return {"order_id": order.id, "device_id": device.id, "external_id": device.external_id,
                "slot_id": slot_id, "status": order.status, "test": order.test,
                "detailCode": ("TEST_" if order.test else "") + _drs_code(order.status),
                "lines": [{"sku": line["sku"], "title": line["title"], "quantity": line["quantity"]}
                          for line in view["lines"]],
                **{key: view[key] for key in ("created_at", "submitted_at", "shipped_at", "delivered_at",
                                              "cancelled_at", "failure_reason", "tracking_url",
                                              "expected_delivery", "can_cancel")}}


def partner_test_orders(partner_id: str, deps) -> dict:
    """The partner's test orders still in flight, newest first (cancel them to try again)."""
    with deps.uow() as uow:
        found = uow.devices.test_orders(partner_id)
    return {"orders": [partner_order(partner_id, order_id, deps) for order_id in found]}


def cancel_test_order(cmd: dc.CancelTestOrder, deps) -> dict:
    """A partner cancels one of its test orders (a real order is the household's to cancel)."""
    found = partner_order(cmd.partner_id, cmd.order_id, deps)
    if not found["test"]:
        raise NotATestOrder("Only test orders can be cancelled by a partner; this one is the household's.")
    with deps.uow() as uow:
        household_id = uow.orders.get(cmd.order_id).household_id
    handlers.cancel_order(commands.CancelOrder(household_id, cmd.order_id, "test order cancelled by the partner"),
                          deps)
    return partner_order(cmd.partner_id, cmd.order_id, deps)


def _drs_code(status: str) -> str:
    """The order's state in DRS getOrderInfo's words."""
    return {"pending": "ORDER_PLACED", "submitted": "ORDER_PLACED", "confirmed": "ORDER_PLACED",
            "shipped": "ORDER_SHIPPED", "delivered": "ORDER_DELIVERED", "cancelled": "ORDER_CANCELLED",
            "failed": "ORDER_FAILED"}.get(status, status.upper())


def heartbeat(cmd: dc.Heartbeat, deps) -> dict:
    now = deps.clock()
    with deps.uow() as uow:
        device = _partner_device(uow, cmd.partner_id, cmd.device_id)
        device.heartbeat(now)
        uow.commit()
        return {"device_id": device.id, "last_seen_at": iso(device.last_seen_at)}


def _expected_purchase(deps, household_id: str, sku: str):
    """The recommender's expected repurchase time: what a slot that reports no level goes by."""
    try:
        timing = recommendations(deps).next_purchase(household_id, sku)
        # a product the household stopped buying (or moved on from) is not reordered by its old rhythm
        return timing.expected_at if timing and getattr(timing, "still_buying", 1.0) >= 0.4 else None
    except ImportError:
        return None
    except Exception:
        log.exception("recommender timing failed for %s", sku)
        return None


def _testing(deps, device_id: str) -> bool:
    """Whether the device's orders are test orders: the device is flagged test or its partner is in test mode."""
    with deps.uow() as uow:
        device = uow.devices.device(device_id)
        partner = uow.devices.partner(device.partner_id) if device is not None else None
        return bool(device is not None and (device.test or (partner is not None and partner.test_mode)))


def _place_for_slot(deps, household_id: str, device_id: str, slot_id: str, sku: str, packs: int):
    return handlers.place_order(commands.PlaceOrder(
        household_id, Channel.APPLIANCE.value, (commands.LineRequest(sku, max(1, min(MAX_QUANTITY, packs))),),
        source_id=slot_source(device_id, slot_id), exclusive_source=True, test=_testing(deps, device_id)), deps)


def report_slot_status(cmd: dc.ReportSlotStatus, deps) -> dict:
    """A level (or usage) report, applied in a unit of work holding the slot's row: reports of one slot are
    applied one after the other, each to its latest state; the policy decides on it, and an order it asks for is
    placed through the core (one order in flight per slot)."""
    now = deps.clock()
    with deps.uow() as uow:
        found = uow.devices.device_with_slot(cmd.device_id, cmd.slot_id)
        if found is None or found[0].partner_id != cmd.partner_id:
            device = _partner_device(uow, cmd.partner_id, cmd.device_id)  # which 404 (or 410) it is
            device.ensure_active()
            device.slot(cmd.slot_id)
            raise NotFound(f"Device has no slot {cmd.slot_id!r}.", field="slot_id")
        device, slot = found
        device.ensure_active()
        if cmd.consumed is not None:
            fresh = slot.consume(now, cmd.consumed, cmd.unit, cmd.last_use)
        else:
            fresh = slot.report(now, cmd.remaining, cmd.original, cmd.on_hand, cmd.expected_replenishment,
                                cmd.last_use, cmd.unit)
        device.last_seen_at = now
        product = uow.products.get(slot.sku)
        pack_size = product.pack_size if product is not None and product.pack_size else 1.0
        expected = _expected_purchase(deps, device.household_id, slot.sku) if slot.remaining is None else None
        # as of the newest reading: the level and its trend describe that moment (a device's own clock and a
        # report that took a while to arrive give the same decision as one that came at once)
        readings = slot.readings()
        as_of = min(now, readings[-1].at) if readings else now
        decision = slot.decide(as_of, pack_size, lead_time(deps), expected)
        if decision.action == "notify" and slot.notified_at is None:
            slot.notified_at = now
            device.slot_low(slot, decision.reason)
        order_id = (uow.orders.in_flight(device.household_id, slot_source(device.id, slot.slot_id)) or (None,))[0]
        household_id, sku, body = device.household_id, slot.sku, {"slot": slot_view(slot), "fresh": fresh}
        uow.track(device)
        uow.commit()
    body["decision"] = {"action": decision.action, "reason": decision.reason, "packs": decision.packs,
                        "predicted_runout": iso(decision.runout_at)}
    body["order"] = None
    if decision.action != "order":
        return body
    if order_id is not None:
        body["order"] = {"status": "order_in_progress", "order_id": order_id}
        return body
    try:
        result = _place_for_slot(deps, household_id, cmd.device_id, cmd.slot_id, sku, decision.packs)
        body["order"] = {"status": result.status, "order_id": result.order_id, "test": result.order["test"]}
    except DomainError as exc:  # a spend limit or stock: the household and the partner are told
        body["order"] = {"status": "not_placed", "reason": exc.message, "code": exc.code}
        _order_refused(deps, cmd.device_id, cmd.slot_id, exc)
    return body


def _order_refused(deps, device_id: str, slot_id: str, exc: DomainError) -> None:
    """An order the slot asked for and the rules refused: the household is told (once until the slot is
    refilled) and the partner gets an ``order.refused`` webhook with the reason."""
    try:
        with deps.uow() as uow:
            device = uow.devices.device(device_id)
            slot = device.slot(slot_id)
            device.order_refused(slot, exc.message, exc.code, tell_household=slot.notified_at is None)
            slot.notified_at = slot.notified_at or deps.clock()
            uow.track(device)
            uow.commit()
    except Exception:  # telling is a courtesy: nothing was ordered either way
        log.exception("could not tell about the refused order of %s/%s", device_id, slot_id)


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
        if packs < 1:
            raise SlotFull(f"The slot is at or above its target ({slot.remaining:g} of {slot.target:g} "
                           f"{slot.unit}); nothing to order.")
    try:
        result = _place_for_slot(deps, household_id, device_id, cmd.slot_id, sku, packs)
    except DomainError as exc:
        _order_refused(deps, device_id, cmd.slot_id, exc)
        raise
    code = "ORDER_PLACED" if result.status == "order_placed" else "ORDER_IN_PROGRESS"
    if result.order["test"]:
        code = "TEST_" + code
    return {"detailCode": code, "eventInstanceId": result.order_id, "order_id": result.order_id,
            "status": result.status, "test": result.order["test"]}


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
        slot.configure(mode=cmd.mode, sku=cmd.sku, threshold=cmd.threshold, target=cmd.target, debounce=cmd.debounce)
        device.slot_changed(slot)
        uow.track(device)
        uow.commit()
        return slot_view(slot)


DEVICE_COMMAND_HANDLERS = {
    dc.RegisterButton: register_button,
    dc.PressButton: press_button,
    dc.CreatePartner: create_partner,
    dc.RotateWebhookSecret: rotate_webhook_secret,
    dc.CreatePartnerKey: create_partner_key,
    dc.CancelTestOrder: cancel_test_order,
    dc.RevokePartnerKey: revoke_partner_key,
    dc.SetButtonStatus: set_button_status,
    dc.UnpairButton: unpair_button,
    dc.CreateLinkCode: create_link_code,
    dc.RegisterDevice: register_device,
    dc.ReportSlotStatus: report_slot_status,
    dc.Heartbeat: heartbeat,
    dc.Replenish: replenish,
    dc.DeregisterDevice: deregister_device,
    dc.ConfigureSlot: configure_slot,
}

