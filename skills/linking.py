"""Which Alexa user belongs to which household, kept in Redis for proactive notifications.

A linked request carries both the Alexa user id and an OAuth access token naming the household; the pair is
remembered under ``alexa:user:<household>`` so the Alexa notifier can address the household's devices later.
No table is needed: losing the key only delays notifications until the household next talks to the skill.
"""
from __future__ import annotations

import logging
import threading

log = logging.getLogger(__name__)

_KEY = "alexa:user:{}"
# What this process already wrote (per Redis client), so a busy household costs no Redis write per turn.
_written: dict[tuple[int, str], str] = {}
_lock = threading.Lock()
_MAX_REMEMBERED = 10_000


def alexa_user_key(household_id: str) -> str:
    return _KEY.format(household_id)


def remember_alexa_user(redis, household_id: str, user_id: str) -> None:
    key = (id(redis), household_id)
    with _lock:
        if _written.get(key) == user_id:
            return
    try:
        redis.set(alexa_user_key(household_id), user_id)
    except Exception as exc:  # notifications are a nicety; the spoken answer must not fail for them
        log.warning("could not remember the Alexa user of %s: %s", household_id, exc)
        return
    with _lock:
        if len(_written) >= _MAX_REMEMBERED:
            _written.clear()
        _written[key] = user_id


def forget_written() -> None:
    """Tests: drop the per-process memory of writes."""
    with _lock:
        _written.clear()


def alexa_user_for(redis):
    """``household_id -> Alexa user id or None``, as AlexaNotifier expects."""

    def lookup(household_id: str) -> str | None:
        value = redis.get(alexa_user_key(household_id))
        if value is None:
            return None
        return value.decode() if isinstance(value, bytes) else str(value)

    return lookup
