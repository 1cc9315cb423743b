"""Verify that an HTTP request really comes from Alexa, before anything else reads it.

Alexa signs each request: the ``SignatureCertChainUrl`` header points at a PEM certificate chain on S3 and
``Signature-256`` carries a base64 SHA256withRSA signature over the raw body. A skill hosted as a web service
(not Lambda) must check the URL, the chain (validity, trust, SAN ``echo-api.amazon.com``), the signature and
the request timestamp, and reject the request on any doubt. Every failure raises :class:`VerificationError`.
"""
from __future__ import annotations

import base64
import binascii
import posixpath
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509 import verification as x509v

from replenish import jsonsafe

CERT_URL_HEADER = "SignatureCertChainUrl"
SIGNATURE_HEADER = "Signature-256"
ECHO_API_DOMAIN = "echo-api.amazon.com"
CERT_HOST = "s3.amazonaws.com"
CERT_PATH_PREFIX = "/echo.api/"
DEFAULT_MAX_SKEW_SECONDS = 150
# Amazon delivers skill events (and retries them) up to an hour late; ask-sdk's verifier allows the same.
SKILL_EVENT_MAX_SKEW_SECONDS = 3600
SKILL_EVENT_PREFIX = "AlexaSkillEvent."
_CACHE_SIZE = 32


class VerificationError(Exception):
    """The request is not provably from Alexa; ``reason`` says why (safe to log, not to show users)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _http_fetch(url: str) -> bytes:
    import requests  # imported here so the module loads without it (e.g. in Lambda packaging checks)

    response = requests.get(url, timeout=5)
    response.raise_for_status()
    return response.content


@lru_cache(maxsize=1)
def default_store() -> x509v.Store:
    """A trust store of certifi's root certificates (loaded once per process)."""
    import certifi

    with open(certifi.where(), "rb") as handle:
        pem = handle.read()
    with warnings.catch_warnings():
        # A few long-lived roots in the bundle have non-positive serials; cryptography only warns about them.
        warnings.simplefilter("ignore")
        roots = x509.load_pem_x509_certificates(pem)
    return x509v.Store(roots)


@dataclass(frozen=True)
class _ValidatedChain:
    certificates: tuple[x509.Certificate, ...]  # leaf first, as returned by the verifier

    @property
    def leaf(self) -> x509.Certificate:
        return self.certificates[0]

    def check_current(self, now: datetime) -> None:
        for cert in self.certificates:
            if now < cert.not_valid_before_utc:
                raise VerificationError("signing certificate chain is not yet valid")
            if now > cert.not_valid_after_utc:
                raise VerificationError("signing certificate chain has expired")


def check_cert_chain_url(url: str) -> None:
    """Refuse any certificate URL that is not https://s3.amazonaws.com[:443]/echo.api/..."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise VerificationError(f"certificate URL is malformed: {exc}") from None
    if parts.scheme.lower() != "https":
        raise VerificationError("certificate URL scheme must be https")
    if parts.username is not None or parts.password is not None:
        raise VerificationError("certificate URL must not carry credentials")
    if (parts.hostname or "").lower() != CERT_HOST:
        raise VerificationError(f"certificate URL host must be {CERT_HOST}")
    if port is not None and port != 443:
        raise VerificationError("certificate URL port must be 443")
    # Check the path both as written and percent-decoded, so neither "/echo.api/../x" nor
    # "/echo.api/%2e%2e/x" escapes the prefix.
    for path in (parts.path, unquote(parts.path)):
        normalised = posixpath.normpath(path) if path else ""
        if not normalised.startswith(CERT_PATH_PREFIX) or normalised.startswith("//"):
            raise VerificationError(f"certificate URL path must start with {CERT_PATH_PREFIX}")


class Headers(Protocol):
    """What ``verify`` reads of a request's headers: a plain mapping, or a web framework's case-insensitive
    headers (Werkzeug's ``Headers`` is not a ``Mapping``)."""

    def get(self, key: str) -> str | None: ...

    def items(self) -> Iterable[tuple[str, str]]: ...


def _header(headers: Headers, name: str) -> str:
    value = headers.get(name)
    if value is None:
        wanted = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == wanted), None)
    if value is None or not str(value).strip():
        raise VerificationError(f"missing {name} header")
    return str(value).strip()


def _parse_timestamp(value: Any) -> datetime:
    if not isinstance(value, str) or not value:
        raise VerificationError("request.timestamp is missing")
    try:
        stamp = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    except ValueError:
        raise VerificationError("request.timestamp is not an ISO 8601 time") from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)  # Alexa always sends UTC
    return stamp


def application_ids(envelope: Mapping[str, Any]) -> list[str]:
    """The skill ids an envelope claims, from context.System.application and session.application."""
    found = []
    for path in (("context", "System", "application", "applicationId"), ("session", "application", "applicationId")):
        node: Any = envelope
        for key in path:
            node = node.get(key) if isinstance(node, Mapping) else None
        if isinstance(node, str) and node:
            found.append(node)
    return found


class RequestVerifier:
    """Checks Alexa request signatures, certificates, timestamps and skill ids; fails closed.

    ``store`` defaults to certifi's roots; tests inject their own. ``clock`` returns an aware datetime.
    ``fetch_cert(url) -> bytes`` defaults to an HTTP GET with a 5 s timeout. Validated chains are cached by URL
    (Alexa reuses one URL for many requests); their validity period is re-checked on every use.
    """

    def __init__(
        self,
        store: x509v.Store | None = None,
        skill_ids: Iterable[str] | None = None,
        max_skew_seconds: float = DEFAULT_MAX_SKEW_SECONDS,
        clock: Callable[[], datetime] = _utcnow,
        fetch_cert: Callable[[str], bytes] = _http_fetch,
    ):
        self._store = store if store is not None else default_store()
        self._skill_ids = frozenset(skill_ids) if skill_ids is not None else None
        self._max_skew = timedelta(seconds=max_skew_seconds)
        self._clock = clock
        self._fetch_cert = fetch_cert
        self._cache: OrderedDict[str, _ValidatedChain] = OrderedDict()
        self._lock = threading.Lock()

    def verify(self, headers: Headers, body: bytes) -> dict:
        """Return the parsed request envelope, or raise VerificationError."""
        cert_url = _header(headers, CERT_URL_HEADER)
        signature_b64 = _header(headers, SIGNATURE_HEADER)
        if not isinstance(body, (bytes, bytearray)):
            raise VerificationError("request body must be bytes")
        body = bytes(body)
        check_cert_chain_url(cert_url)
        try:
            signature = base64.b64decode(signature_b64, validate=True)
        except (binascii.Error, ValueError):
            raise VerificationError(f"{SIGNATURE_HEADER} header is not valid base64") from None

        now = self._now()
        chain = self._chain_for(cert_url, now)
        self._check_signature(chain.leaf, signature, body)

        envelope = self._parse(body)
        self._check_timestamp(envelope, now)
        self._check_skill_id(envelope)
        return envelope

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()

    # -- steps ---------------------------------------------------------------------------------------------

    def _now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None:
            raise VerificationError("verifier clock must return an aware datetime")
        return now

    def _chain_for(self, url: str, now: datetime) -> _ValidatedChain:
        with self._lock:
            cached = self._cache.get(url)
            if cached is not None:
                self._cache.move_to_end(url)
        if cached is not None:
            try:
                cached.check_current(now)
                return cached
            except VerificationError:
                with self._lock:
                    self._cache.pop(url, None)
                raise
        chain = self._load_chain(url, now)
        with self._lock:
            self._cache[url] = chain
            while len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        return chain

    def _load_chain(self, url: str, now: datetime) -> _ValidatedChain:
        try:
            pem = self._fetch_cert(url)
        except Exception as exc:  # any transport failure means "not verified"
            raise VerificationError(f"could not fetch signing certificate chain: {exc}") from None
        try:
            certs = x509.load_pem_x509_certificates(pem)
        except ValueError:
            raise VerificationError("signing certificate chain is not a PEM bundle") from None
        if not certs:
            raise VerificationError("signing certificate chain is empty")
        leaf, intermediates = certs[0], certs[1:]
        # Distinct messages for the common failures; the verifier below is the authority.
        _ValidatedChain((leaf,)).check_current(now)
        try:
            verifier = (
                x509v.PolicyBuilder()
                .store(self._store)
                .time(now)
                .build_server_verifier(x509v.DNSName(ECHO_API_DOMAIN))
            )
            verified = verifier.verify(leaf, intermediates)
        except x509v.VerificationError as exc:
            raise VerificationError(f"signing certificate chain is not trusted for {ECHO_API_DOMAIN}: {exc}") from None
        except ValueError as exc:
            raise VerificationError(f"signing certificate chain is invalid: {exc}") from None
        return _ValidatedChain(tuple(verified))

    @staticmethod
    def _check_signature(leaf: x509.Certificate, signature: bytes, body: bytes) -> None:
        key = leaf.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise VerificationError("signing certificate does not hold an RSA key")
        try:
            key.verify(signature, body, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            raise VerificationError("request signature does not match the body") from None

    @staticmethod
    def _parse(body: bytes) -> dict:
        try:
            envelope = jsonsafe.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise VerificationError("request body is not valid JSON") from None
        if not isinstance(envelope, dict) or not isinstance(envelope.get("request"), dict):
            raise VerificationError("request body is not an Alexa request envelope")
        return envelope

    def _check_timestamp(self, envelope: dict, now: datetime) -> None:
        request = envelope["request"]
        stamp = _parse_timestamp(request.get("timestamp"))
        allowed = self._max_skew
        kind = request.get("type")
        if isinstance(kind, str) and kind.startswith(SKILL_EVENT_PREFIX):
            allowed = max(allowed, timedelta(seconds=SKILL_EVENT_MAX_SKEW_SECONDS))
        if abs(now - stamp) > allowed:
            raise VerificationError("request timestamp is outside the allowed window")

    def _check_skill_id(self, envelope: dict) -> None:
        if self._skill_ids is None:
            return
        ids = application_ids(envelope)
        if not ids:
            raise VerificationError("request carries no application id")
        if any(app_id not in self._skill_ids for app_id in ids):
            raise VerificationError("request is for a different skill")
