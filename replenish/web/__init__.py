"""Flask app factory. Views translate HTTP into commands and results back into JSON; no rules live here."""
from __future__ import annotations

import logging
import os
import secrets
import time

from flask import Flask
from flask.json.provider import DefaultJSONProvider

from .errors import add_error_statuses, register_error_handlers

log = logging.getLogger(__name__)

_dashboards_attached: set[int] = set()


def create_app(container=None) -> Flask:
    if container is None:
        from replenish.bootstrap import bootstrap
        container = bootstrap()
    app = Flask(__name__)
    app.json = _SafeJSON(app)
    from replenish.config import check_secret_key
    check_secret_key(container.settings.secret_key)  # before anything is signed with it
    app.config["SECRET_KEY"] = container.settings.secret_key or _local_secret_key(container.settings.var_dir)
    app.config["MAX_CONTENT_LENGTH"] = 1 * 1024 * 1024
    app.extensions["replenish"] = container
    register_error_handlers(app)
    from replenish.observability import web as observability
    observability.install(app)  # request ids, request log lines, HTTP metrics, GET /metrics
    from .dashboard_security import strict_transport_security
    app.after_request(strict_transport_security)  # HSTS when the public URL is https

    from replenish.devices import wiring as devices
    from replenish.lists import wiring as lists
    from replenish.members import wiring as members
    from replenish.oauth import wiring as oauth
    from replenish.pantry import wiring as pantry

    from . import alexa, api, dashboard, health, openapi
    features = (devices, oauth, lists, pantry, members)  # the features with HTTP routes and dashboard pages
    if id(dashboard.bp) not in _dashboards_attached:
        # The features' pages go on the dashboard's blueprint once: Flask takes no new routes on a blueprint
        # after an app first registers it, and tests make many apps from the one module-level blueprint.
        for feature in features:
            feature.attach_dashboard(dashboard.bp)
        _dashboards_attached.add(id(dashboard.bp))
    app.extensions["replenish_dashboard_pages"] = {"available": devices.dashboard_pages_available}
    for feature in features:
        add_error_statuses(app, feature.ERROR_STATUSES)  # the features' errors, at their HTTP statuses
    feature_blueprints = [blueprint for feature in features for blueprint in feature.blueprints()]
    for blueprint in (health.bp, openapi.bp, api.bp, alexa.bp, *feature_blueprints, dashboard.bp):
        app.register_blueprint(blueprint)
    # CSRF on every form POST (the dashboard's, the consent page's, any added later), but not on what a bearer
    # token or a signature authenticates: the household API, Alexa's requests, devices and partners, and the
    # OAuth token endpoints (the client authenticates).
    from replenish.oauth import web as oauth_web

    from .dashboard_security import protect
    protect(app, token_authenticated=(api.bp, alexa.bp, *devices.blueprints(), *lists.blueprints(),
                                      *pantry.blueprints(), *members.blueprints(), oauth_web.token, oauth_web.revoke))
    return app


class _SafeJSON(DefaultJSONProvider):
    """Request bodies parsed with a bound on nesting (``replenish.jsonsafe``): too deep is bad JSON, a 400."""

    def loads(self, s, **kwargs):
        from replenish.jsonsafe import loads
        return loads(s)


def _local_secret_key(var_dir) -> str:
    """Without REPLENISH_SECRET_KEY, one key kept under var/ and shared by every worker process on this
    machine (a key per process would sign a person out whenever another worker answered)."""
    from pathlib import Path
    path = Path(var_dir) / "secret_key"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # another process may be writing it this very moment
            key = path.read_text().strip()
            if key:
                return key
            time.sleep(0.02)
        raise RuntimeError(f"{path} is empty; delete it or set REPLENISH_SECRET_KEY") from None
    except OSError:
        log.warning("could not keep a secret key under %s; sessions last only as long as this process", var_dir)
        return secrets.token_hex(32)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(32))
    return path.read_text().strip()
