"""The one composition root: web, workers, CLI and tests all get their wired-up objects from here."""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from redis import Redis
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from replenish.adapters import orm
from replenish.adapters.clock import system_clock
from replenish.config import Settings
from replenish.db import make_engine, make_session_factory
from replenish.devices import wiring as devices
from replenish.digest import wiring as digest
from replenish.domain import commands
from replenish.lists import wiring as lists
from replenish.members import wiring as members
from replenish.oauth import wiring as oauth
from replenish.pantry import wiring as pantry
from replenish.services import event_handlers
from replenish.services.event_handlers import EventConsumers
from replenish.services.handlers import COMMAND_HANDLERS as CORE_COMMAND_HANDLERS
from replenish.services.handlers import Deps
from replenish.services.messagebus import MessageBus
from replenish.services.ports import FulfillmentGateway, Locks, Notifier, TaskQueue
from replenish.services.recommendations import Recommendations
from replenish.services.unit_of_work import SqlAlchemyUnitOfWork
from replenish.web.dashboard_security import SESSION_LIFETIME
from replenish.web.sessions import SessionStore

if TYPE_CHECKING:
    from cryptography.x509 import verification as x509v

    from replenish.adapters.simulated_store import SimulatedStore

log = logging.getLogger(__name__)

# The feature packages, in the order their tables are merged (their event consumers run after the core's, in
# this order). Each wiring module declares REPOSITORIES, COMMAND_HANDLERS and EVENT_CONSUMERS.
# members' PlaceOrder (their roles and caps) replaces the core's.
FEATURES = (devices, oauth, lists, pantry, members, digest)


@dataclass
class Container:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    clock: Callable[[], datetime]
    redis: Redis
    deps: Deps
    bus: MessageBus
    recommendations: Recommendations
    sessions: SessionStore  # dashboard sessions, in Redis: a token revoked or rotated anywhere ends them
    store: SimulatedStore | None = None  # the simulated retailer, when it is the gateway
    # Where the Alexa request verifier gets Amazon's signing certificates: None for the real ones (a test gives
    # its own PKI's store and fetcher).
    alexa_cert_store: x509v.Store | None = None
    alexa_fetch_cert: Callable[[str], bytes] | None = None

    def uow(self) -> SqlAlchemyUnitOfWork:
        return self.deps.uow()


def make_redis(settings: Settings) -> Redis:
    if settings.redis_url:
        import redis
        return redis.Redis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=2,
                                    health_check_interval=30)
    import fakeredis
    return fakeredis.FakeRedis()


def make_gateway(settings: Settings, engine: Engine, clock: Callable[[], datetime]) -> FulfillmentGateway:
    if settings.fulfillment == "http":
        from replenish.adapters.http_retailer import HttpRetailer
        if not settings.retailer_url:
            raise RuntimeError("REPLENISH_FULFILLMENT=http needs RETAILER_URL")
        return HttpRetailer(settings.retailer_url, settings.retailer_secret)
    from replenish.adapters.simulated_store import SimulatedStore
    return SimulatedStore(engine, clock, confirm_delay=settings.sim_confirm_delay, ship_delay=settings.sim_ship_delay,
                          deliver_delay=settings.sim_deliver_delay, out_of_stock=settings.sim_out_of_stock,
                          submit_latency=settings.sim_submit_latency)


def make_notifiers(settings: Settings, redis_client: Redis | None = None) -> list[Notifier]:
    notifiers: list[Notifier] = []
    for name in settings.notifiers:
        if name == "sns":
            from replenish.adapters.sns_notifier import SnsNotifier, make_sns_client
            notifiers.append(SnsNotifier(make_sns_client(settings.aws_region, settings.sns_endpoint_url)))
        elif name == "alexa":
            alexa = make_alexa_notifier(settings, redis_client)
            if alexa is not None:
                notifiers.append(alexa)
        else:
            log.warning("unknown notifier %r ignored", name)
    return notifiers


def make_alexa_notifier(settings: Settings, redis_client: Redis | None) -> Notifier | None:
    """Alexa order-status notifications (Proactive Events API), addressed via the Alexa user id that the
    skill stores in Redis under ``alexa:user:<household>`` when a linked request arrives."""
    from skills.linking import alexa_user_for, notifications_allowed
    from skills.proactive import (
        DEVELOPMENT_EVENTS_URL,
        TOKEN_URL,
        AlexaNotifier,
        ProactiveEventsClient,
    )
    client_id, client_secret = settings.alexa_client_id, settings.alexa_client_secret
    if not client_id or not client_secret or redis_client is None:
        log.warning("notifier 'alexa' needs ALEXA_CLIENT_ID, ALEXA_CLIENT_SECRET and Redis: not enabled")
        return None
    client = ProactiveEventsClient(client_id, client_secret, token_url=settings.alexa_token_url or TOKEN_URL,
                                   events_url=settings.alexa_events_url or DEVELOPMENT_EVENTS_URL)
    return AlexaNotifier(client, alexa_user_for(redis_client),
                         allowed=lambda household_id: notifications_allowed(redis_client, household_id))


def make_locks(redis_client: Redis) -> Locks:
    from replenish.adapters.redis_store import RedisLocks
    return RedisLocks(redis_client)


def bootstrap(settings: Settings | None = None, *, clock: Callable[[], datetime] | None = None,
              gateway: FulfillmentGateway | None = None, notifiers: Iterable[Notifier] | None = None,
              queue: TaskQueue | None = None, locks: Locks | None = None, redis_client: Redis | None = None,
              engine: Engine | None = None) -> Container:
    settings = settings or Settings.from_env()
    orm.start_mappers()
    devices.start_mappers()
    clock = clock or system_clock
    engine = engine or make_engine(settings.database_url)
    session_factory = make_session_factory(engine)
    redis_client = redis_client if redis_client is not None else make_redis(settings)
    from replenish.adapters.simulated_store import SimulatedStore
    from replenish.observability import metrics
    from replenish.observability.outbox import ObservedUnitOfWork
    from workers.queue import CeleryQueue
    store = gateway if isinstance(gateway, SimulatedStore) else None
    if gateway is None:  # the retailer calls are timed and counted (a gateway given by a test is left as is)
        built = make_gateway(settings, engine, clock)
        store = built if isinstance(built, SimulatedStore) else None
        gateway = metrics.InstrumentedGateway(built)
    if queue is None:
        queue = CeleryQueue(clock=clock)
    if isinstance(queue, CeleryQueue) and queue.redis is None:  # it coalesces its drain requests in this Redis
        queue.redis = redis_client
    repositories = {name: make for feature in FEATURES for name, make in feature.REPOSITORIES.items()}
    consumers = EventConsumers(event_handlers.EVENT_CONSUMERS, *(feature.EVENT_CONSUMERS for feature in FEATURES))
    command_handlers = {**CORE_COMMAND_HANDLERS}
    for feature in FEATURES:
        command_handlers.update(feature.COMMAND_HANDLERS)
    # Outbox rows carry the request id; committed order events are counted (replenish.observability).
    deps: Deps  # made below, before any unit of work commits
    hooks = (lambda committed: event_handlers.dispatch(committed.to_handle, deps),  # to the queue
             lambda committed: metrics.observe_events(committed.events))  # order transitions counted

    def uow() -> SqlAlchemyUnitOfWork:
        return ObservedUnitOfWork(session_factory, hooks=hooks, repositories=repositories, clock=clock,
                                  needs_handling=consumers.wanted)

    recommendations = Recommendations(uow, settings.model_dir, clock)
    deps = Deps(uow=uow, clock=clock, gateway=gateway,
                notifiers=list(notifiers) if notifiers is not None else make_notifiers(settings, redis_client),
                queue=queue, locks=locks if locks is not None else make_locks(redis_client), settings=settings,
                recommendations=recommendations, consumers=consumers)
    bus = MessageBus(deps, command_handlers, consumers)
    deps.place_order = bus.command_handlers[commands.PlaceOrder]  # features that place orders go through it too
    # Dashboard sessions live in Redis: a token revoked or rotated from anywhere (API, CLI, a worker) ends them.
    sessions = SessionStore(redis_client, SESSION_LIFETIME)
    deps.token_listeners.append(sessions.end_household)
    return Container(settings=settings, engine=engine, session_factory=session_factory, clock=clock,
                     redis=redis_client, deps=deps, bus=bus, recommendations=recommendations, sessions=sessions,
                     store=store)
