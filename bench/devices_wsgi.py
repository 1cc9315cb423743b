"""The production app with a no-op route, for bench/devices.py only: the cost of the stack with no work behind
it, measured beside the real endpoints. Not mounted in the production app."""
from flask import jsonify

from replenish.web.wsgi import app


@app.get("/_bench/noop")
def noop():
    return jsonify({"status": "ok"})
