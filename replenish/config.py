"""Settings from environment variables, with embedded defaults (a fresh machine needs none of them)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _float(env, name: str, default: float) -> float:
    raw = env.get(name)
    return float(raw) if raw not in (None, "") else default


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


@dataclass
class Settings:
    var_dir: Path = Path("var")
    database_url: str = ""
    redis_url: str | None = None  # None: the in-process Redis substitute
    broker_url: str = "memory://"
    queue_name: str = "replenish"
    embedded_worker: bool = True  # a Celery worker thread inside the server process
    fulfillment: str = "sim"  # sim | http
    retailer_url: str | None = None
    retailer_secret: str = ""
    notifiers: tuple[str, ...] = ()  # extra channels beside the feed: "sns", "alexa"
    aws_region: str = "us-east-1"
    sns_endpoint_url: str | None = None
    sim_confirm_delay: float = 5.0
    sim_ship_delay: float = 60.0
    sim_deliver_delay: float = 180.0
    sim_out_of_stock: tuple[str, ...] = ()
    track_interval_seconds: float = 10.0
    relay_interval_seconds: float = 10.0
    relay_grace_seconds: float = 30.0
    outbox_batch: int = 100
    outbox_linger_seconds: float = 0.02
    sweep_interval_seconds: float = 5.0
    submit_grace_seconds: float = 10.0
    retrain_interval_seconds: float = 24 * 3600.0
    sim_submit_latency: float = 0.0
    # Orders the store did not answer: tried again after submit_retry_base * 2**n seconds (n: tries so far), at
    # most submit_retry_cap apart, with jitter; failed with a reason the household is told after submit_give_up.
    submit_retry_base: float = 1.0
    submit_retry_cap: float = 300.0
    submit_give_up: float = 2 * 3600.0
    delivery_lead_days: float = 2.0  # how long an order takes to arrive: slots reorder this far ahead of run-out
    model_dir: Path = Path("var/models")
    host: str = "127.0.0.1"
    port: int = 8000
    secret_key: str = ""
    alexa_verify: bool = True
    alexa_skill_ids: tuple[str, ...] = ()
    public_url: str = ""
    auth_failure_limit: str = "10/minute"  # failed authentications per client address and per credential
    metrics_token: str = ""  # Bearer token for GET /metrics from beyond loopback (docs/operations.md)
    extra: dict = field(default_factory=dict)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def embedded(self) -> bool:
        return self.broker_url.startswith("memory://")

    @classmethod
    def from_env(cls, env=None) -> Settings:
        env = os.environ if env is None else env
        var_dir = Path(env.get("REPLENISH_VAR_DIR", "var"))
        database_url = env.get("DATABASE_URL") or f"sqlite:///{var_dir / 'replenish.db'}"
        if database_url.startswith("postgres://"):
            database_url = "postgresql://" + database_url[len("postgres://"):]
        if database_url.startswith("postgresql://"):
            database_url = "postgresql+psycopg://" + database_url[len("postgresql://"):]
        redis_url = env.get("REDIS_URL") or None
        broker_url = env.get("BROKER_URL") or redis_url or "memory://"
        embedded_default = broker_url.startswith("memory://")
        return cls(
            var_dir=var_dir,
            database_url=database_url,
            redis_url=redis_url,
            broker_url=broker_url,
            queue_name=env.get("CELERY_QUEUE", "replenish"),
            embedded_worker=_bool(env.get("REPLENISH_EMBEDDED_WORKER"), embedded_default),
            fulfillment=env.get("REPLENISH_FULFILLMENT", "sim"),
            retailer_url=env.get("RETAILER_URL") or None,
            retailer_secret=env.get("RETAILER_SECRET", ""),
            notifiers=tuple(n for n in env.get("REPLENISH_NOTIFIERS", "").replace(" ", "").split(",") if n),
            aws_region=env.get("AWS_REGION", env.get("AWS_DEFAULT_REGION", "us-east-1")),
            sns_endpoint_url=env.get("SNS_ENDPOINT_URL") or None,
            sim_confirm_delay=_float(env, "SIM_CONFIRM_DELAY", 5.0),
            sim_ship_delay=_float(env, "SIM_SHIP_DELAY", 60.0),
            sim_deliver_delay=_float(env, "SIM_DELIVER_DELAY", 180.0),
            sim_out_of_stock=tuple(s for s in env.get("SIM_OUT_OF_STOCK", "").split(",") if s),
            track_interval_seconds=_float(env, "TRACK_INTERVAL", 10.0),
            relay_interval_seconds=_float(env, "RELAY_INTERVAL", 10.0),
            relay_grace_seconds=_float(env, "RELAY_GRACE", 30.0),
            outbox_batch=max(1, int(_float(env, "OUTBOX_BATCH", 100))),
            outbox_linger_seconds=max(0.0, _float(env, "OUTBOX_LINGER_MS", 20.0) / 1000),
            sweep_interval_seconds=_float(env, "SWEEP_INTERVAL", 5.0),
            submit_grace_seconds=_float(env, "SUBMIT_GRACE", 10.0),
            retrain_interval_seconds=_float(env, "RETRAIN_INTERVAL", 24 * 3600.0),
            sim_submit_latency=_float(env, "SIM_SUBMIT_LATENCY", 0.0),
            submit_retry_base=max(0.01, _float(env, "SUBMIT_RETRY_BASE", 1.0)),
            submit_retry_cap=max(0.01, _float(env, "SUBMIT_RETRY_CAP", 300.0)),
            submit_give_up=max(0.0, _float(env, "SUBMIT_GIVE_UP", 2 * 3600.0)),
            delivery_lead_days=max(0.0, _float(env, "REPLENISH_LEAD_DAYS", 2.0)),
            model_dir=Path(env.get("REPLENISH_MODEL_DIR", str(var_dir / "models"))),
            host=env.get("HOST", "127.0.0.1"),
            port=int(env.get("PORT", "8000")),
            secret_key=env.get("REPLENISH_SECRET_KEY", ""),
            alexa_verify=_bool(env.get("REPLENISH_ALEXA_VERIFY"), True),
            alexa_skill_ids=tuple(s for s in env.get("ALEXA_SKILL_IDS", "").split(",") if s),
            public_url=env.get("REPLENISH_PUBLIC_URL", ""),
            auth_failure_limit=env.get("REPLENISH_AUTH_FAILURE_LIMIT") or "10/minute",
            metrics_token=env.get("REPLENISH_METRICS_TOKEN", ""),
        )
