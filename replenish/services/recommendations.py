"""Recommendations for the app: the latest trained model, or baselines from the catalog when there is none."""
from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Callable

log = logging.getLogger(__name__)


class Recommendations:
    def __init__(self, uow_factory: Callable, model_dir: Path, clock: Callable):
        self.uow_factory = uow_factory
        self.model_dir = Path(model_dir)
        self.clock = clock
        self._model = None
        self._lock = threading.Lock()
        self._histories: dict[str, tuple[tuple[int, int], list]] = {}

    @property
    def model(self):
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._load()
        return self._model

    def _load(self):
        from replenish.recommend import Recommender
        model = Recommender.load_latest(self.model_dir) if self.model_dir.exists() else None
        if model is not None:
            return model
        log.info("no trained model in %s: serving catalog baselines", self.model_dir)
        with self.uow_factory() as uow:
            return Recommender.baseline(uow.products.all())

    def reload(self) -> None:
        with self._lock:
            self._model = None

    def history(self, household_id: str):
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

    def resolve(self, household_id: str, phrase: str, k: int = 3):
        return self.model.resolve(phrase, self.history(household_id), k=k, now=self.clock())

    def buy_again(self, household_id: str, k: int = 10):
        return self.model.buy_again(self.history(household_id), k=k, now=self.clock())

    def next_purchase(self, household_id: str, sku: str):
        return self.model.next_purchase(self.history(household_id), sku, now=self.clock())

    def running_low(self, household_id: str, horizon_days: float = 7, k: int = 10):
        return self.model.running_low(self.history(household_id), now=self.clock(), horizon_days=horizon_days, k=k)

    def quantity(self, household_id: str, sku: str) -> int:
        return self.model.quantity(self.history(household_id), sku)

    def retrain(self, progress=None) -> str | None:
        """Fits every model on the stored history and serves the new version from now on."""
        from replenish.recommend import Recommender
        with self.uow_factory() as uow:
            products = uow.products.all()
            if not products:
                return None
            model = Recommender.fit(products, uow.purchases.iter_all(), now=self.clock(), progress=progress)
        version = model.save(self.model_dir)
        with self._lock:
            self._model = model
        return version
