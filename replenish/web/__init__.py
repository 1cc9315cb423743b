"""Flask app factory. Views translate HTTP into commands and results back into JSON; no rules live here."""
from __future__ import annotations

import logging
import secrets

from flask import Flask

from .errors import register_error_handlers

log = logging.getLogger(__name__)


def create_app(container=None) -> Flask:
    if container is None:
        from replenish.bootstrap import bootstrap
        container = bootstrap()
    app = Flask(__name__)
    app.config["SECRET_KEY"] = container.settings.secret_key or secrets.token_hex(32)
    app.config["MAX_CONTENT_LENGTH"] = 1 * 1024 * 1024
    app.extensions["replenish"] = container
    register_error_handlers(app)

    from .api import bp as api_bp
    from .health import bp as health_bp
    app.register_blueprint(health_bp)
    app.register_blueprint(api_bp)
    for module in _optional_blueprints():
        app.register_blueprint(module.bp)
    return app


def _optional_blueprints():
    """Blueprints of channels that are present in this build (voice, buttons, partners, dashboard)."""
    import importlib
    found = []
    for name in ("replenish.web.alexa", "replenish.web.buttons", "replenish.web.partners", "replenish.web.dashboard"):
        try:
            found.append(importlib.import_module(name))
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
    return found
