"""Which Alexa user belongs to which household, kept in Redis for proactive notifications.

A linked request carries both the Alexa user id and an OAuth access token naming the household; the pair is
remembered under ``alexa:user:<household>`` so the Alexa notifier can address the household's devices later.
No table is needed: losing the key only delays notifications until the household next talks to the skill.
"""
from __future__ import annotations

import json
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


def already_remembered(redis, household_id: str, user_id: str) -> bool:
    with _lock:
        return _written.get((id(redis), household_id)) == user_id


def remember_alexa_user(redis, household_id: str, user_id: str, client_id: str | None = None) -> None:
    key = (id(redis), household_id)
    with _lock:
        if _written.get(key) == user_id:
            return
    try:
        redis.set(alexa_user_key(household_id), user_id)
        redis.set(_LINK.format(user_id), json.dumps({"household": household_id, "client": client_id}))
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


# -- what skill events tell us (keyed by Alexa user id: events name the user, not the household) -------------
# alexa:link:<user>           JSON {"household": id, "client": oauth client id or null}: who to unlink on SkillDisabled
# alexa:consent:<user>        JSON list of permission scopes the user granted (SkillPermissionAccepted/Changed)
# alexa:subscriptions:<user>  JSON list of proactive event names the user subscribed to (ProactiveSubscriptionChanged)
NOTIFICATIONS_PERMISSION = "alexa::devices:all:notifications:write"
_LINK, _CONSENT, _SUBSCRIPTIONS = "alexa:link:{}", "alexa:consent:{}", "alexa:subscriptions:{}"


def _text(value) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


def _read_json(redis, key: str, default):
    raw = _text(redis.get(key))
    if raw is None:
        return default
    try:
        return json.loads(raw)
    except ValueError:
        return default


def record_link(redis, user_id: str, household_id: str, client_id: str | None) -> None:
    """The Alexa user is linked to the household through the OAuth client (SkillAccountLinked, or a turn)."""
    redis.set(_LINK.format(user_id), json.dumps({"household": household_id, "client": client_id}))
    redis.set(alexa_user_key(household_id), user_id)
    with _lock:
        _written[(id(redis), household_id)] = user_id


def link_of(redis, user_id: str) -> dict | None:
    found = _read_json(redis, _LINK.format(user_id), None)
    return found if isinstance(found, dict) and found.get("household") else None


def forget_user(redis, user_id: str) -> str | None:
    """Everything kept about the Alexa user (SkillDisabled); the household it was linked to, if known."""
    link = link_of(redis, user_id)
    keys = [_LINK.format(user_id), _CONSENT.format(user_id), _SUBSCRIPTIONS.format(user_id)]
    household = link["household"] if link else None
    if household and _text(redis.get(alexa_user_key(household))) == user_id:
        keys.append(alexa_user_key(household))
        with _lock:
            _written.pop((id(redis), household), None)
    redis.delete(*keys)
    return household


def record_consent(redis, user_id: str, scopes: list[str]) -> None:
    redis.set(_CONSENT.format(user_id), json.dumps(sorted(set(scopes))))


def consent_of(redis, user_id: str) -> list[str]:
    found = _read_json(redis, _CONSENT.format(user_id), [])
    return found if isinstance(found, list) else []


def record_subscriptions(redis, user_id: str, event_names: list[str]) -> None:
    redis.set(_SUBSCRIPTIONS.format(user_id), json.dumps(sorted(set(event_names))))


def subscriptions_of(redis, user_id: str) -> list[str] | None:
    """The proactive events the user subscribed to; None when no ProactiveSubscriptionChanged was recorded."""
    found = _read_json(redis, _SUBSCRIPTIONS.format(user_id), None)
    return found if isinstance(found, list) else None


def notifications_allowed(redis, household_id: str, event_name: str = "AMAZON.OrderStatus.Updated") -> bool:
    """Whether the proactive notifier may address the household's Alexa user: the user granted the
    notifications permission and, when Amazon told us the subscriptions, subscribed to the event."""
    user = alexa_user_for(redis)(household_id)
    if user is None or NOTIFICATIONS_PERMISSION not in consent_of(redis, user):
        return False
    subscribed = subscriptions_of(redis, user)
    return subscribed is None or event_name in subscribed
