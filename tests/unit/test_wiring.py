"""The composition root wires each container on its own: handlers, consumers and settings are given, not global."""
from __future__ import annotations

from replenish.domain import commands


def test_a_consumer_added_to_one_container_never_runs_in_another(make_container):
    first, second = make_container(), make_container()
    seen: list[str] = []
    first.bus.consumers.table.setdefault("OrderPlaced", []).append(lambda event, uow, deps: seen.append("first"))
    for container in (second, first):
        result = container.bus.handle(commands.PlaceOrder("h1", "web", (commands.LineRequest("CHARMIN-12", 1),)))
        while container.deps.queue.events:
            container.bus.handle_event(container.deps.queue.events.pop(0))
        assert container.bus.uow is container.deps.uow and result.order_id
    assert seen == ["first"]  # the second container's order was handled without the first's consumer


def test_every_feature_consumer_is_wired_by_bootstrap(container):
    consumers = container.bus.consumers
    names = {handler.__name__ for handler in consumers("OrderDelivered")}
    assert {"notify_household", "order_webhook", "stock_delivered"} <= names  # core, devices, pantry
    assert [h.__name__ for h in consumers("OrderPlaced")][:2] == ["schedule_submission", "notify_household"]
    assert not consumers.wanted("OrderSubmitted")  # recorded on the timeline, handled by nobody


def test_domain_errors_know_no_http_and_the_web_maps_every_features_errors(container):
    from replenish.devices.domain.model import DeviceGone, Unauthorized
    from replenish.domain import errors
    from replenish.lists.model import ListChanged
    from replenish.web import create_app
    from replenish.web.errors import status_for

    assert not any(hasattr(cls, "status") for cls in (errors.DomainError, errors.NotFound, DeviceGone, ListChanged))
    app = create_app(container)
    with app.app_context():
        assert [status_for(cls("x")) for cls in (DeviceGone, Unauthorized, ListChanged, errors.UnknownProduct,
                                                 errors.PinLocked, errors.Conflict, errors.DomainError)] == \
            [410, 401, 409, 404, 423, 409, 422]
