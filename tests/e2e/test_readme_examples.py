"""The README's examples, run as written: each shell block is taken from README.md itself (so a README edit that
breaks one fails here), with only the port (and, for the real-services block, the database and Redis numbers)
changed so that the test never collides with a server already running on this machine."""
from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.integration.services import (
    PG_ADMIN_DB,
    PG_HOST,
    PG_PORT,
    PG_USER,
    REDIS_HOST,
    REDIS_PORT,
    REDIS_TEST_DB,
    free_port,
    require,
    wait_for,
)

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
README = (ROOT / "README.md").read_text()


def block(containing: str) -> str:
    """The fenced block of README.md that holds ``containing``."""
    for found in re.finditer(r"```(\w*)\n(.*?)```", README, re.DOTALL):
        if containing in found.group(2):
            return found.group(2)
    raise AssertionError(f"README.md has no example containing {containing!r}")


@pytest.fixture
def shell(tmp_path):
    """Runs README lines with bash in a fresh directory, the venv's commands on PATH, on a free port."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "BROKER_URL")}
    env.update(PATH=f"{BIN}:{env.get('PATH', '')}", REPLENISH_VAR_DIR=str(tmp_path / "var"), PORT=str(port),
               PYTHONUNBUFFERED="1")
    started: list[subprocess.Popen] = []

    def run(script: str, background: bool = False, **extra) -> subprocess.CompletedProcess | subprocess.Popen:
        script = script.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
        kwargs = dict(cwd=ROOT, env={**env, **extra}, start_new_session=True)
        if background:
            log = open(tmp_path / f"bg{len(started)}.log", "wb")  # noqa: SIM115  (the child process writes to it for its whole life)
            process = subprocess.Popen(["bash", "-c", script], stdout=log, stderr=subprocess.STDOUT, **kwargs)
            started.append(process)
            return process
        return subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True,
                              timeout=300, **kwargs)

    run.port = port
    run.env = env
    yield run
    for process in started:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)


def _serving(port: int, path: str = "/healthz") -> bool:
    import urllib.request
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:
            return response.status == 200
    except Exception:
        return False


def test_the_quick_start_curl_examples(shell, tmp_path):
    server = shell("replenish serve", background=True)
    log = tmp_path / "bg0.log"
    wait_for(lambda: "demo token:" in log.read_text() or server.poll() is not None, timeout=120,
             what="the server to start")
    token = re.search(r"demo token: (\S+)", log.read_text()).group(1)
    wait_for(lambda: _serving(shell.port), timeout=30, what="healthz")
    example = block("curl -H 'Authorization: Bearer <token>'").replace("<token>", token)
    listed, placed = example.split("\ncurl -X POST")
    assert json.loads(shell(listed).stdout)["orders"] is not None
    answer = shell("curl -s -X POST" + placed)
    assert answer.returncode == 0, answer.stderr
    order = json.loads(answer.stdout)
    assert order["status"] == "order_placed" and order["order"]["lines"][0]["sku"] == "TIDE-PODS-ORIG-42"
    again = json.loads(shell("curl -s -X POST" + placed).stdout)  # the same Idempotency-Key: the same order
    assert again["order_id"] == order["order_id"]


def test_the_recommend_batch_example(shell, tmp_path):
    assert shell("replenish seed-demo").returncode == 0
    (tmp_path / "in.jsonl").write_text(block('"kind": "resolve"'))
    done = shell(f"replenish recommend batch --input {tmp_path / 'in.jsonl'} --output {tmp_path / 'out.jsonl'}")
    assert done.returncode == 0, done.stderr
    answers = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [a["id"] for a in answers] == ["1", "2", "3"]
    assert all("error" not in a for a in answers), answers
    assert answers[0]["results"] and answers[2]["days_after_last"] > 0


def test_the_local_alexa_examples(shell, tmp_path):
    setup = shell(block("replenish oauth-client create --name alexa --redirect-uri https://pitangui"))
    assert setup.returncode == 0, setup.stderr
    assert json.loads(setup.stdout.strip().splitlines()[-1])["access_token"].startswith("rpa_")
    script = block("REPLENISH_ALEXA_VERIFY=0 replenish serve &")
    answer = shell(script + "\nkill %1\n")
    assert answer.returncode == 0, answer.stderr
    reply = json.loads(answer.stdout[answer.stdout.index("{"):])
    speech = reply["response"]["outputSpeech"]["ssml"]
    assert "Should I order it?" in speech and reply["response"]["shouldEndSession"] is False


def test_the_real_services_example(shell, tmp_path):
    require("PostgreSQL", PG_HOST, PG_PORT)
    require("Redis", REDIS_HOST, REDIS_PORT)
    name = f"rpl_readme_{uuid.uuid4().hex[:8]}"
    lines = block("createdb -h 127.0.0.1 -U postgres replenish").replace("/replenish ", f"/{name} ")
    lines = lines.replace(" replenish   #", f" {name}   #").replace("6379/0", f"6379/{REDIS_TEST_DB}")
    setup = [line for line in lines.splitlines() if not line.startswith(("gunicorn", "replenish worker",
                                                                            "replenish beat"))]
    servers = [line.split("#")[0].strip() for line in lines.splitlines() if line.startswith(
        ("gunicorn", "replenish worker", "replenish beat"))]
    assert len(servers) == 3
    admin = create_engine(f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{PG_ADMIN_DB}",
                          isolation_level="AUTOCOMMIT")
    try:
        done = shell("\n".join(setup))
        assert done.returncode == 0, done.stderr
        exports = setup[0]
        queue = f"readme-{uuid.uuid4().hex[:6]}"
        for command in servers:
            shell(f"{exports}\n{command}", background=True, WEB_CONCURRENCY="1", CELERY_QUEUE=queue,
                  SIM_CONFIRM_DELAY="0.2", SUBMIT_GRACE="0", SWEEP_INTERVAL="0.5")
        wait_for(lambda: _serving(shell.port), timeout=120, what="gunicorn")
        made = shell(f"{exports}\nreplenish household create readme --json")
        token = json.loads(made.stdout.strip().splitlines()[-1])["token"]
        shell(f"{exports}\nreplenish seed-demo >/dev/null")  # the catalog
        auth = f"-H 'Authorization: Bearer {token}' -H 'Content-Type: application/json'"
        shell(f"curl -s -X PATCH {auth} -d '{{\"cancel_windows\": {{\"web\": 0}}}}' "
              f"http://127.0.0.1:{shell.port}/v1/household/limits")  # sent at once: no cancel window to wait out
        placed = shell(f"curl -s -X POST {auth} -d '{{\"sku\": \"TIDE-PODS-ORIG-42\", \"quantity\": 1}}' "
                       f"http://127.0.0.1:{shell.port}/v1/orders")
        order_id = json.loads(placed.stdout)["order_id"]

        def status() -> str:
            got = shell(f"curl -s {auth} http://127.0.0.1:{shell.port}/v1/orders/{order_id}")
            return json.loads(got.stdout)["status"]

        wait_for(lambda: status() in ("submitted", "confirmed", "shipped", "delivered"), timeout=120,
                 what="the worker to submit the order")
    finally:
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                         {"n": name})
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()
