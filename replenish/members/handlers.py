"""Command handlers of members and approvals.

Spending rules, in the order they apply to an order that names who asked (``PlaceOrder.speaker``: a recognised
voice's personId, or a member's id):
1. a child's or guest's order is refused with ``ApprovalNeeded`` (a channel that knows better makes an
   ``ApprovalRequest`` instead: the skill, the dashboard);
2. an owner's or adult's own caps (per order, per calendar month in the household's time zone) apply to what that
   member orders; checked and placed under a per-member lock, so two orders at once cannot both pass a cap;
3. the core's ``place_order`` then applies the household's caps, availability and idempotency.

Approving a request places its order through the core with the idempotency key ``approval:<request id>`` while
the request's row is locked: a second approval (or two adults at once) waits, then finds the request approved
and answers with the same order; the key makes the core place one order whatever happens."""
from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import func, select

from replenish.adapters import orm
from replenish.domain import commands
from replenish.domain.errors import InvalidCommand, LimitExceeded, NotFound, UnknownProduct
from replenish.domain.model import OrderStatus, iso, new_id
from replenish.services import handlers as core
from replenish.services import messages
from replenish.services.event_handlers import notify_household_of, notify_people
from replenish.services.ports import Recipient

from .model import (
    MAX_MEMBERS,
    REQUEST_LIFETIME,
    AddMember,
    ApprovalNeeded,
    ApprovalRequest,
    ChangeMember,
    DecideApproval,
    ExpireApprovals,
    Member,
    NotAllowed,
    ReachMember,
    RemoveMember,
    RequestApproval,
    RequestClosed,
    RequestLine,
    check_cap,
    check_email,
    check_flag,
    check_person,
    check_phone,
    check_role,
    clean_name,
)

log = logging.getLogger(__name__)
OWNER = "owner"  # ``decided_by`` when the household token's holder decided (no member row needed)


# -- members ------------------------------------------------------------------------------------------------
def _household(uow, household_id: str):
    household = uow.households.get(household_id)
    if household is None:
        raise NotFound(f"No household {household_id!r}.", field="household_id")
    return household


def _member(uow, household_id: str, member_id: str) -> Member:
    member = uow.members.get(household_id, str(member_id)[:32])
    if member is None:
        raise NotFound("There is no such member in this household.", field="member_id")
    return member


def _voice_free(uow, household_id: str, person_id: str | None, member_id: str | None) -> None:
    if person_id is None:
        return
    taken = uow.members.by_speaker(household_id, person_id)
    if taken is not None and taken.id != member_id:
        raise InvalidCommand(f"That Alexa voice is already {taken.name}'s.", field="person_id")


def member_view(member: Member) -> dict:
    return {"id": member.id, "name": member.name, "role": member.role,
            "per_order_cap_cents": member.per_order_cap_cents, "per_month_cap_cents": member.per_month_cap_cents,
            "person_id": member.person_id, "email": member.email, "phone": member.phone,
            "approval_notices": member.approval_notices, "created_at": iso(member.created_at)}


REACH_TASK = "replenish.members.tasks.reach_member"


def _contact_changed(uow, deps, member: Member) -> None:
    """Once committed, the member's own channel is set up for their contact (or taken down), in a worker: an
    email address confirms its subscription before the first notice, not after it."""
    if any(hasattr(n, "reach") for n in deps.notifiers):
        uow.on_commit(lambda: deps.queue.send(REACH_TASK, member.household_id, member.id))


def add_member(cmd: AddMember, deps) -> dict:
    member = Member(new_id(), cmd.household_id, clean_name(cmd.name), check_role(cmd.role),
                    check_cap("per_order_cap_cents", cmd.per_order_cap_cents),
                    check_cap("per_month_cap_cents", cmd.per_month_cap_cents), check_person(cmd.person_id),
                    deps.clock(), check_email(cmd.email), check_phone(cmd.phone),
                    check_flag(cmd.approval_notices, "approval_notices"))
    with deps.uow() as uow:
        _household(uow, cmd.household_id)
        existing = uow.members.list(cmd.household_id)
        if len(existing) >= MAX_MEMBERS:
            raise InvalidCommand(f"A household has at most {MAX_MEMBERS} members.", field="name")
        if any(m.name.casefold() == member.name.casefold() for m in existing):
            raise InvalidCommand(f"There is already a member called {member.name}.", field="name")
        _voice_free(uow, cmd.household_id, member.person_id, None)
        uow.members.add(member)
        if member.email or member.phone:
            _contact_changed(uow, deps, member)
        uow.commit()
    return member_view(member)


CHANGEABLE = ("name", "role", "per_order_cap_cents", "per_month_cap_cents", "person_id", "email", "phone",
              "approval_notices")


def change_member(cmd: ChangeMember, deps) -> dict:
    unknown = set(cmd.changes) - set(CHANGEABLE)
    if unknown:
        raise InvalidCommand(f"Only {', '.join(CHANGEABLE)} can change.", field=sorted(unknown)[0])
    with deps.uow() as uow:
        member = _member(uow, cmd.household_id, cmd.member_id)
        changes = cmd.changes
        if "name" in changes:
            name = clean_name(changes["name"])
            if any(m.name.casefold() == name.casefold() and m.id != member.id
                   for m in uow.members.list(cmd.household_id)):
                raise InvalidCommand(f"There is already a member called {name}.", field="name")
            member.name = name
        if "role" in changes:
            member.role = check_role(changes["role"])
        for cap in ("per_order_cap_cents", "per_month_cap_cents"):
            if cap in changes:
                setattr(member, cap, check_cap(cap, changes[cap]))
        if "person_id" in changes:
            member.person_id = check_person(changes["person_id"])
            _voice_free(uow, cmd.household_id, member.person_id, member.id)
        contact = (member.email, member.phone)
        if "email" in changes:
            member.email = check_email(changes["email"])
        if "phone" in changes:
            member.phone = check_phone(changes["phone"])
        if "approval_notices" in changes:
            member.approval_notices = check_flag(changes["approval_notices"], "approval_notices")
        if (member.email, member.phone) != contact:
            _contact_changed(uow, deps, member)
        uow.members.save(member)
        uow.commit()
    return member_view(member)


def remove_member(cmd: RemoveMember, deps) -> dict:
    with deps.uow() as uow:
        member = _member(uow, cmd.household_id, cmd.member_id)
        uow.members.remove(member.id)
        if member.email or member.phone:
            _contact_changed(uow, deps, member)  # their own channel goes with them
        uow.commit()
    return {"removed": member.name}


def reach_member(cmd: ReachMember, deps) -> bool:
    """The member's own channel in line with their contact now (the task ``_contact_changed`` asks for): set
    up for their email and mobile number, or taken down when they have neither or are no longer a member.
    Returns whether they can be told anything."""
    with deps.uow() as uow:
        member = uow.members.get(cmd.household_id, str(cmd.member_id)[:32])
    for notifier in deps.notifiers:
        if not hasattr(notifier, "reach"):
            continue
        if member is not None and (member.email or member.phone):
            notifier.reach(_recipient(member))
        else:
            notifier.unreach(str(cmd.member_id)[:32])
    return member is not None and bool(member.email or member.phone)


def members_view(deps, household_id: str) -> list[dict]:
    with deps.uow() as uow:
        return [member_view(m) for m in uow.members.list(household_id)]


# -- a member's own caps ------------------------------------------------------------------------------------
def _spent_by(uow, member: Member, since: datetime) -> int:
    from .adapters import member_orders
    lines, orders = orm.order_lines, orm.orders
    stmt = (select(func.coalesce(func.sum(lines.c.quantity * lines.c.unit_price_cents), 0))
            .select_from(lines.join(orders, lines.c.order_id == orders.c.id)
                         .join(member_orders, member_orders.c.order_id == orders.c.id))
            .where(member_orders.c.member_id == member.id, orders.c.created_at >= since,
                   orders.c.test.is_(False),
                   orders.c.status.not_in([OrderStatus.CANCELLED.value, OrderStatus.FAILED.value])))
    return int(uow.session.execute(stmt).scalar_one())


def _priced(uow, lines) -> list[RequestLine]:
    wanted = core.merged_lines(lines)
    products = uow.products.get_many(sku for sku, _ in wanted)
    priced = []
    for sku, quantity in wanted:
        product = products.get(sku)
        if product is None:
            raise UnknownProduct(f"There is no product with SKU {sku!r}.", field="sku")
        priced.append(RequestLine(product.sku, quantity, product.title, product.price_cents))
    return priced


def check_member_caps(uow, member: Member, lines, time_zone: str, now: datetime) -> None:
    """A member's own caps: raises ``LimitExceeded`` (the same shape as the household's, so every channel already
    says it) naming the member."""
    if member.per_order_cap_cents is None and member.per_month_cap_cents is None:
        return
    total = sum(line.total_cents for line in _priced(uow, lines))
    cap = member.per_order_cap_cents
    if cap is not None and total > cap:
        raise LimitExceeded(f"{member.name}'s limit is {messages.money(cap)} per order; this order comes to "
                            f"{messages.money(total)}.", field="total_cents", limit="per_order", cap_cents=cap,
                            total_cents=total, member=member.name)
    cap = member.per_month_cap_cents
    if cap is not None:
        spent = _spent_by(uow, member, core.month_start(now, time_zone))
        if spent + total > cap:
            raise LimitExceeded(f"{member.name}'s limit is {messages.money(cap)} a month; {messages.money(spent)} "
                                f"is spent and this order comes to {messages.money(total)}.", field="total_cents",
                                limit="per_month", cap_cents=cap, spent_cents=spent, total_cents=total,
                                member=member.name)


def _place_as(member: Member, cmd: commands.PlaceOrder, deps) -> core.PlaceResult:
    """The core's ``place_order`` after the member's own caps, under a lock per member; the order is recorded as
    the member's (their month's spending, the name in its timeline)."""
    with deps.locks.hold(f"member-spend:{member.id}", timeout=30.0, wait=10.0):
        with deps.uow() as uow:
            household = _household(uow, cmd.household_id)
            replay = cmd.idempotency_key and uow.orders.by_idempotency_key(cmd.household_id, cmd.idempotency_key)
            if not replay and not cmd.test:
                check_member_caps(uow, member, cmd.lines, household.time_zone, deps.clock())
        result = core.place_order(cmd, deps)
        with deps.uow() as uow:
            uow.members.record_order(result.order_id, cmd.household_id, member.id)
            uow.commit()
    return result


def place_order(cmd: commands.PlaceOrder, deps) -> core.PlaceResult:
    """The bus's handler of ``PlaceOrder``: the core's, with the member rules above."""
    if not cmd.speaker:
        return core.place_order(cmd, deps)
    with deps.uow() as uow:
        member = uow.members.by_speaker(cmd.household_id, cmd.speaker)
    if member is None:
        return core.place_order(cmd, deps)
    if member.asks:
        raise ApprovalNeeded(f"{member.name} can ask for this, and an adult approves it.")
    return _place_as(member, cmd, deps)


def member_for(deps, household_id: str, speaker: str | None) -> Member | None:
    if not speaker:
        return None
    with deps.uow() as uow:
        return uow.members.by_speaker(household_id, speaker)


# -- approval requests --------------------------------------------------------------------------------------
def _named(lines: list[tuple[int, str]]) -> str:
    """(quantity, title) pairs by name: "2 × Tide PODS" or "Tide PODS and Charmin"."""
    return messages.and_list([title if quantity == 1 else f"{quantity} × {title}" for quantity, title in lines])


def _things(request: ApprovalRequest) -> str:
    return _named([(line.quantity, line.title) for line in request.lines])


def _recipient(member: Member) -> Recipient:
    return Recipient(member.id, member.name, member.email, member.phone)


def _tell_adults(uow, deps, household_id: str, kind: str, text: str) -> None:
    """A new request: the feed, and each owner and adult who wants these notices on their own contact. While no
    adult has a contact of their own, the household's channels carry it instead, as they did before members had
    contacts (one who has a contact and said no to these notices is not told another way)."""
    approvers = [m for m in uow.members.list(household_id) if m.approves]
    personal = any(m.email or m.phone for m in approvers)
    notify_household_of(uow, deps, household_id, kind, text, channels=not personal)
    if personal:
        notify_people(uow, deps, household_id, kind, text, [_recipient(m) for m in approvers if m.reachable])


def _tell_requester(uow, deps, request: ApprovalRequest, kind: str, text: str, order_id: str | None = None) -> None:
    """What became of a request: the feed, and the member who asked, on their own contact if they have one and
    want these notices."""
    notify_household_of(uow, deps, request.household_id, kind, text, order_id, channels=False)
    member = uow.members.get(request.household_id, request.member_id)
    if member is not None and member.reachable:
        notify_people(uow, deps, request.household_id, kind, text, [_recipient(member)], order_id)


def spoken_things(view: dict) -> str:
    """What a request (its view) asks for, by name: "2 × Tide PODS" or "Tide PODS and Charmin"."""
    return _named([(line["quantity"], line["title"]) for line in view["lines"]])


def _decider_name(uow, household_id: str, decided_by: str | None) -> str:
    if decided_by and decided_by != OWNER:
        member = uow.members.get(household_id, decided_by)
        if member is not None:
            return member.name
    owner = next((m for m in uow.members.list(household_id) if m.role == "owner"), None)
    return owner.name if owner else "The account holder"


def request_view(uow, request: ApprovalRequest, names: dict[str, str] | None = None) -> dict:
    names = names if names is not None else {m.id: m.name for m in uow.members.list(request.household_id)}
    return {"id": request.id, "status": request.status, "member_id": request.member_id,
            "requested_by": names.get(request.member_id, "A former member"), "channel": request.channel,
            "lines": [{"sku": line.sku, "title": line.title, "quantity": line.quantity,
                       "unit_price_cents": line.unit_price_cents, "total_cents": line.total_cents}
                      for line in request.lines],
            "total_cents": request.total_cents, "created_at": iso(request.created_at),
            "expires_at": iso(request.expires_at), "decided_at": iso(request.decided_at),
            "decided_by": (_decider_name(uow, request.household_id, request.decided_by)
                           if request.decided_by else None),
            "order_id": request.order_id, "reason": request.reason}


def request_approval(cmd: RequestApproval, deps) -> dict:
    """A child's or guest's order, as a request adults approve; adults are told (feed and channels)."""
    now = deps.clock()
    with deps.uow() as uow:
        household = _household(uow, cmd.household_id)
        member = _member(uow, cmd.household_id, cmd.member_id)
        if not cmd.lines:
            raise InvalidCommand("A request needs at least one product.", field="lines")
        lines = _priced(uow, cmd.lines)
        request = ApprovalRequest(new_id(), cmd.household_id, member.id, cmd.channel, lines, now,
                                  now + REQUEST_LIFETIME)
        uow.members.add_request(request)
        until = messages.local_time(request.expires_at, household.time_zone, now)
        text = (f"{member.name} asked for {_things(request)} ({messages.money(request.total_cents)}). Approve or "
                f"decline it under Approvals by {until}.")
        _tell_adults(uow, deps, cmd.household_id, "ApprovalRequested", text)
        view = request_view(uow, request)
        uow.commit()
    return view


def _open_request(uow, cmd: DecideApproval, now: datetime) -> ApprovalRequest | dict:
    """The request, locked, if it still waits for an answer; else what to answer (its view when it was approved
    already and this is an approval too). Raises when it is closed."""
    if cmd.decided_by is not None:
        decider = _member(uow, cmd.household_id, cmd.decided_by)
        if not decider.approves:
            raise NotAllowed("Only an adult can approve or decline requests.", field="decided_by")
    request = uow.members.request(cmd.household_id, str(cmd.request_id)[:32], for_update=True)
    if request is None:
        raise NotFound("There is no such request.", field="request_id")
    if request.status == "approved" and cmd.approve:
        return request_view(uow, request)  # approved already (twice, or by two adults): the same order
    if request.status != "pending":
        raise RequestClosed(f"This request was {request.status} already.")
    return request


def decide_approval(cmd: DecideApproval, deps) -> dict:
    """Approve (the request's order is placed) or decline. Three short steps, none holding a lock while waiting
    for another connection: (1) the request is checked, still open; (2) its order is placed with the key
    ``approval:<id>`` (any number of approvals at once get one order from the core); (3) under the request's row
    lock, the first to get there marks it approved and tells the household; a decline that got there in between
    wins, and the order just placed is cancelled inside its cancel window (nothing reaches the store)."""
    now = deps.clock()
    with deps.uow() as uow:
        time_zone = _household(uow, cmd.household_id).time_zone
        found = _open_request(uow, cmd, now)
        if isinstance(found, dict):
            return found
        request = found
        names = {m.id: m.name for m in uow.members.list(cmd.household_id)}
        who = names.get(request.member_id, "A former member")
        decider_name = _decider_name(uow, cmd.household_id, cmd.decided_by or OWNER)
        if request.expired(now):
            _expire(uow, deps, request, who, now)
            uow.commit()
            raise RequestClosed("This request expired: it was not answered within a day.")
        if not cmd.approve:
            request.status, request.decided_by, request.decided_at = "declined", cmd.decided_by or OWNER, now
            uow.members.save_request(request)
            _tell_requester(uow, deps, request, "ApprovalDeclined",
                            f"{decider_name} declined {who}'s request for {_things(request)}.")
            view = request_view(uow, request, names)
            uow.commit()
            return view
        requester = uow.members.get(cmd.household_id, request.member_id)
    lock = f"member-spend:{requester.id}" if requester else f"approval:{request.id}"
    with deps.locks.hold(lock, timeout=30.0, wait=10.0):
        with deps.uow() as uow:
            placed = uow.orders.by_idempotency_key(cmd.household_id, request.idempotency_key())
            if requester is not None and placed is None:
                check_member_caps(uow, requester, _line_requests(request), time_zone, now)
        result = core.place_order(commands.PlaceOrder(
            cmd.household_id, request.channel, _line_requests(request), idempotency_key=request.idempotency_key(),
            speaker=requester.speaker() if requester else None), deps)
        with deps.uow() as uow:
            if requester is not None:
                uow.members.record_order(result.order_id, cmd.household_id, requester.id)
            try:
                found = _open_request(uow, cmd, now)
            except RequestClosed:
                uow.commit()
                _withdraw(deps, cmd.household_id, result.order_id)
                raise
            if isinstance(found, dict):
                uow.commit()
                return found
            request = found
            request.status, request.order_id = "approved", result.order_id
            request.decided_by, request.decided_at = cmd.decided_by or OWNER, now
            uow.members.save_request(request)
            _tell_requester(uow, deps, request, "ApprovalApproved",
                            f"{decider_name} approved {who}'s request for {_things(request)}: it is ordered "
                            f"({messages.money(result.order['total_cents'])}).", result.order_id)
            view = request_view(uow, request, names)
            uow.commit()
    return view


def _withdraw(deps, household_id: str, order_id: str) -> None:
    """The order of a request declined while it was being approved: cancelled, inside its cancel window."""
    try:
        core.cancel_order(commands.CancelOrder(household_id, order_id, "the request was declined"), deps)
    except Exception:  # the order stays visible, and cancellable, on the Orders page
        log.warning("could not withdraw order %s of a declined request", order_id, exc_info=True)


def _line_requests(request: ApprovalRequest) -> tuple:
    return tuple(commands.LineRequest(line.sku, line.quantity) for line in request.lines)


def _expire(uow, deps, request: ApprovalRequest, who: str, now: datetime) -> None:
    request.status, request.decided_at = "expired", now
    uow.members.save_request(request)
    _tell_requester(uow, deps, request, "ApprovalExpired",
                    f"{who}'s request for {_things(request)} expired: no adult answered within a day, so nothing "
                    "was ordered.")


def expire_approvals(cmd: ExpireApprovals, deps) -> int:
    """Requests a day old and still pending expire; the household's feed says so (the beat task runs this)."""
    now = deps.clock()
    with deps.uow() as uow:
        due = uow.members.due_to_expire(now)
    expired = 0
    for household_id, request_id in due:
        with deps.uow() as uow:
            request = uow.members.request(household_id, request_id, for_update=True)
            if request is None or not request.expired(now):
                continue  # decided meanwhile
            member = uow.members.get(household_id, request.member_id)
            _expire(uow, deps, request, member.name if member else "A former member", now)
            uow.commit()
            expired += 1
    return expired


def approvals_view(deps, household_id: str, member_id: str | None = None, pending_only: bool = False) -> list[dict]:
    with deps.uow() as uow:
        names = {m.id: m.name for m in uow.members.list(household_id)}
        found = uow.members.requests(household_id, ["pending"] if pending_only else None, member_id)
        return [request_view(uow, r, names) for r in found]


def order_people(uow, household_id: str, order_ids: list[str]) -> dict[str, str]:
    """Who asked for each order, and who approved it, by name: "Asked for by Sam, approved by Alex"."""
    by_order = uow.members.by_orders(order_ids)
    owners = uow.members.order_owners(order_ids)
    names = {m.id: m.name for m in uow.members.list(household_id)}
    said = {}
    for order_id in order_ids:
        request = by_order.get(order_id)
        asker = request.member_id if request else owners.get(order_id)
        if asker is None:
            continue
        text = f"Asked for by {names.get(asker, 'a former member')}"
        if request is not None and request.decided_by:
            text += f", approved by {_decider_name(uow, household_id, request.decided_by)}"
        said[order_id] = text
    return said


MEMBER_COMMAND_HANDLERS = {
    commands.PlaceOrder: place_order,
    AddMember: add_member,
    ChangeMember: change_member,
    RemoveMember: remove_member,
    RequestApproval: request_approval,
    DecideApproval: decide_approval,
    ExpireApprovals: expire_approvals,
    ReachMember: reach_member,
}
