"""Shared fixtures: a container on an in-memory SQLite database with a hand-moved clock."""
from __future__ import annotations

import contextlib
import sqlite3
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.pool import StaticPool

from catalog.model import Product
from replenish.adapters import orm
from replenish.adapters.clock import ManualClock
from replenish.config import Settings
from replenish.db import make_engine
from replenish.domain import commands


class FakeLocks:
    def __init__(self):
        self.held: list[str] = []

    @contextlib.contextmanager
    def hold(self, name: str, timeout: float = 10.0, **_):
        self.held.append(name)
        yield


PRODUCTS = [
    Product("TIDE-PODS-42", "Tide PODS Laundry Detergent, 42 Count", "Tide", "household/laundry/detergent", 42,
            "count", 1299),
    Product("TIDE-PODS-81", "Tide PODS Laundry Detergent, 81 Count", "Tide", "household/laundry/detergent", 81,
            "count", 2299),
    Product("CHARMIN-12", "Charmin Ultra Soft Toilet Paper, 12 Mega Rolls", "Charmin", "paper/toilet paper", 12,
            "rolls", 1899),
    Product("BRITA-FILTER-3", "Brita Standard Water Filter, 3 Pack", "Brita", "appliance/water filters", 3,
            "count", 1699, available=False),
    Product("TV-65", "Big Television 65 inch", "Acme", "electronics/tv", 1, "count", 99900),
]


@pytest.fixture
def clock():
    return ManualClock(datetime(2026, 3, 10, 15, 0, tzinfo=UTC))


@pytest.fixture
def settings(tmp_path):
    return Settings(var_dir=tmp_path, database_url="sqlite://", model_dir=tmp_path / "models",
                    sim_confirm_delay=60, sim_ship_delay=3600, sim_deliver_delay=7200, track_interval_seconds=30)


@pytest.fixture(scope="session")
def empty_schema():
    """The schema made once per test process, in an in-memory SQLite database each test's database copies."""
    import replenish.bootstrap  # noqa: F401 - the features' tables are on the metadata once it is imported
    template = sqlite3.connect(":memory:", check_same_thread=False)
    orm.metadata.create_all(create_engine("sqlite://", creator=lambda: template, poolclass=StaticPool))
    return template


def copy_of(template: sqlite3.Connection) -> Engine:
    """A new in-memory database holding what ``template`` holds (SQLite's backup API, far quicker than making the
    tables again), on the pool ``make_engine`` gives an in-memory URL."""
    connection = sqlite3.connect(":memory:", check_same_thread=False)
    template.backup(connection)
    return create_engine("sqlite://", creator=lambda: connection, poolclass=StaticPool)


@pytest.fixture
def make_container(settings, clock, empty_schema):
    """Builds a container; ``queue`` defaults to a recorder the test drives by hand."""
    from replenish.bootstrap import bootstrap
    from tests.doubles import RecordingQueue

    def build(queue=None, **overrides):
        orm.start_mappers()
        if settings.database_url == "sqlite://":
            engine = copy_of(empty_schema)
        else:  # a module that needs a database file (a server in another thread or process reads it too)
            engine = make_engine(settings.database_url)
            orm.metadata.create_all(engine)
        container = bootstrap(settings, clock=clock, queue=queue or RecordingQueue(), locks=FakeLocks(),
                              engine=engine, **overrides)
        with container.uow() as uow:
            uow.products.upsert_many(PRODUCTS)
            uow.session.commit()
        container.bus.handle(commands.CreateHousehold("h1", "Test Household", "1 Main St", "America/New_York"))
        return container

    return build


@pytest.fixture
def container(make_container):
    return make_container()


@pytest.fixture
def token(container):
    return container.bus.handle(commands.IssueToken("h1"))


@pytest.fixture
def voice_token(container):
    """What Alexa presents for h1 once linked: an OAuth access token with every voice scope."""
    from tests.voice_fakes import issue_voice_token
    return issue_voice_token(container)["access_token"]


@pytest.fixture
def app(container):
    """The web app on the test's container (a module needing another app defines its own)."""
    from replenish.web import create_app
    return create_app(container)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def signed_in(client, token):
    """A browser signed in to the dashboard with h1's token, and the CSRF token its forms carry."""
    from tests.dashboard_forms import sign_in
    return client, sign_in(client, token)


@pytest.fixture
def cli_env(tmp_path, monkeypatch):
    """A fresh, embedded environment for the `replenish` command: no services and no keys from the shell."""
    monkeypatch.setenv("REPLENISH_VAR_DIR", str(tmp_path / "var"))
    for name in ("DATABASE_URL", "REDIS_URL", "BROKER_URL", "REPLENISH_PUBLIC_URL", "REPLENISH_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


@pytest.fixture
def fake(container):
    """The skill's recommender, answering from the test catalog (a module needing other answers overrides it)."""
    from tests.voice_fakes import FakeRecommendations
    container.recommendations = FakeRecommendations(container)
    return container.recommendations


@pytest.fixture
def skill(container, fake):
    from skills.linking import forget_written
    from skills.skill import VoiceSkill
    forget_written()
    return VoiceSkill(container)


@pytest.fixture
def talk(skill, voice_token):
    """A conversation with the skill, as Alexa carries it from turn to turn."""
    from tests.voice_fakes import Conversation
    return Conversation(skill.invoke, voice_token)

