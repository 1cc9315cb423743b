"""How buttons and partners sign their requests: RFC 9421 HTTP Message Signatures with HMAC-SHA256.

Every signature covers the method, the target URI and the body's ``Content-Digest`` (RFC 9530, sha-256), with
the parameters ``created``, ``keyid`` and ``nonce``. ``keyid`` is a button's serial, a partner key's id or a
device's id; the nonce is new for every request, so the server recognises a replay by ``(keyid, nonce)`` and
answers an exact replay with the answer it gave the first time. Built on ``http-message-signatures``: any
client of RFC 9421 can talk to the API, this module is only a convenience.
"""
from __future__ import annotations

import datetime
import secrets

import requests
from http_message_signatures import HTTPMessageSigner, algorithms
from http_message_signatures.resolvers import HTTPSignatureKeyResolver

COVERED_COMPONENTS = ("@method", "@target-uri", "content-digest")
TOLERANCE = 300  # seconds either side of the server's clock that ``created`` may be
ALGORITHM = algorithms.HMAC_SHA256
LABEL = "sig1"


class _OneKey(HTTPSignatureKeyResolver):
    def __init__(self, key_id: str, secret: str | bytes):
        self.key_id = key_id
        self.secret = secret.encode() if isinstance(secret, str) else secret

    def resolve_private_key(self, key_id: str):
        if key_id != self.key_id:
            raise KeyError(key_id)
        return self.secret

    resolve_public_key = resolve_private_key


def new_nonce() -> str:
    return secrets.token_urlsafe(16)


def signature_headers(method: str, url: str, body: bytes, key_id: str, secret: str | bytes, *,
                      headers: dict | None = None, nonce: str | None = None,
                      created: datetime.datetime | float | None = None) -> dict:
    """The headers to send (``headers`` with ``Content-Digest``, ``Signature-Input`` and ``Signature`` added) for
    a request of ``method`` to the absolute ``url`` with exactly ``body``. ``created`` defaults to now."""
    request = requests.Request(method.upper(), url, data=body, headers=dict(headers or {})).prepare()
    if isinstance(created, (int, float)):
        created = datetime.datetime.fromtimestamp(created, tz=datetime.UTC)
    signer = HTTPMessageSigner(signature_algorithm=ALGORITHM, key_resolver=_OneKey(key_id, secret))
    signer.sign(request, key_id=key_id, nonce=nonce or new_nonce(), label=LABEL,
                created=created or datetime.datetime.now(datetime.UTC),
                covered_component_ids=COVERED_COMPONENTS, body=body or b"")
    return {name: value for name, value in request.headers.items() if name.lower() != "content-length"}
