"""One handler per command. Each receives the command and its dependencies (``Deps``) from the bus."""
from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from replenish.domain import commands, model
from replenish.domain.errors import (
    ConcurrentUpdate,
    DuplicateEntry,
    IdempotencyKeyReused,
    InvalidCommand,
    LimitExceeded,
    NotFound,
    OrderOnItsWay,
    PinLocked,
    ProductUnavailable,
    UnknownProduct,
)
from replenish.domain.history import Purchase

from . import merging, messages
from .ports import PermanentError, TransientError, submit_all
from .retry import SubmitBackoff
from .views import limits_view, order_view

if TYPE_CHECKING:
    from collections.abc import Iterable

    from replenish.config import Settings

    from .event_handlers import EventConsumers
    from .ports import FulfillmentGateway, Locks, Notifier, SubmitResult, TaskQueue
    from .recommendations import Recommendations
    from .unit_of_work import SqlAlchemyUnitOfWork

log = logging.getLogger(__name__)


@dataclass
class Deps:
    uow: Callable[[], SqlAlchemyUnitOfWork]
    clock: Callable[[], datetime]
    gateway: FulfillmentGateway
    notifiers: list[Notifier]
    queue: TaskQueue
    locks: Locks
    settings: Settings
    recommendations: Recommendations
    consumers: EventConsumers  # the container's event consumers (the message bus owns them)
    # Called with a household id after its API tokens changed (issued, revoked): entrypoints that keep state
    # bound to a token hang their reaction here (the web ends the household's dashboard sessions).
    token_listeners: list[Callable[[str], object]] = field(default_factory=list)
    # The bus's PlaceOrder handler (members' replaces the core's): features that place orders go through it.
    place_order: Callable[[commands.PlaceOrder, Deps], PlaceResult] | None = None


@dataclass(frozen=True)
class PlaceResult:
    status: str  # "order_placed" | "order_in_progress"
    order: dict[str, Any]
    replayed: bool = False

    @property
    def order_id(self) -> str:
        return self.order["id"]


def _household(uow: SqlAlchemyUnitOfWork, household_id: str) -> model.Household:
    household = uow.households.get(household_id)
    if household is None:
        raise NotFound(f"No household {household_id!r}.", field="household_id")
    return household


def month_start(now: datetime, time_zone: str) -> datetime:
    local = now.astimezone(model.zone(time_zone))
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _check_limits(household: model.Household, total: int, spent: int) -> None:
    """``spent``: what the household's orders came to this month (its time zone's month)."""
    limits = household.limits
    if limits.per_order_cap_cents is not None and total > limits.per_order_cap_cents:
        raise LimitExceeded(messages.limit_per_order(total, limits.per_order_cap_cents), field="total_cents",
                            limit="per_order", cap_cents=limits.per_order_cap_cents, total_cents=total)
    if limits.per_month_cap_cents is not None and spent + total > limits.per_month_cap_cents:
        raise LimitExceeded(messages.limit_per_month(total, spent, limits.per_month_cap_cents),
                            field="total_cents", limit="per_month", cap_cents=limits.per_month_cap_cents,
                            spent_cents=spent, total_cents=total)


def _replay(uow: SqlAlchemyUnitOfWork, cmd: commands.PlaceOrder, by_key: str | None, in_flight: str | None
            ) -> PlaceResult | None:
    """The order this command already made (``by_key``: same idempotency key), or the one in flight for its source
    (``in_flight``); None when neither."""
    if by_key is not None:
        order = uow.orders.require(by_key)
        asked = sorted(merged_lines(cmd.lines))
        if (sorted((line.sku, line.quantity) for line in order.lines) != asked or order.channel != cmd.channel
                or (order.source_id or None) != (cmd.source_id or None)):
            raise IdempotencyKeyReused("This Idempotency-Key was used for a different order.",
                                       field="Idempotency-Key")
        return PlaceResult("order_placed", order_view(order), replayed=True)
    if in_flight is not None:
        return PlaceResult("order_in_progress", order_view(uow.orders.require(in_flight)))
    return None


def _source_key(cmd: commands.PlaceOrder) -> str | None:
    if cmd.source_id and cmd.exclusive_source:
        return model.Order.source_key(cmd.household_id, cmd.source_id)
    return None


def _existing(uow: SqlAlchemyUnitOfWork, cmd: commands.PlaceOrder) -> PlaceResult | None:
    """``_replay`` looked up without a lock (after a unique index refused this command's order)."""
    _, by_key, in_flight = uow.households.lock_for_order(cmd.household_id, cmd.idempotency_key, _source_key(cmd))
    return _replay(uow, cmd, by_key, in_flight)


def place_order(cmd: commands.PlaceOrder, deps: Deps) -> PlaceResult:
    """Places an order. Placements for one household take its limits row lock first, so they run one after the
    other in the database: the idempotency key and the one-in-flight rule are checked in the statement that
    takes the lock, and the unique indexes decide the few races that slip past it (the loser reports the winner's
    order). No Redis lock: the row lock already orders them."""
    if not cmd.lines:
        raise InvalidCommand("An order needs at least one product.", field="lines")
    try:
        return _place(cmd, deps)
    except DuplicateEntry:
        # Another transaction committed the same key or source while this one waited: report its order.
        with deps.uow() as uow:
            found = _existing(uow, cmd)
        if found is None:
            raise
        return found


MAX_LINES = 25  # different products in one order


def merged_lines(requests: Iterable[commands.LineRequest]) -> list[tuple[str, int]]:
    """The order's lines with each product once (repeated lines of a SKU added up), in first-seen order; the
    quantity rule (1 to ``MAX_QUANTITY`` of a product) applies to each product's total."""
    totals: dict[str, int] = {}
    for request in requests:
        if not isinstance(request.quantity, int) or isinstance(request.quantity, bool) or \
                not 1 <= request.quantity <= model.MAX_QUANTITY:
            raise InvalidCommand(f"Quantity must be a whole number from 1 to {model.MAX_QUANTITY}.",
                                 field="quantity")
        sku = str(request.sku)
        totals[sku] = totals.get(sku, 0) + request.quantity
    if len(totals) > MAX_LINES:
        raise InvalidCommand(f"An order holds at most {MAX_LINES} different products.", field="lines")
    for quantity in totals.values():
        if quantity > model.MAX_QUANTITY:
            raise InvalidCommand(f"At most {model.MAX_QUANTITY} of one product in an order; these lines add up to "
                                 f"{quantity}.", field="quantity")
    return list(totals.items())


def _place(cmd: commands.PlaceOrder, deps: Deps) -> PlaceResult:
    """Round trips to the database: the household locked and loaded with the replay lookups (one), the products
    with the month's spending (one), then the order, its lines and its events (one insert each), and the commit."""
    now = deps.clock()
    wanted = merged_lines(cmd.lines)
    with deps.uow() as uow:
        # caps checked and this order recorded as one step, after any placement for this household before it
        household, by_key, in_flight = uow.households.lock_for_order(cmd.household_id, cmd.idempotency_key,
                                                                     _source_key(cmd))
        if household is None:
            raise NotFound(f"No household {cmd.household_id!r}.", field="household_id")
        found = _replay(uow, cmd, by_key, in_flight)
        if found is not None:
            return found
        month_cap = household.limits.per_month_cap_cents is not None and not cmd.test
        if month_cap:
            products, spent = uow.products.get_many_with(
                (sku for sku, _ in wanted), uow.orders.SPENT_SINCE,
                {"household_id": household.id, "since": month_start(now, household.time_zone)})
        else:
            products, spent = uow.products.get_many(sku for sku, _ in wanted), 0
        lines = []
        for sku, quantity in wanted:
            product = products.get(sku)
            if product is None:
                raise UnknownProduct(f"There is no product with SKU {sku!r}.", field="sku")
            if not product.available:
                raise ProductUnavailable(f"{product.title} is out of stock right now.", field="sku")
            lines.append(model.OrderLine(product.sku, quantity, product.price_cents, product.title))
        total = sum(line.total_cents for line in lines)
        if not cmd.test:  # a test order spends nothing
            _check_limits(household, total, int(spent or 0))
        order = model.Order(household.id, cmd.channel, lines, source_id=cmd.source_id,
                            exclusive_source=cmd.exclusive_source, idempotency_key=cmd.idempotency_key,
                            now=now, cancel_window=household.limits.cancel_window(cmd.channel), test=cmd.test,
                            speaker=cmd.speaker)
        uow.orders.insert_new(order)
        uow.commit()
        return PlaceResult("order_placed", order_view(order))


def cancel_order(cmd: commands.CancelOrder, deps: Deps) -> dict[str, Any]:
    now = deps.clock()
    with deps.uow() as uow:
        # locked: a worker sending it at this moment finishes first (and the store then has it)
        order = uow.orders.for_household(cmd.household_id, cmd.order_id, for_update=True)
        if order is None:
            raise NotFound(f"No order {cmd.order_id!r} for this household.", field="order_id")
        if merging.claimed(order):
            _refuse_on_its_way(uow, order)
        if order.can_cancel and order.retailer_order_id and order.merge_group:
            _cancel_merged(uow, order, deps)
        elif order.can_cancel and order.retailer_order_id and not deps.gateway.cancel(order.retailer_order_id):
            # Already at the store: it must agree before we call the order cancelled.
            raise PermanentError("The store could not cancel this order any more.")
        order.cancel(now, cmd.reason, cmd.speaker)
        uow.commit()
        return order_view(order)


def _refuse_on_its_way(uow: SqlAlchemyUnitOfWork, order: model.Order) -> None:
    """A claimed order is on its way: the store may already hold it under its key (a worker died, or the reply
    was lost), so cancelling it here alone could leave it booked. Once the store has answered for it (the next
    try, moments to minutes away), it is cancelled at the store like any order sent."""
    others = [o for o in uow.orders.claimed_with(order.submit_key) if o.id != order.id]
    with_words = f" in one delivery with {merging.together_words(others)}" if others else ""
    raise OrderOnItsWay(f"This order is on its way to the store{with_words}, and the store has not answered yet, "
                        "so it cannot be cancelled at this moment. Try again in a minute: once the store has it, it "
                        "can be cancelled until it ships.", field="order_id")


def _cancel_merged(uow: SqlAlchemyUnitOfWork, order: model.Order, deps: Deps) -> None:
    """An order sent together with others: the store takes its lines off the shared order, or says it is too
    late (it has shipped), and then the order stands, with the reason."""
    others = [o for o in uow.orders.sharing_retailer_orders(order.household_id, [order.retailer_order_id])
              if o.id != order.id]
    with_words = merging.together_words(others) or "your other orders"
    cancel_lines = getattr(deps.gateway, "cancel_lines", None)
    if cancel_lines is None:
        raise PermanentError(f"This order went to the store in one delivery with {with_words}, and the store "
                             "cannot take part of a delivery back.")
    if not cancel_lines(order.retailer_order_id, [order.id]):
        raise PermanentError(f"This order went to the store in one delivery with {with_words}, and it has "
                             "already shipped, so it can no longer be cancelled.")


# -- sending orders: claim, then send ----------------------------------------------------------------------
#
# Two transactions. The claim locks the due orders (skipping those another transaction holds), groups the ones
# not claimed yet and writes each group's key on its orders (services.merging.claim), and commits: from then on
# the group and its key are fixed. The send locks each claimed group whole (a group another transaction holds any
# order of is left to it), sends it under its key, records the store's answers and commits. A worker that dies
# between the two, or while the store answers, leaves claimed orders that the next try sends again as the same
# group under the same key: the store answers with the booking it already has.

def submit_order(cmd: commands.SubmitOrder, deps: Deps) -> str:
    """Sends one pending order whose cancel window has closed, with the orders it goes with. Safe to run twice:
    the retailer sees one key. A store that does not answer puts the order back with a later due time
    (``_retry_later``)."""
    now = deps.clock()
    with deps.uow() as uow:
        order = uow.orders.get(cmd.order_id, for_update=True)
        if order is None:
            return "missing"
        keys, outcome = _claim(uow, [order], deps, now)
        try:
            uow.commit()
        except ConcurrentUpdate:
            # A duplicate delivery of this task claimed it first (SQLite, no row locks): that one sends it.
            return "duplicate"
    outcome.update(_send_claimed(deps, keys, now))
    return outcome.get(cmd.order_id, "in_progress")


def _not_submittable(order: model.Order, now: datetime) -> str | None:
    """Why an order is not sent now (its status, or "not_due"); None when it is due."""
    if order.state is not model.OrderStatus.PENDING:
        return order.status
    if getattr(order, "test", False):
        return "test"
    if order.submit_after > now:
        return "not_due"
    return None


def _retry_later(order: model.Order, deps: Deps, now: datetime, problem: Exception,
                 delay: timedelta | None = None) -> str:
    """The store did not answer this try: the order is due again after the backoff's next wait (``delay``: the
    one its merged group shares, so the group comes due together), or, once the backoff gives up, fails with a
    reason the household is told."""
    backoff = SubmitBackoff.from_settings(deps.settings)
    tries = (order.submit_attempts or 0) + 1
    if backoff.gives_up(tries):
        log.warning("order %s: the store did not answer %d tries (%s); giving up", order.id, tries, problem)
        order.submit_attempts = tries
        order.fail(messages.store_gave_up(tries, (now - order.created_at).total_seconds()), now)
        return order.status
    order.retry_submission(now, delay if delay is not None else backoff.delay(tries))
    log.info("order %s: the store did not answer try %d (%s); trying again at %s", order.id, tries, problem,
             model.iso(order.submit_after))
    return "retrying"


def _retry_group_later(group: list[model.Order], deps: Deps, now: datetime, problem: Exception,
                       outcome: dict[str, str]) -> None:
    """A group the store did not answer stays claimed under its key (the store may hold its booking) and is
    due again together, after the wait of its most tried order."""
    tries = max((o.submit_attempts or 0) for o in group) + 1
    delay = SubmitBackoff.from_settings(deps.settings).delay(tries)
    for order in group:
        outcome[order.id] = _retry_later(order, deps, now, problem, delay)


def _record_group_answer(uow: SqlAlchemyUnitOfWork, group: list[model.Order], answer: SubmitResult, deps: Deps,
                         now: datetime,
                         outcome: dict[str, str]) -> None:
    """Records the store's answer to one retailer order. Only the orders its booking holds become submitted (a
    key seen before is answered with the first booking, which may hold fewer or more of our orders); one of
    ours it does not hold was not booked under this key, and never will be (a key's booking is made once): it
    is released, to be claimed again under a new key. One it holds that is not in the group is recorded too."""
    if not answer.accepted:
        for order in group:
            order.fail(answer.reason or "refused by the store", now)
            outcome[order.id] = order.status
        return
    rid = answer.retailer_order_id
    if rid is None:  # never: submit_all makes an acceptance without the store's order id a TransientError
        raise TransientError("the store accepted an order without giving its order id")
    booked = set(answer.order_ids) if answer.order_ids is not None else {o.id for o in group}
    sent = [o for o in group if o.id in booked]
    for order in group:
        if order.id not in booked:
            order.merge_group = order.submit_key = None
            outcome[order.id] = order.status
    elsewhere = booked - {o.id for o in group}
    for order in uow.orders.get_many(elsewhere, lock=True) if elsewhere else []:
        # In the booking but not claimed with this group (a group claimed before keys were written down).
        if order.state is model.OrderStatus.PENDING and not order.test:
            sent.append(order)
        elif order.state is model.OrderStatus.CANCELLED:
            _take_off(deps, rid, order)
    key = merging.retailer_key(group) if len(booked | {o.id for o in sent}) > 1 else None
    for order in sent:
        others = [o for o in sent if o is not order]
        order.merge_group = key
        order.mark_submitted(rid, now, together_with=tuple(merging.products(o) for o in others),
                             early=bool(others) and model.as_utc(order.submit_after) > now)
        outcome[order.id] = order.status


def _take_off(deps: Deps, retailer_order_id: str, order: model.Order) -> None:
    cancel_lines = getattr(deps.gateway, "cancel_lines", None)
    if cancel_lines is None or not cancel_lines(retailer_order_id, [order.id]):
        log.warning("order %s was cancelled but the store's order %s still holds its lines", order.id,
                    retailer_order_id)


def _claim(uow: SqlAlchemyUnitOfWork, orders: list[model.Order], deps: Deps, now: datetime
           ) -> tuple[list[str], dict[str, str]]:
    """Claims the due ones of ``orders`` (locked by this unit of work) that are not claimed yet: grouped per
    household (``services.merging``; with its waiting ones when it chose so), each group's key written on its
    orders. Returns the keys of the groups to send (those claimed here and those claimed before) and the outcome
    of the orders not sent now. Nothing is committed here: the caller commits before sending."""
    outcome: dict[str, str] = {}
    due = []
    for order in orders:
        skipped = _not_submittable(order, now)
        if skipped:
            outcome[order.id] = skipped
        else:
            due.append(order)
    keys = list(dict.fromkeys(o.submit_key for o in due if o.submit_key))
    fresh = [o for o in due if not o.submit_key]
    if fresh:
        merge = bool(deps.settings.merge_deliveries)
        households = uow.households.get_many(o.household_id for o in fresh) if merge else {}
        for group in merging.groups(fresh + merging.joiners(uow, fresh, households, merge), merge):
            keys.append(merging.claim(group))
    return keys, outcome


def _send_claimed(deps: Deps, keys: list[str], now: datetime) -> dict[str, str]:
    """Sends the claimed groups ``keys`` that this transaction holds whole and that are due (one exchange with
    the store), records each answer and commits; returns each order's outcome. A group another transaction holds
    any order of is left to it (it is sending it, or a cancellation is looking at one of its orders)."""
    outcome: dict[str, str] = {}
    if not keys:
        return outcome
    with deps.uow() as uow:
        held = uow.orders.claimed_locked(keys)
        groups = [members for members in held.values()
                  if any(model.as_utc(o.submit_after) <= now for o in members)]
        if not groups:
            return outcome
        households = uow.households.get_many(g[0].household_id for g in groups)
        try:
            answers = submit_all(deps.gateway, [merging.request_for(g, households.get(g[0].household_id))
                                                for g in groups])
        except TransientError as exc:  # the whole exchange failed (a batch refused, timed out, its reply lost)
            answers = [exc] * len(groups)
        alone: list[str] = []
        for group, answer in zip(groups, answers, strict=True):
            if isinstance(answer, TransientError):
                _retry_group_later(group, deps, now, answer, outcome)
            elif not answer.accepted and len(group) > 1:
                # One product the store refuses (out of stock) refuses the whole retailer order; nothing was
                # booked under its key, so each order is claimed again on its own (its own id the key) and sent
                # alone, and only the one with that product fails.
                alone += [merging.claim([order]) for order in group]
            else:
                _record_group_answer(uow, group, answer, deps, now, outcome)
        try:
            uow.commit()
        except ConcurrentUpdate:  # SQLite only (no row locks): another worker recorded these first
            return {o.id: "duplicate" for g in groups for o in g}
    if alone:
        outcome.update(_send_claimed(deps, alone, now))
    return outcome


def submit_orders(order_ids: list[str], deps: Deps) -> dict[str, str]:
    """``submit_order`` for several orders, claimed in one transaction and sent in one exchange with the store
    (a worker handing over a batch of freshly placed orders). Orders another transaction holds are left to it;
    one the store did not answer is due again later (``_retry_later``). Returns each order's outcome."""
    now = deps.clock()
    with deps.uow() as uow:
        keys, outcome = _claim(uow, uow.orders.get_many(order_ids, lock=True), deps, now)
        try:
            uow.commit()
        except ConcurrentUpdate:
            # Only without row locks (SQLite): another worker claimed some of them. One at a time instead.
            uow.rollback()
            return {order_id: submit_order(commands.SubmitOrder(order_id), deps) for order_id in order_ids}
    outcome.update(_send_claimed(deps, keys, now))
    return outcome


def submit_due_batch(deps: Deps, grace: timedelta, limit: int) -> int:
    """One batch of the due-orders sweep: up to ``limit`` pending orders that are due (fresh ones only once
    ``grace`` has passed, so the worker handling their event gets there first, and so do the groups a dead
    worker claimed; retries as soon as due), locked (skipping those another worker holds), claimed (those not
    claimed yet), then sent in one exchange. Returns how many were taken."""
    now = deps.clock()
    with deps.uow() as uow:
        orders = uow.orders.due_for_submission_locked(now, grace, limit)
        if not orders:
            return 0
        keys, _ = _claim(uow, orders, deps, now)
        try:
            uow.commit()
        except ConcurrentUpdate:  # SQLite only (no row locks): another worker claimed some; the next sweep sees
            uow.rollback()
            return 0
    _send_claimed(deps, keys, now)
    return len(orders)


def track_order(cmd: commands.TrackOrder, deps: Deps) -> str:
    now = deps.clock()
    with deps.uow() as uow:
        order = uow.orders.get(cmd.order_id, for_update=True)
        if order is None or not order.retailer_order_id or not order.is_active:
            return order.status if order else "missing"
        status = deps.gateway.status(order.retailer_order_id)
        if status.status == "cancelled":
            if order.can_cancel:
                order.cancel(now, "cancelled by the store")
        else:
            target = model.OrderStatus(status.status)
            changed = order.advance_to(target, now, tracking_url=status.tracking_url,
                                       expected_delivery=status.expected_delivery,
                                       photo_url=status.delivery_photo_url)
            if changed and order.state is model.OrderStatus.DELIVERED:
                uow.purchases.add_many([Purchase(order.household_id, line.sku, now, line.quantity, order.id)
                                        for line in order.lines], source="order")
        try:
            uow.commit()
        except ConcurrentUpdate:
            return "duplicate"
        return order.status


HOUSEHOLD_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def create_household(cmd: commands.CreateHousehold, deps: Deps) -> dict[str, Any]:
    if not HOUSEHOLD_ID.fullmatch(cmd.household_id or ""):
        raise InvalidCommand("A household id is 1 to 64 letters, digits, '.', '_' or '-', starting with a letter "
                             f"or digit; {cmd.household_id!r} is not.", field="household_id")
    try:
        ZoneInfo(cmd.time_zone)
    except Exception:
        raise InvalidCommand(f"Unknown time zone {cmd.time_zone!r}.", field="time_zone") from None
    with deps.uow() as uow:
        if uow.households.get(cmd.household_id) is not None:
            raise InvalidCommand(f"Household {cmd.household_id!r} already exists.", field="household_id")
        household = model.Household(cmd.household_id, cmd.name, cmd.address, cmd.time_zone, list(cmd.members))
        uow.households.add(household)
        uow.commit()
        return {"id": household.id, "name": household.name}


def tokens_changed(deps: Deps, household_id: str) -> None:
    """Tells the token listeners, after the change is committed. A listener that fails is logged, not raised:
    the change itself stands, and its caller still needs its answer (a new token is shown only once)."""
    for listener in list(deps.token_listeners):
        try:
            listener(household_id)
        except Exception:  # noqa: BLE001 - each listener is the entrypoint's own; the next still runs
            log.exception("a token listener failed for household %s", household_id)


def issue_token(cmd: commands.IssueToken, deps: Deps) -> str:
    """A new API token for the household (shown once: only its hash is kept). Issuing one signs nobody out;
    revoking or rotating one does."""
    return new_token(cmd, deps)["token"]


def new_token(cmd: commands.IssueToken, deps: Deps) -> dict[str, Any]:
    """``issue_token`` with the token's list entry (id, label, prefix) beside the token itself."""
    label = (cmd.label or "api").strip()
    if not 1 <= len(label) <= 64 or not label.isprintable():
        raise InvalidCommand("A token's label is 1 to 64 printable characters.", field="label")
    with deps.uow() as uow:
        _household(uow, cmd.household_id)
        token, secret = model.ApiToken.issue(cmd.household_id, label, deps.clock())
        uow.households.add_token(token)
        uow.commit()
        return {**token_view(token), "token": secret}


def token_view(token: model.ApiToken) -> dict[str, Any]:
    """A token as lists show it: never the token, only its first characters."""
    return {"id": token.id, "label": token.label, "prefix": token.prefix, "created_at": model.iso(token.created_at),
            "revoked_at": model.iso(token.revoked_at)}


def list_tokens(household_id: str, deps: Deps) -> list[dict[str, Any]]:
    with deps.uow() as uow:
        _household(uow, household_id)
        return [token_view(t) for t in uow.households.tokens(household_id)]


class LastToken(InvalidCommand):
    code = "last_token"


def _live_token(uow: SqlAlchemyUnitOfWork, household_id: str, token_id: str) -> model.ApiToken:
    token = uow.households.token(household_id, token_id)
    if token is None or not token.live:
        raise NotFound(f"No live token {token_id!r} for this household.", field="token_id")
    return token


def revoke_token(cmd: commands.RevokeToken, deps: Deps) -> dict[str, Any]:
    """Revokes a household token (the API refuses it at once, the household's dashboard sessions end). The last
    live one stays: rotate it instead, or nobody could sign in any more."""
    with deps.uow() as uow:
        uow.households.lock_limits(cmd.household_id)  # two revocations at once cannot leave no token
        token = _live_token(uow, cmd.household_id, cmd.token_id)
        if sum(t.live for t in uow.households.tokens(cmd.household_id)) <= 1:
            raise LastToken("This is the household's last token: rotate it instead of revoking it.",
                            field="token_id")
        token.revoked_at = deps.clock()
        uow.commit()
        view = token_view(token)
    tokens_changed(deps, cmd.household_id)
    return view


def rotate_token(cmd: commands.RotateToken, deps: Deps) -> dict[str, Any]:
    """A new token with the old one's label; the old one is revoked in the same transaction."""
    with deps.uow() as uow:
        old = _live_token(uow, cmd.household_id, cmd.token_id)
        token, secret = model.ApiToken.issue(cmd.household_id, old.label, deps.clock())
        old.revoked_at = deps.clock()
        uow.households.add_token(token)
        uow.commit()
        view = {**token_view(token), "token": secret, "replaces": old.id}
    tokens_changed(deps, cmd.household_id)
    return view


def update_limits(cmd: commands.UpdateLimits, deps: Deps) -> dict[str, Any]:
    """Changes the household's caps, cancel windows and voice settings; a value out of bounds (``model.check_cap``,
    ``model.check_cancel_window``) changes nothing."""
    caps = {name: model.check_cap(name, getattr(cmd, name)) for name in model.CAPS}
    given = {channel: model.check_cancel_window(channel, seconds)
             for channel, seconds in (cmd.cancel_windows or {}).items()}
    with deps.uow() as uow:
        limits = _household(uow, cmd.household_id).limits
        for name, value in caps.items():
            if value is not None:
                setattr(limits, name, value)
        if cmd.clear_per_order_cap:
            limits.per_order_cap_cents = None
        if cmd.clear_per_month_cap:
            limits.per_month_cap_cents = None
        if cmd.recognised_voices_only is not None:
            limits.recognised_voices_only = bool(cmd.recognised_voices_only)
        if cmd.send_together is not None:
            limits.send_together = bool(cmd.send_together)
        limits.cancel_windows = {**(limits.cancel_windows or {}), **given}
        uow.commit()
        return limits_view(limits)


def set_voice_pin(cmd: commands.SetVoicePin, deps: Deps) -> dict[str, Any]:
    with deps.uow() as uow:
        limits = _household(uow, cmd.household_id).limits
        limits.set_pin(cmd.pin)
        uow.commit()
        return limits_view(limits)


def check_voice_pin(cmd: commands.CheckVoicePin, deps: Deps) -> bool:
    """True when right. Raises PinLocked while locked (including by this very attempt)."""
    now = deps.clock()
    with deps.uow() as uow:
        uow.households.lock_limits(cmd.household_id)  # attempts counted one after the other, never in parallel
        limits = _household(uow, cmd.household_id).limits
        if limits.pin_locked(now):
            raise PinLocked(f"Voice purchasing is locked for up to {limits.lockout_words()} after three wrong "
                            "codes.")
        ok = limits.check_pin(cmd.pin, now)
        uow.track(limits)
        uow.commit()
        if not ok and limits.pin_locked(now):
            raise PinLocked(f"That code was wrong three times, so voice purchasing is locked for "
                            f"{limits.lockout_words()}.")
        return ok


def set_notification_prefs(cmd: commands.SetNotificationPrefs, deps: Deps) -> dict[str, Any]:
    with deps.uow() as uow:
        limits = _household(uow, cmd.household_id).limits
        limits.set_notification_prefs(cmd.channels, cmd.topics, cmd.email, cmd.phone)
        uow.commit()
        return limits.notify


# A command's handler: (command, deps) -> its answer. The bus picks it by the command's class.
CommandHandler = Callable[[Any, Deps], Any]

COMMAND_HANDLERS: dict[type, CommandHandler] = {
    commands.SetNotificationPrefs: set_notification_prefs,
    commands.PlaceOrder: place_order,
    commands.CancelOrder: cancel_order,
    commands.SubmitOrder: submit_order,
    commands.TrackOrder: track_order,
    commands.CreateHousehold: create_household,
    commands.IssueToken: issue_token,
    commands.RevokeToken: revoke_token,
    commands.RotateToken: rotate_token,
    commands.UpdateLimits: update_limits,
    commands.SetVoicePin: set_voice_pin,
    commands.CheckVoicePin: check_voice_pin,
}
