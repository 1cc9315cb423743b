"""Webhook verification (Standard Webhooks): ``verify_webhook`` accepts what the ``standardwebhooks`` package
signs, with one secret or several (a rotation), and refuses anything tampered with or too old. Nothing of the
platform is needed here."""
import base64
import json
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook

from replenish_partner import WEBHOOK_TOLERANCE, PartnerClient, PartnerError, verify_webhook, webhook_key

OLD_SECRET = "whsec_" + base64.b64encode(b"old-secret-key-of-32-bytes-long!").decode()
NEW_SECRET = "whsec_" + base64.b64encode(b"new-secret-key-of-32-bytes-long!").decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"some-other-key-of-32-bytes-long!").decode()
SENT_AT = 1_760_000_000
BODY = json.dumps({"id": "evt_1", "type": "order.placed", "data": {"order_id": "o-1"}}).encode()


def signed(secrets, body=BODY, msg_id="msg_1", at=SENT_AT):
    """The headers a Standard Webhooks sender puts on ``body``: one signature per secret, space-separated."""
    when = datetime.fromtimestamp(at, UTC)
    return {"webhook-id": msg_id, "webhook-timestamp": str(at),
            "webhook-signature": " ".join(Webhook(secret).sign(msg_id, when, body) for secret in secrets)}


def test_what_standardwebhooks_signs_verifies():
    headers = signed([NEW_SECRET])
    assert verify_webhook([NEW_SECRET], headers, BODY, now=SENT_AT + 5)["id"] == "evt_1"
    at = datetime.fromtimestamp(SENT_AT - WEBHOOK_TOLERANCE, UTC)
    assert verify_webhook([NEW_SECRET], headers, BODY, now=at)["type"] == "order.placed"  # a datetime works too
    upper = {name.upper(): value for name, value in headers.items()}  # header names are case-insensitive
    assert verify_webhook([NEW_SECRET], upper, BODY, now=SENT_AT)["id"] == "evt_1"
    assert verify_webhook([NEW_SECRET], list(headers.items()), BODY, now=SENT_AT)["id"] == "evt_1"


def test_the_wall_clock_is_the_default():
    now = int(datetime.now(UTC).timestamp())
    assert verify_webhook([NEW_SECRET], signed([NEW_SECRET], at=now), BODY)["id"] == "evt_1"
    with pytest.raises(PartnerError):
        verify_webhook([NEW_SECRET], signed([NEW_SECRET], at=now - WEBHOOK_TOLERANCE - 60), BODY)


def test_during_a_rotation_either_secret_verifies():
    both = signed([OLD_SECRET, NEW_SECRET])  # the sender signs with each live secret
    for secrets in ([OLD_SECRET], [NEW_SECRET], [OTHER_SECRET, NEW_SECRET]):
        assert verify_webhook(secrets, both, BODY, now=SENT_AT)["id"] == "evt_1"
    # The receiver knows both secrets while the sender still signs with the old one only.
    assert verify_webhook([NEW_SECRET, OLD_SECRET], signed([OLD_SECRET]), BODY, now=SENT_AT)["id"] == "evt_1"


@pytest.mark.parametrize("what", ["other secret", "no secret", "tampered body", "other id", "other timestamp",
                                  "too old", "too new", "bad timestamp", "no signature", "no id",
                                  "signature of another message", "old scheme"])
def test_tampering_and_old_timestamps_are_refused(what):
    headers, body, secrets, now = signed([NEW_SECRET]), BODY, [NEW_SECRET], SENT_AT
    if what == "other secret":
        secrets = [OTHER_SECRET]
    elif what == "no secret":
        secrets = []
    elif what == "tampered body":
        body = BODY.replace(b"o-1", b"o-2")
    elif what == "other id":
        headers["webhook-id"] = "msg_2"
    elif what == "other timestamp":
        headers["webhook-timestamp"] = str(SENT_AT + 1)
    elif what == "too old":
        now = SENT_AT + WEBHOOK_TOLERANCE + 1
    elif what == "too new":
        now = SENT_AT - WEBHOOK_TOLERANCE - 1
    elif what == "bad timestamp":
        headers["webhook-timestamp"] = "yesterday"
    elif what == "no signature":
        del headers["webhook-signature"]
    elif what == "no id":
        del headers["webhook-id"]
    elif what == "signature of another message":
        headers["webhook-signature"] = signed([NEW_SECRET], body=b"{}")["webhook-signature"]
    elif what == "old scheme":
        headers = {"X-Replenish-Signature": f"t={SENT_AT},v1=00"}
    with pytest.raises(PartnerError) as refused:
        verify_webhook(secrets, headers, body, now=now)
    assert (refused.value.status, refused.value.code) == (401, "bad_signature")


def test_the_client_verifies_with_its_secrets_and_its_clock():
    client = PartnerClient("http://replenish.invalid", "pk_x", "sk_x", webhook_secrets=[NEW_SECRET],
                           clock=lambda: SENT_AT + 10)
    headers = signed([NEW_SECRET])
    assert client.verify_webhook(headers, BODY)["id"] == "evt_1"
    with pytest.raises(PartnerError) as late:
        PartnerClient("http://replenish.invalid", "pk_x", "sk_x", webhook_secrets=[NEW_SECRET],
                      clock=lambda: SENT_AT + WEBHOOK_TOLERANCE + 1).verify_webhook(headers, BODY)
    assert late.value.status == 401
    assert client.verify_webhook(headers, BODY, now=SENT_AT - WEBHOOK_TOLERANCE)["id"] == "evt_1"


def test_webhook_keys_of_both_secret_formats():
    assert webhook_key(NEW_SECRET) == b"new-secret-key-of-32-bytes-long!"  # standard base64: its bytes
    legacy = "whsec_" + "Zm9vYmFy-_Zm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyZm9v"  # a urlsafe token, never strict base64
    assert webhook_key(legacy) == legacy[6:].encode()
    # A sender keying HMAC with those bytes (any Standard Webhooks library, given them) verifies here.
    when = datetime.fromtimestamp(SENT_AT, UTC)
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(SENT_AT),
               "webhook-signature": Webhook(legacy[6:].encode()).sign("msg_1", when, BODY)}
    assert verify_webhook([legacy], headers, BODY, now=SENT_AT)["id"] == "evt_1"
