"""A small fleet through the whole product: `replenish simulate` (the partner SDK and button clients, signed)
against gunicorn (2 workers) on real PostgreSQL and Redis, with a real `replenish worker` and `replenish beat`
delivering the orders through the simulated store. The same run as the issue's 1000 x 1000 x 60 proof, smaller.
"""
from __future__ import annotations

import sys

import pytest

from replenish.bootstrap import bootstrap
from replenish.config import Settings
from replenish.devices.simulate import run
from tests.conftest import PRODUCTS
from tests.doubles import RecordingQueue

from .services import Process, free_port, wait_until_serving

pytestmark = pytest.mark.integration

FAST_STORE = {"SIM_CONFIRM_DELAY": 0.2, "SIM_SHIP_DELAY": 0.3, "SIM_DELIVER_DELAY": 0.5, "TRACK_INTERVAL": 0.5,
              "SWEEP_INTERVAL": 1, "RELAY_INTERVAL": 1, "RELAY_GRACE": 2, "SUBMIT_GRACE": 2}


def test_a_small_fleet_runs_sixty_days_with_no_error_no_duplicate_no_run_out_and_no_wrong_order(
        pg, redis_url, service_env, processes, tmp_path):
    env = service_env(DATABASE_URL=pg, REDIS_URL=redis_url, BROKER_URL=redis_url, **FAST_STORE)
    container = bootstrap(Settings.from_env(env), queue=RecordingQueue())
    with container.uow() as uow:
        uow.products.upsert_many(PRODUCTS)
        uow.session.commit()
    port = free_port()
    web = Process([sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "replenish.web.wsgi:app"],
                  env, tmp_path / "gunicorn.log")
    try:
        processes("worker", env, "-c", "2")
        processes("beat", env)
        base = f"http://127.0.0.1:{port}"
        wait_until_serving(base)
        report = run(container, base, appliances=12, buttons=12, days=60, seed=3, concurrency=8)
    finally:
        web.kill(15)
        container.engine.dispose()
    assert report["errors"] == 0, report["errors_by_status"]
    assert report["duplicate_orders"] == 0
    assert report["runout_days"] == 0, report["summary"]
    assert report["wrong_orders"] == 0, report["order_reasons"]
    assert report["orders_placed"] >= 12  # every tank was reordered at least once in sixty days
    assert report["button_orders"] > 0
