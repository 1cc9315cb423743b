"""Command handlers of the shopping list. Every change takes the household's list row lock, so changes are made
one after the other and each raises the list's version.

Ordering the list is one order through the core's ``place_order``, with the idempotency key ``list:<version>``:
1. under the lock, the items to order are claimed with that key and the version is raised (so a second "order
   my list" at the same moment finds nothing left to claim, and one that names the old version gets the same
   order back);
2. the order is placed (caps, availability and the idempotency of the core apply; a retry with the same key is
   answered with the same order);
3. the claimed items leave the list; if the order was refused, they are released instead.
A claim left behind by a crash between 1 and 3 is settled the next time the list is ordered or read: its items
leave the list when their order exists, and are released when it does not."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from replenish.domain import commands
from replenish.domain.errors import DomainError, InvalidCommand, NotFound
from replenish.domain.model import MAX_QUANTITY, new_id
from replenish.services import handlers as core
from replenish.services.views import order_view

from .model import (
    MAX_ITEMS,
    SOURCES,
    AddToList,
    ChangeListItem,
    ClearChecked,
    ListChanged,
    ListItem,
    OrderList,
    RemoveFromList,
    check_quantity,
    clean_phrase,
)

log = logging.getLogger(__name__)
CLAIM_TIMEOUT = timedelta(minutes=2)  # an order is placed in well under this; older claims were left by a crash


def _key(nonce: str, version: int) -> str:
    return f"list:{nonce}:{version}"


def _household(uow, household_id: str) -> None:
    if uow.households.get(household_id) is None:
        raise NotFound(f"No household {household_id!r}.", field="household_id")


def _pick(deps, household_id: str, phrase: str) -> str | None:
    """The product the household most likely means by ``phrase`` (its history first), or None."""
    try:
        found = deps.recommendations.resolve(household_id, phrase, k=1)
    except Exception:  # the list must keep working while the recommender cannot answer
        log.warning("could not resolve %r for the list", phrase, exc_info=True)
        return None
    return found[0].sku if found else None


def _open(items: list[ListItem]) -> list[ListItem]:
    return [i for i in items if not i.checked and i.claimed_by is None]


def _same(item: ListItem, sku: str | None, phrase: str) -> bool:
    return (sku is not None and item.sku == sku) or item.phrase.casefold() == phrase.casefold()


def add_to_list(cmd: AddToList, deps) -> dict:
    quantity = check_quantity(cmd.quantity)
    if cmd.added_by not in SOURCES:
        raise InvalidCommand(f"added_by is one of {', '.join(SOURCES)}.", field="added_by")
    if (cmd.sku is None) == (cmd.phrase is None):
        raise InvalidCommand("Give either 'phrase' (what to buy, in words) or 'sku' (the product).", field="phrase")
    now = deps.clock()
    with deps.uow() as uow:
        _household(uow, cmd.household_id)
        if cmd.sku is not None:
            product = uow.products.require(str(cmd.sku))
            sku, phrase = product.sku, product.title
        else:
            phrase, sku = clean_phrase(cmd.phrase), None
            if isinstance(cmd.pick, str):
                uow.products.require(cmd.pick, field="pick")
            elif not isinstance(cmd.pick, bool):
                raise InvalidCommand("pick is true, false or a SKU.", field="pick")
    chosen = sku  # a product chosen by the household; a pick from words could be wrong, so it merges nothing
    if sku is None and isinstance(cmd.pick, str):
        sku = cmd.pick
    elif sku is None and cmd.pick:
        sku = _pick(deps, cmd.household_id, phrase)  # outside the lock: the recommender may take a moment
    with deps.uow() as uow:
        uow.lists.lock(cmd.household_id)
        items = uow.lists.items(cmd.household_id)
        same = next((i for i in _open(items) if _same(i, chosen, phrase)), None)
        if same is not None and cmd.only_if_absent:
            return {**item_view(same, _titles(uow, [same])), "already": True}
        if same is not None:
            if same.quantity + quantity > MAX_QUANTITY:
                raise InvalidCommand(f"That would make {same.quantity + quantity}; at most {MAX_QUANTITY} of one "
                                     "thing.", field="quantity")
            same.quantity += quantity
            uow.lists.save(same)
            item = same
        else:
            if len([i for i in items if not i.checked]) >= MAX_ITEMS:
                raise InvalidCommand(f"Your list holds at most {MAX_ITEMS} things; order it or remove some first.",
                                     field="phrase")
            item = ListItem(new_id(), cmd.household_id, phrase, sku, quantity,
                            max((i.position for i in items), default=-1) + 1, cmd.added_by, now)
            uow.lists.add(item)
        uow.lists.bump(cmd.household_id)
        view = item_view(item, _titles(uow, [item]))
        uow.commit()
    return view


def find_open(uow, household_id: str, sku: str | None, phrase: str | None) -> ListItem | None:
    """The item still to buy that is this product (or was added as this phrase), if there is one."""
    return next((i for i in _open(uow.lists.items(household_id)) if _same(i, sku, phrase or "")), None)


def _item(uow, household_id: str, item_id: str) -> ListItem:
    for item in uow.lists.items(household_id):
        if item.id == item_id:
            return item
    raise NotFound("That is not on your list.", field="item_id")


def change_list_item(cmd: ChangeListItem, deps) -> dict:
    now = deps.clock()
    with deps.uow() as uow:
        uow.lists.lock(cmd.household_id)
        item = _item(uow, cmd.household_id, cmd.item_id)
        if cmd.quantity is not None:
            item.quantity = check_quantity(cmd.quantity)
        if cmd.sku is not None:
            item.sku = uow.products.require(str(cmd.sku)).sku
        if cmd.checked is not None:
            if not isinstance(cmd.checked, bool):
                raise InvalidCommand("checked is true or false.", field="checked")
            item.checked_at = (item.checked_at or now) if cmd.checked else None
        uow.lists.save(item)
        if cmd.position is not None:
            if not isinstance(cmd.position, int) or isinstance(cmd.position, bool) or cmd.position < 0:
                raise InvalidCommand("position is a whole number, 0 for the top.", field="position")
            items = [i for i in uow.lists.items(cmd.household_id) if i.id != item.id]
            items.insert(min(cmd.position, len(items)), item)
            for position, each in enumerate(items):
                if each.position != position:
                    each.position = position
                    uow.lists.save(each)
        uow.lists.bump(cmd.household_id)
        view = item_view(item, _titles(uow, [item]))
        uow.commit()
    return view


def remove_from_list(cmd: RemoveFromList, deps) -> dict:
    """Removes one item, by id or by what it is called; a name that fits several items removes none and says
    which (a person then says which one)."""
    with deps.uow() as uow:
        uow.lists.lock(cmd.household_id)
        items = [i for i in uow.lists.items(cmd.household_id) if i.claimed_by is None]
        if cmd.item_id is not None:
            gone = [_item(uow, cmd.household_id, cmd.item_id)]
        else:
            phrase = clean_phrase(cmd.phrase).casefold()
            titles = _titles(uow, items)
            words = phrase.split()
            # what it was called when added, exactly, then by its words, then by its product's title
            gone = [i for i in items if i.phrase.casefold() == phrase] or \
                [i for i in items if all(w in i.phrase.casefold() for w in words)] or \
                [i for i in items if all(w in titles.get(i.sku or "", "").casefold() for w in words)]
            if not gone:
                raise NotFound(f"{cmd.phrase} is not on your list.", field="phrase")
            if len(gone) > 1:
                names = [i.phrase for i in gone]
                raise InvalidCommand(f"Several things on your list fit {cmd.phrase!r}: {', '.join(names)}. "
                                     "Say which one.", field="phrase", matches=names)
        uow.lists.remove([i.id for i in gone])
        uow.lists.bump(cmd.household_id)
        uow.commit()
    return {"removed": gone[0].phrase}


def clear_checked(cmd: ClearChecked, deps) -> dict:
    with deps.uow() as uow:
        uow.lists.lock(cmd.household_id)
        done = [i.id for i in uow.lists.items(cmd.household_id) if i.checked and i.claimed_by is None]
        uow.lists.remove(done)
        uow.lists.bump(cmd.household_id)
        uow.commit()
    return {"removed": len(done)}


def _settle_claims(uow, household_id: str, items: list[ListItem], now: datetime) -> list[ListItem]:
    """Claims a crash left behind: items whose order exists leave the list; the others are released."""
    stale: dict[str, list[ListItem]] = {}
    for item in items:
        if item.claimed_by and (item.claimed_at is None or now - item.claimed_at > CLAIM_TIMEOUT):
            stale.setdefault(item.claimed_by, []).append(item)
    gone: set[str] = set()
    for key, claimed in stale.items():
        ids = [i.id for i in claimed]
        if uow.orders.by_idempotency_key(household_id, key) is not None:
            uow.lists.remove(ids)
            gone.update(ids)
        else:
            uow.lists.claim(ids, None, None)
            for item in claimed:
                item.claimed_by = item.claimed_at = None
    return [i for i in items if i.id not in gone]


def order_list(cmd: OrderList, deps) -> core.PlaceResult:
    now = deps.clock()
    with deps.uow() as uow:
        _household(uow, cmd.household_id)
        version, nonce = uow.lists.lock(cmd.household_id)
        if cmd.version is not None and cmd.version != version:
            placed = uow.orders.by_idempotency_key(cmd.household_id, _key(nonce, cmd.version))
            if placed is None:
                raise ListChanged("Your list changed since you looked at it. Have a look and order it again.")
            key = _key(nonce, cmd.version)  # a retry of an order already placed: answered with it below
            claimed = [i for i in uow.lists.items(cmd.household_id) if i.claimed_by == key]
            lines = None
        else:
            items = _settle_claims(uow, cmd.household_id, uow.lists.items(cmd.household_id), now)
            claimed = _open(items)
            if not claimed:
                busy = any(i.claimed_by for i in items)
                raise InvalidCommand("Your list is being ordered already." if busy else
                                     "Your list is empty: there is nothing to order.", field="items")
            missing = [i.phrase for i in claimed if i.sku is None]
            if missing:
                raise InvalidCommand(f"I don't know which product you mean by {', '.join(missing)}. Choose one or "
                                     "remove it, then order the list.", field="items", unresolved=missing)
            key = _key(nonce, version)
            lines = tuple(commands.LineRequest(i.sku, i.quantity) for i in claimed if i.sku is not None)
            uow.lists.claim([i.id for i in claimed], key, now)
            uow.lists.bump(cmd.household_id)
        uow.commit()
    if lines is None:  # the retry: the same order, and the claimed items (if a crash left them) settled
        with deps.uow() as uow:
            result = core.PlaceResult("order_placed", order_view(uow.orders.by_idempotency_key(cmd.household_id, key)),
                                      replayed=True)
            uow.lists.remove([i.id for i in claimed])
            uow.commit()
        return result
    # the bus's own PlaceOrder handler when bootstrap gave one (it adds the members' rules: a child's list is not
    # ordered, an adult's own caps apply), else the core's
    place = getattr(deps, "place_order", None) or core.place_order
    try:
        result = place(commands.PlaceOrder(cmd.household_id, cmd.channel, lines, source_id=None,
                                           exclusive_source=False, idempotency_key=key, speaker=cmd.speaker), deps)
    except DomainError:
        with deps.uow() as uow:
            uow.lists.lock(cmd.household_id)
            uow.lists.claim([i.id for i in claimed], None, None)  # refused (a cap, out of stock): back on the list
            uow.lists.bump(cmd.household_id)
            uow.commit()
        raise
    with deps.uow() as uow:
        uow.lists.lock(cmd.household_id)
        uow.lists.remove([i.id for i in claimed])
        uow.lists.bump(cmd.household_id)
        uow.commit()
    return result


# -- views ---------------------------------------------------------------------------------------------------

def _titles(uow, items) -> dict[str, str]:
    return {sku: p.title for sku, p in uow.products.get_many(i.sku for i in items if i.sku).items()}


def item_view(item: ListItem, titles: dict[str, str]) -> dict:
    return {"id": item.id, "phrase": item.phrase, "sku": item.sku, "title": titles.get(item.sku or ""),
            "quantity": item.quantity, "position": item.position, "checked": item.checked,
            "added_by": item.added_by, "added_at": item.added_at.isoformat()}


def list_view(deps, household_id: str) -> dict:
    """The list as the household sees it: its version (to order exactly this), the items not being ordered right
    now, in order, with each one's pick and price, and the total of those not checked off."""
    with deps.uow() as uow:
        items = [i for i in uow.lists.items(household_id) if i.claimed_by is None]
        version = uow.lists.version(household_id)
        products = uow.products.get_many(i.sku for i in items if i.sku)
        shown = []
        for item in items:
            view = item_view(item, {s: p.title for s, p in products.items()})
            product = products.get(item.sku or "")
            view["price_cents"] = product.price_cents * item.quantity if product else None
            shown.append(view)
    total = sum(v["price_cents"] or 0 for v in shown if not v["checked"])
    return {"version": version, "items": shown, "total_cents": total}


LIST_COMMAND_HANDLERS = {AddToList: add_to_list, ChangeListItem: change_list_item, RemoveFromList: remove_from_list,
                         ClearChecked: clear_checked, OrderList: order_list}
