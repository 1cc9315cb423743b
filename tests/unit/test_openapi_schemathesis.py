"""Property-based run of the whole HTTP API against its own OpenAPI document: no input is a 500, and every
response has a documented status, the documented content type and a body that matches the documented schema.

A WSGI middleware plays a well-behaved client for half the requests (it adds the right bearer token, or a fresh
RFC 9421 signature of whatever method, URL and body was generated), so the generated data reaches the handlers,
not only the authentication at the door."""
from __future__ import annotations

import io
import itertools
from collections import Counter

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis.checks import (  # noqa: E402
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from werkzeug.wrappers import Request  # noqa: E402

from replenish.devices.domain import commands as dc  # noqa: E402
from replenish.web import create_app  # noqa: E402
from replenish_partner import signature_headers  # noqa: E402

SIGNED = ("Content-Digest", "Signature-Input", "Signature")


class SigningMiddleware:
    def __init__(self, wsgi_app, credentials):
        self.wsgi_app = wsgi_app
        self.credentials = credentials
        self.count = itertools.count()
        self.signed = self.unsignable = 0
        self.signed_statuses = Counter()  # what the requests this middleware signed were answered
        self.every = False  # True: every request is sent as a well-behaved client sends it

    def __call__(self, environ, start_response):
        if next(self.count) % 2 == 0 or self.every:  # the other half arrive exactly as generated
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)
            path = environ.get("PATH_INFO", "")
            c = self.credentials
            key = None
            if path.startswith("/v1/partner/"):
                key = (c["key_id"], c["secret"])
            elif path.startswith("/v1/buttons/") and path.endswith("/press"):
                key = (c["serial"], c["button_secret"])  # keyid: the serial (the URL's, when it is the real one)
            elif path.startswith("/v1/"):
                environ["HTTP_AUTHORIZATION"] = f"Bearer {c['token']}"
            if key is not None and self.sign(environ, body, *key):
                def recording(status, headers, *args):
                    self.signed_statuses[int(status.split()[0])] += 1
                    return start_response(status, headers, *args)
                return self.wsgi_app(environ, recording)
        return self.wsgi_app(environ, start_response)

    def sign(self, environ, body, key_id, secret) -> bool:
        """Signs the request as the server will see it (the URL it rebuilds from this environ); False when the
        signing library refuses the URL or body (the request then goes unsigned: a 401 is fine)."""
        url = Request(environ).url
        try:
            headers = signature_headers(environ["REQUEST_METHOD"], url, body, key_id, secret)
        except Exception:  # noqa: BLE001 - counted; the request goes on unsigned
            self.unsignable += 1
            return False
        for name in SIGNED:
            environ["HTTP_" + name.upper().replace("-", "_")] = headers[name]
        self.signed += 1
        return True


@pytest.fixture
def api(container, token):
    app = create_app(container)
    container.settings.button_rate = container.settings.device_rate = container.settings.partner_rate = "100000/1"
    container.settings.auth_failure_limit = "100000/minute"  # half the generated requests fail authentication
    partner = container.bus.handle(dc.CreatePartner("Fuzz", ""))
    button = container.bus.handle(dc.RegisterButton("h1", "TIDE-PODS-42"))
    code = container.bus.handle(dc.CreateLinkCode("h1"))["code"]
    device = container.bus.handle(dc.RegisterDevice(partner["partner_id"], code, "FZ-1", "fuzzer", (
        dc.SlotSpec("tank", ("TIDE-PODS-42",), 84, "count", 20, 84),)))
    assert {"key_id", "secret"} <= set(partner) and "api_key" not in partner
    middleware = SigningMiddleware(app.wsgi_app, {**partner, "token": token, "serial": button["serial"],
                                                  "button_secret": button["secret"]})
    app.wsgi_app = middleware
    return app, {"serial": button["serial"], "device_id": device["device_id"], "slot_id": "tank"}, middleware


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def test_every_response_is_the_documented_one(api):
    app, real, middleware = api
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 55
    paths = {operation.path for operation in operations}
    assert {"/v1/buttons/{serial}/press", "/v1/orders", "/v1/list", "/v1/stock", "/oauth/token",
            "/healthz"} <= paths and not any("_noop" in path for path in paths)
    seen = itertools.count()
    statuses = Counter()
    for operation in operations:
        @settings(max_examples=25, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def check(case):
            # Every other case names the real button, device and slot so handlers run on real rows.
            if case.path_parameters and next(seen) % 2 == 0:
                for name in ("serial", "device_id", "slot_id"):
                    if name in case.path_parameters:
                        case.path_parameters[name] = real[name]
            response = case.call()
            statuses[response.status_code] += 1
            case.validate_response(response, checks=CHECKS)

        check()
    assert statuses[200] + statuses[201] > 20, statuses  # the generated data got past the door
    assert not any(code >= 500 for code in statuses)
    # The signed half got past the signature check: partner and button handlers ran on generated data.
    signed = middleware.signed_statuses
    assert signed[200] + signed[201] > 10, signed
    assert middleware.unsignable < middleware.signed


def test_every_operation_answers_its_documented_success(api, container):
    """The fuzzing above rarely reaches a success on routes that need a real id or a consistent body: this walk
    calls every documented operation as a client that knows what it is doing would, and each answer must be a
    success that matches its documented schema, status and content type."""
    from replenish.oauth import service
    from tests.voice_fakes import issue_voice_token
    app, real, middleware = api
    middleware.every = True
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    operations = {f"{op.method.upper()} {op.path}": op for op in (r.ok() for r in schema.get_all_operations())}
    answered = set()

    def call(label, path=None, body=None, query=None, form=None, status=None, headers=None):
        operation = operations[label]
        kwargs = {"path_parameters": path or {}, "query": query or {}, "headers": headers or {}}
        if body is not None:
            kwargs.update(body=body, media_type="application/json")
        if form is not None:
            kwargs.update(body=form, media_type="application/x-www-form-urlencoded")
        case = operation.Case(**kwargs)
        response = case.call()
        case.validate_response(response, checks=CHECKS)
        expected = status or range(200, 300)
        assert response.status_code in (expected if isinstance(expected, range) else (expected,)), \
            (label, response.status_code, response.text)
        answered.add(label)
        try:
            return response.json()
        except ValueError:
            return response.text

    call("GET /healthz", status=200)
    call("GET /readyz", status=range(200, 504))  # no broker in the unit tier: 503 naming it, still documented
    # (schemathesis leaves out the operation its schema was loaded from: test_openapi.py checks that one)
    container.settings.metrics_token = "metrics-secret"
    call("GET /metrics", headers={"Authorization": "Bearer metrics-secret"})
    call("GET /.well-known/oauth-authorization-server")
    client = service.create_client(container, "schema-check", ["https://example.com/back"])
    issued = issue_voice_token(container, client="schema-check")
    credentials = {"client_id": client["client_id"], "client_secret": client["client_secret"]}
    refreshed = call("POST /oauth/token", form={"grant_type": "refresh_token", "refresh_token": issued[
        "refresh_token"], **credentials}, status=200)
    call("POST /oauth/revoke", form={"token": refreshed["access_token"], **credentials}, status=200)

    call("GET /v1/household")
    call("PATCH /v1/household/limits", body={"per_order_cap_cents": 500_000, "cancel_windows": {"web": 600}})
    call("GET /v1/household/tokens")
    new = call("POST /v1/household/tokens", body={"label": "ci"}, status=201)
    rotated = call("POST /v1/household/tokens/{token_id}/rotate", path={"token_id": new["id"]}, status=201)
    call("DELETE /v1/household/tokens/{token_id}", path={"token_id": rotated["id"]})
    placed = call("POST /v1/orders", body={"sku": "TIDE-PODS-42", "quantity": 1}, status=201)
    call("GET /v1/orders", query={"status": "pending", "limit": 10})
    call("GET /v1/orders/{order_id}", path={"order_id": placed["order_id"]})
    call("POST /v1/orders/{order_id}/cancel", path={"order_id": placed["order_id"]})
    call("GET /v1/notifications")
    call("GET /v1/recommendations/resolve", query={"q": "detergent"})
    call("GET /v1/recommendations/buy-again")
    call("GET /v1/recommendations/running-low", query={"days": 30})

    item = call("POST /v1/list", body={"sku": "CHARMIN-12"}, status=201)
    call("PATCH /v1/list/{item_id}", path={"item_id": item["id"]}, body={"quantity": 2})
    call("GET /v1/list")
    call("POST /v1/list/order", body={}, status=201)
    milk = call("POST /v1/list", body={"phrase": "milk"}, status=201)
    call("PATCH /v1/list/{item_id}", path={"item_id": milk["id"]}, body={"checked": True})
    call("POST /v1/list/clear-checked")
    gone = call("POST /v1/list", body={"phrase": "bread"}, status=201)
    call("DELETE /v1/list/{item_id}", path={"item_id": gone["id"]}, status=204)

    call("PUT /v1/stock/{sku}", path={"sku": "TIDE-PODS-42"}, body={"minimum": 10, "refill_to": 84, "on_hand": 50})
    call("POST /v1/stock/{sku}/used", path={"sku": "TIDE-PODS-42"}, body={"amount": 45})
    call("POST /v1/stock/{sku}/refill", path={"sku": "TIDE-PODS-42"}, status=201)
    call("GET /v1/stock")

    paired = call("POST /v1/buttons", body={"sku": "CHARMIN-12"}, status=201)
    call("GET /v1/buttons")
    call("PATCH /v1/buttons/{serial}", path={"serial": paired["serial"]}, body={"status": "disabled"})
    call("DELETE /v1/buttons/{serial}", path={"serial": paired["serial"]})
    call("POST /v1/buttons/{serial}/press", path={"serial": real["serial"]}, body={"click_type": "DOUBLE"})

    code = call("POST /v1/devices/link-codes", status=201)["code"]
    call("GET /v1/devices")
    call("PATCH /v1/devices/{device_id}/slots/{slot_id}", path={"device_id": real["device_id"], "slot_id": "tank"},
         body={"threshold": 10})
    device = call("POST /v1/partner/devices", body={"link_code": code, "device_id": "SC-1", "test": True, "slots": [
        {"slot_id": "tank", "products": ["TIDE-PODS-42"], "capacity": 84, "threshold": 20, "target": 84}]},
        status=201)["device_id"]
    at = {"device_id": device}
    call("GET /v1/partner/devices/{device_id}", path=at)
    call("POST /v1/partner/devices/{device_id}/heartbeat", path=at, body={})
    call("GET /v1/partner/devices/{device_id}/subscription", path=at)
    call("POST /v1/partner/devices/{device_id}/slots/{slot_id}/status", path={**at, "slot_id": "tank"},
         body={"remainingQuantityInUnit": 80})
    ordered = call("POST /v1/partner/devices/{device_id}/slots/{slot_id}/replenish", path={**at, "slot_id": "tank"})
    call("GET /v1/partner/devices/{device_id}/orders", path=at)
    call("GET /v1/partner/orders/{order_id}", path={"order_id": ordered["order_id"]})
    call("GET /v1/partner/test-orders")
    call("POST /v1/partner/orders/{order_id}/cancel", path={"order_id": ordered["order_id"]})
    call("GET /v1/partner/webhooks")
    call("GET /v1/partner/keys")
    key = call("POST /v1/partner/keys", status=201)
    call("DELETE /v1/partner/keys/{key_id}", path={"key_id": key["key_id"]})
    added = call("POST /v1/partner/webhook-secrets", status=201)["added"]
    call("POST /v1/partner/webhook-secrets/retire", body={"secret": added})
    call("DELETE /v1/partner/devices/{device_id}", path=at)
    call("DELETE /v1/devices/{device_id}", path={"device_id": real["device_id"]})

    from replenish.domain.commands import LineRequest
    from replenish.members.model import RequestApproval
    child = call("POST /v1/members", body={"name": "Sam", "role": "child"}, status=201)
    adult = call("POST /v1/members", body={"name": "Alex", "role": "adult", "per_order_cap_cents": 5000,
                                           "email": "alex@example.com", "phone": "+15550100199"}, status=201)
    call("PATCH /v1/members/{member_id}", path={"member_id": adult["id"]}, body={"per_order_cap_cents": 6000,
                                                                                 "approval_notices": False})
    call("GET /v1/members")
    asked = container.bus.handle(RequestApproval("h1", child["id"], "voice", (LineRequest("CHARMIN-12", 1),)))
    call("GET /v1/approvals", query={"status": "pending"})
    call("POST /v1/approvals/{request_id}/{action}", path={"request_id": asked["id"], "action": "approve"})
    call("DELETE /v1/members/{member_id}", path={"member_id": adult["id"]}, status=204)

    assert set(operations) - answered == set()
