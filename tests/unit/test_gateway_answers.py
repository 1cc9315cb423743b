"""What the core makes of a store's answer that breaks the protocol: an acceptance without the store's order id
leaves the order waiting to be sent again (it could never be tracked), and the household is not told it was
sent (SQLite, a hand-moved clock, a store that forgets its ids as told)."""
from __future__ import annotations

from replenish.domain import commands
from replenish.domain.commands import LineRequest
from replenish.services import event_handlers
from replenish.services.ports import SubmitResult


class ForgetfulStore:
    """Accepts every order; gives its order id only once ``forgetting`` is over (a faulty store)."""

    def __init__(self, forgetting: int):
        self.forgetting = forgetting
        self.tries: list[str] = []

    def submit(self, request):
        self.tries.append(request.idempotency_key)
        if self.forgetting:
            self.forgetting -= 1
            return SubmitResult(True)
        return SubmitResult(True, "R-1")

    def status(self, retailer_order_id):
        raise AssertionError("not tracked here")


def test_an_acceptance_without_the_stores_order_id_is_tried_again_and_only_then_the_order_is_sent(
        make_container, settings, clock):
    settings.submit_retry_base, settings.submit_retry_cap = 2, 60
    store = ForgetfulStore(forgetting=1)
    container = make_container(gateway=store)
    container.bus.handle(commands.UpdateLimits("h1", cancel_windows={"web": 0}))
    order_id = container.bus.handle(commands.PlaceOrder("h1", "web", (LineRequest("TIDE-PODS-42", 1),))).order_id
    queue = container.deps.queue
    while queue.events:
        container.bus.handle_event(queue.events.pop(0))

    with container.uow() as uow:
        waiting = uow.orders.get(order_id)
        assert (waiting.status, waiting.retailer_order_id, waiting.submit_attempts) == ("pending", None, 1)
        assert not [n for n in uow.notifications.for_household("h1") if n.kind == "OrderSubmitted"]

    clock.advance(seconds=60)
    assert event_handlers.submit_due(container.deps) == 1
    with container.uow() as uow:
        sent = uow.orders.get(order_id)
        assert (sent.status, sent.retailer_order_id) == ("submitted", "R-1")
    assert store.tries == [order_id, order_id]
