"""Property-based run of the button and partner API against its own OpenAPI document: no input is a 500.

A WSGI middleware plays a well-behaved client for half the requests (it adds the right bearer token and a
fresh signature of whatever body was generated), so the generated data reaches the handlers, not only the
authentication at the door."""
from __future__ import annotations

import io
import itertools
from collections import Counter
import time

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402

from replenish.adapters.http_retailer import sign  # noqa: E402
from replenish.domain import device_commands as dc  # noqa: E402
from replenish.web import create_app  # noqa: E402


class SigningMiddleware:
    def __init__(self, wsgi_app, credentials):
        self.wsgi_app = wsgi_app
        self.credentials = credentials
        self.count = itertools.count()

    def __call__(self, environ, start_response):
        if next(self.count) % 2 == 0:  # the other half arrive exactly as generated
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)
            path = environ.get("PATH_INFO", "")
            c = self.credentials
            if path.startswith("/v1/partner/"):
                environ["HTTP_AUTHORIZATION"] = f"Bearer {c['api_key']}"
                environ["HTTP_X_REPLENISH_SIGNATURE"] = sign(c["webhook_secret"], body, int(time.time()))
            elif path.startswith("/v1/buttons/") and path.endswith("/press"):
                environ["HTTP_X_REPLENISH_SIGNATURE"] = sign(c["button_secret"], body, int(time.time()))
            else:
                environ["HTTP_AUTHORIZATION"] = f"Bearer {c['token']}"
        return self.wsgi_app(environ, start_response)


@pytest.fixture
def api(container, token):
    app = create_app(container)
    container.settings.extra.update({"REPLENISH_BUTTON_RATE": "100000/1", "REPLENISH_DEVICE_RATE": "100000/1",
                                     "REPLENISH_PARTNER_RATE": "100000/1"})
    partner = container.bus.handle(dc.CreatePartner("Fuzz", ""))
    button = container.bus.handle(dc.RegisterButton("h1", "TIDE-PODS-42"))
    code = container.bus.handle(dc.CreateLinkCode("h1"))["code"]
    device = container.bus.handle(dc.RegisterDevice(partner["partner_id"], code, "FZ-1", "fuzzer", (
        dc.SlotSpec("tank", ("TIDE-PODS-42",), 84, "count", 20, 84),)))
    app.wsgi_app = SigningMiddleware(app.wsgi_app, {**partner, "token": token, "button_secret": button["secret"]})
    return app, {"serial": button["serial"], "device_id": device["device_id"], "slot_id": "tank"}


def test_no_generated_request_is_a_server_error(api):
    app, real = api
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    started = time.monotonic()
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
    assert time.monotonic() - started < 60
    assert statuses[200] + statuses[201] > 20, statuses  # the generated data got past the door
    assert not any(code >= 500 for code in statuses)
