"""The composition root wires each container on its own: handlers, consumers and settings are given, not global."""
from __future__ import annotations

from replenish.domain import commands


def test_a_consumer_added_to_one_container_never_runs_in_another(make_container):
    first, second = make_container(), make_container()
    seen: list[str] = []
    first.bus.consumers.table.setdefault("OrderPlaced", []).append(lambda event, uow, deps: seen.append("first"))
    for container in (second, first):
        result = container.bus.handle(commands.PlaceOrder("h1", "web", (commands.LineRequest("CHARMIN-12", 1),)))
        while container.deps.queue.events:
            container.bus.handle_event(container.deps.queue.events.pop(0))
        assert container.bus.uow is container.deps.uow and result.order_id
    assert seen == ["first"]  # the second container's order was handled without the first's consumer


def test_every_feature_consumer_is_wired_by_bootstrap(container):
    consumers = container.bus.consumers
    names = {handler.__name__ for handler in consumers("OrderDelivered")}
    assert {"notify_household", "order_webhook", "stock_delivered"} <= names  # core, devices, pantry
    assert [h.__name__ for h in consumers("OrderPlaced")][:2] == ["schedule_submission", "notify_household"]
    assert not consumers.wanted("OrderSubmitted")  # recorded on the timeline, handled by nobody


def test_domain_errors_know_no_http_and_the_web_maps_every_features_errors(container):
    from replenish.devices.domain.model import DeviceGone, Unauthorized
    from replenish.domain import errors
    from replenish.lists.model import ListChanged
    from replenish.web import create_app
    from replenish.web.errors import status_for

    assert not any(hasattr(cls, "status") for cls in (errors.DomainError, errors.NotFound, DeviceGone, ListChanged))
    app = create_app(container)
    with app.app_context():
        assert [status_for(cls("x")) for cls in (DeviceGone, Unauthorized, ListChanged, errors.UnknownProduct,
                                                 errors.PinLocked, errors.Conflict, errors.DomainError)] == \
            [410, 401, 409, 404, 423, 409, 422]


def _readme_settings_names() -> set[str]:
    import re
    from pathlib import Path

    text = Path(__file__).resolve().parents[2].joinpath("README.md").read_text()
    section = text.split("## Running on real services", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `")]
    return {name for cell in rows for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", cell)}


def test_the_readme_settings_table_names_exactly_the_settings():
    from replenish.config import Settings

    env_names = set(Settings.env_names().values())
    assert _readme_settings_names() - {"AWS_DEFAULT_REGION"} == env_names


def test_defaults_hold_with_an_empty_environment_and_each_variable_is_read():
    from pathlib import Path

    from replenish.config import Settings

    settings = Settings.from_env({})
    assert (settings.database_url, settings.broker_url, settings.embedded_worker, settings.port) == \
        ("sqlite:///var/replenish.db", "memory://", True, 8000)
    settings = Settings.from_env({"REPLENISH_VAR_DIR": "/srv/r", "REDIS_URL": "redis://r:6379/1", "PORT": "8001",
                                  "OUTBOX_LINGER_MS": "50", "REPLENISH_NOTIFIERS": "sns, alexa",
                                  "DATABASE_URL": "postgres://u@db/x", "REPLENISH_BUTTON_RATE": "5/10",
                                  "REPLENISH_ALEXA_VERIFY": "off", "REPLENISH_CURRENCY": "EUR"})
    assert settings.model_dir == Path("/srv/r/models") and settings.broker_url == "redis://r:6379/1"
    assert settings.database_url == "postgresql+psycopg://u@db/x" and not settings.embedded_worker
    assert (settings.port, settings.outbox_linger_seconds, settings.notifiers) == (8001, 0.05, ("sns", "alexa"))
    assert (settings.button_rate, settings.alexa_verify, settings.currency) == ("5/10", False, "EUR")


def test_a_value_that_does_not_parse_is_refused_naming_the_variable():
    import pytest

    from replenish.config import ConfigError, Settings

    for name, value in [("PORT", "http"), ("SIM_SHIP_DELAY", "soon"), ("REPLENISH_BUTTON_RATE", "fast"),
                        ("REPLENISH_ALEXA_VERIFY", "maybe"), ("REPLENISH_FULFILLMENT", "carrier-pigeon")]:
        with pytest.raises(ConfigError, match=f"^{name}="):
            Settings.from_env({name: value})


def test_the_cli_says_which_setting_is_wrong_without_a_traceback(monkeypatch):
    from click.testing import CliRunner

    from replenish.cli import main

    monkeypatch.setenv("SIM_SHIP_DELAY", "soon")
    result = CliRunner().invoke(main, ["migrate"])
    assert result.exit_code == 1
    assert "SIM_SHIP_DELAY='soon' is not valid" in result.output and "Traceback" not in result.output
