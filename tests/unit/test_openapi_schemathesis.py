"""Property-based run of the button and partner API against its own OpenAPI document: no input is a 500.

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
from schemathesis.checks import not_a_server_error  # noqa: E402
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

    def __call__(self, environ, start_response):
        if next(self.count) % 2 == 0:  # the other half arrive exactly as generated
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
            else:
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


def test_no_generated_request_is_a_server_error(api):
    app, real, middleware = api
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    paths = {operation.path for operation in operations}
    assert "/v1/buttons/{serial}/press" in paths and not any("_noop" in path for path in paths)
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
            case.validate_response(response, checks=[not_a_server_error])

        check()
    assert statuses[200] + statuses[201] > 20, statuses  # the generated data got past the door
    assert not any(code >= 500 for code in statuses)
    # The signed half got past the signature check: partner and button handlers ran on generated data.
    signed = middleware.signed_statuses
    assert signed[200] + signed[201] > 10, signed
    assert middleware.unsignable < middleware.signed
