"""Members and approvals over HTTP: the owner's API, the Members and Approvals pages, and what a child signed in
with their own link can and cannot do."""
from __future__ import annotations

import re
from html import unescape

import pytest

from replenish.domain import commands
from replenish.lists.model import AddToList
from replenish.members.model import AddMember, ChangeMember, RequestApproval
from replenish.web import dashboard_security as security
from tests.dashboard_forms import csrf_of, sign_in

TIDE = commands.LineRequest("TIDE-PODS-42", 2)


@pytest.fixture
def people(container):
    return {"alex": container.bus.handle(AddMember("h1", "Alex", "adult")),
            "sam": container.bus.handle(AddMember("h1", "Sam", "child", person_id="amzn1.person.sam"))}


def _auth(token):
    return {"Authorization": f"Bearer {token}"}


def _text(response) -> str:
    return unescape(re.sub(r"\s+", " ", response.get_data(as_text=True)))


def _as_member(app, container, member_id: str):
    """A browser signed in through the member's own one-time link."""
    client = app.test_client()
    secret = security.issue_link(container.redis, "h1", member_id=member_id)
    page = client.get(f"/dashboard/link/{secret}")
    assert page.status_code == 200
    response = client.post(f"/dashboard/link/{secret}", data={"csrf_token": csrf_of(page)})
    assert response.status_code == 302
    return client


def _orders(container) -> int:
    with container.uow() as uow:
        return len(uow.orders.list("h1", limit=50))


# -- the API ------------------------------------------------------------------------------------------------
def test_the_owner_manages_members_through_the_api(app, token):
    client = app.test_client()
    made = client.post("/v1/members", json={"name": "Sam", "role": "child", "per_order_cap_cents": 2000},
                       headers=_auth(token))
    assert made.status_code == 201 and made.json["role"] == "child"
    changed = client.patch(f"/v1/members/{made.json['id']}", json={"role": "adult", "per_order_cap_cents": None},
                           headers=_auth(token))
    assert changed.status_code == 200 and changed.json["role"] == "adult"
    assert changed.json["per_order_cap_cents"] is None
    listed = client.get("/v1/members", headers=_auth(token)).json["members"]
    assert [m["name"] for m in listed] == ["Sam"]
    assert client.delete(f"/v1/members/{made.json['id']}", headers=_auth(token)).status_code == 204
    assert client.get("/v1/members", headers=_auth(token)).json["members"] == []


@pytest.mark.parametrize("body, field", [
    ({"name": "Kim", "role": "boss"}, "role"),
    ({"name": "", "role": "adult"}, "name"),
    ({"name": "Kim", "role": "adult", "per_order_cap_cents": -1}, "per_order_cap_cents"),
    ({"name": "Kim", "role": "adult", "per_order_cap_cents": "30"}, "per_order_cap_cents"),
    ({"name": "Kim", "role": "adult", "age": 9}, "age"),
    ({"name": "Kim", "role": "adult", "email": "kim at home"}, "email"),
    ({"name": "Kim", "role": "adult", "email": "k" * 300 + "@example.com"}, "email"),
    ({"name": "Kim", "role": "adult", "phone": "555-0199"}, "phone"),
    ({"name": "Kim", "role": "adult", "phone": 15550100199}, "phone"),
    ({"name": "Kim", "role": "adult", "approval_notices": "yes"}, "approval_notices"),
])
def test_bad_member_input_is_a_4xx_naming_the_field_and_changes_nothing(app, token, body, field):
    client = app.test_client()
    response = client.post("/v1/members", json=body, headers=_auth(token))
    assert response.status_code == 400, response.json
    assert field in response.get_data(as_text=True)
    assert client.get("/v1/members", headers=_auth(token)).json["members"] == []


def test_members_api_needs_the_household_token(app):
    assert app.test_client().get("/v1/members").status_code == 401
    assert app.test_client().post("/v1/approvals/x/approve").status_code == 401


def test_approving_through_the_api_twice_places_one_order(app, container, token, people):
    request = container.bus.handle(RequestApproval("h1", people["sam"]["id"], "voice", (TIDE,)))
    client = app.test_client()
    pending = client.get("/v1/approvals?status=pending", headers=_auth(token)).json["approvals"]
    assert [(r["requested_by"], r["lines"][0]["title"]) for r in pending] == [
        ("Sam", "Tide PODS Laundry Detergent, 42 Count")]
    first = client.post(f"/v1/approvals/{request['id']}/approve", headers=_auth(token))
    second = client.post(f"/v1/approvals/{request['id']}/approve", headers=_auth(token))
    assert first.status_code == second.status_code == 200
    assert first.json["order_id"] == second.json["order_id"] and _orders(container) == 1
    assert client.post(f"/v1/approvals/{request['id']}/decline", headers=_auth(token)).status_code == 409
    assert client.post("/v1/approvals/nope/approve", headers=_auth(token)).status_code == 404


# -- the dashboard ------------------------------------------------------------------------------------------
def test_the_owner_adds_a_member_and_sees_the_approvals_page(app, container, token, people, clock):
    client = app.test_client()
    csrf = sign_in(client, token)
    response = client.post("/dashboard/settings/members", data={"csrf_token": csrf, "name": "Gus", "role": "guest",
                                                                "per_order_cap": "12.50", "per_month_cap": ""})
    assert response.status_code == 302
    page = _text(client.get("/dashboard/settings/members"))
    assert "Gus" in page and 'value="12.50"' in page
    bad = client.post("/dashboard/settings/members", data={"csrf_token": csrf, "name": "Kim", "role": "adult",
                                                           "per_order_cap": "lots"})
    assert bad.status_code == 400 and "Per-order cap must be an amount in dollars" in _text(bad)
    container.bus.handle(RequestApproval("h1", people["sam"]["id"], "voice", (TIDE,)))
    page = _text(client.get("/dashboard/approvals"))
    assert "Sam</strong> asked for" in page and "Tide PODS Laundry Detergent, 42 Count" in page and "$25.98" in page
    # asked at 11:00 AM in New York (15:00 UTC): the day it has is said on the household's clock, in words
    assert "expires tomorrow at 11:00 AM" in page
    clock.advance(hours=20)  # 7:00 AM the next morning there
    assert "expires today at 11:00 AM" in _text(client.get("/dashboard/approvals"))


def test_an_adult_approves_in_the_dashboard_and_the_timeline_names_both(app, container, people):
    request = container.bus.handle(RequestApproval("h1", people["sam"]["id"], "voice", (TIDE,)))
    alex = _as_member(app, container, people["alex"]["id"])
    csrf = csrf_of(alex.get("/dashboard/approvals"))
    response = alex.post(f"/dashboard/approvals/{request['id']}", data={"csrf_token": csrf, "action": "approve"},
                         follow_redirects=True)
    assert "Approved Sam's request" in _text(response)
    assert _orders(container) == 1
    assert "Asked for by Sam, approved by Alex" in _text(alex.get("/dashboard/"))
    # an adult manages neither members nor tokens: the owner's
    assert alex.get("/dashboard/settings/members").status_code == 403


def test_a_child_sees_the_list_and_their_requests_and_nothing_else(app, container, people):
    container.bus.handle(AddToList("h1", None, "TIDE-PODS-42", 1, "web"))
    sam = _as_member(app, container, people["sam"]["id"])
    assert sam.get("/dashboard/").location.endswith("/dashboard/list")
    page = sam.get("/dashboard/list")
    assert page.status_code == 200 and "Ask an adult to order the list" in _text(page)
    csrf = csrf_of(page)
    for path in ("/dashboard/settings", "/dashboard/settings/members", "/dashboard/approvals",
                 "/dashboard/forecast", "/dashboard/notifications"):
        assert sam.get(path).status_code == 403, path
    for path, data in (("/dashboard/settings/limits", {"per_order_cap": "999"}),
                       ("/dashboard/settings/tokens", {"label": "mine"}),
                       ("/dashboard/settings/members", {"name": "Mallory", "role": "owner"})):
        assert sam.post(path, data={"csrf_token": csrf, **data}).status_code == 403, path
    request = container.bus.handle(RequestApproval("h1", people["sam"]["id"], "voice", (TIDE,)))
    refused = sam.post(f"/dashboard/approvals/{request['id']}", data={"csrf_token": csrf, "action": "approve"})
    assert refused.status_code == 403
    with container.uow() as uow:
        assert len(uow.members.list("h1")) == 2
        assert uow.members.request("h1", request["id"]).status == "pending"
    assert _orders(container) == 0

def test_a_members_own_contact_through_the_api(app, token):
    client = app.test_client()
    made = client.post("/v1/members", json={"name": "Alex", "role": "adult", "email": " alex@example.com ",
                                            "phone": "+1 (555) 010-0199"}, headers=_auth(token))
    assert made.status_code == 201, made.json
    assert (made.json["email"], made.json["phone"], made.json["approval_notices"]) == \
        ("alex@example.com", "+15550100199", True)
    url = f"/v1/members/{made.json['id']}"
    changed = client.patch(url, json={"email": "", "approval_notices": False}, headers=_auth(token))
    assert changed.status_code == 200
    assert (changed.json["email"], changed.json["phone"], changed.json["approval_notices"]) == \
        (None, "+15550100199", False)
    for body, field in (({"phone": "0199"}, "phone"), ({"approval_notices": None}, "approval_notices"),
                        ({"email": "alex@"}, "email")):
        bad = client.patch(url, json=body, headers=_auth(token))
        assert bad.status_code == 400 and bad.json["error"]["field"] == field, bad.json
    [alex] = client.get("/v1/members", headers=_auth(token)).json["members"]
    assert (alex["email"], alex["phone"], alex["approval_notices"]) == (None, "+15550100199", False)


def test_the_owner_sets_a_members_contact_on_the_members_page(app, container, token, people):
    client = app.test_client()
    csrf = sign_in(client, token)
    form = {"csrf_token": csrf, "action": "save", "name": "Alex", "role": "adult", "per_order_cap": "",
            "per_month_cap": "", "person_id": "", "email": "alex@example.com", "phone": "+44 7700 900123"}
    assert client.post(f"/dashboard/settings/members/{people['alex']['id']}", data=form).status_code == 302
    with container.uow() as uow:
        alex = uow.members.get("h1", people["alex"]["id"])
    assert (alex.email, alex.phone, alex.approval_notices) == ("alex@example.com", "+447700900123", False)
    page = _text(client.get("/dashboard/settings/members"))
    assert 'value="alex@example.com"' in page and 'value="+447700900123"' in page
    form["approval_notices"] = "on"
    client.post(f"/dashboard/settings/members/{people['alex']['id']}", data=form)
    with container.uow() as uow:
        assert uow.members.get("h1", people["alex"]["id"]).approval_notices is True
    bad = client.post(f"/dashboard/settings/members/{people['alex']['id']}", data={**form, "phone": "07700 900123"})
    assert bad.status_code == 400 and "phone is a mobile number with its country code" in _text(bad)
    added = client.post("/dashboard/settings/members", data={"csrf_token": csrf, "name": "Kim", "role": "adult",
                                                             "email": "kim@", "approval_notices": "on"})
    assert added.status_code == 400 and "email is an address like sam@example.com" in _text(added)
    assert 'value="kim@"' in _text(added)  # what was typed stays, to be corrected


def test_a_childs_order_now_and_order_the_list_become_requests(app, container, people):
    sam = _as_member(app, container, people["sam"]["id"])
    csrf = csrf_of(sam.get("/dashboard/list"))
    asked = sam.post("/dashboard/orders", data={"csrf_token": csrf, "sku": "CHARMIN-12", "quantity": "1"},
                     follow_redirects=True)
    assert "Asked an adult to approve Charmin Ultra Soft Toilet Paper, 12 Mega Rolls ($18.99)" in _text(asked)
    container.bus.handle(AddToList("h1", None, "TIDE-PODS-42", 2, "web"))
    asked = sam.post("/dashboard/list/order", data={"csrf_token": csrf}, follow_redirects=True)
    assert "Asked an adult to approve 2 × Tide PODS" in _text(asked)
    mine = _text(sam.get("/dashboard/requests"))
    assert mine.count("waiting for an adult") == 2
    assert _orders(container) == 0


def test_a_removed_members_session_ends(app, container, token, people):
    sam = _as_member(app, container, people["sam"]["id"])
    app.test_client().delete(f"/v1/members/{people['sam']['id']}", headers=_auth(token))
    assert "/dashboard/signin" in sam.get("/dashboard/list").location


def test_a_member_link_works_once(app, container, people):
    client = app.test_client()
    secret = security.issue_link(container.redis, "h1", member_id=people["sam"]["id"])
    assert security.take_member_link(container.redis, secret) == ("h1", people["sam"]["id"])
    assert security.take_member_link(container.redis, secret) is None
    assert client.get(f"/dashboard/link/{secret}").status_code == 410


def test_an_adult_members_own_cap_holds_in_the_dashboard(app, container, people):
    container.bus.handle(ChangeMember(
        "h1", people["alex"]["id"], {"per_order_cap_cents": 3000}))
    alex = _as_member(app, container, people["alex"]["id"])
    csrf = csrf_of(alex.get("/dashboard/approvals"))
    refused = alex.post("/dashboard/orders", data={"csrf_token": csrf, "sku": "TIDE-PODS-81", "quantity": "2"},
                        follow_redirects=True)
    assert "Alex's limit is $30.00 per order" in _text(refused) and _orders(container) == 0
    alex.post("/dashboard/orders", data={"csrf_token": csrf, "sku": "TIDE-PODS-42", "quantity": "1"})
    assert _orders(container) == 1
    assert "Asked for by Alex" in _text(alex.get("/dashboard/"))
