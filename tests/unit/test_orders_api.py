"""The orders API over HTTP (Flask test client): what a household's app or script sees."""
import pytest

from replenish.web import create_app


@pytest.fixture
def client(container):
    return create_app(container).test_client()


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def test_healthz(client):
    body = client.get("/healthz").get_json()
    assert body["status"] == "ok" and body["checks"]["database"] == "ok"
    recommender = body["checks"]["recommender"]  # no model trained for this database: the baselines answer
    assert recommender["model"] == "baseline" and "no trained model" in recommender["detail"]


def test_token_required(client):
    response = client.get("/v1/orders")
    assert response.status_code == 401
    assert response.get_json()["error"]["field"] == "Authorization"
    assert client.get("/v1/orders", headers=auth("rpl_wrong")).status_code == 401


def test_place_list_get_cancel(client, token):
    created = client.post("/v1/orders", json={"sku": "TIDE-PODS-42", "quantity": 2}, headers=auth(token))
    assert created.status_code == 201, created.get_json()
    order_id = created.get_json()["order_id"]
    listed = client.get("/v1/orders", headers=auth(token)).get_json()["orders"]
    assert [o["id"] for o in listed] == [order_id]
    assert listed[0]["total_cents"] == 2598 and listed[0]["channel"] == "web"
    detail = client.get(f"/v1/orders/{order_id}", headers=auth(token)).get_json()
    assert detail["timeline"][0]["event"] == "OrderPlaced" and detail["can_cancel"]
    cancelled = client.post(f"/v1/orders/{order_id}/cancel", headers=auth(token))
    assert cancelled.get_json()["status"] == "cancelled"
    again = client.post(f"/v1/orders/{order_id}/cancel", headers=auth(token))
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "illegal_transition"


def test_idempotency_key_header(client, token):
    headers = {**auth(token), "Idempotency-Key": "k-1"}
    first = client.post("/v1/orders", json={"sku": "TIDE-PODS-42"}, headers=headers)
    second = client.post("/v1/orders", json={"sku": "TIDE-PODS-42"}, headers=headers)
    assert first.status_code == 201 and second.status_code == 200
    assert first.get_json()["order_id"] == second.get_json()["order_id"]


def test_an_idempotency_key_reused_with_another_order_is_a_422_and_places_nothing(client, token):
    headers = {**auth(token), "Idempotency-Key": "k-2"}
    first = client.post("/v1/orders", json={"sku": "TIDE-PODS-42", "quantity": 1}, headers=headers)
    assert first.status_code == 201
    for other in ({"sku": "TIDE-PODS-42", "quantity": 2}, {"sku": "CHARMIN-12"}):
        reused = client.post("/v1/orders", json=other, headers=headers)
        assert reused.status_code == 422
        assert reused.get_json()["error"] == {"code": "idempotency_key_reused", "field": "Idempotency-Key",
                                              "message": "This Idempotency-Key was used for a different order."}
    assert [o["id"] for o in client.get("/v1/orders", headers=auth(token)).get_json()["orders"]] == [
        first.get_json()["order_id"]]


@pytest.mark.parametrize("body, field", [
    ({"sku": "TIDE-PODS-42", "quantity": 0}, "quantity"),
    ({"sku": "TIDE-PODS-42", "quantity": "2"}, "quantity"),
    ({"sku": ""}, "sku"),
    ({"lines": []}, "lines"),
    ({"sku": "TIDE-PODS-42", "colour": "red"}, "colour"),
    ({"sku": "NOPE"}, "sku"),
])
def test_bad_order_bodies_name_the_field(client, token, body, field):
    response = client.post("/v1/orders", json=body, headers=auth(token))
    assert 400 <= response.status_code < 500
    assert field in response.get_json()["error"].get("field", "") + response.get_json()["error"]["message"]


@pytest.mark.parametrize("data", [b"{not json", b"[1,2]", b"\xff\xfe"])
def test_malformed_json_is_a_400(client, token, data):
    response = client.post("/v1/orders", data=data, headers={**auth(token), "Content-Type": "application/json"})
    assert response.status_code == 400 and response.get_json()["error"]["field"] == "body"


def test_limit_explained_and_nothing_stored(client, token):
    response = client.post("/v1/orders", json={"sku": "TV-65"}, headers=auth(token))
    assert response.status_code == 422
    assert "limit" in response.get_json()["error"]["message"]
    assert client.get("/v1/orders", headers=auth(token)).get_json()["orders"] == []


def test_unknown_order_and_bad_query(client, token):
    assert client.get("/v1/orders/nope", headers=auth(token)).status_code == 404
    assert client.get("/v1/orders?status=lost", headers=auth(token)).get_json()["error"]["field"] == "status"
    assert client.get("/v1/orders?limit=x", headers=auth(token)).status_code == 400
    assert client.get("/v1/nowhere").status_code == 404


def test_limits_update(client, token):
    response = client.patch("/v1/household/limits", json={"per_order_cap_cents": 5000,
                                                           "cancel_windows": {"voice": 60}}, headers=auth(token))
    assert response.status_code == 200
    limits = client.get("/v1/household", headers=auth(token)).get_json()["limits"]
    assert limits["per_order_cap_cents"] == 5000 and limits["cancel_windows"]["voice"] == 60
    bad = client.patch("/v1/household/limits", json={"cancel_windows": {"fax": 1}}, headers=auth(token))
    assert bad.status_code == 400 and "fax" in bad.get_json()["error"]["field"]
    cleared = client.patch("/v1/household/limits", json={"per_month_cap_cents": None}, headers=auth(token))
    assert cleared.get_json()["per_month_cap_cents"] is None


def test_recommendations_api(client, token, container, clock):
    from datetime import timedelta

    from replenish.domain.history import Purchase
    with container.uow() as uow:
        uow.purchases.add_many([Purchase("h1", "TIDE-PODS-81", clock() - timedelta(days=30 * n), 1, f"o{n}")
                                for n in range(1, 7)])
        uow.session.commit()
    body = client.get("/v1/recommendations/resolve?q=detergent&k=2", headers=auth(token)).get_json()
    assert body["results"][0]["sku"] == "TIDE-PODS-81"  # the pack this household buys, not the first match
    assert "6 times" in body["results"][0]["reason"]
    again = client.get("/v1/recommendations/buy-again", headers=auth(token)).get_json()["results"]
    assert again[0]["sku"] == "TIDE-PODS-81"
    low = client.get("/v1/recommendations/running-low?days=30", headers=auth(token)).get_json()["results"]
    assert [t["sku"] for t in low] == ["TIDE-PODS-81"] and 20 <= low[0]["days_after_last"] <= 40
    assert client.get("/v1/recommendations/resolve", headers=auth(token)).get_json()["error"]["field"] == "q"
    assert client.get("/v1/recommendations/buy-again?k=0", headers=auth(token)).status_code == 400


NESTED = b"[" * 1000 + b"]" * 1000  # 2 KB


@pytest.mark.parametrize("method, path", [("POST", "/v1/orders"), ("PATCH", "/v1/household/limits")])
def test_json_nested_absurdly_deep_is_a_400_naming_the_body_and_changes_nothing(client, token, method, path):
    response = client.open(path, method=method, data=NESTED, headers={**auth(token), "Content-Type":
                                                                      "application/json"})
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == "body"
    assert client.get("/v1/orders", headers=auth(token)).get_json()["orders"] == []


def test_json_within_the_nesting_bound_still_reads(client, token):
    from replenish.jsonsafe import MAX_DEPTH, loads
    assert loads(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH) is not None
    with pytest.raises(ValueError):
        loads(b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1))
    with pytest.raises(ValueError):
        loads(b"[" * 100_000 + b"]" * 100_000)


def test_household_tokens_are_listed_by_their_first_characters_rotated_and_revoked(client, token):
    listed = client.get("/v1/household/tokens", headers=auth(token)).get_json()["tokens"]
    assert len(listed) == 1 and token.startswith(listed[0]["prefix"]) and token not in str(listed)
    made = client.post("/v1/household/tokens", json={"label": "kitchen tablet"}, headers=auth(token))
    assert made.status_code == 201
    spare = made.get_json()
    assert spare["label"] == "kitchen tablet" and spare["token"].startswith(spare["prefix"])
    rotated = client.post(f"/v1/household/tokens/{listed[0]['id']}/rotate", headers=auth(spare["token"]))
    assert rotated.status_code == 201 and rotated.get_json()["replaces"] == listed[0]["id"]
    assert client.get("/v1/orders", headers=auth(token)).status_code == 401  # the old one, at once
    new = rotated.get_json()["token"]
    assert client.get("/v1/orders", headers=auth(new)).status_code == 200
    assert client.delete(f"/v1/household/tokens/{spare['id']}", headers=auth(new)).status_code == 200
    assert client.get("/v1/orders", headers=auth(spare["token"])).status_code == 401
    last = client.delete(f"/v1/household/tokens/{rotated.get_json()['id']}", headers=auth(new))
    assert last.status_code == 409 and last.get_json()["error"]["code"] == "last_token"
    for bad in ({"label": ""}, {"label": "x" * 65}, {"name": "x"}):
        assert client.post("/v1/household/tokens", json=bad, headers=auth(new)).status_code == 400
    assert client.delete("/v1/household/tokens/nope", headers=auth(new)).status_code == 404


def test_household_token_commands_print_json_and_refuse_without_a_traceback(container, token):
    from click.testing import CliRunner

    from replenish import cli
    runner = CliRunner()
    original = cli._container
    cli._container = lambda migrate_sqlite=True: container
    try:
        listed = runner.invoke(cli.main, ["household", "token", "list", "h1", "--json"])
        tokens = __import__("json").loads(listed.output)
        assert listed.exit_code == 0 and token.startswith(tokens[0]["prefix"])
        made = runner.invoke(cli.main, ["household", "token", "create", "h1", "--label", "cli", "--json"])
        assert made.exit_code == 0 and __import__("json").loads(made.output)["token"].startswith("rpl_")
        refused = runner.invoke(cli.main, ["household", "token", "revoke", "h1", "no-such-token"])
        assert refused.exit_code != 0 and "No live token" in refused.output and "Traceback" not in refused.output
    finally:
        cli._container = original


def test_the_readme_curl_example_places_an_order_though_curl_labels_its_json_as_a_form(client, token):
    # curl -X POST -H 'Authorization: ...' -H 'Idempotency-Key: 1' -d '{"sku": ..., "quantity": 1}' .../v1/orders
    response = client.post("/v1/orders", data=b'{"sku": "TIDE-PODS-42", "quantity": 1}', headers={
        **auth(token), "Idempotency-Key": "1", "Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 201 and response.get_json()["status"] == "order_placed"


def test_every_order_status_is_a_filter_the_api_accepts_and_documents(client, token):
    from replenish.domain.model import OrderStatus
    statuses = sorted(s.value for s in OrderStatus)
    for status in statuses:
        answer = client.get(f"/v1/orders?status={status}", headers=auth(token))
        assert answer.status_code == 200, status
    schemas = client.get("/openapi.json").get_json()["components"]["schemas"]
    order = next(schema for name, schema in schemas.items() if name.startswith("OrderOut"))
    assert order["properties"]["status"]["enum"] == statuses
