"""Repeat presses answered from the order in flight mirrored in Redis (``ButtonMirror``): with the guard's round
trip and no database work, yet never answering for an order that ended, and with the press time kept."""
from __future__ import annotations

import time

import pytest

from replenish.adapters.device_repository import DeviceStatements
from replenish.services.device_handlers import flush_button_presses

from .test_buttons import app, auth, client, press, register  # noqa: F401  (the button API's fixtures)


def stored_last_press(container, button):
    with container.uow() as uow:
        return uow.devices.button(button["serial"]).last_press_at


def no_database_for_presses(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the press went to the database")
    monkeypatch.setattr(DeviceStatements, "note_press", refuse)


def test_repeat_presses_are_answered_from_redis_and_their_time_reaches_the_button(client, token, container,
                                                                                  clock, monkeypatch):
    button = register(client, token)
    placed = press(client, button).get_json()
    assert placed["status"] == "order_placed"
    no_database_for_presses(monkeypatch)
    for _ in range(3):
        clock.advance(minutes=1)
        assert press(client, button).get_json() == {"status": "order_in_progress", "order_id": placed["order_id"]}
    assert stored_last_press(container, button) < clock()  # noted in Redis so far...
    listed = client.get("/v1/buttons", headers=auth(token)).get_json()["buttons"][0]
    assert listed["last_press_at"] == clock().isoformat()  # ...and shown as it is
    assert flush_button_presses(container.deps) == 1
    assert stored_last_press(container, button) == clock()  # ...then written to the button
    assert flush_button_presses(container.deps) == 0
    with container.uow() as uow:
        assert len(uow.orders.list("h1")) == 1


def test_an_order_that_ends_is_forgotten_so_the_next_press_orders_again(client, token, container, clock):
    button = register(client, token)
    first = press(client, button).get_json()["order_id"]
    assert press(client, button).get_json()["status"] == "order_in_progress"
    with container.uow() as uow:  # the store takes it, ships it and delivers it
        order = uow.orders.get(first)
        order.mark_submitted("R-1", clock())
        order.confirm(clock())
        order.ship(clock())
        order.deliver(clock())
        uow.commit()
    again = press(client, button).get_json()
    assert again["status"] == "order_placed" and again["order_id"] != first


def test_a_mirror_redis_could_not_clear_lasts_no_longer_than_its_ttl(client, token, container, monkeypatch):
    button = register(client, token)
    mirror = container.deps.button_mirror
    monkeypatch.setattr(mirror, "ttl_ms", 200)
    mirror.remember(button["serial"], "an-order-that-ended")  # as if its end had not reached Redis
    assert press(client, button).get_json() == {"status": "order_in_progress", "order_id": "an-order-that-ended"}
    time.sleep(0.3)
    assert press(client, button).get_json()["status"] == "order_placed"  # the database answers again


def test_a_replayed_press_is_refused_and_its_time_is_not_noted(client, token, container, clock):
    from replenish.adapters.http_retailer import sign
    button = register(client, token)
    press(client, button)
    body = b'{"click_type": "SINGLE", "nonce": "once"}'
    header = sign(button["secret"], body, int(time.time()))
    assert press(client, button, raw=body, header=header).get_json()["status"] == "order_in_progress"
    noted = container.deps.button_mirror.noted([button["serial"]])[button["serial"]]
    clock.advance(minutes=5)
    replay = press(client, button, raw=body, header=header)
    assert replay.status_code == 401
    assert container.deps.button_mirror.noted([button["serial"]])[button["serial"]] == noted


def test_rate_limits_hold_for_presses_answered_from_redis(client, token, container, monkeypatch):
    button = register(client, token)
    press(client, button)
    monkeypatch.setenv("REPLENISH_BUTTON_RATE", "2/60")
    codes = [press(client, button).status_code for _ in range(4)]
    assert codes[-1] == 429 and codes.count(200) <= 2


def test_with_redis_down_the_database_answers_presses(client, token, container, monkeypatch):
    from redis.exceptions import ConnectionError as RedisDown
    button = register(client, token)

    def down(*args, **kwargs):
        raise RedisDown("redis is down")
    monkeypatch.setattr(container.redis, "set", down)  # the mirror cannot be written...
    first = press(client, button).get_json()
    assert first["status"] == "order_placed"
    from replenish.web import device_common
    with client.application.app_context():
        monkeypatch.setattr(device_common.rates()._scripts, "run", down)  # ...nor read, nor the guard checked
    assert press(client, button).get_json() == {"status": "order_in_progress", "order_id": first["order_id"]}


def test_press_times_a_flush_could_not_write_wait_for_the_next(client, token, container, clock, monkeypatch):
    button = register(client, token)
    press(client, button)
    clock.advance(minutes=1)
    press(client, button)

    def refuse(self, presses):
        raise RuntimeError("database down")
    monkeypatch.setattr(DeviceStatements, "note_presses", refuse)
    with pytest.raises(RuntimeError):
        flush_button_presses(container.deps)
    monkeypatch.undo()
    assert flush_button_presses(container.deps) == 1
    assert stored_last_press(container, button) == clock()
