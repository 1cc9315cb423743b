"""The worker side's composition: one bootstrapped container per process, made on first use."""
from __future__ import annotations

import threading

_container = None
_lock = threading.Lock()


def set_container(container) -> None:
    global _container
    _container = container


def container():
    global _container
    if _container is None:
        with _lock:
            if _container is None:
                from replenish.bootstrap import bootstrap
                _container = bootstrap()
    return _container


def reset() -> None:
    global _container
    _container = None

