"""Verifying RFC 9421 signatures of inbound requests (buttons, partners, devices), strictly.

A request carries exactly one signature (``Signature-Input`` and ``Signature``), HMAC-SHA256, covering
``@method``, the target (``@target-uri``, or ``@path`` and ``@query``) and ``content-digest`` (RFC 9530,
sha-256 of the exact body), with ``created`` (within ``TOLERANCE`` seconds of our clock), ``keyid`` and
``nonce``. Anything else is a 401 whose message names what was wrong. The parsing and the signature base are
``http-message-signatures``'s; what is ours is the policy (which components, which parameters, how old) and the
request fingerprint that tells an exact replay from a different request reusing a nonce.
"""
from __future__ import annotations

import datetime
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature as CryptoInvalidSignature
from flask import current_app, request
from http_message_signatures import HTTPMessageVerifier, InvalidSignature, algorithms
from http_message_signatures.resolvers import HTTPSignatureKeyResolver

from replenish.web.errors import ApiError
from replenish_partner.signatures import TOLERANCE

REQUIRED_PARAMETERS = ("created", "keyid", "nonce")
MAX_NONCE = 128


@dataclass(frozen=True)
class Verified:
    key_id: str
    nonce: str
    fingerprint: str  # the same for byte-identical signed requests, different for anything else
    principal: object  # what the key resolver said the key belongs to


def unauthorized(message: str, field: str = "Signature") -> ApiError:
    return ApiError(401, "unauthorized", message, field=field,
                    headers={"WWW-Authenticate": 'Signature realm="replenish"'})


class _Resolver(HTTPSignatureKeyResolver):
    """Looks a ``keyid`` up with ``resolve`` ((secret, principal) or None) and remembers the principal."""

    def __init__(self, resolve: Callable[[str], tuple[str, object] | None]):
        self.resolve = resolve
        self.principal: object = None

    def resolve_public_key(self, key_id: str) -> bytes:
        found = self.resolve(key_id)
        if found is None:
            raise InvalidSignature(f"Unknown keyid {key_id!r}.")
        secret, self.principal = found
        return secret.encode()


class _Verifier(HTTPMessageVerifier):
    max_clock_skew = datetime.timedelta(seconds=TOLERANCE)


class _FlaskMessage:
    """The request as the verifier reads it: method, absolute URL (as the client addressed us) and headers."""

    def __init__(self, url: str):
        self.method = request.method
        self.url = url
        self.headers = request.headers


def _url() -> str:
    """The URL the client signed, from the request target exactly as sent (not Werkzeug's re-encoding of the
    decoded path); behind a proxy, ``REPLENISH_PUBLIC_URL`` gives the scheme and host the client used."""
    public = (current_app.extensions["replenish"].settings.public_url or "").rstrip("/")
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if raw and raw.startswith("/"):
        return (public or request.host_url.rstrip("/")) + raw
    url = request.url
    return public + url[len(request.host_url) - 1:] if public else url


def _covers_target(covered: set[str]) -> bool:
    return '"@target-uri"' in covered or {'"@path"', '"@query"'} <= covered


def fingerprint(body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (request.method, request.full_path, request.headers.get("Signature-Input", ""),
                 request.headers.get("Signature", ""), hashlib.sha256(body).hexdigest()):
        data = part.encode("utf-8", "surrogateescape")
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()


def _check_created() -> None:
    """``created`` within ``TOLERANCE`` seconds of our clock, with a message that says so (the library's own
    check is kept too, with the same bounds)."""
    import re
    found = re.search(r";\s*created=(-?\d{1,15})(?=;|,|$|\s)", request.headers.get("Signature-Input", ""))
    if found is None:
        return  # missing or malformed: the library names it
    age = datetime.datetime.now(datetime.UTC).timestamp() - int(found.group(1))
    if age > TOLERANCE:
        raise unauthorized(f"created is {int(age)} s old; signatures are accepted for {TOLERANCE} s.")
    if age < -TOLERANCE:
        raise unauthorized(f"created is {int(-age)} s in the future; clocks may differ by {TOLERANCE} s at most.")


def claimed_keyid() -> str | None:
    """The keyid the request's ``Signature-Input`` names, before anything is verified (to count failures by)."""
    import re
    found = re.search(r'keyid="([^"]{1,200})"', request.headers.get("Signature-Input", ""))
    return found.group(1) if found else None


def verify(resolve: Callable[[str], tuple[str, object] | None]) -> Verified:
    """The verified signature of the current request, or a 401 naming what is wrong. ``resolve`` maps a keyid
    to (HMAC secret, principal) or None."""
    if "Signature-Input" not in request.headers or "Signature" not in request.headers:
        raise unauthorized("Sign the request (RFC 9421): Signature-Input and Signature headers, HMAC-SHA256 "
                           "over \"@method\" \"@target-uri\" \"content-digest\" with created, keyid and nonce.")
    body = request.get_data(cache=True)
    _check_created()
    resolver = _Resolver(resolve)
    verifier = _Verifier(signature_algorithm=algorithms.HMAC_SHA256, key_resolver=resolver)
    try:
        results = verifier.verify(_FlaskMessage(_url()), max_age=None, body=body)
    except InvalidSignature as exc:
        if isinstance(exc.__cause__, CryptoInvalidSignature) or "did not match" in str(exc):
            raise unauthorized("The signature does not verify: wrong secret for this keyid, or the method, URL or "
                               "body is not the one signed.") from exc
        reason = str(exc) or "The signature does not verify."
        if "Content-Digest" in reason:
            raise unauthorized(reason, field="Content-Digest") from exc
        raise unauthorized(reason) from exc
    except Exception as exc:  # a header the library could not make sense of: still the client's
        raise unauthorized(f"The signature could not be read: {exc}") from exc
    result = results[0]
    covered = {str(name).split(";")[0] for name in result.covered_components}
    missing = [name for name in ('"@method"', '"content-digest"') if name not in covered]
    if not _covers_target(covered):
        missing.append('"@target-uri"')
    if missing:
        raise unauthorized(f"The signature must cover {', '.join(missing)}; it covers {', '.join(sorted(covered))}.")
    params = result.parameters
    absent = [name for name in REQUIRED_PARAMETERS if name not in params]
    if absent:
        raise unauthorized(f"The signature parameters must include {', '.join(absent)}.")
    nonce = params["nonce"]
    if not isinstance(nonce, str) or not 8 <= len(nonce) <= MAX_NONCE:
        raise unauthorized(f"nonce must be a string of 8 to {MAX_NONCE} characters.")
    return Verified(str(params["keyid"]), nonce, fingerprint(body), resolver.principal)
