"""Using the dashboard as a browser does (Flask test client): its CSRF token, and signing in with a token."""
from __future__ import annotations

import re

CSRF = re.compile(r'name="csrf[_-]token" (?:value|content)="([^"]+)"')


def csrf_of(response) -> str:
    """The CSRF token a page's forms carry."""
    match = CSRF.search(response.get_data(as_text=True))
    assert match, "the page has no CSRF field"
    return match.group(1)


def post_sign_in(client, token: str, next_path: str | None = None, address: str | None = None):
    """The sign-in form sent with ``token`` (from ``address``, when given): the answer, or the redirect of a
    browser that is signed in already."""
    env = {"REMOTE_ADDR": address} if address else {}
    page = client.get("/dashboard/signin", environ_base=env)
    if page.status_code == 302:
        return page
    form = {"token": token, "csrf_token": csrf_of(page)}
    if next_path:
        form["next"] = next_path
    return client.post("/dashboard/signin", data=form, environ_base=env)


def sign_in(client, token: str) -> str:
    """Signs the client in; the CSRF token of its signed-in pages."""
    response = post_sign_in(client, token)
    assert response.status_code == 302 and response.location.endswith("/dashboard/"), response.status_code
    return csrf_of(client.get("/dashboard/"))
