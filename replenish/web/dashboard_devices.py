"""Dashboard pages for buttons and appliances, when those modules are part of this build."""
from __future__ import annotations

import importlib

from flask import render_template

from . import dashboard_security as security

NEEDS = {
    "buttons": ("replenish.domain.devices", "replenish.services.device_handlers",
                "replenish.adapters.device_repository"),
    "appliances": ("replenish.domain.devices", "replenish.services.device_handlers",
                   "replenish.adapters.device_repository"),
}


def available() -> dict[str, bool]:
    found = {}
    for page, modules in NEEDS.items():
        try:
            for name in modules:
                importlib.import_module(name)
            found[page] = True
        except ImportError:
            found[page] = False
    return found


def _register(bp) -> None:
    @bp.get("/buttons")
    @security.login_required
    def buttons():
        return render_template("dashboard/unavailable.html", page="buttons", what="Buttons"), 200

    @bp.get("/appliances")
    @security.login_required
    def appliances():
        return render_template("dashboard/unavailable.html", page="appliances", what="Appliances"), 200


def init(bp) -> None:
    _register(bp)
