"""The quickstart of the partner SDK's README (``partner-sdk/README.md``), run as written against a live server:
every ``python`` block in order, with the server's URL, a partner's key and secret and fresh link codes put in
for the placeholders."""
import json
import re
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from replenish.adapters.clock import system_clock
from replenish.devices.adapters.webhook_sender import webhook_headers
from replenish.devices.domain import commands as dc
from replenish.web import create_app

README = Path(__file__).resolve().parents[2] / "partner-sdk" / "README.md"
SLOTS = '[{"slot_id": "detergent", "products": ["TIDE-PODS-42"], "capacity": 84, "unit": "count"}]'


@pytest.fixture
def clock():
    return system_clock  # the SDK signs with the wall clock, and the server checks ``created`` against its own


@pytest.fixture
def server(container):
    httpd = make_server("127.0.0.1", 0, create_app(container))  # one request at a time: one SQLite connection
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def test_the_readme_quickstart_runs_as_written(container, server):
    partner = container.bus.handle(dc.CreatePartner("Acme Appliances", "https://acme.example/hooks"))
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert len(blocks) >= 8
    ns = {"__name__": __name__}
    for i, block in enumerate(blocks):
        client = ns.get("client")  # after the rotation, the new key stands in for the placeholders
        code = (block.replace("https://replenish.example", server)
                .replace('"pk_e082..."', repr(client.key_id if client else partner["key_id"]))
                .replace('"sk_8zR0..."', repr(client.secret if client else partner["secret"]))
                .replace('"whsec_MQmi..."', repr(partner["webhook_secret"]))
                .replace("slots=[...]", "slots=" + SLOTS))
        if "link_code" in code:
            ns["link_code"] = container.bus.handle(dc.CreateLinkCode("h1"))["code"]
        exec(compile(code, f"{README.name} python block {i}", "exec"), ns)
        if "app = Flask" in code:  # the webhook handler: what the platform signs passes, tampering does not
            body = json.dumps({"id": "evt_1", "type": "order.placed", "data": {"order_id": "o-1"}}).encode()
            headers = webhook_headers([partner["webhook_secret"]], "msg_1", body, datetime.now(UTC))
            hooks = ns.pop("app").test_client()
            assert hooks.post("/hooks", data=body, headers=headers).status_code == 204
            assert hooks.post("/hooks", data=body + b" ", headers=headers).status_code == 401
    assert ns["answer"]["slot"]["status"]["remainingQuantityInUnit"] == 40
    assert ns["order"]["lines"][0]["sku"] == "TIDE-PODS-42"
    assert ns["client"].key_id == ns["new"]["key_id"] != partner["key_id"]
    assert ns["placed"]["detailCode"] == "TEST_ORDER_PLACED" and ns["client"].test_orders() == []
    with container.uow() as uow:
        assert uow.devices.device(ns["tester"]["device_id"]).status == "deregistered"
