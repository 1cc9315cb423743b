"""RequestVerifier: every way an Alexa request can fail verification, and the one way it passes."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from skills.verify import RequestVerifier, VerificationError, check_cert_chain_url
from tests.alexa_certs import (
    CERT_URL,
    SKILL_ID,
    TestPKI,
    chain_pem,
    envelope_bytes,
    intent_request,
    launch_request,
    make_ca,
    make_leaf,
    make_pki,
    sign,
    timestamp,
)

NOW = datetime.now(UTC).replace(microsecond=0)


class Clock:
    def __init__(self, at: datetime = NOW):
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture(scope="module")
def pki() -> TestPKI:
    return make_pki()


@pytest.fixture()
def fresh_pki(pki: TestPKI) -> TestPKI:
    # Same certificates, but a fresh fetch log per test.
    return TestPKI(pki.root, pki.intermediate, pki.leaf)


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def verifier(fresh_pki: TestPKI, clock: Clock) -> RequestVerifier:
    return RequestVerifier(store=fresh_pki.store, skill_ids={SKILL_ID}, clock=clock, fetch_cert=fresh_pki.fetch)


def body_at(at: datetime = NOW, **kwargs) -> bytes:
    env = intent_request("OrderItemIntent", {"item": "detergent", "quantity": "2"}, **kwargs)
    env["request"]["timestamp"] = timestamp(at)
    return envelope_bytes(env)


def reason_of(verifier: RequestVerifier, headers, body) -> str:
    with pytest.raises(VerificationError) as info:
        verifier.verify(headers, body)
    assert info.value.reason == str(info.value)
    return info.value.reason


# -- good path -----------------------------------------------------------------------------------------------


def test_valid_request_returns_envelope(verifier, fresh_pki):
    body = body_at()
    env = verifier.verify(fresh_pki.headers(body), body)
    assert env["request"]["intent"]["name"] == "OrderItemIntent"
    assert env["context"]["System"]["application"]["applicationId"] == SKILL_ID


def test_header_names_are_case_insensitive(verifier, fresh_pki):
    body = body_at()
    headers = {k.lower(): v for k, v in fresh_pki.headers(body).items()}
    assert verifier.verify(headers, body)["version"] == "1.0"


def test_launch_request_with_only_session_application_id(verifier, fresh_pki):
    env = launch_request()
    del env["context"]
    env["request"]["timestamp"] = timestamp(NOW)
    body = envelope_bytes(env)
    assert verifier.verify(fresh_pki.headers(body), body)["request"]["type"] == "LaunchRequest"


def test_without_skill_ids_any_application_is_accepted(fresh_pki, clock):
    verifier = RequestVerifier(store=fresh_pki.store, clock=clock, fetch_cert=fresh_pki.fetch)
    body = body_at(application_id="amzn1.ask.skill.someone-else")
    assert verifier.verify(fresh_pki.headers(body), body)


def test_chain_is_fetched_once_and_cached_by_url(verifier, fresh_pki):
    for _ in range(2):
        body = body_at()
        verifier.verify(fresh_pki.headers(body), body)
    assert fresh_pki.fetches == [CERT_URL]

    other_url = "https://s3.amazonaws.com/echo.api/echo-api-cert-2.pem"
    body = body_at()
    verifier.verify(fresh_pki.headers(body, other_url), body)
    assert fresh_pki.fetches == [CERT_URL, other_url]


def test_cached_chain_is_rechecked_for_expiry(fresh_pki, clock):
    short_leaf = make_leaf(fresh_pki.intermediate, not_after=NOW + timedelta(hours=1))
    fetches = []

    def fetch(url):
        fetches.append(url)
        return chain_pem(short_leaf, fresh_pki.intermediate)

    verifier = RequestVerifier(store=fresh_pki.store, clock=clock, fetch_cert=fetch)
    body = body_at()
    headers = {"SignatureCertChainUrl": CERT_URL, "Signature-256": sign(body, short_leaf)}
    verifier.verify(headers, body)

    clock.at = NOW + timedelta(hours=2)
    later = body_at(clock.at)
    headers["Signature-256"] = sign(later, short_leaf)
    assert "expired" in reason_of(verifier, headers, later)
    assert len(fetches) == 1


def test_failed_chains_are_not_cached(fresh_pki, clock):
    calls = []

    def flaky(url):
        calls.append(url)
        return b"not a certificate" if len(calls) == 1 else fresh_pki.bundle()

    verifier = RequestVerifier(store=fresh_pki.store, clock=clock, fetch_cert=flaky)
    body = body_at()
    reason_of(verifier, fresh_pki.headers(body), body)
    assert verifier.verify(fresh_pki.headers(body), body)
    assert len(calls) == 2


# -- certificate URL ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://s3.amazonaws.com/echo.api/echo-api-cert.pem",
        "HTTPS://s3.amazonaws.com/echo.api/echo-api-cert.pem",
        "https://S3.AMAZONAWS.COM/echo.api/echo-api-cert.pem",
        "https://s3.amazonaws.com:443/echo.api/echo-api-cert.pem",
        "https://s3.amazonaws.com/echo.api/../echo.api/echo-api-cert.pem",
    ],
)
def test_accepted_cert_urls(url, verifier, fresh_pki):
    check_cert_chain_url(url)
    body = body_at()
    assert verifier.verify(fresh_pki.headers(body, url), body)


@pytest.mark.parametrize(
    "url, fragment",
    [
        ("http://s3.amazonaws.com/echo.api/echo-api-cert.pem", "scheme"),
        ("ftp://s3.amazonaws.com/echo.api/echo-api-cert.pem", "scheme"),
        ("https://notamazon.com/echo.api/echo-api-cert.pem", "host"),
        ("https://s3.amazonaws.com.evil.example/echo.api/echo-api-cert.pem", "host"),
        ("https://s3.amazonaws.com@evil.example/echo.api/echo-api-cert.pem", "credentials"),
        ("https://user@s3.amazonaws.com/echo.api/echo-api-cert.pem", "credentials"),
        ("https://s3.amazonaws.com/EcHo.aPi/echo-api-cert.pem", "path"),
        ("https://s3.amazonaws.com/invalid.path/echo-api-cert.pem", "path"),
        ("https://s3.amazonaws.com/echo.api/../invalid.path/echo-api-cert.pem", "path"),
        ("https://s3.amazonaws.com/echo.api/../x", "path"),
        ("https://s3.amazonaws.com/echo.api/%2e%2e/x", "path"),
        ("https://s3.amazonaws.com//echo.api/echo-api-cert.pem", "path"),
        ("https://s3.amazonaws.com", "path"),
        ("https://s3.amazonaws.com:563/echo.api/echo-api-cert.pem", "port"),
        ("https://s3.amazonaws.com:80/echo.api/echo-api-cert.pem", "port"),
        ("https://s3.amazonaws.com:notaport/echo.api/echo-api-cert.pem", "malformed"),
    ],
)
def test_refused_cert_urls_are_never_fetched(url, fragment, verifier, fresh_pki):
    body = body_at()
    reason = reason_of(verifier, fresh_pki.headers(body, url), body)
    assert fragment in reason
    assert fresh_pki.fetches == []


# -- certificate chain ---------------------------------------------------------------------------------------


def verifier_serving(bundle: bytes, store, clock) -> RequestVerifier:
    return RequestVerifier(store=store, clock=clock, fetch_cert=lambda url: bundle)


def test_expired_leaf_is_refused(fresh_pki, clock):
    leaf = make_leaf(fresh_pki.intermediate, not_before=NOW - timedelta(days=30), not_after=NOW - timedelta(seconds=1))
    verifier = verifier_serving(chain_pem(leaf, fresh_pki.intermediate), fresh_pki.store, clock)
    body = body_at()
    assert "expired" in reason_of(verifier, {"SignatureCertChainUrl": CERT_URL, "Signature-256": sign(body, leaf)},
                                  body)


def test_not_yet_valid_leaf_is_refused(fresh_pki, clock):
    leaf = make_leaf(fresh_pki.intermediate, not_before=NOW + timedelta(days=1))
    verifier = verifier_serving(chain_pem(leaf, fresh_pki.intermediate), fresh_pki.store, clock)
    body = body_at()
    assert "not yet valid" in reason_of(
        verifier, {"SignatureCertChainUrl": CERT_URL, "Signature-256": sign(body, leaf)}, body
    )


def test_expired_intermediate_is_refused(fresh_pki, clock):
    inter = make_ca("Expired Intermediate", issuer=fresh_pki.root,
                    not_before=NOW - timedelta(days=30), not_after=NOW - timedelta(days=1))
    leaf = make_leaf(inter)
    verifier = verifier_serving(chain_pem(leaf, inter), fresh_pki.store, clock)
    body = body_at()
    assert "not trusted" in reason_of(
        verifier, {"SignatureCertChainUrl": CERT_URL, "Signature-256": sign(body, leaf)}, body
    )


@pytest.mark.parametrize("san", ["evil.example.com", "echo-api.amazon.com.evil.example", None])
def test_wrong_or_missing_san_is_refused(san, fresh_pki, clock):
    leaf = make_leaf(fresh_pki.intermediate, san=san)
    verifier = verifier_serving(chain_pem(leaf, fresh_pki.intermediate), fresh_pki.store, clock)
    body = body_at()
    assert "echo-api.amazon.com" in reason_of(
        verifier, {"SignatureCertChainUrl": CERT_URL, "Signature-256": sign(body, leaf)}, body
    )


def test_chain_to_an_untrusted_root_is_refused(fresh_pki, clock):
    rogue_root = make_ca("Rogue Root")
    rogue_inter = make_ca("Rogue Intermediate", issuer=rogue_root)
    leaf = make_leaf(rogue_inter)
    verifier = verifier_serving(chain_pem(leaf, rogue_inter, rogue_root), fresh_pki.store, clock)
    body = body_at()
    assert "not trusted" in reason_of(
        verifier, {"SignatureCertChainUrl": CERT_URL, "Signature-256": sign(body, leaf)}, body
    )


def test_missing_intermediate_is_refused(fresh_pki, clock):
    verifier = verifier_serving(chain_pem(fresh_pki.leaf), fresh_pki.store, clock)
    body = body_at()
    assert "not trusted" in reason_of(verifier, fresh_pki.headers(body), body)


def test_default_store_does_not_trust_test_root(fresh_pki):
    verifier = RequestVerifier(fetch_cert=fresh_pki.fetch)  # certifi roots
    body = body_at(datetime.now(UTC))
    assert "not trusted" in reason_of(verifier, fresh_pki.headers(body), body)


@pytest.mark.parametrize("payload", [b"", b"not a certificate",
                                     b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"])
def test_garbage_chain_is_refused(payload, fresh_pki, clock):
    verifier = verifier_serving(payload, fresh_pki.store, clock)
    body = body_at()
    assert "chain" in reason_of(verifier, fresh_pki.headers(body), body)


def test_fetch_failure_is_refused(fresh_pki, clock):
    def broken(url):
        raise ConnectionError("no route to host")

    verifier = RequestVerifier(store=fresh_pki.store, clock=clock, fetch_cert=broken)
    body = body_at()
    assert "could not fetch" in reason_of(verifier, fresh_pki.headers(body), body)


# -- signature ----------------------------------------------------------------------------------------------


def test_tampered_body_is_refused(verifier, fresh_pki):
    body = body_at()
    headers = fresh_pki.headers(body)
    tampered = body.replace(b"detergent", b"champagne")
    assert "signature" in reason_of(verifier, headers, tampered)


def test_signature_by_another_key_is_refused(verifier, fresh_pki):
    other = make_leaf(fresh_pki.intermediate, key_slot="impostor")
    body = body_at()
    headers = {"SignatureCertChainUrl": CERT_URL, "Signature-256": sign(body, other)}
    assert "signature" in reason_of(verifier, headers, body)


@pytest.mark.parametrize("missing", ["SignatureCertChainUrl", "Signature-256"])
def test_missing_headers_are_refused(missing, verifier, fresh_pki):
    body = body_at()
    headers = fresh_pki.headers(body)
    del headers[missing]
    assert reason_of(verifier, headers, body) == f"missing {missing} header"


def test_empty_header_is_refused(verifier, fresh_pki):
    body = body_at()
    headers = {**fresh_pki.headers(body), "Signature-256": "  "}
    assert "missing Signature-256" in reason_of(verifier, headers, body)


def test_legacy_sha1_signature_header_alone_is_refused(verifier, fresh_pki):
    body = body_at()
    headers = {"SignatureCertChainUrl": CERT_URL, "Signature": sign(body, fresh_pki.leaf)}
    assert "Signature-256" in reason_of(verifier, headers, body)


@pytest.mark.parametrize("value", ["not base64!!", "abc", "ab=cd"])
def test_bad_base64_is_refused(value, verifier, fresh_pki):
    body = body_at()
    headers = {**fresh_pki.headers(body), "Signature-256": value}
    assert "base64" in reason_of(verifier, headers, body)
    assert fresh_pki.fetches == []


def test_truncated_signature_is_refused(verifier, fresh_pki):
    body = body_at()
    headers = fresh_pki.headers(body)
    headers["Signature-256"] = headers["Signature-256"][:-8] + "AAAAAAA="
    assert "signature" in reason_of(verifier, headers, body)


# -- envelope ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("offset", [timedelta(seconds=-151), timedelta(seconds=151), timedelta(hours=-1),
                                    timedelta(days=1)])
def test_stale_or_future_timestamp_is_refused(offset, verifier, fresh_pki):
    body = body_at(NOW + offset)
    assert "timestamp" in reason_of(verifier, fresh_pki.headers(body), body)


@pytest.mark.parametrize("offset", [timedelta(seconds=-150), timedelta(seconds=150), timedelta(0)])
def test_timestamp_within_window_is_accepted(offset, verifier, fresh_pki):
    body = body_at(NOW + offset)
    assert verifier.verify(fresh_pki.headers(body), body)


def test_custom_skew(fresh_pki, clock):
    verifier = RequestVerifier(store=fresh_pki.store, clock=clock, fetch_cert=fresh_pki.fetch, max_skew_seconds=10)
    body = body_at(NOW - timedelta(seconds=11))
    assert "timestamp" in reason_of(verifier, fresh_pki.headers(body), body)


@pytest.mark.parametrize("value", [None, "", "yesterday", 1700000000])
def test_missing_or_malformed_timestamp_is_refused(value, verifier, fresh_pki):
    env = intent_request("ReorderIntent")
    if value is None:
        del env["request"]["timestamp"]
    else:
        env["request"]["timestamp"] = value
    body = envelope_bytes(env)
    assert "timestamp" in reason_of(verifier, fresh_pki.headers(body), body)


def test_wrong_skill_id_is_refused(verifier, fresh_pki):
    body = body_at(application_id="amzn1.ask.skill.someone-else")
    assert "different skill" in reason_of(verifier, fresh_pki.headers(body), body)


def test_mismatched_session_and_context_ids_are_refused(verifier, fresh_pki):
    env = json.loads(body_at())
    env["session"]["application"]["applicationId"] = "amzn1.ask.skill.someone-else"
    body = envelope_bytes(env)
    assert "different skill" in reason_of(verifier, fresh_pki.headers(body), body)


def test_missing_skill_id_is_refused_when_configured(verifier, fresh_pki):
    env = json.loads(body_at())
    del env["session"]
    del env["context"]
    body = envelope_bytes(env)
    assert "application id" in reason_of(verifier, fresh_pki.headers(body), body)


@pytest.mark.parametrize("body", [b"{not json", b"\xff\xfe", b"[1, 2]", b'{"version": "1.0"}', b'"text"'])
def test_bad_json_is_refused_even_when_signed(body, verifier, fresh_pki):
    reason = reason_of(verifier, fresh_pki.headers(body), body)
    assert "JSON" in reason or "envelope" in reason


def test_body_must_be_bytes(verifier, fresh_pki):
    body = body_at()
    assert "bytes" in reason_of(verifier, fresh_pki.headers(body), body.decode())


def test_naive_clock_is_refused(fresh_pki):
    verifier = RequestVerifier(store=fresh_pki.store, clock=lambda: datetime.now(), fetch_cert=fresh_pki.fetch)
    body = body_at()
    assert "clock" in reason_of(verifier, fresh_pki.headers(body), body)
