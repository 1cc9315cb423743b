"""One typed Settings (pydantic-settings), read from the environment once by each composition root (the CLI, the
WSGI module, the Celery app, Alembic's env) and passed to whatever needs a setting; no other module reads
``os.environ``. Every field names its environment variable (its alias); a fresh machine needs none of them. A
value that does not parse is refused at start with a ``ConfigError`` naming the variable."""
from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConfigError(ValueError):
    """A setting the product refuses to run with; the message says which and what to do."""


# Values shipped in examples and tutorials: with one of these anyone can sign a session cookie for any household.
PLACEHOLDER_SECRETS = frozenset({"change-me", "changeme", "secret", "dev", "development", "replace-me",
                                 "your-secret-key", "please-change-me", "insecure"})
MIN_SECRET_BYTES = 32


def check_secret_key(value: str) -> None:
    """Refuses a ``REPLENISH_SECRET_KEY`` that is set but guessable: shorter than 32 bytes or a known placeholder.
    (Unset is fine: a random key is made and kept under var/.)"""
    if not value:
        return
    if value.strip().lower() in PLACEHOLDER_SECRETS:
        raise ConfigError("REPLENISH_SECRET_KEY is a placeholder from an example; set it to a long random value "
                          "(python3 -c 'import secrets; print(secrets.token_hex(32))') or leave it empty.")
    if len(value.encode()) < MIN_SECRET_BYTES:
        raise ConfigError(f"REPLENISH_SECRET_KEY is {len(value.encode())} bytes; it must be at least "
                          f"{MIN_SECRET_BYTES} (python3 -c 'import secrets; print(secrets.token_hex(32))'), "
                          "or leave it empty.")



def env(name: str, default: Any, *more: str) -> Any:
    """A field read from the environment variable ``name`` (or, for compatibility, ``more``)."""
    return Field(default, validation_alias=AliasChoices(name, *more), json_schema_extra={"env": name})


RATE = re.compile(r"^\d+(/\d+(\.\d+)?)?$")  # count[/seconds]


class Settings(BaseSettings):
    # Given values only (the composition root passes the environment through ``from_env``): a Settings built in
    # a test from keyword arguments is not changed by whatever the test process's environment holds.
    model_config = SettingsConfigDict(populate_by_name=True, extra="ignore", validate_default=False)

    var_dir: Path = env("REPLENISH_VAR_DIR", Path("var"))
    database_url: str = env("DATABASE_URL", "")  # from_env: sqlite under var_dir when unset
    redis_url: str | None = env("REDIS_URL", None)  # None: the in-process Redis substitute
    broker_url: str = env("BROKER_URL", "memory://")  # from_env: REDIS_URL when unset
    queue_name: str = env("CELERY_QUEUE", "replenish")
    embedded_worker: bool = env("REPLENISH_EMBEDDED_WORKER", True)  # a Celery worker thread inside the server
    fulfillment: str = env("REPLENISH_FULFILLMENT", "sim")  # sim | http
    retailer_url: str | None = env("RETAILER_URL", None)
    retailer_secret: str = env("RETAILER_SECRET", "")
    notifiers: tuple[str, ...] = env("REPLENISH_NOTIFIERS", ())  # extra channels beside the feed: "sns", "alexa"
    aws_region: str = env("AWS_REGION", "us-east-1", "AWS_DEFAULT_REGION")
    sns_endpoint_url: str | None = env("SNS_ENDPOINT_URL", None)
    sim_confirm_delay: float = env("SIM_CONFIRM_DELAY", 5.0)
    sim_ship_delay: float = env("SIM_SHIP_DELAY", 60.0)
    sim_deliver_delay: float = env("SIM_DELIVER_DELAY", 180.0)
    sim_out_of_stock: tuple[str, ...] = env("SIM_OUT_OF_STOCK", ())
    track_interval_seconds: float = env("TRACK_INTERVAL", 10.0)
    relay_interval_seconds: float = env("RELAY_INTERVAL", 10.0)
    relay_grace_seconds: float = env("RELAY_GRACE", 30.0)
    outbox_batch: int = env("OUTBOX_BATCH", 100)
    outbox_linger_seconds: float = env("OUTBOX_LINGER_MS", 0.02)  # the variable is in milliseconds (from_env)
    sweep_interval_seconds: float = env("SWEEP_INTERVAL", 5.0)
    submit_grace_seconds: float = env("SUBMIT_GRACE", 10.0)
    retrain_interval_seconds: float = env("RETRAIN_INTERVAL", 24 * 3600.0)
    sim_submit_latency: float = env("SIM_SUBMIT_LATENCY", 0.0)
    merge_deliveries: bool = env("REPLENISH_MERGE_DELIVERIES", True)  # one retailer order for a household's due orders
    # Orders the store did not answer: tried again after submit_retry_base * 2**n seconds (n: tries so far), at
    # most submit_retry_cap apart, with jitter; failed with a reason the household is told after submit_give_up.
    submit_retry_base: float = env("SUBMIT_RETRY_BASE", 1.0)
    submit_retry_cap: float = env("SUBMIT_RETRY_CAP", 300.0)
    submit_give_up: float = env("SUBMIT_GIVE_UP", 2 * 3600.0)
    delivery_lead_days: float = env("REPLENISH_LEAD_DAYS", 2.0)  # slots reorder this far ahead of run-out
    model_dir: Path = env("REPLENISH_MODEL_DIR", Path("var/models"))  # from_env: under var_dir when unset
    host: str = env("HOST", "127.0.0.1")
    port: int = env("PORT", 8000)
    secret_key: str = env("REPLENISH_SECRET_KEY", "")
    alexa_verify: bool = env("REPLENISH_ALEXA_VERIFY", True)
    alexa_skill_ids: tuple[str, ...] = env("ALEXA_SKILL_IDS", ())
    public_url: str = env("REPLENISH_PUBLIC_URL", "")
    auth_failure_limit: str = env("REPLENISH_AUTH_FAILURE_LIMIT", "10/minute")  # per client address and credential
    metrics_token: str = env("REPLENISH_METRICS_TOKEN", "")  # Bearer token for GET /metrics beyond loopback
    # Requests allowed per button, partner and device, as count/seconds (devices' signed API).
    button_rate: str = env("REPLENISH_BUTTON_RATE", "600/60")
    partner_rate: str = env("REPLENISH_PARTNER_RATE", "12000/60")
    device_rate: str = env("REPLENISH_DEVICE_RATE", "600/60")
    # The skill's credentials for proactive notifications (the "alexa" notifier).
    alexa_client_id: str = env("ALEXA_CLIENT_ID", "")
    alexa_client_secret: str = env("ALEXA_CLIENT_SECRET", "")
    alexa_token_url: str = env("ALEXA_TOKEN_URL", "")  # empty: Amazon's
    alexa_events_url: str = env("ALEXA_EVENTS_URL", "")  # empty: the development endpoint
    currency: str = env("REPLENISH_CURRENCY", "USD")  # the store's prices are in this currency (the skill says it)
    worker_metrics_port: int | None = env("REPLENISH_WORKER_METRICS_PORT", None)  # a worker's own exporter
    worker_metrics_addr: str = env("REPLENISH_WORKER_METRICS_ADDR", "127.0.0.1")

    @field_validator("notifiers", "sim_out_of_stock", "alexa_skill_ids", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(item.strip() for item in value.split(",") if item.strip())
        return value

    @field_validator("button_rate", "partner_rate", "device_rate")
    @classmethod
    def _rate(cls, value: str) -> str:
        if not RATE.match(value.strip()):
            raise ValueError("give requests allowed as count/seconds, e.g. 600/60")
        return value.strip()

    @field_validator("fulfillment")
    @classmethod
    def _fulfillment(cls, value: str) -> str:
        if value not in ("sim", "http"):
            raise ValueError("give sim or http")
        return value

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def embedded(self) -> bool:
        return self.broker_url.startswith("memory://")

    @classmethod
    def env_names(cls) -> dict[str, str]:
        """Each field's environment variable."""
        return {name: _variable(info) for name, info in cls.model_fields.items()}

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The settings from ``env`` (the process environment by default): unset and empty variables take their
        defaults. Raises ``ConfigError`` naming the variable whose value does not parse."""
        env = os.environ if env is None else env
        names = cls.env_names()
        # what the environment says, as text: Settings parses each value into its field's type
        given: dict[str, Any] = {names[f]: env[names[f]] for f in names if env.get(names[f]) not in (None, "")}
        if "AWS_REGION" not in given and env.get("AWS_DEFAULT_REGION"):
            given["AWS_REGION"] = env["AWS_DEFAULT_REGION"]
        var_dir = Path(given.get("REPLENISH_VAR_DIR", "var"))
        database_url = given.get("DATABASE_URL") or f"sqlite:///{var_dir / 'replenish.db'}"
        if database_url.startswith("postgres://"):
            database_url = "postgresql://" + database_url[len("postgres://"):]
        if database_url.startswith("postgresql://"):
            database_url = "postgresql+psycopg://" + database_url[len("postgresql://"):]
        given["DATABASE_URL"] = database_url
        given.setdefault("BROKER_URL", given.get("REDIS_URL") or "memory://")
        given.setdefault("REPLENISH_EMBEDDED_WORKER", str(given["BROKER_URL"].startswith("memory://")))
        given.setdefault("REPLENISH_MODEL_DIR", str(var_dir / "models"))
        try:
            settings = cls(**given)
        except ValidationError as exc:
            raise ConfigError(_problems(exc, given)) from None
        # Values that are clamped rather than refused, as they always were; milliseconds to seconds.
        settings.outbox_batch = max(1, settings.outbox_batch)
        if "OUTBOX_LINGER_MS" in given:
            settings.outbox_linger_seconds = max(0.0, settings.outbox_linger_seconds / 1000)
        settings.submit_retry_base = max(0.01, settings.submit_retry_base)
        settings.submit_retry_cap = max(0.01, settings.submit_retry_cap)
        settings.submit_give_up = max(0.0, settings.submit_give_up)
        settings.delivery_lead_days = max(0.0, settings.delivery_lead_days)
        return settings


def _variable(info: FieldInfo) -> str:
    """The environment variable a field was declared with (``env``)."""
    extra = info.json_schema_extra
    name = extra.get("env") if isinstance(extra, dict) else None
    if not isinstance(name, str):
        raise TypeError("every setting is declared with env(VARIABLE, default)")
    return name


def _problems(exc: ValidationError, given: Mapping[str, str]) -> str:
    lines = []
    for error in exc.errors():
        name = str(error["loc"][0]) if error.get("loc") else "?"
        lines.append(f"{name}={given.get(name, '')!r} is not valid: {error.get('msg', 'invalid value')}")
    return "; ".join(lines)
