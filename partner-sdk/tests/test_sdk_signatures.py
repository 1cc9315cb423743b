"""Request signatures (RFC 9421) as the SDK makes them, checked with http-message-signatures' own verifier: what
any RFC 9421 server (Replenish's included) accepts. Nothing of the platform is needed here."""
import datetime
import time

import pytest
import requests
from http_message_signatures import HTTPMessageVerifier, InvalidSignature, algorithms
from http_message_signatures.resolvers import HTTPSignatureKeyResolver

from replenish_partner import signature_headers
from replenish_partner.signatures import COVERED_COMPONENTS, TOLERANCE

BASE = "http://test"
PATH = "/v1/partner/devices/WM1/heartbeat?x=1"
BODY = b'{"mostRecentlyActiveDate":null}'


class Keys(HTTPSignatureKeyResolver):
    def __init__(self, keys):
        self.keys = keys

    def resolve_public_key(self, key_id):
        return self.keys[key_id].encode()  # an unknown keyid is a KeyError, which the verifier refuses

    resolve_private_key = resolve_public_key


class Verifier(HTTPMessageVerifier):
    max_clock_skew = datetime.timedelta(seconds=TOLERANCE)


def verify(headers, *, method="POST", url=BASE + PATH, body=BODY, keys=None):
    """The verifier's results for a request made of these parts, checking the body against its Content-Digest."""
    message = requests.Request(method, url, headers=headers, data=body).prepare()
    verifier = Verifier(signature_algorithm=algorithms.HMAC_SHA256, key_resolver=Keys(keys or {"pk_1": "sk_one"}))
    return verifier.verify(message, body=body, require_components=COVERED_COMPONENTS)


def test_signature_headers_cover_method_target_and_digest_with_created_keyid_and_nonce():
    headers = signature_headers("POST", BASE + PATH, BODY, "pk_1", "sk_one", headers={"X-Other": "kept"},
                                nonce="nonce-0001", created=1_700_000_000)
    assert headers["X-Other"] == "kept" and headers["Content-Digest"].startswith("sha-256=:")
    assert set(headers) >= {"Content-Digest", "Signature-Input", "Signature"}
    sig_input = headers["Signature-Input"]
    assert sig_input.startswith('sig1=("@method" "@target-uri" "content-digest");')
    for param in ('created=1700000000', 'keyid="pk_1"', 'alg="hmac-sha256"', 'nonce="nonce-0001"'):
        assert param in sig_input
    assert headers["Signature"].startswith("sig1=:")
    again = signature_headers("POST", BASE + PATH, BODY, "pk_1", "sk_one", nonce="nonce-0001",
                              created=1_700_000_000)
    assert again["Signature"] == headers["Signature"]  # deterministic for the same inputs
    fresh = signature_headers("POST", BASE + PATH, BODY, "pk_1", "sk_one", created=1_700_000_000)
    assert fresh["Signature-Input"] != sig_input  # a new nonce by default


def test_http_message_signatures_verifier_accepts_what_the_sdk_signs():
    headers = signature_headers("POST", BASE + PATH, BODY, "pk_1", "sk_one", nonce="nonce-0001")
    [result] = verify(headers)
    assert result.label == "sig1" and result.body == BODY
    assert result.parameters["keyid"] == "pk_1" and result.nonce == "nonce-0001"
    assert abs(result.parameters["created"] - time.time()) < 60
    assert list(result.covered_components) == ['"@method"', '"@target-uri"', '"content-digest"',
                                               '"@signature-params"']


def test_a_get_is_signed_over_the_empty_body():
    headers = signature_headers("GET", BASE + "/v1/partner/keys", b"", "pk_1", "sk_one")
    assert verify(headers, method="GET", url=BASE + "/v1/partner/keys", body=b"")
    with pytest.raises(InvalidSignature):
        verify(headers, method="GET", url=BASE + "/v1/partner/keys", body=b"{}")


@pytest.mark.parametrize("change", ["body", "method", "path", "query", "host", "secret", "keyid"])
def test_the_verifier_refuses_a_request_that_is_not_what_was_signed(change):
    headers = signature_headers("POST", BASE + PATH, BODY, "pk_1", "sk_one")
    assert verify(headers)  # as sent, it verifies
    changed = {
        "body": {"body": BODY.replace(b"null", b'"2026-03-10T15:00:00Z"')},
        "method": {"method": "PUT"},
        "path": {"url": BASE + PATH.replace("WM1", "WM2")},
        "query": {"url": BASE + PATH.replace("x=1", "x=2")},
        "host": {"url": "http://elsewhere" + PATH},
        "secret": {"keys": {"pk_1": "sk_other"}},
        "keyid": {"keys": {"pk_2": "sk_one"}},
    }[change]
    with pytest.raises(InvalidSignature):
        verify(headers, **changed)
