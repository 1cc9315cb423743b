"""The OpenAPI document is generated from the routes: valid OpenAPI 3.1, every API route in it, and what each
route declares (its request model, its response models, its security) is what the document says."""
from __future__ import annotations

from flask import jsonify
from openapi_spec_validator import validate

from replenish.web.openapi import document, operation, undocumented


def test_the_document_is_valid_openapi_3_1_and_served_as_generated(app):
    served = app.test_client().get("/openapi.json")
    assert served.status_code == 200 and served.mimetype == "application/json"
    assert served.get_json() == document(app)
    assert served.get_json()["openapi"] == "3.1.0"
    validate(served.get_json())  # raises on any violation of the OpenAPI 3.1 schema


def test_every_api_route_of_the_app_is_documented(app):
    assert undocumented(app) == []
    paths = document(app)["paths"]
    documented = {(method.upper(), path) for path, ops in paths.items() for method in ops}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith(("dashboard", "static", "alexa")) or rule.endpoint == "oauth.authorize":
            continue
        path = rule.rule.replace("<", "{").replace(">", "}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (method, path) in documented, f"{method} {rule.rule} is not in the OpenAPI document"
    assert not any(path.startswith(("/dashboard", "/static", "/alexa")) for path in paths)
    assert "/oauth/authorize" not in paths  # the consent page is HTML for a person, not API


def test_a_route_that_declares_nothing_is_caught(app):
    """What the test above relies on: an API route added without a declaration is reported, not skipped."""
    app.add_url_rule("/v1/forgotten", "forgotten", lambda: jsonify({}))
    assert undocumented(app) == ["GET /v1/forgotten"]
    declared = operation("Remembered", {200: None}, auth="none")(lambda: jsonify({}))
    app.add_url_rule("/v1/remembered", "remembered", declared)
    assert "/v1/remembered" in document(app)["paths"]
    assert undocumented(app) == ["GET /v1/forgotten"]


def test_requests_and_responses_come_from_the_views_models(app):
    from replenish.web.api import OrdersOut, PlaceOrderIn
    doc = document(app)
    schemas = doc["components"]["schemas"]
    place = doc["paths"]["/v1/orders"]["post"]
    assert place["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PlaceOrderIn"}
    assert set(schemas["PlaceOrderIn"]["properties"]) == set(PlaceOrderIn.model_fields)
    assert set(place["responses"]) >= {"200", "201", "400", "401", "422", "429"}
    assert place["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PlacedOut"}
    assert {p["name"] for p in place["parameters"]} == {"Idempotency-Key"}
    listing = doc["paths"]["/v1/orders"]["get"]
    assert {p["name"]: p["in"] for p in listing["parameters"]} == {"status": "query", "limit": "query"}
    assert set(schemas["OrdersOut"]["properties"]) == set(OrdersOut.model_fields)
    # every error of the API is the one error shape
    assert place["responses"]["401"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    assert schemas["ErrorDetail"]["required"] == ["code", "message"]
    assert "field" in schemas["ErrorDetail"]["properties"]


def test_security_follows_who_may_call(app):
    doc = document(app)
    paths = doc["paths"]
    assert set(doc["components"]["securitySchemes"]) == {"household", "signature", "oauth_client"}
    assert paths["/v1/orders"]["get"]["security"] == [{"household": []}]
    assert paths["/v1/stock"]["get"]["security"] == [{"household": []}]
    press = paths["/v1/buttons/{serial}/press"]["post"]
    assert press["security"] == [{"signature": []}]
    assert {"Signature", "Signature-Input", "Content-Digest"} <= {p["name"] for p in press["parameters"]}
    assert paths["/v1/partner/keys"]["get"]["security"] == [{"signature": []}]
    assert paths["/healthz"]["get"]["security"] == []
    token = paths["/oauth/token"]["post"]
    assert list(token["requestBody"]["content"]) == ["application/x-www-form-urlencoded"]
    assert token["responses"]["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/OAuthError"}
    assert list(paths["/metrics"]["get"]["responses"]["200"]["content"]) == ["text/plain"]
    assert "content" not in paths["/v1/list/{item_id}"]["delete"]["responses"]["204"]
