"""The OAuth 2.0 authorization server for account linking, over HTTP (Flask test client): metadata, consent in the
dashboard's session, code exchange with PKCE, refresh rotation, revocation, unlinking in Settings, and the
household API refusing OAuth tokens."""
from __future__ import annotations

import base64
import hashlib
import re
import secrets
from datetime import timedelta
from html import unescape
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from sqlalchemy import select

from replenish.domain import commands
from replenish.oauth import service
from replenish.oauth.tables import oauth_clients, oauth_codes, oauth_tokens
from replenish.web import create_app
from skills.skill import VoiceSkill
from tests.alexa_certs import intent_request
from tests.dashboard_forms import csrf_of
from tests.dashboard_forms import post_sign_in as sign_in
from tests.voice_fakes import ALEXA_REDIRECT, FakeRecommendations


@pytest.fixture
def alexa(container):
    return service.create_client(container, "alexa", [ALEXA_REDIRECT, "https://layla.amazon.com/api/skill/link/M2A"])


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize_url(alexa, **extra) -> str:
    params = {"response_type": "code", "client_id": alexa["client_id"], "redirect_uri": ALEXA_REDIRECT,
              "state": "xyz-123", "scope": "orders:place orders:cancel orders:read", **extra}
    return "/oauth/authorize?" + urlencode({k: v for k, v in params.items() if v is not None})


def approve(client, url, decision="approve"):
    page = client.get(url)
    assert page.status_code == 200, page.get_data(as_text=True)
    return client.post(url, data={"csrf_token": csrf_of(page), "decision": decision})


def code_from(response) -> str:
    assert response.status_code == 302, response.get_data(as_text=True)
    target = urlsplit(response.location)
    assert f"{target.scheme}://{target.netloc}{target.path}" == ALEXA_REDIRECT
    query = parse_qs(target.query)
    assert query["state"] == ["xyz-123"]
    return query["code"][0]


def basic(alexa) -> dict:
    raw = f"{alexa['client_id']}:{alexa['client_secret']}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def exchange(client, alexa, code, **extra):
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": ALEXA_REDIRECT, **extra}
    return client.post("/oauth/token", data={k: v for k, v in form.items() if v is not None}, headers=basic(alexa))


def refresh(client, alexa, refresh_token):
    return client.post("/oauth/token", data={"grant_type": "refresh_token", "refresh_token": refresh_token},
                       headers=basic(alexa))


def linked_code(client, alexa, token, **extra) -> str:
    sign_in(client, token)
    return code_from(approve(client, authorize_url(alexa, **extra)))


def voice(container, access_token, intent="OrderItemIntent", slots=None) -> dict:
    container.recommendations = FakeRecommendations(container)
    return VoiceSkill(container).invoke(intent_request(intent, slots if slots is not None else {"item": "detergent"},
                                                       access_token=access_token))


def speech_of(response) -> str:
    return response["response"]["outputSpeech"]["ssml"]


def offered(container, access_token) -> bool:
    response = voice(container, access_token)
    return "Should I order it?" in speech_of(response) and response["response"].get("card") is None


# -- metadata -----------------------------------------------------------------------------------------------
def test_metadata_document_names_the_endpoints(client, container):
    response = client.get("/.well-known/oauth-authorization-server")
    assert response.status_code == 200 and response.mimetype == "application/json"
    doc = response.get_json()
    AuthorizationServerMetadata(doc).validate()  # RFC 8414, checked by Authlib
    assert doc["issuer"] == "http://localhost"
    assert doc["authorization_endpoint"] == "http://localhost/oauth/authorize"
    assert doc["token_endpoint"] == "http://localhost/oauth/token"
    assert doc["revocation_endpoint"] == "http://localhost/oauth/revoke"
    assert doc["scopes_supported"] == ["orders:place", "orders:cancel", "orders:read"]
    assert doc["grant_types_supported"] == ["authorization_code", "refresh_token"]
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert set(doc["token_endpoint_auth_methods_supported"]) == {"client_secret_basic", "client_secret_post"}

    container.settings.public_url = "https://replenish.example.com"
    doc = create_app(container).test_client().get("/.well-known/oauth-authorization-server").get_json()
    assert doc["issuer"] == "https://replenish.example.com"
    assert doc["token_endpoint"] == "https://replenish.example.com/oauth/token"


# -- consent ------------------------------------------------------------------------------------------------
def test_a_stranger_signs_in_first_and_comes_back_to_the_consent_page(client, alexa, token):
    url = authorize_url(alexa)
    response = client.get(url)
    assert response.status_code == 302 and "/dashboard/signin?next=" in response.location
    next_path = parse_qs(urlsplit(response.location).query)["next"][0]
    assert next_path == url.replace("/oauth/authorize", "/dashboard/oauth/authorize")
    signed = sign_in(client, token, next_path)
    assert signed.status_code == 302 and signed.location.endswith(next_path)
    back = client.get(signed.location)
    assert back.status_code == 302 and back.location.endswith(url)
    page = client.get(url)
    html = unescape(page.get_data(as_text=True))
    assert page.status_code == 200
    assert "Replenish for Alexa wants to: order, cancel, check orders" in html
    assert "Test Household" in html
    assert page.headers["X-Frame-Options"] == "DENY"
    csp = page.headers["Content-Security-Policy"]
    assert "form-action 'self' https://pitangui.amazon.com;" in csp and "frame-ancestors 'none'" in csp


def test_approving_redirects_with_a_code_that_the_token_endpoint_exchanges(client, alexa, token, container):
    code = linked_code(client, alexa, token)
    response = exchange(client, alexa, code)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert body["scope"] == "orders:place orders:cancel orders:read"
    assert body["access_token"].startswith("rpa_") and body["refresh_token"].startswith("rpr_")
    assert offered(container, body["access_token"])
    with container.uow() as uow:  # only hashes are kept
        rows = [tuple(r) for t in (oauth_clients, oauth_codes, oauth_tokens)
                for r in uow.session.execute(select(t))]
    kept = repr(rows)
    for secret in (code, body["access_token"], body["refresh_token"], alexa["client_secret"]):
        assert secret not in kept
    assert hashlib.sha256(body["access_token"].encode()).hexdigest() in kept


def test_denying_tells_the_client(client, alexa, token):
    sign_in(client, token)
    response = approve(client, authorize_url(alexa), "deny")
    assert response.status_code == 302
    query = parse_qs(urlsplit(response.location).query)
    assert query["error"] == ["access_denied"] and query["state"] == ["xyz-123"]


def test_consent_post_needs_the_csrf_token_and_a_decision(client, alexa, token):
    sign_in(client, token)
    url = authorize_url(alexa)
    page = client.get(url)
    forged = client.post(url, data={"decision": "approve"})
    assert forged.status_code == 400 and "Location" not in forged.headers  # no code goes to the client
    assert "Nothing was changed" in forged.get_data(as_text=True)  # the dashboard's page, not JSON
    undecided = client.post(url, data={"csrf_token": csrf_of(page)})
    assert undecided.status_code == 400 and "Choose Allow or Deny." in undecided.get_data(as_text=True)


@pytest.mark.parametrize("change, message", [
    ({"redirect_uri": "https://evil.example/cb"}, "Redirect URI https://evil.example/cb is not supported by client."),
    ({"client_id": "rpc_nobody"}, "The client does not exist on this server."),
    ({"client_id": None}, "Missing &#39;client_id&#39; parameter."),
])
def test_a_request_that_cannot_be_trusted_is_refused_here_never_redirected(client, alexa, token, change, message):
    sign_in(client, token)
    response = client.get(authorize_url(alexa, **change))
    assert response.status_code == 400 and "Location" not in response.headers
    assert message in response.get_data(as_text=True)


def test_an_unknown_scope_is_sent_back_to_the_client(client, alexa, token):
    sign_in(client, token)
    response = client.get(authorize_url(alexa, scope="orders:place household:limits"))
    assert response.status_code == 302
    assert parse_qs(urlsplit(response.location).query)["error"] == ["invalid_scope"]


def test_fewer_scopes_are_shown_and_granted(client, alexa, token):
    sign_in(client, token)
    url = authorize_url(alexa, scope="orders:read")
    assert "Replenish for Alexa wants to: check orders" in unescape(client.get(url).get_data(as_text=True))
    body = exchange(client, alexa, code_from(approve(client, url))).get_json()
    assert body["scope"] == "orders:read"


# -- the code -----------------------------------------------------------------------------------------------
def test_pkce_s256(client, alexa, token):
    verifier, challenge = pkce()
    code = linked_code(client, alexa, token, code_challenge=challenge, code_challenge_method="S256")
    wrong = exchange(client, alexa, code, code_verifier=pkce()[0])
    assert wrong.status_code == 400 and wrong.get_json()["error"] == "invalid_grant"

    code = linked_code(client, alexa, token, code_challenge=challenge, code_challenge_method="S256")
    missing = exchange(client, alexa, code)
    assert missing.status_code == 400 and missing.get_json()["error"] == "invalid_request"

    code = linked_code(client, alexa, token, code_challenge=challenge, code_challenge_method="S256")
    assert exchange(client, alexa, code, code_verifier=verifier).status_code == 200


def test_pkce_plain_is_refused(client, alexa, token):
    sign_in(client, token)
    response = client.get(authorize_url(alexa, code_challenge="a" * 43, code_challenge_method="plain"))
    assert response.status_code == 302
    assert parse_qs(urlsplit(response.location).query)["error"] == ["invalid_request"]


def test_a_verifier_without_a_challenge_is_refused(client, alexa, token):
    code = linked_code(client, alexa, token)
    response = exchange(client, alexa, code, code_verifier=pkce()[0])
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_request"


def test_the_redirect_uri_must_be_the_one_of_the_authorization(client, alexa, token):
    code = linked_code(client, alexa, token)
    response = exchange(client, alexa, code, redirect_uri="https://layla.amazon.com/api/skill/link/M2A")
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_grant"


def test_an_expired_code_is_refused(client, alexa, token, clock):
    code = linked_code(client, alexa, token)
    clock.advance(minutes=6)
    response = exchange(client, alexa, code)
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_grant"


def test_a_code_works_once_and_a_second_use_revokes_what_it_gave(client, alexa, token, container):
    code = linked_code(client, alexa, token)
    first = exchange(client, alexa, code).get_json()
    assert offered(container, first["access_token"])
    again = exchange(client, alexa, code)
    assert again.status_code == 400 and again.get_json()["error"] == "invalid_grant"
    assert not offered(container, first["access_token"])  # somebody else had the code: its tokens are revoked
    assert refresh(client, alexa, first["refresh_token"]).status_code == 400


def test_a_code_of_another_client_is_refused(client, alexa, token, container):
    other = service.create_client(container, "google", ["https://example.com/cb"])
    code = linked_code(client, alexa, token)
    response = exchange(client, other, code)
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_grant"


# -- client authentication ----------------------------------------------------------------------------------
def test_client_secret_post_is_accepted_too(client, alexa, token):
    code = linked_code(client, alexa, token)
    response = client.post("/oauth/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": ALEXA_REDIRECT,
        "client_id": alexa["client_id"], "client_secret": alexa["client_secret"]})
    assert response.status_code == 200 and response.get_json()["access_token"]


@pytest.mark.parametrize("headers, extra", [
    ({}, {}),
    ({"Authorization": "Basic " + base64.b64encode(b"rpc_x:nope").decode()}, {}),
    ({}, {"client_id": "placeholder", "client_secret": "wrong"}),
])
def test_a_client_that_does_not_authenticate_gets_nothing(client, alexa, token, headers, extra):
    code = linked_code(client, alexa, token)
    if extra.get("client_id") == "placeholder":
        extra = {**extra, "client_id": alexa["client_id"]}
    response = client.post("/oauth/token", data={"grant_type": "authorization_code", "code": code,
                                                 "redirect_uri": ALEXA_REDIRECT, **extra}, headers=headers)
    assert response.status_code in (400, 401) and response.get_json()["error"] == "invalid_client"
    assert exchange(client, alexa, code).status_code == 200  # the code was not spent by the failed attempt


def test_an_unsupported_grant_type_is_an_oauth_error(client, alexa):
    response = client.post("/oauth/token", data={"grant_type": "password", "username": "x", "password": "y"},
                           headers=basic(alexa))
    assert response.status_code == 400 and response.get_json()["error"] == "unsupported_grant_type"


# -- refresh ------------------------------------------------------------------------------------------------
def test_refresh_rotates_both_tokens(client, alexa, token, container, clock):
    first = exchange(client, alexa, linked_code(client, alexa, token)).get_json()
    clock.advance(minutes=61)
    assert not offered(container, first["access_token"])  # an hour, no more
    response = refresh(client, alexa, first["refresh_token"])
    assert response.status_code == 200, response.get_data(as_text=True)
    second = response.get_json()
    assert second["refresh_token"] != first["refresh_token"] and second["access_token"] != first["access_token"]
    assert second["scope"] == first["scope"] and second["expires_in"] == 3600
    assert offered(container, second["access_token"])
    third = refresh(client, alexa, second["refresh_token"]).get_json()
    assert offered(container, third["access_token"]) and not offered(container, second["access_token"])


def test_a_refresh_token_used_again_revokes_the_link(client, alexa, token, container):
    first = exchange(client, alexa, linked_code(client, alexa, token)).get_json()
    second = refresh(client, alexa, first["refresh_token"]).get_json()
    replay = refresh(client, alexa, first["refresh_token"])
    assert replay.status_code == 400 and replay.get_json()["error"] == "invalid_grant"
    assert not offered(container, second["access_token"])
    assert refresh(client, alexa, second["refresh_token"]).status_code == 400


def test_a_refresh_token_of_another_client_is_refused(client, alexa, token, container):
    other = service.create_client(container, "google", ["https://example.com/cb"])
    first = exchange(client, alexa, linked_code(client, alexa, token)).get_json()
    response = refresh(client, other, first["refresh_token"])
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_grant"
    assert offered(container, first["access_token"])


# -- revocation (RFC 7009) ----------------------------------------------------------------------------------
@pytest.mark.parametrize("which", ["access_token", "refresh_token"])
def test_revoking_either_token_ends_the_link(client, alexa, token, container, which):
    tokens = exchange(client, alexa, linked_code(client, alexa, token)).get_json()
    response = client.post("/oauth/revoke", data={"token": tokens[which], "token_type_hint": which},
                           headers=basic(alexa))
    assert response.status_code == 200
    assert not offered(container, tokens["access_token"])
    assert refresh(client, alexa, tokens["refresh_token"]).status_code == 400


def test_revocation_needs_the_client_and_ignores_unknown_tokens(client, alexa, token, container):
    tokens = exchange(client, alexa, linked_code(client, alexa, token)).get_json()
    assert client.post("/oauth/revoke", data={"token": tokens["access_token"]}).status_code == 401
    assert client.post("/oauth/revoke", data={"token": "rpa_unknown"}, headers=basic(alexa)).status_code == 200
    missing = client.post("/oauth/revoke", data={}, headers=basic(alexa))
    assert missing.status_code == 400 and missing.get_json()["error"] == "invalid_request"
    assert offered(container, tokens["access_token"])


# -- the household API and the dashboard refuse OAuth tokens ------------------------------------------------
def test_an_oauth_token_is_refused_on_the_household_api_and_the_dashboard(client, alexa, token, container):
    tokens = exchange(client, alexa, linked_code(client, alexa, token)).get_json()
    for access in (tokens["access_token"], tokens["refresh_token"]):
        bearer = {"Authorization": f"Bearer {access}"}
        patched = client.patch("/v1/household/limits", json={"per_order_cap_cents": 10_000_000}, headers=bearer)
        assert patched.status_code == 401 and patched.get_json()["error"]["field"] == "Authorization"
        assert client.get("/v1/orders", headers=bearer).status_code == 401
        assert client.get("/v1/household", headers=bearer).status_code == 401
    assert client.get("/v1/household", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    stranger = create_app(container).test_client()
    assert sign_in(stranger, tokens["access_token"]).status_code == 401


# -- Settings: linked apps and "Unlink" ---------------------------------------------------------------------
def test_settings_lists_linked_apps_and_unlink_revokes_their_tokens(client, alexa, token, container):
    before = client.get("/dashboard/settings")
    sign_in(client, token)
    assert "No apps are linked." in client.get("/dashboard/settings").get_data(as_text=True)
    tokens = exchange(client, alexa, linked_code(client, alexa, token)).get_json()
    page = client.get("/dashboard/settings")
    html = unescape(page.get_data(as_text=True))
    assert "Linked apps" in html and "Replenish for Alexa" in html
    assert "Can: order, cancel, check orders." in html
    assert alexa["client_id"] not in re.sub(r'action="[^"]*"', "", html)  # people read names, not ids
    url = f"/dashboard/settings/linked-apps/{alexa['client_id']}/unlink"
    assert client.post(url).status_code == 400  # no CSRF token: nothing changes
    assert offered(container, tokens["access_token"])
    response = client.post(url, data={"csrf_token": csrf_of(page)})
    assert response.status_code == 302 and response.location.endswith("/dashboard/settings#linked-apps")
    after = unescape(client.get(response.location).get_data(as_text=True))
    assert "Replenish for Alexa is unlinked" in after and "No apps are linked." in after
    assert not offered(container, tokens["access_token"])
    assert refresh(client, alexa, tokens["refresh_token"]).status_code == 400
    assert before.status_code == 302  # and signed out, the page asks to sign in first


def test_unlinking_is_per_household(client, alexa, token, container):
    container.bus.handle(commands.CreateHousehold("h2", "Other Household", "2 Main St", "UTC"))
    theirs = service.issue_token(container, "h2", "alexa", None)
    mine = exchange(client, alexa, linked_code(client, alexa, token)).get_json()
    page = client.get("/dashboard/settings")
    client.post(f"/dashboard/settings/linked-apps/{alexa['client_id']}/unlink", data={"csrf_token": csrf_of(page)})
    assert not offered(container, mine["access_token"])
    assert voice(container, theirs["access_token"])["response"].get("card") is None
    assert [a["name"] for a in service.linked_apps(container, "h2")] == ["alexa"]


def test_unlinking_an_unknown_app_says_so(client, token):
    sign_in(client, token)
    page = client.get("/dashboard/settings")
    response = client.post("/dashboard/settings/linked-apps/rpc_nobody/unlink", data={"csrf_token": csrf_of(page)},
                           follow_redirects=True)
    assert "That app is not linked to this household." in unescape(response.get_data(as_text=True))


def test_a_link_survives_refreshes_as_one_linked_app(client, alexa, token, clock):
    tokens = exchange(client, alexa, linked_code(client, alexa, token)).get_json()
    linked_at = clock()
    clock.advance(minutes=70)
    refresh(client, alexa, tokens["refresh_token"])
    apps = service.linked_apps(client.application.extensions["replenish"], "h1")
    assert [(a["name"], a["linked_at"]) for a in apps] == [("alexa", linked_at)]


def test_expired_refresh_tokens_leave_the_list(client, alexa, token, clock):
    exchange(client, alexa, linked_code(client, alexa, token))
    clock.advance(days=366)
    assert service.linked_apps(client.application.extensions["replenish"], "h1") == []


def test_behind_a_tls_proxy_the_public_url_is_what_oauth_sees(container, alexa, token):
    container.settings.public_url = "https://replenish.example.com"
    client = create_app(container).test_client()
    code = linked_code(client, alexa, token)
    response = client.post("/oauth/token", data={"grant_type": "authorization_code", "code": code,
                                                 "redirect_uri": ALEXA_REDIRECT}, headers=basic(alexa))
    assert response.status_code == 200, response.get_data(as_text=True)


def test_codes_expire_from_the_table(client, alexa, token, container, clock):
    linked_code(client, alexa, token)
    clock.advance(days=2)
    linked_code(client, alexa, token)
    with container.uow() as uow:
        assert len(uow.session.execute(select(oauth_codes)).all()) == 1


def test_token_lifetimes():
    assert timedelta(hours=1) == service.ACCESS_TTL and timedelta(days=30) <= service.REFRESH_TTL


def test_the_eleventh_bad_client_secret_in_a_minute_is_a_429_with_retry_after(client, alexa):
    bad = {"Authorization": "Basic " + base64.b64encode(f"{alexa['client_id']}:wrong".encode()).decode()}
    answers = [client.post("/oauth/token", data={"grant_type": "refresh_token", "refresh_token": "x"},
                           headers=bad) for _ in range(11)]
    assert all(a.status_code in (400, 401) for a in answers[:10])
    assert answers[10].status_code == 429 and answers[10].get_json()["error"] == "slow_down"
    assert int(answers[10].headers["Retry-After"]) >= 1


def test_tokens_that_ended_over_thirty_days_ago_are_forgotten_and_live_ones_kept(client, alexa, token, container,
                                                                                  clock):
    first = exchange(client, alexa, linked_code(client, alexa, token)).get_json()
    second = refresh(client, alexa, first["refresh_token"]).get_json()  # the first pair ends here
    assert service.prune(container) == 0  # ended moments ago: kept (a reuse is still recognised)
    clock.advance(days=31)
    assert service.prune(container) == 1  # the refreshed-away pair
    assert refresh(client, alexa, second["refresh_token"]).status_code == 200  # the live link is untouched
