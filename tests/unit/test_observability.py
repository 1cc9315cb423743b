"""What an operator sees: /metrics (counts of requests and orders, the outbox backlog; not public), /readyz
(names what failed), request ids (echoed, carried into the outbox, on every log line), retailer call counts."""
import io
import json
import logging
import socket

import pytest
from prometheus_client.parser import text_string_to_metric_families

from replenish.observability import logs, metrics
from replenish.web import create_app

TOKEN_HEADER = "Authorization"


def auth(token):
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def client(container):
    return create_app(container).test_client()


def scrape(client, **kwargs) -> dict:
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket is closed


def test_metrics_count_a_placed_order_and_its_http_request(client, token):
    before = scrape(client)
    placed = client.post("/v1/orders", json={"sku": "TIDE-PODS-42", "quantity": 1}, headers=auth(token))
    assert placed.status_code == 201
    after = scrape(client)
    assert value(after, "replenish_order_transitions_total", channel="web", status="placed") == \
        value(before, "replenish_order_transitions_total", channel="web", status="placed") + 1
    key = dict(method="POST", route="/v1/orders", status="201")
    assert value(after, "replenish_http_requests_total", **key) == value(before, "replenish_http_requests_total",
                                                                         **key) + 1
    hist = dict(method="POST", route="/v1/orders")
    assert value(after, "replenish_http_request_duration_seconds_count", **hist) == \
        value(before, "replenish_http_request_duration_seconds_count", **hist) + 1
    # The recording queue handles nothing: the order's event waits in the outbox, and the scrape says so.
    assert value(after, "replenish_outbox_backlog") >= 1
    assert value(after, "replenish_recommender_model_info", version="baseline") == 1


def test_a_404_is_counted_under_one_route_not_per_path(client):
    before = scrape(client)
    assert client.get("/no/such/page/123").status_code == 404
    after = scrape(client)
    key = dict(method="GET", route="(unmatched)", status="404")
    assert value(after, "replenish_http_requests_total", **key) == value(before, "replenish_http_requests_total",
                                                                         **key) + 1
    client.open("/no/such/page/456", method="BREW")  # nor can a made-up method mint a new series
    methods = {labels for (name, labels) in scrape(client) if name == "replenish_http_requests_total"}
    assert not any(("method", "BREW") in labels for labels in methods)
    assert any(("method", "other") in labels for labels in methods)


def test_metrics_are_not_served_beyond_this_machine_without_the_token(container):
    client = create_app(container).test_client()
    remote = {"REMOTE_ADDR": "203.0.113.7"}
    refused = client.get("/metrics", environ_base=remote)
    assert refused.status_code == 403 and refused.get_json()["error"]["field"] == "Authorization"
    # through a proxy on this machine: the real client is elsewhere
    assert client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.7"}).status_code == 403
    container.settings.metrics_token = "m" * 40
    assert client.get("/metrics", environ_base=remote, headers=auth("wrong")).status_code == 403
    assert client.get("/metrics", environ_base=remote, headers=auth("m" * 40)).status_code == 200


def test_readyz_is_ready_when_everything_answers(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ready", "failed": [],
                                   "checks": {"database": "ok", "redis": "ok", "broker": "ok"}}


def test_readyz_names_the_database_when_it_does_not_answer(container):
    from sqlalchemy import create_engine
    container.engine = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/nothing")
    response = create_app(container).test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["failed"] == ["database"] and body["checks"]["database"].startswith("error")


def test_readyz_names_redis_when_it_does_not_answer(container):
    import redis
    container.redis = redis.Redis(port=closed_port(), socket_connect_timeout=0.5, socket_timeout=0.5)
    response = create_app(container).test_client().get("/readyz")
    assert response.status_code == 503 and response.get_json()["failed"] == ["redis"]


def test_readyz_names_the_broker_when_it_does_not_answer(container):
    container.settings.broker_url = f"redis://127.0.0.1:{closed_port()}/0"
    response = create_app(container).test_client().get("/readyz")
    assert response.status_code == 503 and response.get_json()["failed"] == ["broker"]


def test_a_well_formed_request_id_is_echoed_and_a_bad_one_replaced(client):
    assert client.get("/healthz", headers={"X-Request-Id": "abc-123-def-456"}).headers["X-Request-Id"] == \
        "abc-123-def-456"
    replaced = client.get("/healthz", headers={"X-Request-Id": "bad id\"; drop"}).headers["X-Request-Id"]
    assert replaced and " " not in replaced and replaced != "bad id\"; drop"
    generated = {client.get("/healthz").headers["X-Request-Id"] for _ in range(3)}
    assert len(generated) == 3


@pytest.fixture
def json_log():
    """Structured logging to a buffer for the test; the root logger is put back afterwards."""
    root = logging.getLogger()
    saved, level = list(root.handlers), root.level
    buffer = io.StringIO()
    logs.configure(json=True, stream=buffer)
    yield buffer
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved:
        root.addHandler(handler)
    root.setLevel(level)


def test_an_orders_request_id_is_in_its_log_line_and_in_its_outbox_event(client, container, token, json_log):
    placed = client.post("/v1/orders", json={"sku": "TIDE-PODS-42"},
                         headers={**auth(token), "X-Request-Id": "req-order-0001"})
    assert placed.status_code == 201 and placed.headers["X-Request-Id"] == "req-order-0001"
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    request_lines = [line for line in lines if line.get("event") == "request" and line.get("route") == "/v1/orders"]
    assert request_lines and request_lines[-1]["request_id"] == "req-order-0001"
    assert request_lines[-1]["status"] == 201 and request_lines[-1]["level"] == "info"
    with container.uow() as uow:
        timeline = uow.outbox.timeline(placed.get_json()["order_id"])
    assert timeline[0].payload["request_id"] == "req-order-0001"
    # the id stays out of what the household sees
    detail = client.get(f"/v1/orders/{placed.get_json()['order_id']}", headers=auth(token)).get_json()
    assert "request_id" not in json.dumps(detail)


def test_a_one_time_link_is_redacted_from_the_structured_request_log(client, json_log):
    client.get("/dashboard/link/Zq3xYv2JrK8mN0pT4sW6uA")
    assert "Zq3xYv2JrK8mN0pT4sW6uA" not in json_log.getvalue()
    logging.getLogger("test").info("visited /dashboard/link/Zq3xYv2JrK8mN0pT4sW6uA")
    assert "Zq3xYv2JrK8mN0pT4sW6uA" not in json_log.getvalue()
    assert "/dashboard/link/[redacted]" in json_log.getvalue()


def test_retailer_calls_are_timed_and_counted_by_result():
    from replenish.services.ports import TransientError

    class Flaky:
        def __init__(self):
            self.calls = 0

        def submit(self, request):
            self.calls += 1
            if self.calls == 1:
                raise TransientError("refused")
            return "ok"

    gateway = metrics.InstrumentedGateway(Flaky())
    assert getattr(gateway, "submit_many", None) is None  # an optional operation stays absent
    ok = metrics.RETAILER_CALLS.labels(operation="submit", result="ok")._value.get()
    transient = metrics.RETAILER_CALLS.labels(operation="submit", result="transient")._value.get()
    with pytest.raises(TransientError):
        gateway.submit("r")
    assert gateway.submit("r") == "ok"
    assert metrics.RETAILER_CALLS.labels(operation="submit", result="transient")._value.get() == transient + 1
    assert metrics.RETAILER_CALLS.labels(operation="submit", result="ok")._value.get() == ok + 1


def test_a_worker_container_serves_its_own_metrics_on_the_exporter_port():
    import requests
    port = closed_port()
    server = metrics.serve_worker_metrics(port)
    try:
        metrics.CELERY_TASKS.labels(task="workers.tasks.noop", outcome="success").inc()
        body = requests.get(f"http://127.0.0.1:{port}/", timeout=5).text
        assert 'replenish_celery_tasks_total{outcome="success",task="workers.tasks.noop"}' in body or \
            'replenish_celery_tasks_total{task="workers.tasks.noop",outcome="success"}' in body
    finally:
        server.shutdown()
        server.server_close()
