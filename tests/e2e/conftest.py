"""Fixtures the end-to-end tests share: headless Chromium, a database file the server's threads share, and the
app served by a real werkzeug server in a thread. A module that needs another app overrides ``app`` (the served
one), one that needs other settings overrides ``settings``."""
from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server

from replenish.config import Settings

from .browser import launched


@pytest.fixture(scope="module")
def browser():
    yield from launched()


@pytest.fixture
def settings(tmp_path):
    # A database file rather than memory: the server's threads, the CLI and the test each open their own connection.
    return Settings(var_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'e2e.db'}", model_dir=tmp_path / "models",
                    sim_confirm_delay=60, sim_ship_delay=3600, sim_deliver_delay=7200, track_interval_seconds=30)


@pytest.fixture
def server(app):
    """The ``app`` fixture's app on 127.0.0.1, on a free port; its base URL."""
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(5)
