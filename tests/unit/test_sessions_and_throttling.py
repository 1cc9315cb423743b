"""Who may spend a household's money: server-side dashboard sessions that can be ended, and failed
authentication throttled per client address and per credential (bearer tokens, dashboard sign-in, signatures)."""
from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest

from replenish.devices.domain import commands as dc
from replenish.domain import commands
from replenish.web import create_app
from replenish.web import sessions as web_sessions
from replenish_partner import signature_headers
from tests.dashboard_forms import csrf_of, post_sign_in

COOKIE = "replenish_session"  # the name on loopback over plain HTTP (tests); __Host-replenish_session when Secure
BASE = "http://test"


def sign_in(client, token, address="127.0.0.1"):
    return post_sign_in(client, token, address=address)


def signed_in_client(app, token):
    client = app.test_client()
    assert sign_in(client, token).status_code == 302
    return client


def cookie_of(client) -> str:
    return client.get_cookie(COOKIE).value


def copy_of(app, cookie: str):
    """Another browser that was handed a copy of the cookie (a stolen one, say)."""
    other = app.test_client()
    other.set_cookie(COOKIE, cookie)
    return other


def is_signed_in(client) -> bool:
    response = client.get("/dashboard/")
    assert response.status_code in (200, 302), response.status_code
    return response.status_code == 200


# -- sessions -----------------------------------------------------------------------------------------------
def test_the_cookie_is_only_a_random_id_and_the_session_lives_in_redis(app, client, token, container):
    response = sign_in(client, token)
    cookie = cookie_of(client)
    assert "h1" not in cookie and "." not in cookie and len(cookie) >= 40  # no signed payload, no household
    set_cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie
    keys = [k.decode() for k in container.redis.keys("dashboard:session:*")]
    assert len(keys) == 1 and cookie not in keys[0]  # kept under a hash of the id: a Redis dump holds no cookie
    record = web_sessions.SessionStore.serializer.loads(container.redis.get(keys[0]).decode())
    assert record["household_id"] == "h1" and record["data"]["csrf_token"] and record["created_at"]


def test_a_copied_cookie_stops_working_at_sign_out(app, client, token):
    assert sign_in(client, token).status_code == 302
    stolen = copy_of(app, cookie_of(client))
    assert is_signed_in(stolen)
    csrf = csrf_of(client.get("/dashboard/"))
    assert client.post("/dashboard/signout", data={"csrf_token": csrf}).status_code == 302
    assert not is_signed_in(client)
    assert not is_signed_in(stolen)
    assert stolen.get("/dashboard/orders.json").status_code == 401


def test_sign_in_gives_a_new_session_id_so_a_planted_cookie_is_worthless(app, client, token):
    client.get("/dashboard/signin")
    planted = cookie_of(client)  # the visitor's id before sign-in (an attacker could have set it)
    page = client.get("/dashboard/signin")
    client.post("/dashboard/signin", data={"token": token, "csrf_token": csrf_of(page)})
    assert cookie_of(client) != planted
    assert not is_signed_in(copy_of(app, planted))
    assert is_signed_in(client)


def test_every_session_of_the_household_ends_when_its_token_changes(app, container, token):
    phone, laptop = signed_in_client(app, token), signed_in_client(app, token)
    container.bus.handle(commands.CreateHousehold("h2", "Neighbours"))
    neighbour = signed_in_client(app, container.bus.handle(commands.IssueToken("h2")))
    assert is_signed_in(phone) and is_signed_in(laptop)
    spare = container.bus.handle(commands.IssueToken("h1", "spare"))
    assert is_signed_in(phone) and is_signed_in(laptop)  # a new token is no reason to sign anybody out
    with container.uow() as uow:
        first = next(t.id for t in uow.households.tokens("h1") if t.label != "spare")
    rotated = container.bus.handle(commands.RotateToken("h1", first))
    assert not is_signed_in(phone) and not is_signed_in(laptop)
    assert is_signed_in(neighbour)  # another household's sessions are not touched
    assert is_signed_in(signed_in_client(app, rotated["token"])) and is_signed_in(signed_in_client(app, spare))
    assert sign_in(app.test_client(), token).status_code == 401  # the rotated one signs in no more


def test_a_session_lasts_fourteen_days_from_sign_in_however_much_it_is_used(app, client, token, clock):
    response = sign_in(client, token)
    assert "Max-Age=1209600" in response.headers["Set-Cookie"]  # 14 days (not Flask's 31), whatever the
    # browser's clock says
    for _ in range(13):
        clock.advance(days=1)
        assert is_signed_in(client)  # used every day: still the same absolute end
    clock.advance(hours=23, minutes=59)
    assert is_signed_in(client)
    clock.advance(minutes=1)
    assert not is_signed_in(client)


def test_the_lifetime_is_kept_in_the_record_not_in_the_cookie(app, client, token, container, clock):
    sign_in(client, token)
    key = container.redis.keys("dashboard:session:*")[0]
    store = web_sessions.SessionStore
    record = store.serializer.loads(container.redis.get(key).decode())
    record["created_at"] = (clock() - timedelta(days=14, seconds=1)).timestamp()
    container.redis.set(key, store.serializer.dumps(record))
    assert not is_signed_in(client)
    assert not container.redis.exists(key)  # an expired record is deleted when seen


@pytest.mark.parametrize("host, public_url, secure", [
    ("127.0.0.1", "", False),
    ("localhost", "http://127.0.0.1:8000", False),
    ("::1", "", False),
    ("127.0.0.1", "https://replenish.example", True),
    ("0.0.0.0", "", True),
    ("10.1.2.3", "http://intranet.example", True),
])
def test_the_cookie_is_secure_unless_served_on_loopback_over_plain_http(container, token, host, public_url, secure):
    container.settings.host, container.settings.public_url = host, public_url
    client = create_app(container).test_client()
    scheme = "https" if secure else "http"
    page = client.get("/dashboard/signin", base_url=f"{scheme}://localhost")
    response = client.post("/dashboard/signin", data={"token": token, "csrf_token": csrf_of(page)},
                           base_url=f"{scheme}://localhost")
    cookie = response.headers["Set-Cookie"]
    assert ("Secure" in cookie.split("; ")) is secure
    assert cookie.startswith("__Host-replenish_session=") is secure  # a sibling subdomain cannot plant it
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie


def test_hsts_is_sent_when_the_public_url_is_https(container):
    assert "Strict-Transport-Security" not in create_app(container).test_client().get("/healthz").headers
    container.settings.public_url = "https://replenish.example"
    client = create_app(container).test_client()
    for path in ("/healthz", "/dashboard/signin", "/v1/orders"):
        assert client.get(path).headers["Strict-Transport-Security"].startswith("max-age=31536000")


class BrokenRedis:
    """A Redis that does not answer."""

    def __getattr__(self, name):
        import redis

        def fail(*args, **kwargs):
            raise redis.ConnectionError("Connection refused")
        return fail


def test_with_redis_down_signed_in_pages_are_503_never_a_pass(app, client, token, container):
    sign_in(client, token)
    store = container.sessions
    store.redis = BrokenRedis()
    for path in ("/dashboard/", "/dashboard/settings", "/dashboard/orders.json"):
        response = client.get(path)
        assert response.status_code == 503, path
        assert "unavailable" in response.get_data(as_text=True)
    fresh = app.test_client()
    fresh.set_cookie(COOKIE, "x" * 43)
    assert fresh.get("/dashboard/").status_code == 503
    assert client.get("/v1/orders", headers={"Authorization": f"Bearer {token}"}).status_code == 200


# -- throttling: bearer tokens ------------------------------------------------------------------------------
def bearer(client, token, address):
    return client.get("/v1/orders", headers={"Authorization": f"Bearer {token}"},
                      environ_base={"REMOTE_ADDR": address})


def test_the_eleventh_bad_token_in_a_minute_from_one_address_is_a_429(client, token):
    for i in range(10):
        assert bearer(client, f"rpl_guess-{i}", "203.0.113.7").status_code == 401
    refused = bearer(client, "rpl_guess-10", "203.0.113.7")
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    error = refused.get_json()["error"]
    assert error["code"] == "too_many_failed_attempts" and "this address" in error["message"]
    assert error["details"]["scope"] == "address"
    assert bearer(client, token, "203.0.113.7").status_code == 429  # while over: every request from there
    assert bearer(client, token, "198.51.100.4").status_code == 200  # the household elsewhere is not locked out


def test_successes_are_not_counted(client, token):
    for _ in range(30):
        assert bearer(client, token, "203.0.113.7").status_code == 200
    for i in range(10):
        assert bearer(client, f"rpl_guess-{i}", "203.0.113.7").status_code == 401
    assert bearer(client, "rpl_guess-x", "203.0.113.7").status_code == 429


def test_one_token_tried_from_many_addresses_is_throttled_too(client):
    for i in range(10):
        assert bearer(client, "rpl_leaked-and-revoked", f"198.51.100.{i}").status_code == 401
    refused = bearer(client, "rpl_leaked-and-revoked", "198.51.100.200")
    assert refused.status_code == 429 and refused.get_json()["error"]["details"]["scope"] == "credential"


def test_ipv6_clients_are_counted_per_slash_64(client):
    for i in range(10):
        assert bearer(client, f"rpl_guess-{i}", f"2001:db8:1:2::{i + 1:x}").status_code == 401
    assert bearer(client, "rpl_guess-x", "2001:db8:1:2:ffff::1").status_code == 429
    assert bearer(client, "rpl_guess-y", "2001:db8:1:3::1").status_code == 401


def test_a_request_without_any_token_is_not_a_failed_guess(client):
    for _ in range(15):
        assert client.get("/v1/orders", environ_base={"REMOTE_ADDR": "203.0.113.7"}).status_code == 401


def test_each_failure_writes_an_audit_line_without_the_secret(client, token, caplog):
    secret = "rpl_this-is-a-wrong-but-secret-value"
    with caplog.at_level(logging.INFO, logger="replenish.audit"):
        bearer(client, secret, "203.0.113.7")
        bearer(client, token, "203.0.113.7")  # a success writes nothing
    lines = [r for r in caplog.records if r.name == "replenish.audit"]
    assert len(lines) == 1
    text = lines[0].getMessage()
    import hashlib
    assert "what=bearer_token" in text and "address=203.0.113.7" in text
    assert f"credential=token:{hashlib.sha256(secret.encode()).hexdigest()[:12]}" in text
    assert secret not in text and "this-is-a-wrong" not in text and token not in text
    assert lines[0].audit["credential"].startswith("token:")


def test_the_limit_is_a_setting(container, client):
    container.settings.auth_failure_limit = "3/minute"
    for i in range(3):
        assert bearer(client, f"rpl_guess-{i}", "203.0.113.7").status_code == 401
    assert bearer(client, "rpl_guess-3", "203.0.113.7").status_code == 429


# -- throttling: dashboard sign-in --------------------------------------------------------------------------
def test_the_eleventh_failed_sign_in_is_a_429_page_with_retry_after(app, token, caplog):
    client = app.test_client()
    with caplog.at_level(logging.INFO, logger="replenish.audit"):
        for i in range(10):
            assert sign_in(client, f"rpl_guess-{i}", "203.0.113.9").status_code == 401
    assert sum("what=dashboard_signin" in r.getMessage() for r in caplog.records) == 10
    refused = sign_in(client, token, "203.0.113.9")  # the right token, but from an address that is over
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert "Too many failed authentication attempts" in refused.get_data(as_text=True)
    assert "<html" in refused.get_data(as_text=True)  # the dashboard's own error page
    assert sign_in(app.test_client(), token, "198.51.100.4").status_code == 302


def test_guessing_one_time_links_is_throttled_and_the_guesses_are_not_logged(app, client, caplog):
    page = client.get("/dashboard/signin", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    csrf = csrf_of(page)
    with caplog.at_level(logging.INFO, logger="replenish.audit"):
        for i in range(5):
            env = {"REMOTE_ADDR": "203.0.113.9"}
            assert client.get(f"/dashboard/link/guess-{i}", environ_base=env).status_code == 410
            assert client.post(f"/dashboard/link/guess-{i}x", data={"csrf_token": csrf},
                               environ_base=env).status_code == 410
    refused = client.get("/dashboard/link/guess-x", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert refused.status_code == 429 and refused.headers["Retry-After"]
    lines = [r.getMessage() for r in caplog.records if r.name == "replenish.audit"]
    assert len(lines) == 10 and all("what=dashboard_link" in line and "credential=link:" in line for line in lines)
    assert not any("guess-" in line for line in lines)  # the route, never the link's secret


def test_a_live_link_still_signs_in_from_another_address(app, container, token):
    from replenish.web import dashboard_security
    attacker = app.test_client()
    for i in range(11):
        attacker.get(f"/dashboard/link/guess-{i}", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    secret = dashboard_security.issue_link(container.redis, "h1")
    phone = app.test_client()
    page = phone.get(f"/dashboard/link/{secret}", environ_base={"REMOTE_ADDR": "198.51.100.4"})
    assert page.status_code == 200
    taken = phone.post(f"/dashboard/link/{secret}", data={"csrf_token": csrf_of(page)},
                       environ_base={"REMOTE_ADDR": "198.51.100.4"})
    assert taken.status_code == 302 and is_signed_in(phone)


# -- throttling: signatures ---------------------------------------------------------------------------------
def press(client, button, secret, address, nonce=None):
    body = json.dumps({"click_type": "SINGLE"}).encode()
    path = f"/v1/buttons/{button['serial']}/press"
    headers = signature_headers("POST", BASE + path, body, button["serial"], secret,
                                headers={"Content-Type": "application/json"}, **({"nonce": nonce} if nonce else {}))
    return client.post(path, data=body, headers=headers, base_url=BASE, environ_base={"REMOTE_ADDR": address})


def test_the_eleventh_bad_signature_is_a_429_and_other_buttons_still_press(client, container, caplog):
    button = container.bus.handle(dc.RegisterButton("h1", "TIDE-PODS-42"))
    other = container.bus.handle(dc.RegisterButton("h1", "CHARMIN-12"))
    with caplog.at_level(logging.INFO, logger="replenish.audit"):
        for _ in range(10):
            assert press(client, button, "btn_wrong-secret", "192.0.2.50").status_code == 401
    lines = [r.getMessage() for r in caplog.records if r.name == "replenish.audit"]
    assert len(lines) == 10 and all(f"credential=keyid:{button['serial']}" in line for line in lines)
    assert not any("btn_wrong-secret" in line or button["secret"] in line for line in lines)
    refused = press(client, button, "btn_wrong-secret", "192.0.2.50")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert refused.get_json()["error"]["code"] == "too_many_failed_attempts"
    # The attacked keyid is over its allowance everywhere (a minute); another button from elsewhere presses.
    assert press(client, button, button["secret"], "198.51.100.4").status_code == 429
    assert press(client, other, other["secret"], "198.51.100.4").status_code == 200


def partner_keys(client, key_id, secret, address):
    headers = signature_headers("GET", BASE + "/v1/partner/keys", b"", key_id, secret)
    return client.get("/v1/partner/keys", headers=headers, base_url=BASE, environ_base={"REMOTE_ADDR": address})


def test_unknown_keyids_are_counted_per_address(client, container):
    partner = container.bus.handle(dc.CreatePartner("Acme", ""))
    for i in range(10):
        refused = partner_keys(client, f"pk_guess{i}", "whsec_x", "192.0.2.51")
        assert refused.status_code == 401 and "Unknown keyid" in refused.get_json()["error"]["message"]
    assert partner_keys(client, partner["key_id"], partner["secret"], "192.0.2.51").status_code == 429
    assert partner_keys(client, partner["key_id"], partner["secret"], "192.0.2.52").status_code == 200


def test_a_reused_nonce_counts_as_a_failure(client, container):
    container.settings.auth_failure_limit = "2/minute"
    button = container.bus.handle(dc.RegisterButton("h1", "TIDE-PODS-42"))
    assert press(client, button, button["secret"], "192.0.2.53", nonce="nonce-0001").status_code == 200
    body = json.dumps({"click_type": "DOUBLE"}).encode()
    path = f"/v1/buttons/{button['serial']}/press"
    for _ in range(2):
        headers = signature_headers("POST", BASE + path, body, button["serial"], button["secret"],
                                    nonce="nonce-0001", headers={"Content-Type": "application/json"})
        reused = client.post(path, data=body, headers=headers, base_url=BASE,
                             environ_base={"REMOTE_ADDR": "192.0.2.53"})
        assert reused.status_code == 401 and reused.get_json()["error"]["field"] == "nonce"
    assert press(client, button, button["secret"], "192.0.2.53").status_code == 429


# -- the throttle's store -----------------------------------------------------------------------------------
def test_services_mode_counts_in_redis_shared_by_every_process(make_container, settings, token):
    import fakeredis
    shared = fakeredis.FakeServer()
    settings.redis_url = "redis://127.0.0.1:6379/0"  # services mode; the client is an in-process Redis
    first = create_app(make_container(redis_client=fakeredis.FakeRedis(server=shared))).test_client()
    second = create_app(make_container(redis_client=fakeredis.FakeRedis(server=shared))).test_client()
    for i in range(5):
        assert bearer(first, f"rpl_guess-{i}", "203.0.113.7").status_code == 401
        assert bearer(second, f"rpl_guess-{i}x", "203.0.113.7").status_code == 401
    assert bearer(first, "rpl_guess-z", "203.0.113.7").status_code == 429
    assert any(k.startswith(b"replenish:auth-failures") for k in fakeredis.FakeRedis(server=shared).scan_iter())


def test_with_its_redis_unreachable_the_throttle_allows_and_says_so_once(caplog):
    import redis
    from limits.storage import RedisStorage

    from replenish.web.throttle import Credential, Throttle
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    throttle = Throttle(RedisStorage("redis://127.0.0.1:1/0", connection_pool=dead.connection_pool,
                                     wrap_exceptions=True))
    with caplog.at_level(logging.WARNING, logger="replenish.web.throttle"):
        for _ in range(20):
            throttle.record("1/minute", "203.0.113.7", Credential("token", "abc"))
            assert throttle.refusal("1/minute", "203.0.113.7", Credential("token", "abc")) is None
    assert sum("throttle unavailable" in r.getMessage() for r in caplog.records) == 1
