from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    container = current_app.extensions["replenish"]
    checks = {}
    try:
        with container.engine.connect() as conn:
            conn.execute(text("select 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        container.redis.ping()
        checks["redis"] = "ok"
    except Exception as exc:  # ordering survives a Redis outage, so this degrades rather than fails
        checks["redis"] = f"error: {type(exc).__name__}"
    ok = checks["database"] == "ok"
    return jsonify({"status": "ok" if ok else "error", "checks": checks,
                    "mode": "embedded" if container.settings.embedded else "services"}), 200 if ok else 503
