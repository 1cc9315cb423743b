"""Recommendations for the app: the latest model trained on *this* database, else baselines from its catalog.

Every answer -- API, voice, dashboard, buttons, appliances and ``recommend batch`` -- goes through this
one object: one model, one clock, one history cache, one catalog filter. Which model that is:

- models live in ``<model_dir>/<database slug>/`` (see ``replenish.recommend.identity``): a model
  trained on another ``DATABASE_URL`` is never even looked at;
- the model's recorded fingerprint must match the database (same database, history not replaced);
  otherwise baselines are served and ``status()`` (for ``/healthz``) and one log line say why;
- answers only ever name SKUs of the current catalog (``Recommender.restrict_to``);
- a newer model trained by another process (``replenish recommend train``, the worker) is picked up
  within ``CHECK_SECONDS``, as is a change to the catalog.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from cachetools import TTLCache

if TYPE_CHECKING:
    from replenish.domain.history import Purchase
    from replenish.recommend import Recommender
    from replenish.recommend.recommender import Candidate, Timing

    from .unit_of_work import SqlAlchemyUnitOfWork

log = logging.getLogger(__name__)

CHECK_SECONDS = 60.0  # how often the served model is checked against the database and the model store
ZONE_SECONDS = 300.0  # how long a household's time zone is kept (a household seldom moves)


class Recommendations:
    def __init__(self, uow_factory: Callable[[], SqlAlchemyUnitOfWork], model_dir: Path,
                 clock: Callable[[], datetime], check_seconds: float = CHECK_SECONDS,
                 timer: Callable[[], float] = time.monotonic):
        self.uow_factory = uow_factory
        self.root_dir = Path(model_dir)
        self.clock = clock
        self.check_seconds = check_seconds
        self._timer = timer  # seconds, for what is kept a while (the served model's checks, time zones)
        self._model: Recommender | None = None
        self._lock = threading.Lock()
        self._histories: dict[str, tuple[tuple[int, int], list[Purchase]]] = {}
        self._zones: TTLCache[str, ZoneInfo] = TTLCache(maxsize=4096, ttl=ZONE_SECONDS, timer=timer)
        self._zones_lock = threading.Lock()
        self._status: dict[str, Any] = {"model": "not loaded"}
        self._checked_at = 0.0
        # (pointer text, catalog stamp) the served model was made for
        self._seen: tuple[str, tuple[int, str]] | None = None
        self._said: set[str] = set()  # reasons already logged (a log line once, not once per request)
        self._model_dir: Path | None = None
        self._trained_max_id = 0  # newest purchase the served model was trained on (0: baseline)

    # -- which model -----------------------------------------------------------------------------
    @property
    def model_dir(self) -> Path:
        """This database's model directory."""
        if self._model_dir is None:
            from replenish.recommend.identity import database_identity, slug
            with self.uow_factory() as uow:
                self._model_dir = self.root_dir / slug(database_identity(uow.session))
        return self._model_dir

    @property
    def model(self) -> Recommender:
        if self._model is None or self._timer() - self._checked_at > self.check_seconds:
            with self._lock:
                if self._model is None:
                    self._model = self._load()
                elif self._timer() - self._checked_at > self.check_seconds:
                    self._recheck()
                model = self._model
        else:
            model = self._model
        return model

    def _pointer(self) -> str:
        from replenish.recommend.store import POINTER
        try:
            return (self.model_dir / POINTER).read_text().strip()
        except OSError:
            return ""

    def _recheck(self) -> None:
        """Reload when another process trained a newer model or the catalog changed (cheap queries)."""
        from replenish.recommend.identity import catalog_stamp, history_row_exists
        self._checked_at = self._timer()
        try:
            with self.uow_factory() as uow:
                stamp = catalog_stamp(uow.session)
                history_kept = history_row_exists(uow.session, self._trained_max_id)
        except Exception:
            log.exception("could not check the recommender model against the database; keeping the one served")
            return
        if self._seen != (self._pointer(), stamp) or not history_kept:
            self._model = self._load()

    def _load(self) -> Recommender:
        from replenish.recommend import Recommender
        from replenish.recommend.identity import Fingerprint, current, verdict
        from replenish.recommend.store import read_latest_meta
        self._checked_at = self._timer()
        pointer = self._pointer()
        with self.uow_factory() as uow:
            now = current(uow.session)
            catalog = uow.products.all()
            meta = read_latest_meta(self.model_dir) if pointer else None
            trained = Fingerprint.from_dict(meta.get("fingerprint")) if meta is not None else None
            if meta is None:
                kind, why = "none", f"no trained model for this database in {self.model_dir}"
            else:
                kind, why = verdict(trained, now, uow.session)
        self._seen = (pointer, (now.products, now.sku_hash))
        self._trained_max_id = 0
        on_catalog = {p.sku: p.available for p in catalog}
        # served only when trained on this database (``verdict`` says so only for a fingerprint it was given)
        if meta is not None and trained is not None and kind in ("ok", "catalog_changed"):
            model = Recommender.load_latest(self.model_dir)
            if model is not None:
                self._trained_max_id = trained.history_max_id
                if kind == "catalog_changed":
                    self._say(f"recommender: model {meta.get('version')}: {why}")
                self._status = {"model": "learned", "reason": kind, "detail": why, "version": meta.get("version"),
                                "trained_until": meta.get("trained_until"), "model_dir": str(self.model_dir)}
                return model.restrict_to(on_catalog)
            kind, why = "unreadable", f"the model in {self.model_dir} could not be loaded (see the log): retrain it"
        self._say(f"recommender: serving catalog baselines: {why}")
        self._status = {"model": "baseline", "reason": kind, "detail": why,
                        "version": meta.get("version") if meta else None, "model_dir": str(self.model_dir)}
        return Recommender.baseline(catalog)

    def _say(self, line: str) -> None:
        if line not in self._said:
            self._said.add(line)
            log.warning(line)

    def status(self) -> dict[str, Any]:
        """What the recommender serves and why, for ``/healthz``: ``{"model": "learned" | "baseline",
        "reason": ..., "detail": ..., "version": ..., "loaded": bool}``. Cheap and never raises: before
        the model is loaded it reads only the model's metadata and the database's fingerprint."""
        try:
            if self._model is not None:
                self.model  # noqa: B018 (re-checks if due)
                return {**self._status, "loaded": True}
            return {**self._preview(), "loaded": False}
        except Exception as exc:  # the health page reports it rather than failing
            return {"model": "error", "detail": f"{type(exc).__name__}"}

    def _preview(self) -> dict[str, Any]:
        from replenish.recommend.identity import Fingerprint, current, verdict
        from replenish.recommend.store import read_latest_meta
        meta = read_latest_meta(self.model_dir) if self._pointer() else None
        if meta is None:
            return {"model": "baseline", "reason": "none", "detail": f"no trained model for this database in "
                    f"{self.model_dir}", "version": None, "model_dir": str(self.model_dir)}
        with self.uow_factory() as uow:
            kind, why = verdict(Fingerprint.from_dict(meta.get("fingerprint")), current(uow.session), uow.session)
        return {"model": "learned" if kind in ("ok", "catalog_changed") else "baseline", "reason": kind,
                "detail": why, "version": meta.get("version"), "model_dir": str(self.model_dir)}

    def reload(self) -> None:
        with self._lock:
            self._model = None

    # -- per household -----------------------------------------------------------------------------
    def history(self, household_id: str) -> list[Purchase]:
        """A household's purchases, cached until one is added (a cheap count-and-newest-id check)."""
        with self.uow_factory() as uow:
            stamp = uow.purchases.stamp(household_id)
            cached = self._histories.get(household_id)
            if cached is not None and cached[0] == stamp:
                return cached[1]
            history = uow.purchases.for_household(household_id)
        if len(self._histories) >= 2048:  # bounded: drop an arbitrary old entry
            self._histories.pop(next(iter(self._histories)))
        self._histories[household_id] = (stamp, history)
        return history

    def _zone(self, household_id: str) -> ZoneInfo:
        """The household's time zone (kept a few minutes: a household seldom moves)."""
        with self._zones_lock:
            zone = self._zones.get(household_id)
        if zone is None:
            from replenish.domain.model import zone as zone_of
            with self.uow_factory() as uow:
                household = uow.households.get(household_id)
                zone = zone_of(household.time_zone if household is not None else None)
            with self._zones_lock:
                self._zones[household_id] = zone
        return zone

    def _read_by(self, model: Recommender, household_id: str, history: list[Purchase], now: datetime
                 ) -> list[Purchase]:
        """The household's history, its profile marked with the household's calendar (its reasons say
        dates as the household reads them)."""
        if history:
            model.profile(history).memo["reader"] = (self._zone(household_id), now)
        return history

    def resolve(self, household_id: str, phrase: str, k: int = 3, now: datetime | None = None) -> list[Candidate]:
        model, now = self.model, now or self.clock()
        return model.resolve(phrase, self._read_by(model, household_id, self.history(household_id), now), k=k,
                             now=now)

    def buy_again(self, household_id: str, k: int = 10, now: datetime | None = None) -> list[Candidate]:
        model, now = self.model, now or self.clock()
        return model.buy_again(self._read_by(model, household_id, self.history(household_id), now), k=k, now=now)

    def next_purchase(self, household_id: str, sku: str, now: datetime | None = None) -> Timing | None:
        return self.model.next_purchase(self.history(household_id), sku, now=now or self.clock())

    def running_low(self, household_id: str, horizon_days: float = 7, k: int = 10, now: datetime | None = None
                    ) -> list[Timing]:
        return self.model.running_low(self.history(household_id), now=now or self.clock(),
                                      horizon_days=horizon_days, k=k)

    def forecast(self, household_id: str, k: int = 12, now: datetime | None = None) -> list[Timing]:
        """Every product the household still buys regularly, soonest run-out first (the dashboard chart)."""
        return self.model.forecast(self.history(household_id), now=now or self.clock(), k=k)

    def quantity(self, household_id: str, sku: str) -> int:
        return self.model.quantity(self.history(household_id), sku)

    def batch(self, lines: Iterable[str], now: datetime | None = None) -> Iterator[dict[str, Any]]:
        """``recommend batch``: the same model, clock and histories as every other answer (one moment for
        the whole batch: the clock is read once)."""
        from replenish.recommend.batch import BadRequest, run_batch
        model, now = self.model, now or self.clock()
        known: set[str] = set()

        def history_for(household_id: str) -> list[Purchase]:
            # a mistyped id is an error on its line, not a stranger's cold-start answer (asked only of ids
            # with no purchases: one with a history is known, and a batch holds many)
            history = self.history(household_id)
            if not history and household_id not in known:
                with self.uow_factory() as uow:
                    if uow.households.get(household_id) is None:
                        raise BadRequest(f"there is no household {household_id!r}")
                known.add(household_id)
            return self._read_by(model, household_id, history, now)

        return run_batch(model, history_for, lines, now=now)

    def retrain(self, progress: Callable[[str, float], None] | None = None) -> str | None:
        """Fits every model on the stored history and serves the new version from now on."""
        from replenish.recommend import Recommender
        from replenish.recommend.identity import current
        from replenish.recommend.training import StoredHistory
        with self.uow_factory() as uow:
            products = uow.products.all()
            if not products:
                return None
            fingerprint = current(uow.session)  # before reading: rows added meanwhile are newer than it
            history = StoredHistory(uow.purchases.chunks, uow.purchases.count())
            model = Recommender.fit(products, history, now=self.clock(), progress=progress)
        model.meta["fingerprint"] = {**fingerprint.as_dict(), "history_rows": int(model.meta.get("n_purchases", -1))}
        version = model.save(self.model_dir)
        with self._lock:
            self._model = None
            self._model = self._load()
        return version
