"""A throwaway PKI and Alexa request builder for tests of the Alexa endpoint.

Builds a root CA, an intermediate and an ``echo-api.amazon.com`` leaf with the extensions a WebPKI verifier
expects, signs bodies the way Alexa does (SHA256withRSA, base64) and produces real-shaped request envelopes.

    root = make_ca()
    inter = make_ca("Test Intermediate", issuer=root)
    leaf = make_leaf(inter)
    verifier = RequestVerifier(store=store_for(root), fetch_cert=lambda url: chain_pem(leaf, inter))
    body = envelope_bytes(intent_request("OrderItemIntent", {"item": "detergent"}))
    headers = signed_headers(body, leaf)
"""
from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import Store

CERT_URL = "https://s3.amazonaws.com/echo.api/echo-api-cert-test.pem"
SKILL_ID = "amzn1.ask.skill.00000000-0000-0000-0000-000000000001"
USER_ID = "amzn1.ask.account.TESTUSER"
DEVICE_ID = "amzn1.ask.device.TESTDEVICE"


@dataclass(frozen=True)
class Issued:
    """A certificate and its private key (a CA or a leaf)."""

    cert: x509.Certificate
    key: rsa.RSAPrivateKey

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


@cache
def _key(slot: str) -> rsa.RSAPrivateKey:
    # RSA generation is the slow part; one key per role keeps a test run fast (certs stay distinct).
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _now() -> datetime:
    return datetime.now(UTC)


def make_ca(
    name: str = "Replenish Test Root CA",
    issuer: Issued | None = None,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    key_slot: str | None = None,
) -> Issued:
    """A self-signed root (``issuer=None``) or an intermediate signed by ``issuer``."""
    key = _key(key_slot or f"ca:{name}")
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Replenish Tests")])
    signer_key = issuer.key if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or _now() - timedelta(days=1))
        .not_valid_after(not_after or _now() + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None if issuer is None else 0), critical=True)
        .add_extension(
            x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                          encipher_only=False, decipher_only=False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False
        )
    return Issued(builder.sign(signer_key, hashes.SHA256()), key)


def make_leaf(
    ca: Issued,
    san: str | None = "echo-api.amazon.com",
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    key_slot: str = "leaf",
) -> Issued:
    """An end-entity certificate for ``san`` (no SAN extension when ``san`` is None), issued by ``ca``."""
    key = _key(key_slot)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, san or "no-san.invalid")])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or _now() - timedelta(days=1))
        .not_valid_after(not_after or _now() + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=True,
                          data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                          encipher_only=False, decipher_only=False),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                       critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False)
    )
    if san is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(san)]), critical=False)
    return Issued(builder.sign(ca.key, hashes.SHA256()), key)


def chain_pem(*parts: Issued | x509.Certificate) -> bytes:
    """A PEM bundle in the order given (Alexa's order: leaf first, then intermediates)."""
    out = []
    for part in parts:
        cert = part.cert if isinstance(part, Issued) else part
        out.append(cert.public_bytes(serialization.Encoding.PEM))
    return b"".join(out)


def store_for(*roots: Issued | x509.Certificate) -> Store:
    return Store([r.cert if isinstance(r, Issued) else r for r in roots])


def sign(body: bytes, key: rsa.RSAPrivateKey | Issued) -> str:
    """The ``Signature-256`` header value for ``body``."""
    private = key.key if isinstance(key, Issued) else key
    return base64.b64encode(private.sign(body, padding.PKCS1v15(), hashes.SHA256())).decode("ascii")


def signed_headers(body: bytes, leaf: Issued, cert_url: str = CERT_URL) -> dict[str, str]:
    return {
        "SignatureCertChainUrl": cert_url,
        "Signature-256": sign(body, leaf),
        "Content-Type": "application/json; charset=utf-8",
    }


@dataclass
class TestPKI:
    """Root, intermediate and leaf wired together, with a fetcher that counts calls."""

    __test__ = False  # not a pytest class

    root: Issued
    intermediate: Issued
    leaf: Issued

    def __post_init__(self) -> None:
        self.fetches: list[str] = []

    @property
    def store(self) -> Store:
        return store_for(self.root)

    def bundle(self) -> bytes:
        return chain_pem(self.leaf, self.intermediate)

    def fetch(self, url: str) -> bytes:
        self.fetches.append(url)
        return self.bundle()

    def headers(self, body: bytes, cert_url: str = CERT_URL) -> dict[str, str]:
        return signed_headers(body, self.leaf, cert_url)


def make_pki() -> TestPKI:
    root = make_ca()
    intermediate = make_ca("Replenish Test Intermediate", issuer=root)
    return TestPKI(root, intermediate, make_leaf(intermediate))


# -- request envelopes ---------------------------------------------------------------------------------------


def timestamp(at: datetime | None = None) -> str:
    return (at or _now()).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def envelope(
    request: dict[str, Any],
    *,
    application_id: str = SKILL_ID,
    user_id: str = USER_ID,
    access_token: str | None = None,
    new_session: bool = True,
    attributes: dict[str, Any] | None = None,
    locale: str = "en-US",
) -> dict[str, Any]:
    """A request envelope shaped like Alexa's (version 1.0, session + context + request)."""
    user: dict[str, Any] = {"userId": user_id}
    if access_token:
        user["accessToken"] = access_token
    request = {"requestId": f"amzn1.echo-api.request.{uuid.uuid4()}", "timestamp": timestamp(),
               "locale": locale, **request}
    return {
        "version": "1.0",
        "session": {
            "new": new_session,
            "sessionId": f"amzn1.echo-api.session.{uuid.uuid4()}",
            "application": {"applicationId": application_id},
            "attributes": attributes or {},
            "user": user,
        },
        "context": {
            "System": {
                "application": {"applicationId": application_id},
                "user": user,
                "device": {"deviceId": DEVICE_ID, "supportedInterfaces": {}},
                "apiEndpoint": "https://api.amazonalexa.com",
                "apiAccessToken": "test-api-access-token",
            }
        },
        "request": request,
    }


def launch_request(**kwargs: Any) -> dict[str, Any]:
    return envelope({"type": "LaunchRequest"}, **kwargs)


def intent_request(
    name: str,
    slots: dict[str, str | None] | None = None,
    *,
    confirmation_status: str = "NONE",
    dialog_state: str | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """An IntentRequest; ``slots`` maps slot name to spoken value (None for an unfilled slot)."""
    intent: dict[str, Any] = {"name": name, "confirmationStatus": confirmation_status}
    if slots:
        intent["slots"] = {
            slot: {"name": slot, "confirmationStatus": "NONE", **({"value": value} if value is not None else {})}
            for slot, value in slots.items()
        }
    request: dict[str, Any] = {"type": "IntentRequest", "intent": intent}
    if dialog_state:
        request["dialogState"] = dialog_state
    return envelope(request, **kwargs)


def envelope_bytes(env: dict[str, Any]) -> bytes:
    return json.dumps(env, separators=(",", ":")).encode("utf-8")
