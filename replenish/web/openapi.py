"""The OpenAPI 3.1 document of the whole HTTP API, generated from the app's routes.

Each API view declares what it takes and what it answers with ``@operation(...)`` (pydantic models for the body,
the query and each status's response; errors share ``Error``). ``document(app)`` walks ``app.url_map`` and reads
those declarations, so a route and its documentation sit side by side and a route that declares nothing is
found by ``undocumented(app)`` (a test fails on it). How to declare a new route: docs/openapi.md.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from flask import Blueprint, Flask, current_app, jsonify
from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict
from pydantic.json_schema import JsonSchemaMode, SkipJsonSchema, models_json_schema

REF = "#/components/schemas/{model}"
Auth = Literal["household", "signature", "oauth_client", "none"]


# -- the shared error shapes -----------------------------------------------------------------------------------
def _omitted() -> Any:
    """A field that is left out, never null, when it has no value (its schema has no default)."""
    return Field(default=None, json_schema_extra=_without_default)


def _without_default(schema: JsonDict) -> None:
    schema.pop("default", None)


class Problem(BaseModel):
    field: str
    message: str


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | SkipJsonSchema[None] = _omitted()
    details: dict[str, Any] | SkipJsonSchema[None] = _omitted()
    problems: list[Problem] | SkipJsonSchema[None] = _omitted()


class Error(BaseModel):
    """Every error of the API: ``{"error": {"code", "message", "field"?}}`` (validation errors list every
    problem too)."""
    error: ErrorDetail


class OAuthError(BaseModel):
    """RFC 6749 section 5.2."""
    error: str
    error_description: str | SkipJsonSchema[None] = _omitted()


class Text(BaseModel):
    """A plain-text body (documented as ``text/plain``)."""
    model_config = ConfigDict(json_schema_extra={"type": "string"})


ERROR_TEXT = {400: "Invalid input (the error names the field)", 401: "Missing or bad credentials or signature",
              404: "Not found", 409: "Conflict with the current state", 410: "Device deregistered",
              422: "Refused (limits, Idempotency-Key reused)", 429: "Too many requests (Retry-After)",
              503: "A dependency is not answering; try again shortly (Retry-After)"}


@dataclass(frozen=True)
class Operation:
    summary: str
    responses: Mapping[int, type[BaseModel] | None]
    auth: Auth = "household"
    body: type[BaseModel] | None = None
    body_required: bool = True
    form: type[BaseModel] | None = None  # application/x-www-form-urlencoded (OAuth endpoints)
    query: type[BaseModel] | None = None
    errors: tuple[int, ...] = ()
    idempotent: bool = False
    path: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    tag: str = ""
    description: str = ""
    content_type: str = "application/json"
    error_model: type[BaseModel] = Error

    def status_codes(self, path_params: bool = False) -> dict[int, type[BaseModel] | None]:
        """Each documented status and its model: the declared ones, then the errors the route's kind gives (a
        route with path parameters can always be a 404)."""
        codes = set(self.errors) | {503}
        if self.auth in ("household", "signature"):
            codes |= {401, 429}
        if self.body is not None or self.form is not None or self.query is not None:
            codes.add(400)
        if path_params:
            codes.add(404)
        return {**dict(self.responses), **{c: Error if c == 503 else self.error_model for c in sorted(codes)
                                           if c not in self.responses}}


def operation(summary: str, responses: Mapping[int, type[BaseModel] | None], *, description: str = "",
              **options: Any) -> Callable:
    """Declares a view's request and responses (``Operation``'s fields); put it right under the route decorator.
    The description defaults to the first paragraph of the view's docstring."""
    def decorate(view):
        view.openapi = Operation(summary, responses, description=description or _first_paragraph(view.__doc__),
                                 **options)
        return view
    return decorate


# Routes whose views live in modules that declare nothing themselves (endpoint -> operation).
DECLARED: dict[str, Operation] = {}


def declare(endpoint: str, op: Operation) -> None:
    DECLARED[endpoint] = op


# Routes that are not the API: HTML pages, files, and Alexa's own signed envelope (its requests come from Alexa
# only, signed with Amazon's certificate chain; its format is the Alexa Skills Kit's, not ours to document).
NOT_API = re.compile(r"^(dashboard[._]|static$|alexa\.|oauth\.authorize$)")


def _first_paragraph(doc: str | None) -> str:
    return " ".join((doc or "").strip().split("\n\n")[0].split())


def _op_of(app: Flask, endpoint: str) -> Operation | None:
    return getattr(app.view_functions.get(endpoint), "openapi", None) or DECLARED.get(endpoint)


def undocumented(app: Flask) -> list[str]:
    """``METHOD /rule`` of every API route without a declaration."""
    return sorted(f"{','.join(sorted((rule.methods or set()) - {'HEAD', 'OPTIONS'}))} {rule.rule}"
                  for rule in app.url_map.iter_rules()
                  if not NOT_API.match(rule.endpoint) and _op_of(app, rule.endpoint) is None)


# -- the document -----------------------------------------------------------------------------------------------
SIGNED = ("RFC 9421 HTTP Message Signature, HMAC-SHA256, covering \"@method\" \"@target-uri\" \"content-digest\" "
          "with created (300 s tolerance), keyid and nonce. A nonce is used once: the byte-identical request again "
          "gets the first answer (Signature-Replayed: true); another request with the nonce is a 401.")
SIGNATURE_HEADERS = [
    {"name": "Signature-Input", "in": "header", "required": True, "description": SIGNED, "schema": {"type": "string"}},
    {"name": "Signature", "in": "header", "required": True, "schema": {"type": "string"}},
    {"name": "Content-Digest", "in": "header", "required": True,
     "description": "RFC 9530: sha-256 of the exact body (of the empty body for a GET).", "schema": {"type": "string"}},
]
IDEMPOTENCY = {"name": "Idempotency-Key", "in": "header", "required": False,
               "description": "The first response is stored for 24 h; the same key with another body is a 422.",
               "schema": {"type": "string", "minLength": 1, "maxLength": 200}}
PATH_PARAM = {"type": "string", "minLength": 1, "maxLength": 64}
SECURITY: dict[Auth, list[dict[str, list[str]]]] = {"household": [{"household": []}], "signature": [{"signature": []}],
            "oauth_client": [{"oauth_client": []}, {}], "none": []}
SECURITY_SCHEMES = {
    "household": {"type": "http", "scheme": "bearer",
                  "description": "A household API token (the dashboard's Settings, or `replenish household token`)."},
    "signature": {"type": "apiKey", "in": "header", "name": "Signature",
                  "description": SIGNED + " keyid: a partner key (pk_...), a device's id (its own routes only) or a "
                                          "button's serial (its own presses only)."},
    "oauth_client": {"type": "http", "scheme": "basic",
                     "description": "OAuth client authentication (RFC 6749 2.3.1): client_secret_basic, or "
                                    "client_id and client_secret in the form (client_secret_post)."},
}
_RULE_PARAM = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def _json_content(ref: str, media: str = "application/json") -> dict:
    return {media: {"schema": {"$ref": ref}}}


def document(app: Flask) -> dict:
    """The OpenAPI 3.1 document of every declared route of ``app``."""
    found = []  # (path, method, rule params, operation)
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        op = None if NOT_API.match(rule.endpoint) else _op_of(app, rule.endpoint)
        if op is None:
            continue
        path = _RULE_PARAM.sub(r"{\1}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((path, method.lower(), _RULE_PARAM.findall(rule.rule), op))
    models: set[tuple[type[BaseModel], JsonSchemaMode]] = set()
    for *_, op in found:
        for model in (op.body, op.form):
            if model is not None:
                models.add((model, "validation"))
        models |= {(model, "serialization") for model in op.status_codes(True).values()
                   if model is not None and model is not Text}
    ordered = sorted(models, key=lambda m: (m[0].__module__, m[0].__qualname__, m[1]))
    refs, top = models_json_schema(ordered, ref_template=REF)
    schemas = dict(top.get("$defs", {}))

    def ref(model: type[BaseModel], mode: JsonSchemaMode) -> str:
        return refs[(model, mode)]["$ref"]

    paths: dict[str, dict] = {}
    for path, method, params, op in found:
        parameters = [{"name": name, "in": "path", "required": True, "schema": dict(op.path.get(name, PATH_PARAM))}
                      for name in params]
        if op.query is not None:
            query = op.query.model_json_schema()
            required = set(query.get("required", ()))
            parameters += [{"name": name, "in": "query", "required": name in required,
                            "schema": {k: v for k, v in schema.items() if k != "title"}}
                           for name, schema in query["properties"].items()]
        if op.auth == "signature":
            parameters += SIGNATURE_HEADERS
        if op.idempotent:
            parameters.append(IDEMPOTENCY)
        responses = {}
        for status, model in op.status_codes(bool(params)).items():
            description = ERROR_TEXT.get(status) if model in (Error, op.error_model) else None
            entry: dict[str, Any] = {"description": description or (model.__doc__ or "").strip().split("\n")[0]
                                     or "OK" if model is not None else "No content"}
            if model is Text:
                entry["content"] = {op.content_type: {"schema": {"type": "string"}}}
            elif model is not None:
                entry["content"] = _json_content(ref(model, "serialization"))
            responses[str(status)] = entry
        spec: dict[str, Any] = {"summary": op.summary, "operationId": f"{method}_{path}".replace("/", "_")
                                .replace("{", "").replace("}", "").replace("-", "_").replace(".", "_"),
                                "security": SECURITY[op.auth], "parameters": parameters, "responses": responses}
        if op.tag:
            spec["tags"] = [op.tag]
        if op.description and op.description != op.summary:
            spec["description"] = op.description
        if op.body is not None:
            spec["requestBody"] = {"required": op.body_required, "content": _json_content(ref(op.body, "validation"))}
        elif op.form is not None:
            spec["requestBody"] = {"required": True, "content": _json_content(
                ref(op.form, "validation"), "application/x-www-form-urlencoded")}
        paths.setdefault(path, {})[method] = spec
    return {
        "openapi": "3.1.0",
        "info": {"title": "Replenish", "version": "1.0.0", "description": (
            "The household API (orders, household settings, tokens, notifications, recommendations, the shopping "
            "list, stock levels), Dash-style buttons, the partner API shaped like the Dash Replenishment API, the "
            "OAuth 2.0 endpoints Alexa account linking uses, and health. Partner and button requests are signed "
            "(RFC 9421). Webhooks to partners follow Standard Webhooks (webhook-id, webhook-timestamp, "
            "webhook-signature with one v1 per live webhook secret). The Alexa endpoint (POST /alexa) takes the "
            "Alexa Skills Kit's signed request envelope and is not described here.")},
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": SECURITY_SCHEMES},
    }


# -- serving it -------------------------------------------------------------------------------------------------
bp = Blueprint("openapi", __name__)


class OpenApiDocument(BaseModel):
    """This document"""
    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]
    components: dict[str, Any]


@bp.get("/openapi.json")
@operation("This OpenAPI document", {200: OpenApiDocument}, auth="none", tag="meta")
def serve():
    cached = current_app.extensions.get("replenish_openapi")
    if cached is None:
        cached = current_app.extensions["replenish_openapi"] = document(current_app)
    return jsonify(cached)


declare("metrics.serve_metrics", Operation(
    "Prometheus metrics (with the metrics token as a Bearer token, or from this machine)", {200: Text},
    auth="none", errors=(403,), content_type="text/plain", tag="meta"))
