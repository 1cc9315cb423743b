"""Alexa account linking end to end, in a real headless Chromium (Debian's /usr/bin/chromium, driven by
Playwright) against a real werkzeug server in a thread, as Alexa would do it:

the skill is registered with ``replenish oauth-client create``; the browser opens the authorize URL (with PKCE),
signs in with the household token and allows; the redirect to Alexa's redirect URL carries a code; the token
endpoint exchanges it (HTTP Basic, as the Alexa console's default); a signed OrderItemIntent with that access
token is answered with an offer; the same token on ``PATCH /v1/household/limits`` is refused; refresh works;
after "Unlink" in Settings the token is refused. Screenshots go to test-artifacts/oauth/.

Skips when Chromium or Playwright is missing, except under CI=true, where that is a failure.
"""
from __future__ import annotations

import base64
import hashlib
import json
import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from click.testing import CliRunner

from replenish.web import create_app
from skills.linking import forget_written
from skills.recommending import HISTORIES
from tests.alexa_certs import SKILL_ID, envelope_bytes, intent_request, make_pki
from tests.voice_fakes import FakeRecommendations

from .browser import PHONE
from .browser import shot as browser_shot

pytestmark = pytest.mark.e2e

ALEXA_REDIRECT = "https://pitangui.amazon.com/api/skill/link/M2AAAAAAAAAAAA"


@pytest.fixture(scope="module")
def pki():
    return make_pki()


@pytest.fixture
def settings(settings):
    settings.alexa_skill_ids = (SKILL_ID,)
    return settings


@pytest.fixture
def registered(settings, monkeypatch):
    """The operator registers the skill with the CLI, as the README says (this also migrates the new database)."""
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("REPLENISH_VAR_DIR", str(settings.var_dir))
    for name in ("REDIS_URL", "BROKER_URL", "REPLENISH_PUBLIC_URL"):
        monkeypatch.delenv(name, raising=False)
    from replenish.cli import main
    result = CliRunner().invoke(main, ["oauth-client", "create", "--name", "alexa", "--redirect-uri", ALEXA_REDIRECT,
                                       "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output.strip().splitlines()[-1])


@pytest.fixture
def app(registered, container, pki, token):
    """The app the server serves: Alexa's requests verified by the test's PKI, the skill's recommender a fake."""
    forget_written()
    HISTORIES.clear()
    container.alexa_cert_store, container.alexa_fetch_cert = pki.store, pki.fetch
    container.recommendations = FakeRecommendations(container)
    return create_app(container)


def shot(page, name: str) -> None:
    browser_shot(page, name, "oauth")


def ask_alexa(server: str, pki, access_token: str) -> dict:
    """"Alexa, ask Replenish to order detergent", signed as Alexa signs it."""
    body = envelope_bytes(intent_request("OrderItemIntent", {"item": "detergent"}, access_token=access_token))
    response = requests.post(f"{server}/alexa", data=body, headers=pki.headers(body), timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["response"]


def token_request(server: str, client: dict, **form) -> requests.Response:
    return requests.post(f"{server}/oauth/token", data=form, auth=(client["client_id"], client["client_secret"]),
                         timeout=10)


def test_alexa_account_linking_in_a_browser(browser, server, registered, pki, token, container):
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    state = secrets.token_urlsafe(16)
    authorize = f"{server}/oauth/authorize?" + urlencode({
        "response_type": "code", "client_id": registered["client_id"], "redirect_uri": ALEXA_REDIRECT,
        "scope": "orders:place orders:cancel orders:read", "state": state, "code_challenge": challenge,
        "code_challenge_method": "S256"})
    metadata = requests.get(f"{server}/.well-known/oauth-authorization-server", timeout=10).json()
    assert metadata["authorization_endpoint"] == f"{server}/oauth/authorize"

    context = browser.new_context(**PHONE)
    page = context.new_page()
    errors, landed = [], []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)

    def alexa_redirect(route):  # Amazon's side of the redirect, answered here (no network)
        landed.append(route.request.url)
        route.fulfill(status=200, content_type="text/html", body="<!doctype html><title>Alexa</title><p>Linked</p>")

    page.route("https://pitangui.amazon.com/**", alexa_redirect)
    try:
        # Alexa opens the authorization URL: not signed in, so the dashboard's sign-in first, then back.
        page.goto(authorize)
        assert "/dashboard/signin" in page.url
        page.fill("#token", token)
        page.click("button:has-text('Sign in')")
        page.wait_for_selector("#approve")
        assert page.url == authorize
        heading = page.inner_text("h1")
        assert heading == "Replenish for Alexa wants to: order, cancel, check orders"
        assert page.inner_text("#consent-household") == "Test Household"
        shot(page, "phone-consent")
        page.click("#approve")
        page.wait_for_url("https://pitangui.amazon.com/**")
        assert len(landed) == 1
        redirect = urlsplit(landed[0])
        assert f"{redirect.scheme}://{redirect.netloc}{redirect.path}" == ALEXA_REDIRECT
        query = parse_qs(redirect.query)
        assert query["state"] == [state]
        code = query["code"][0]

        # Alexa exchanges the code (HTTP Basic, with the PKCE verifier).
        response = token_request(server, registered, grant_type="authorization_code", code=code,
                                 redirect_uri=ALEXA_REDIRECT, code_verifier=verifier)
        assert response.status_code == 200, response.text
        tokens = response.json()
        assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 3600
        assert tokens["scope"] == "orders:place orders:cancel orders:read"

        # The household speaks: an offer, nothing bought yet.
        answer = ask_alexa(server, pki, tokens["access_token"])
        speech = answer["outputSpeech"]["ssml"]
        assert speech.startswith("<speak>I found Tide PODS Laundry Detergent, 42 Count, for $12.99.")
        assert speech.endswith("Should I order it?</speak>") and answer["shouldEndSession"] is False
        assert "card" not in answer

        # The voice token cannot raise the caps (nor remove the PIN, nor anything else on the household API).
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        patched = requests.patch(f"{server}/v1/household/limits", json={"per_order_cap_cents": 10_000_000},
                                 headers=bearer, timeout=10)
        assert patched.status_code in (401, 403), patched.text
        with container.uow() as uow:
            assert uow.households.get("h1").limits.per_order_cap_cents != 10_000_000

        # An hour later Alexa refreshes: new tokens, the old refresh token is spent.
        refreshed = token_request(server, registered, grant_type="refresh_token",
                                  refresh_token=tokens["refresh_token"])
        assert refreshed.status_code == 200, refreshed.text
        fresh = refreshed.json()
        assert fresh["refresh_token"] != tokens["refresh_token"]
        assert "Should I order it?" in ask_alexa(server, pki, fresh["access_token"])["outputSpeech"]["ssml"]

        # The household unlinks Alexa in Settings.
        page.goto(f"{server}/dashboard/settings")
        card = page.locator("#linked-apps")
        assert "Replenish for Alexa" in card.inner_text()
        assert "Can: order, cancel, check orders." in card.inner_text()
        shot(page, "phone-linked-apps")
        card.locator("button:has-text('Unlink Replenish for Alexa')").click()
        page.wait_for_selector(".flash-ok")
        assert "Replenish for Alexa is unlinked" in page.inner_text(".flash-ok")
        assert "No apps are linked." in page.inner_text("#linked-apps")
        shot(page, "phone-unlinked")

        refused = ask_alexa(server, pki, fresh["access_token"])
        assert refused["card"] == {"type": "LinkAccount"}
        assert "link your Replenish account" in refused["outputSpeech"]["ssml"]
        again = token_request(server, registered, grant_type="refresh_token", refresh_token=fresh["refresh_token"])
        assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
        assert not errors, errors
    finally:
        context.close()


def test_a_wrong_redirect_uri_is_shown_never_followed(browser, server, registered, token):
    context = browser.new_context(**PHONE)
    page = context.new_page()
    try:
        page.goto(f"{server}/oauth/authorize?" + urlencode({
            "response_type": "code", "client_id": registered["client_id"], "state": "s",
            "redirect_uri": "https://evil.example/steal"}))
        assert page.url.startswith(server)
        assert page.inner_text("h1") == "This link request cannot be used"
        assert "https://evil.example/steal is not supported" in page.inner_text("main")
    finally:
        context.close()
