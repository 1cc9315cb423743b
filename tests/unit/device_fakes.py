"""Helpers for button and partner tests: a requests-like session over the Flask test client."""
from __future__ import annotations

import json
from urllib.parse import urlsplit


class FlaskResponse:
    def __init__(self, response):
        self.status_code = response.status_code
        self.headers = dict(response.headers)
        self.content = response.get_data()
        self.text = self.content.decode(errors="replace")

    def json(self):
        return json.loads(self.content)


class FlaskSession:
    """Lets the SDK (which speaks ``requests``) talk to an app in-process."""

    def __init__(self, app):
        self.client = app.test_client()

    def request(self, method, url, data=None, headers=None, timeout=None, **_):
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        base = f"{parts.scheme}://{parts.netloc}" if parts.netloc else "http://localhost"
        return FlaskResponse(self.client.open(path, method=method, data=data, headers=headers or {},
                                              base_url=base))

    def post(self, url, data=None, headers=None, timeout=None, **kw):
        return self.request("POST", url, data=data, headers=headers, timeout=timeout)


class RecordingSender:
    """A webhook sender that records what it was given and answers with ``statuses`` in turn."""

    def __init__(self, *statuses):
        self.statuses = list(statuses) or [200]
        self.sent = []

    def post(self, url, body, headers):
        self.sent.append((url, body, headers))
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        if isinstance(status, Exception):
            raise status
        return status
