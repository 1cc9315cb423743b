"""Partner webhooks follow Standard Webhooks (https://www.standardwebhooks.com/): what we deliver verifies with the
plain ``standardwebhooks`` package (no SDK), keeps its ``webhook-id`` across retries, verifies with either secret
while a partner rotates, and is refused by the SDK when tampered with or stale; webhook secrets are what any
Standard Webhooks library accepts, and older secrets still sign.

The plain package checks ``webhook-timestamp`` against the wall clock, so the deliveries it verifies are made at
the current time (``datetime.now``); the SDK's checks run on the test clock."""
import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from replenish.devices.domain import commands as dc
from replenish.devices.services import events as device_events
from replenish_partner import PartnerClient, PartnerError

from .device_fakes import FlaskSession, RecordingSender

SLOTS = [{"slot_id": "detergent", "products": ["TIDE-PODS-42", "TIDE-PODS-81"], "capacity": 84, "unit": "count",
          "threshold": 20, "target": 84}]
BASE = "http://test"
# What Partner.add_webhook_secret made before: "whsec_" + secrets.token_urlsafe(32), not standard base64.
LEGACY_SECRET = "whsec_gs6oz07ry6e-zLZCMDgKd0sfFg7Vg5ETJ7S1o5pd-_c"


@pytest.fixture
def partner(container):
    return container.bus.handle(dc.CreatePartner("Acme", "https://acme.example/hooks"))


@pytest.fixture
def sdk(app, partner):
    return PartnerClient(BASE, partner["key_id"], partner["secret"], webhook_secrets=[partner["webhook_secret"]],
                         session=FlaskSession(app))


@pytest.fixture
def sender(container):
    container.deps.webhook_sender = recording = RecordingSender(200)
    return recording


def register_device(app, token, sdk, external_id="WM-0001"):
    code = app.test_client().post("/v1/devices/link-codes", headers={"Authorization": f"Bearer {token}"})
    assert code.status_code == 201
    return sdk.register_device(code.get_json()["code"], external_id, model="washer", slots=SLOTS)


def queued(container, event_type):
    """The ids of the queued webhook deliveries of ``event_type`` (after running the events waiting)."""
    queue = container.deps.queue
    while queue.events:
        container.bus.handle_event(queue.events.pop(0))
    ids = [args[0] for name, args in queue.sent if name == device_events.WEBHOOK_TASK]
    with container.uow() as uow:
        return [i for i in ids if uow.webhooks.get(i).event_type == event_type]


def deliver(container, sender, delivery_id, now=None):
    """Delivers one webhook (at ``now``, default the test clock); its (body, headers) as the partner got them."""
    assert device_events.deliver_webhook(delivery_id, container.deps, now=now) == "delivered"
    _, body, headers = sender.sent[-1]
    return body, headers


def fails(secret, body, headers) -> bool:
    try:
        Webhook(secret).verify(body, headers)
    except WebhookVerificationError:
        return True
    return False


def test_a_delivered_webhook_verifies_with_the_plain_library_and_keeps_its_id_across_a_retry(
        app, token, container, partner, sdk):
    container.deps.webhook_sender = sender = RecordingSender(500, 200)
    device = register_device(app, token, sdk)
    [delivery_id] = queued(container, "device.registered")
    first_at = datetime.now(UTC)
    with pytest.raises(device_events.TransientError):
        device_events.deliver_webhook(delivery_id, container.deps, now=first_at)
    body, headers = deliver(container, sender, delivery_id, now=first_at + timedelta(seconds=60))
    (_, first_body, first_headers), _ = sender.sent
    # The same message, so the partner can drop a retry it already processed; each attempt has its own time.
    assert headers["webhook-id"] == first_headers["webhook-id"] == f"msg_{delivery_id}"
    assert int(headers["webhook-timestamp"]) - int(first_headers["webhook-timestamp"]) == 60
    assert body == first_body and "X-Replenish-Signature" not in headers
    for sent_body, sent_headers in ((first_body, first_headers), (body, headers)):
        payload = Webhook(partner["webhook_secret"]).verify(sent_body, sent_headers)
        assert payload["type"] == "device.registered" and payload["data"]["device_id"] == device["device_id"]
        assert payload["id"] == f"evt_{delivery_id}" and set(payload) == {"id", "type", "created_at", "data"}
    assert fails(partner["webhook_secret"], body.replace(b"device.registered", b"device.Registered"), headers)
    assert fails(partner["webhook_secret"], body, {**headers, "webhook-id": "msg_other"})


def test_during_a_rotation_either_secret_verifies_and_a_retired_one_stops(app, token, container, partner, sdk,
                                                                           sender):
    old = partner["webhook_secret"]
    new = sdk.add_webhook_secret()
    device = register_device(app, token, sdk)
    [registered] = queued(container, "device.registered")
    body, headers = deliver(container, sender, registered, now=datetime.now(UTC))
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert Webhook(old).verify(body, headers)["type"] == "device.registered"
    assert Webhook(new).verify(body, headers)["type"] == "device.registered"
    unrelated = "whsec_" + base64.b64encode(b"u" * 32).decode()
    assert fails(unrelated, body, headers)

    sdk.retire_webhook_secret(old)
    patched = app.test_client().patch(f"/v1/devices/{device['device_id']}/slots/detergent", json={"mode": "notify"},
                                      headers={"Authorization": f"Bearer {token}"})
    assert patched.status_code == 200
    [changed] = queued(container, "subscription.changed")
    body, headers = deliver(container, sender, changed, now=datetime.now(UTC))
    assert Webhook(new).verify(body, headers)["type"] == "subscription.changed"
    assert fails(old, body, headers)


def test_the_sdk_refuses_a_tampered_body_and_a_timestamp_older_than_five_minutes(app, token, container, sdk,
                                                                                  sender, clock):
    register_device(app, token, sdk)
    [registered] = queued(container, "device.registered")
    body, headers = deliver(container, sender, registered)  # at the test clock's time
    sent_at = clock().timestamp()
    assert sdk.verify_webhook(headers, body, now=sent_at + 300)["type"] == "device.registered"
    tampered = json.dumps({**json.loads(body), "type": "device.deregistered"}, separators=(",", ":")).encode()
    for what, received, now in (("tampered body", tampered, sent_at), ("older than 5 minutes", body, sent_at + 301)):
        with pytest.raises(PartnerError) as refused:
            sdk.verify_webhook(headers, received, now=now)
        assert refused.value.status == 401, what


def test_webhook_secrets_made_now_are_standard_base64_keys(container, partner, sdk):
    made = [partner["webhook_secret"], sdk.add_webhook_secret(),
            container.bus.handle(dc.CreatePartner("Other", "https://other.example/hooks"))["webhook_secret"]]
    assert len(set(made)) == 3
    for secret in made:
        assert secret.startswith("whsec_")
        assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32


def test_a_secret_in_the_old_format_still_signs(app, token, container, partner, sdk, sender, clock):
    with container.uow() as uow:
        uow.devices.partner(partner["partner_id"]).webhook_secrets = [LEGACY_SECRET]
        uow.commit()
    register_device(app, token, sdk)
    [registered] = queued(container, "device.registered")
    body, headers = deliver(container, sender, registered, now=datetime.now(UTC))
    # Its key is the UTF-8 bytes of the part after "whsec_" (it is not standard base64).
    key = LEGACY_SECRET.removeprefix("whsec_").encode()
    assert Webhook(key).verify(body, headers)["type"] == "device.registered"
    legacy = PartnerClient(BASE, "pk_x", "x", webhook_secrets=[LEGACY_SECRET])
    assert legacy.verify_webhook(headers, body)["type"] == "device.registered"
    with pytest.raises(PartnerError):
        PartnerClient(BASE, "pk_x", "x", webhook_secrets=[partner["webhook_secret"]]).verify_webhook(headers, body)
