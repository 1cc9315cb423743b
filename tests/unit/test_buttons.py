"""Buttons over HTTP: pairing, signed presses (RFC 9421) in three formats, replays answered from the signed-request
log, one order in flight, status, cancel, battery, disabling and unpairing."""
import base64
import hashlib
import json
import time
import uuid
from collections import namedtuple
from datetime import UTC, datetime

import pytest
import requests
from click.testing import CliRunner
from http_message_signatures import HTTPMessageSigner, algorithms
from http_message_signatures.resolvers import HTTPSignatureKeyResolver

from replenish.domain import commands
from replenish_partner import signature_headers

BASE = "http://test"
Placed = namedtuple("Placed", "id status channel source_id sku")
TIDE_TITLE = "Tide PODS Laundry Detergent, 42 Count"


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def register(client, token, **body):
    body = body or {"sku": "TIDE-PODS-42", "quantity": 1}
    response = client.post("/v1/buttons", json=body, headers=auth(token))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def press_path(button):
    return f"/v1/buttons/{button['serial']}/press"


def press_body(payload=None) -> bytes:
    return json.dumps(payload if payload is not None else {"click_type": "SINGLE"}).encode()


def press_headers(button, body, *, key_id=None, secret=None, path=None, extra=None, **sign):
    """What a well-behaved button sends: ``body`` signed (RFC 9421) with its serial and secret."""
    return signature_headers("POST", BASE + (path or press_path(button)), body, key_id or button["serial"],
                             secret or button["secret"], headers={"Content-Type": "application/json",
                                                                  **(extra or {})}, **sign)


def send(client, button, body, headers, path=None):
    """Exactly these headers and body, as the server will see them (the @target-uri is http://test/...)."""
    return client.post(path or press_path(button), data=body, headers=headers, base_url=BASE)


def press(client, button, payload=None, **sign):
    body = press_body(payload)
    return send(client, button, body, press_headers(button, body, **sign))


def drain(container):
    queue = container.deps.queue
    while queue.events:
        container.bus.handle_event(queue.events.pop(0))


def orders(container):
    """The household's orders, read in a unit of work: (id, status, channel, source_id, first line's sku)."""
    with container.uow() as uow:
        return [Placed(o.id, o.status, o.channel, o.source_id, o.lines[0].sku) for o in uow.orders.list("h1")]


def error(response):
    return response.get_json()["error"]


class _Secret(HTTPSignatureKeyResolver):
    def __init__(self, secret: str):
        self.secret = secret.encode()

    def resolve_private_key(self, key_id):
        return self.secret

    resolve_public_key = resolve_private_key


def hand_signed(button, body, *, covered=("@method", "@target-uri", "content-digest"), nonce="default",
                created=None) -> dict:
    """Headers signed with http_message_signatures directly, so a test can leave a component or a parameter out.
    ``nonce=None`` signs without one. The body's Content-Digest is always sent and always right."""
    prepared = requests.Request("POST", BASE + press_path(button), data=body,
                                headers={"Content-Type": "application/json"}).prepare()
    covers_digest = "content-digest" in covered
    if not covers_digest:
        prepared.headers["Content-Digest"] = f"sha-256=:{base64.b64encode(hashlib.sha256(body).digest()).decode()}:"
    signer = HTTPMessageSigner(signature_algorithm=algorithms.HMAC_SHA256, key_resolver=_Secret(button["secret"]))
    signer.sign(prepared, key_id=button["serial"], label="sig1",
                nonce=uuid.uuid4().hex if nonce == "default" else nonce,
                created=created or datetime.now(UTC), covered_component_ids=covered,
                body=body if covers_digest else None, use_existing_digest=not covers_digest)
    return {k: v for k, v in prepared.headers.items() if k.lower() != "content-length"}


# -- pairing --------------------------------------------------------------------------------------------------


def test_register_returns_serial_key_id_and_secret_and_needs_a_token(client, token):
    button = register(client, token)
    assert button["serial"].startswith("RB") and button["secret"].startswith("btn_")
    assert button["key_id"] == button["serial"]
    assert client.post("/v1/buttons", json={"sku": "TIDE-PODS-42"}).status_code == 401
    bad = client.post("/v1/buttons", json={"sku": "TIDE-PODS-42", "category": "x"}, headers=auth(token))
    assert bad.status_code == 400
    assert client.post("/v1/buttons", json={"sku": "NOPE"}, headers=auth(token)).status_code == 404
    listed = client.get("/v1/buttons", headers=auth(token)).get_json()["buttons"]
    assert [b["serial"] for b in listed] == [button["serial"]] and "secret" not in listed[0]


def test_register_is_idempotent_by_key(client, token):
    headers = {**auth(token), "Idempotency-Key": "reg-1"}
    a = client.post("/v1/buttons", json={"sku": "TIDE-PODS-42"}, headers=headers)
    b = client.post("/v1/buttons", json={"sku": "TIDE-PODS-42"}, headers=headers)
    assert a.status_code == b.status_code == 201 and a.get_json() == b.get_json()
    c = client.post("/v1/buttons", json={"sku": "CHARMIN-12"}, headers=headers)
    assert c.status_code == 422


# -- presses ---------------------------------------------------------------------------------------------------


def test_single_press_orders_then_in_progress_until_the_order_ends(client, token, container):
    button = register(client, token)
    first = press(client, button)
    assert first.status_code == 200
    body = first.get_json()
    assert body["status"] == "order_placed"
    second = press(client, button).get_json()
    assert second == {"status": "order_in_progress", "order_id": body["order_id"]}
    placed = orders(container)
    assert len(placed) == 1 and placed[0].channel == "button"
    assert placed[0].source_id == f"button:{button['serial']}"


def test_long_press_cancels_the_pending_order_and_double_asks_for_status(client, token, container):
    button = register(client, token)
    order_id = press(client, button).get_json()["order_id"]
    status = press(client, button, {"click_type": "DOUBLE"}).get_json()
    assert status == {"status": "status_requested", "order_id": order_id, "order_status": "pending"}
    cancelled = press(client, button, {"click_type": "LONG"}).get_json()
    assert cancelled == {"status": "order_cancelled", "order_id": order_id}
    assert press(client, button, {"click_type": "LONG"}).get_json()["status"] == "no_order_to_cancel"
    drain(container)
    with container.uow() as uow:
        kinds = [n.kind for n in uow.notifications.for_household("h1")]
    assert "ButtonStatusRequested" in kinds and "OrderCancelled" in kinds
    again = press(client, button).get_json()
    assert again["status"] == "order_placed" and again["order_id"] != order_id


def test_aws_iot_button_and_one_click_formats(client, token, container):
    button = register(client, token)
    iot = {"serialNumber": button["serial"], "clickType": "SINGLE", "batteryVoltage": "1705mV"}
    assert press(client, button, iot).get_json()["status"] == "order_placed"
    one_click = {"deviceInfo": {"deviceId": button["serial"], "type": "button", "remainingLife": 55.0,
                                "attributes": {"projectRegion": "us-west-2"}},
                 "deviceEvent": {"buttonClicked": {"clickType": "DOUBLE", "reportedTime": "2026-03-10T15:00:00Z"}},
                 "placementInfo": {"projectName": "x", "placementName": "y", "attributes": {}, "devices": {}}}
    assert press(client, button, one_click).get_json()["status"] == "status_requested"
    other = dict(iot, serialNumber="SOMEONEELSE")
    assert press(client, button, other).status_code == 400
    assert press(client, button, {"clickType": "TRIPLE", "serialNumber": button["serial"]}).status_code == 400


def test_low_battery_is_notified_once(client, token, container):
    button = register(client, token)
    for _ in range(2):
        assert press(client, button, {"click_type": "DOUBLE", "battery_mv": 1100}).status_code == 200
    drain(container)
    with container.uow() as uow:
        feed = [n.message for n in uow.notifications.for_household("h1") if n.kind == "ButtonBatteryLow"]
        stored = uow.devices.button(button["serial"])
        assert stored.battery == "1100mV" and stored.battery_low_at is not None
    assert len(feed) == 1 and "battery" in feed[0]


def test_a_single_press_with_a_low_battery_is_told_once(client, token, container):
    button = register(client, token)
    iot = {"serialNumber": button["serial"], "clickType": "SINGLE", "batteryVoltage": "1100mV"}
    assert press(client, button, iot).get_json()["status"] == "order_placed"
    assert press(client, button, iot).get_json()["status"] == "order_in_progress"
    drain(container)
    with container.uow() as uow:
        assert len([n for n in uow.notifications.for_household("h1") if n.kind == "ButtonBatteryLow"]) == 1


def test_category_button_lets_the_recommender_choose(client, token, container):
    button = register(client, token, category="detergent", quantity=2)
    body = press(client, button).get_json()
    assert body["status"] == "order_placed"
    with container.uow() as uow:
        order = uow.orders.get(body["order_id"])
        assert order.lines[0].sku.startswith("TIDE-PODS") and order.lines[0].quantity == 2


def test_category_button_falls_back_to_the_catalog_without_a_recommender(client, token, container, monkeypatch):
    from replenish.devices.services import handlers as device_handlers

    class Broken:
        def resolve(self, *a, **k):
            raise ImportError("recommender not installed")
    monkeypatch.setattr(container.deps, "recommendations", Broken(), raising=False)
    button = register(client, token, category="toilet paper")
    body = press(client, button).get_json()
    with container.uow() as uow:
        assert uow.orders.get(body["order_id"]).lines[0].sku == "CHARMIN-12"
    assert device_handlers.resolve_category(container.deps, "h1", "detergent") == "TIDE-PODS-42"


def test_rate_limit_per_button(client, token, container):
    container.settings.button_rate = "2/60"
    button = register(client, token)
    codes = [press(client, button, {"click_type": "DOUBLE"}).status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def test_two_buttons_pressed_with_the_same_body_nonce_and_time_both_order(client, token, container):
    """The signed-request log is keyed by (keyid, nonce): two buttons never share a replay slot."""
    tide = register(client, token)
    charmin = register(client, token, sku="CHARMIN-12")
    body = press_body()
    created = time.time()
    answers = [send(client, b, body, press_headers(b, body, nonce="same-nonce-0001", created=created))
               for b in (tide, charmin)]
    assert [a.status_code for a in answers] == [200, 200]
    assert [a.get_json()["status"] for a in answers] == ["order_placed", "order_placed"]
    assert all("Signature-Replayed" not in a.headers for a in answers)
    assert sorted(o.sku for o in orders(container)) == ["CHARMIN-12", "TIDE-PODS-42"]


def test_a_press_refused_by_a_spending_limit_is_a_422_and_the_household_is_told_why(client, token, container):
    container.bus.handle(commands.UpdateLimits("h1", per_order_cap_cents=100))
    button = register(client, token)
    body = press_body()
    headers = press_headers(button, body)
    refused = send(client, button, body, headers)
    assert refused.status_code == 422, refused.get_json()
    assert orders(container) == []
    drain(container)
    with container.uow() as uow:
        told = [n.message for n in uow.notifications.for_household("h1") if n.kind == "ButtonPressRefused"]
    assert len(told) == 1
    assert TIDE_TITLE in told[0] and "limit" in told[0]
    assert button["serial"] not in told[0] and "TIDE-PODS-42" not in told[0] and "h1" not in told[0]
    # The button retrying the very same request gets the same refusal, and the household is not told twice.
    again = send(client, button, body, headers)
    assert again.status_code == 422 and again.get_data() == refused.get_data()
    assert again.headers.get("Signature-Replayed") == "true"
    drain(container)
    with container.uow() as uow:
        assert len([n for n in uow.notifications.for_household("h1") if n.kind == "ButtonPressRefused"]) == 1


# -- replays ---------------------------------------------------------------------------------------------------


def test_an_exact_replay_gets_the_first_answer_again_and_orders_nothing_more(client, token, container):
    button = register(client, token)
    body = press_body()
    headers = press_headers(button, body)
    first = send(client, button, body, headers)
    assert first.status_code == 200 and first.get_json()["status"] == "order_placed"
    assert "Signature-Replayed" not in first.headers
    replay = send(client, button, body, headers)
    assert replay.status_code == 200
    assert replay.get_data() == first.get_data()  # order_placed, not order_in_progress: the stored answer
    assert replay.headers["Signature-Replayed"] == "true"
    assert len(orders(container)) == 1


def test_the_same_nonce_with_another_body_is_refused_naming_the_nonce(client, token, container):
    button = register(client, token)
    body = press_body({"click_type": "DOUBLE"})
    assert send(client, button, body, press_headers(button, body, nonce="nonce-used-once")).status_code == 200
    other = press_body({"click_type": "SINGLE"})
    reused = send(client, button, other, press_headers(button, other, nonce="nonce-used-once"))
    assert reused.status_code == 401
    assert error(reused)["field"] == "nonce" and "nonce" in error(reused)["message"]
    assert orders(container) == []


def test_resending_a_press_after_its_order_was_cancelled_places_no_new_order(client, token, container):
    button = register(client, token)
    body = press_body()
    headers = press_headers(button, body)
    first = send(client, button, body, headers).get_json()
    assert first["status"] == "order_placed"
    cancelled = client.post(f"/v1/orders/{first['order_id']}/cancel", headers=auth(token))
    assert cancelled.status_code == 200, cancelled.get_json()
    resent = send(client, button, body, headers)
    assert resent.headers.get("Signature-Replayed") == "true" and resent.get_json() == first
    placed = orders(container)
    assert [o.id for o in placed] == [first["order_id"]] and placed[0].status == "cancelled"
    # A new press (a new nonce) does order again.
    assert press(client, button).get_json()["status"] == "order_placed"
    assert len(orders(container)) == 2


def test_idempotency_key_on_press_replays_the_first_answer_and_refuses_another_body(client, token, container):
    """Idempotency-Key works across signatures: a retry signed afresh (new nonce) still gets the first answer."""
    button = register(client, token)
    body = press_body()
    first = send(client, button, body, press_headers(button, body, extra={"Idempotency-Key": "press-1"}))
    again = send(client, button, body, press_headers(button, body, extra={"Idempotency-Key": "press-1"}))
    assert first.status_code == again.status_code == 200
    assert again.get_json() == first.get_json() and first.get_json()["status"] == "order_placed"
    assert again.headers["Idempotent-Replayed"] == "true" and "Signature-Replayed" not in again.headers
    assert len(orders(container)) == 1
    other_body = press_body({"click_type": "DOUBLE"})
    other = send(client, button, other_body, press_headers(button, other_body, extra={"Idempotency-Key": "press-1"}))
    assert other.status_code == 422


# -- what is refused -------------------------------------------------------------------------------------------


def test_a_hand_made_rfc9421_signature_is_accepted(client, token, container):
    """The control for the refusals below: the same construction with nothing left out orders."""
    button = register(client, token)
    body = press_body()
    answer = send(client, button, body, hand_signed(button, body))
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["status"] == "order_placed"


def _second_label(button, body, headers):
    """``headers`` with a second, itself valid, signature (another nonce) appended under the label sig2."""
    other = press_headers(button, body)
    return {**headers, **{name: headers[name] + ", " + other[name].replace("sig1=", "sig2=", 1)
                          for name in ("Signature-Input", "Signature")}}


def _alg(headers):
    assert 'alg="hmac-sha256"' in headers["Signature-Input"]
    return {**headers, "Signature-Input": headers["Signature-Input"].replace('alg="hmac-sha256"',
                                                                             'alg="rsa-pss-sha512"')}


VARIANTS = {
    "unsigned": (lambda b, body: {"Content-Type": "application/json"}, None),
    "a second signature label": (lambda b, body: _second_label(b, body, press_headers(b, body)), None),
    "content-digest not covered": (
        lambda b, body: hand_signed(b, body, covered=("@method", "@target-uri")), "Content-Digest"),
    "@method not covered": (lambda b, body: hand_signed(b, body, covered=("@target-uri", "content-digest")),
                            '"@method"'),
    "target not covered": (lambda b, body: hand_signed(b, body, covered=("@method", "content-digest")),
                           '"@target-uri"'),
    "created 301 s ago": (lambda b, body: press_headers(b, body, created=time.time() - 301), None),
    "created 360 s ahead": (lambda b, body: press_headers(b, body, created=time.time() + 360), "created"),
    "unknown alg": (lambda b, body: _alg(press_headers(b, body)), None),
    "no nonce": (lambda b, body: hand_signed(b, body, nonce=None), "nonce"),
    "garbage Signature-Input": (lambda b, body: {**press_headers(b, body), "Signature-Input": "garbage"}, None),
    "garbled Signature": (lambda b, body: {**press_headers(b, body), "Signature": "sig1=:AAAA:"}, None),
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_header_form_variants_are_refused_and_order_nothing(client, token, container, variant):
    make, named = VARIANTS[variant]
    button = register(client, token)
    body = press_body()
    refused = send(client, button, body, make(button, body))
    assert refused.status_code == 401, (variant, refused.get_json())
    assert refused.headers["WWW-Authenticate"].startswith("Signature")
    if named:
        assert named in error(refused)["message"] or error(refused).get("field") == named, error(refused)
    assert orders(container) == []
    assert press(client, button).get_json()["status"] == "order_placed"  # the button itself still works


def test_a_tampered_body_is_refused_naming_the_content_digest(client, token, container):
    button = register(client, token)
    body = press_body({"click_type": "DOUBLE"})
    headers = press_headers(button, body)
    tampered = send(client, button, press_body({"click_type": "SINGLE"}), headers)
    assert tampered.status_code == 401 and error(tampered)["field"] == "Content-Digest"
    assert orders(container) == []
    assert send(client, button, body, headers).status_code == 200  # the refused attempt did not burn the nonce


def test_a_stale_signature_is_refused_naming_created_and_the_tolerance(client, token):
    button = register(client, token)
    body = press_body()
    stale = send(client, button, body, press_headers(button, body, created=time.time() - 301))
    assert stale.status_code == 401
    assert "created" in error(stale)["message"] and "300" in error(stale)["message"]


def test_a_wrong_secret_is_not_blamed_on_the_content_digest(client, token):
    button = register(client, token)
    body = press_body()
    wrong = send(client, button, body, press_headers(button, body, secret="btn_wrong"))
    assert wrong.status_code == 401
    assert error(wrong)["field"] == "Signature", error(wrong)


def test_another_buttons_key_does_not_sign_for_this_button(client, token, container):
    mine, theirs = register(client, token), register(client, token, sku="CHARMIN-12")
    body = press_body()
    # their keyid and secret, sent to my URL: keyid is not the URL's serial
    as_them = send(client, mine, body, press_headers(mine, body, key_id=theirs["serial"], secret=theirs["secret"]))
    assert as_them.status_code == 401 and "keyid" in error(as_them)["message"]
    # my keyid with their secret: the signature does not verify
    wrong_secret = send(client, mine, body, press_headers(mine, body, secret=theirs["secret"]))
    assert wrong_secret.status_code == 401
    # their keyid with my secret
    wrong_key = send(client, mine, body, press_headers(mine, body, key_id=theirs["serial"]))
    assert wrong_key.status_code == 401
    assert orders(container) == []
    assert press(client, theirs).status_code == 200  # their button is unaffected
    assert [o.sku for o in orders(container)] == ["CHARMIN-12"]


def test_unknown_button_is_a_404(client, token):
    button = register(client, token)
    body = press_body()
    headers = press_headers(button, body, path="/v1/buttons/RBUNKNOWN0000000/press")
    assert send(client, button, body, headers, path="/v1/buttons/RBUNKNOWN0000000/press").status_code == 404
    assert client.post("/v1/buttons/RBUNKNOWN0000000/press", data=body, base_url=BASE).status_code == 404


# -- disabling and unpairing -----------------------------------------------------------------------------------


def test_a_disabled_button_orders_nothing_until_enabled_again(client, token, container):
    button = register(client, token)
    disabled = client.patch(f"/v1/buttons/{button['serial']}", json={"status": "disabled"}, headers=auth(token))
    assert disabled.status_code == 200 and disabled.get_json()["status"] == "disabled"
    refused = press(client, button)
    assert refused.status_code == 404
    assert orders(container) == []
    enabled = client.patch(f"/v1/buttons/{button['serial']}", json={"status": "active"}, headers=auth(token))
    assert enabled.status_code == 200 and enabled.get_json()["status"] == "active"
    assert press(client, button).get_json()["status"] == "order_placed"
    assert len(orders(container)) == 1
    bad = client.patch(f"/v1/buttons/{button['serial']}", json={"status": "unpaired"}, headers=auth(token))
    assert bad.status_code == 400


def test_an_unpaired_button_is_gone_for_good(client, token, container):
    button = register(client, token)
    gone = client.delete(f"/v1/buttons/{button['serial']}", headers=auth(token))
    assert gone.status_code == 200
    assert press(client, button).status_code == 404
    # It cannot be brought back, and its old secret is no longer the button's.
    back = client.patch(f"/v1/buttons/{button['serial']}", json={"status": "active"}, headers=auth(token))
    assert back.status_code == 404
    assert client.delete(f"/v1/buttons/{button['serial']}", headers=auth(token)).status_code == 404
    with container.uow() as uow:
        stored = uow.devices.button(button["serial"])
        assert stored.status == "unpaired" and stored.secret != button["secret"]
    assert press(client, button).status_code == 404
    assert orders(container) == []


def test_another_household_cannot_disable_or_unpair_my_button(client, token, container):
    container.bus.handle(commands.CreateHousehold("h2", "Other Household", "2 Main St", "America/New_York"))
    other = container.bus.handle(commands.IssueToken("h2"))
    button = register(client, token)
    path = f"/v1/buttons/{button['serial']}"
    assert client.patch(path, json={"status": "disabled"}, headers=auth(other)).status_code == 404
    assert client.delete(path, headers=auth(other)).status_code == 404
    assert client.patch(path, json={"status": "disabled"}).status_code == 401
    assert press(client, button).get_json()["status"] == "order_placed"


def test_a_plain_press_notes_its_time_and_an_inactive_button_orders_nothing(client, token, container, clock):
    """The handler checks the button's status itself: a key the process still has cached verifies, but a button
    made inactive behind the API's back (another process, the database) orders nothing."""
    from sqlalchemy import update

    from replenish.devices.adapters.orm import buttons
    button = register(client, token)
    assert press(client, button).get_json()["status"] == "order_placed"
    clock.advance(minutes=5)
    assert press(client, button).get_json()["status"] == "order_in_progress"
    listed = client.get("/v1/buttons", headers=auth(token)).get_json()["buttons"][0]
    assert listed["last_press_at"] == clock().isoformat()
    with container.uow() as uow:
        uow.session.execute(update(buttons).values(status="disabled"))
        order = uow.orders.list("h1")[0]
        uow.session.commit()
    client.post(f"/v1/orders/{order.id}/cancel", headers=auth(token))  # nothing in flight any more
    clock.advance(minutes=5)
    assert press(client, button).status_code == 404
    with container.uow() as uow:
        assert uow.devices.button(button["serial"]).last_press_at < clock()
        assert len(uow.orders.list("h1")) == 1


# -- elsewhere -------------------------------------------------------------------------------------------------


def test_the_noop_route_is_gone(client):
    assert client.post("/v1/buttons/_noop", data=b"{}").status_code in (404, 405)
    assert not any("_noop" in path for path in client.get("/openapi.json").get_json()["paths"])


def test_cli_registers_a_button(tmp_path, monkeypatch):
    from replenish.cli import main
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    runner = CliRunner()
    assert runner.invoke(main, ["household", "create", "hc", "--json"]).exit_code == 0
    from replenish.bootstrap import bootstrap
    from replenish.config import Settings
    from tests.conftest import PRODUCTS
    c = bootstrap(Settings.from_env())
    with c.uow() as uow:
        uow.products.upsert_many(PRODUCTS)
        uow.session.commit()
    result = runner.invoke(main, ["buttons", "register", "--household", "hc", "--product", "TIDE-PODS-42",
                                  "--quantity", "2", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output.strip().splitlines()[-1])
    assert data["serial"] and data["secret"] and data["quantity"] == 2 and data["key_id"] == data["serial"]
    result = runner.invoke(main, ["partners", "create", "Acme", "--json"])
    assert result.exit_code == 0, result.output
    partner = json.loads(result.output.strip().splitlines()[-1])
    assert partner["key_id"].startswith("pk_") and partner["secret"].startswith("sk_")
    assert partner["webhook_secret"].startswith("whsec_") and "api_key" not in partner


class _RecordingNotifier:
    channel = "sns"

    def __init__(self):
        self.sent = []

    def send(self, message):
        self.sent.append(message)


def test_device_notices_respect_the_households_choices_on_its_channels(client, token, container):
    """A household that switched problem notices off by email and text still sees a low battery in its feed,
    and gets no email or text about it; with them on, it does."""
    from replenish.domain import commands as c
    sns = _RecordingNotifier()
    container.deps.notifiers.append(sns)
    container.bus.handle(c.SetNotificationPrefs("h1", {"email": True, "sms": False, "alexa": False},
                                                {"problems": False}, email="home@example.com"))
    quiet = register(client, token)
    assert press(client, quiet, {"click_type": "DOUBLE", "battery_mv": 1100}).status_code == 200
    drain(container)
    assert [m.kind for m in sns.sent if m.kind == "ButtonBatteryLow"] == []
    with container.uow() as uow:
        assert [n.kind for n in uow.notifications.for_household("h1") if n.channel == "feed"].count(
            "ButtonBatteryLow") == 1
    container.bus.handle(c.SetNotificationPrefs("h1", {"email": True, "sms": False, "alexa": False},
                                                {"problems": True}, email="home@example.com"))
    loud = register(client, token)
    assert press(client, loud, {"click_type": "DOUBLE", "battery_mv": 1100}).status_code == 200
    drain(container)
    assert [m.kind for m in sns.sent if m.kind == "ButtonBatteryLow"] == ["ButtonBatteryLow"]
