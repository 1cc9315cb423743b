"""The web side: a request id for every request (the client's ``X-Request-Id`` if well formed, else a new one;
sent back in the response), one structured log line per request, HTTP metrics, and ``GET /metrics``.

``/metrics`` is not public: it answers a request bearing ``Authorization: Bearer <REPLENISH_METRICS_TOKEN>``
(when that is set; compared in constant time), or one from this machine's loopback address that did not come
through a proxy (no ``X-Forwarded-For`` / ``Forwarded``). Anything else gets a 403 naming ``Authorization``."""
from __future__ import annotations

import hmac
import ipaddress
import logging
import time

from flask import Blueprint, Response, current_app, g, jsonify, request

from . import logs, metrics

log = logging.getLogger("replenish.http")
bp = Blueprint("metrics", __name__)


def install(app) -> None:
    app.before_request(_start)
    app.after_request(_finish)
    app.teardown_request(_forget)
    app.register_blueprint(bp)


def _start() -> None:
    logs.clear()
    g.request_started = time.perf_counter()
    g.request_id = logs.accept_request_id(request.headers.get(logs.REQUEST_ID_HEADER))
    logs.bind(request_id=g.request_id)


def _route() -> str:
    rule = request.url_rule
    return rule.rule if rule is not None else "(unmatched)"  # the template, never the path: no ids, no secrets


def _finish(response):
    request_id = getattr(g, "request_id", None)
    if request_id:
        response.headers[logs.REQUEST_ID_HEADER] = request_id
    started = getattr(g, "request_started", None)
    if started is None:
        return response
    elapsed = time.perf_counter() - started
    route = _route()
    method = request.method if request.method in _METHODS else "other"  # a client cannot mint label values
    metrics.HTTP_REQUESTS.labels(method=method, route=route, status=str(response.status_code)).inc()
    metrics.HTTP_LATENCY.labels(method=method, route=route).observe(elapsed)
    if route not in _QUIET_ROUTES or response.status_code >= 400:
        log.info("request", extra={"method": method, "route": route, "status": response.status_code,
                                   "duration_ms": round(elapsed * 1000, 1)})
    return response


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_QUIET_ROUTES = {"/healthz", "/readyz", "/metrics"}  # probes every few seconds would drown the log


def _forget(_exc=None) -> None:
    logs.clear()


def _loopback(address: str | None) -> bool:
    try:
        return ipaddress.ip_address(address or "").is_loopback
    except ValueError:
        return False


def metrics_allowed() -> bool:
    container = current_app.extensions["replenish"]
    token = container.settings.metrics_token
    if token:
        header = request.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() == "bearer" and given:
            return hmac.compare_digest(given.strip().encode(), token.encode())
        # no token given: still fine from loopback, below
    return _loopback(request.remote_addr) and "X-Forwarded-For" not in request.headers \
        and "Forwarded" not in request.headers


@bp.get("/metrics")
def serve_metrics():
    if not metrics_allowed():
        return jsonify({"error": {"code": "forbidden", "field": "Authorization",
                                  "message": "Metrics need the metrics token (REPLENISH_METRICS_TOKEN) as a "
                                             "Bearer token, or a request from this machine."}}), 403
    container = current_app.extensions["replenish"]
    return Response(metrics.render(container), mimetype=metrics.CONTENT_TYPE)
