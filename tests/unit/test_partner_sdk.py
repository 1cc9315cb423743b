"""The partner SDK on its own: signing, webhook verification across a secret rotation, the button client."""
import json

import pytest

from replenish.adapters.http_retailer import verify_signature as server_verify
from replenish.adapters.webhook_sender import sign_all
from replenish.sdk import ButtonClient, PartnerClient, PartnerError, sign_body, verify_signature
from replenish.web import create_app

from .device_fakes import FlaskSession


def test_sdk_signatures_are_what_the_server_verifies():
    body = b'{"remainingQuantityInUnit":3}'
    header = sign_body("whsec_a", body, 1_700_000_000)
    assert server_verify("whsec_a", header, body, 1_700_000_100)
    assert not server_verify("whsec_b", header, body, 1_700_000_100)
    assert not server_verify("whsec_a", header, body, 1_700_000_400)


def test_verify_webhook_accepts_either_secret_during_rotation_and_rejects_tampering():
    body = json.dumps({"id": "evt_1", "type": "order.placed"}).encode()
    header = sign_all(["old", "new"], body, 1_000)
    for secrets in (["old"], ["new"], ["other", "new"]):
        client = PartnerClient("http://x", "key", secrets, clock=lambda: 1_010)
        assert client.verify_webhook({"x-replenish-signature": header}, body)["id"] == "evt_1"
    client = PartnerClient("http://x", "key", ["other"], clock=lambda: 1_010)
    with pytest.raises(PartnerError):
        client.verify_webhook({"X-Replenish-Signature": header}, body)
    assert not verify_signature(["new"], header, body + b" ", now=1_010)
    assert not verify_signature(["new"], header, body, now=1_000 + 301)
    assert not verify_signature(["new"], "t=abc,v1=00", body, now=1_000)
    assert not verify_signature(["new"], None, body, now=1_000)


def test_button_client_presses_through_the_api(container, token):
    app = create_app(container)
    registered = app.test_client().post("/v1/buttons", json={"sku": "CHARMIN-12"},
                                        headers={"Authorization": f"Bearer {token}"}).get_json()
    button = ButtonClient("http://test", registered["serial"], registered["secret"], session=FlaskSession(app))
    first = button.press()
    assert first["status"] == "order_placed"
    assert button.press() == {"status": "order_in_progress", "order_id": first["order_id"]}
    assert button.press("LONG")["status"] == "order_cancelled"
    wrong = ButtonClient("http://test", registered["serial"], "btn_wrong", session=FlaskSession(app))
    with pytest.raises(PartnerError) as refused:
        wrong.press()
    assert refused.value.status == 401
