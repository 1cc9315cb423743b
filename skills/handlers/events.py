"""Requests that come without a conversation: skill events, exception reports, AudioPlayer, Messaging.

Alexa forbids speech in the answers to all of these; each is answered with an empty response. Skill events
(the manifest subscribes to them) keep what the proactive notifier and account linking need:

- ``AlexaSkillEvent.SkillAccountLinked``: the Alexa user is linked to the household named by the access token
  in the event's body (an OAuth token of ours).
- ``AlexaSkillEvent.SkillDisabled``: the link ends: the OAuth tokens of the client the user linked through
  are revoked for that household, and what was kept about the user (link, consent, subscriptions) is forgotten.
- ``AlexaSkillEvent.SkillPermissionAccepted`` / ``SkillPermissionChanged``: the permission scopes the user
  granted (the notifier needs ``alexa::devices:all:notifications:write``).
- ``AlexaSkillEvent.ProactiveSubscriptionChanged``: the proactive events the user subscribed to.
- ``AlexaSkillEvent.SkillEnabled``: logged (the link comes with SkillAccountLinked).
"""
from __future__ import annotations

import logging

from ask_sdk_core.dispatch_components import AbstractRequestHandler

from replenish.domain.model import hash_secret

from .. import linking
from ..turn import quiet, turn_of

log = logging.getLogger(__name__)

SKILL_EVENT = "AlexaSkillEvent."
# Request types whose answers must not speak (Amazon's request-type references).
QUIET_PREFIXES = (SKILL_EVENT, "AudioPlayer.", "PlaybackController.", "Messaging.", "System.",
                  "Alexa.Presentation.APLT.", "Display.", "GameEngine.", "Reminders.", "Dialog.API.")


def request_type(handler_input) -> str:
    return getattr(handler_input.request_envelope.request, "object_type", "") or ""


def _body(handler_input):
    return getattr(handler_input.request_envelope.request, "body", None)


class _EventHandler(AbstractRequestHandler):
    intent = None  # answers a request type, not an intent
    request_types: tuple[str, ...] = ()

    def can_handle(self, handler_input):
        return request_type(handler_input) in self.request_types

    def handle(self, handler_input):
        turn = turn_of(handler_input)
        redis = turn.container.redis
        if not turn.user_id:
            log.warning("%s without a user id: ignored", request_type(handler_input))
        else:
            self.record(turn, redis, handler_input)
        return quiet(handler_input)

    def record(self, turn, redis, handler_input) -> None:
        raise NotImplementedError


class SkillEnabledHandler(_EventHandler):
    request_types = ("AlexaSkillEvent.SkillEnabled",)

    def record(self, turn, redis, handler_input):
        log.info("skill enabled by an Alexa user (linking follows with SkillAccountLinked)")


class SkillAccountLinkedHandler(_EventHandler):
    request_types = ("AlexaSkillEvent.SkillAccountLinked",)

    def record(self, turn, redis, handler_input):
        token = getattr(_body(handler_input), "access_token", None) or ""
        if not token or len(token) > 512:
            log.warning("SkillAccountLinked without a usable access token: nothing recorded")
            return
        container = turn.container
        with container.uow() as uow:
            found = uow.oauth.token_by_access(hash_secret(token), container.clock())
        if found is None or found.revoked_at is not None:
            log.warning("SkillAccountLinked names an access token we did not issue, or one revoked: not recorded")
            return
        linking.record_link(redis, turn.user_id, found.household_id, found.client_id)
        log.info("Alexa account linked to household %s", found.household_id)


class SkillDisabledHandler(_EventHandler):
    request_types = ("AlexaSkillEvent.SkillDisabled",)

    def record(self, turn, redis, handler_input):
        from replenish.oauth import service
        link = linking.link_of(redis, turn.user_id) or {}
        household, client = link.get("household"), link.get("client")
        token = getattr(getattr(getattr(handler_input.request_envelope.context, "system", None), "user", None),
                        "access_token", None)
        if token and len(token) <= 512:  # a token in the event names the link exactly
            with turn.container.uow() as uow:
                found = uow.oauth.token_by_access(hash_secret(token), turn.container.clock())
            if found is not None:
                household, client = found.household_id, found.client_id
        linking.forget_user(redis, turn.user_id)
        if household and client:
            service.unlink(turn.container, household, client)
            log.info("skill disabled: the Alexa link of household %s ended, its tokens revoked", household)
        elif household:
            log.warning("skill disabled for household %s, but the OAuth client it linked through is unknown: "
                        "tokens expire on their own", household)
        else:
            log.info("skill disabled by an Alexa user with no known link")


class PermissionHandler(_EventHandler):
    request_types = ("AlexaSkillEvent.SkillPermissionAccepted", "AlexaSkillEvent.SkillPermissionChanged")

    def record(self, turn, redis, handler_input):
        body = _body(handler_input)
        scopes = [p.scope for p in (getattr(body, "accepted_permissions", None) or []) if getattr(p, "scope", None)]
        scopes += [p.scope for p in (getattr(body, "accepted_person_permissions", None) or [])
                   if getattr(p, "scope", None)]
        linking.record_consent(redis, turn.user_id, scopes)
        log.info("Alexa permissions now granted: %s", ", ".join(sorted(set(scopes))) or "none")


class ProactiveSubscriptionHandler(_EventHandler):
    request_types = ("AlexaSkillEvent.ProactiveSubscriptionChanged",)

    def record(self, turn, redis, handler_input):
        body = _body(handler_input)
        names = [s.event_name for s in (getattr(body, "subscriptions", None) or []) if getattr(s, "event_name", None)]
        linking.record_subscriptions(redis, turn.user_id, names)
        log.info("proactive subscriptions now: %s", ", ".join(sorted(set(names))) or "none")


class ExceptionEncounteredHandler(AbstractRequestHandler):
    """Alexa reports that our previous response was invalid: log what it says, answer empty (no speech)."""

    intent = None

    def can_handle(self, handler_input):
        return request_type(handler_input) == "System.ExceptionEncountered"

    def handle(self, handler_input):
        request = handler_input.request_envelope.request
        error, cause = getattr(request, "error", None), getattr(request, "cause", None)
        log.warning("Alexa reported an error in our response to %s: %s %s", getattr(cause, "request_id", "?"),
                    getattr(getattr(error, "object_type", None), "value", getattr(error, "object_type", "")),
                    getattr(error, "message", ""))
        return quiet(handler_input)


class QuietRequestHandler(AbstractRequestHandler):
    """AudioPlayer, PlaybackController, Messaging and any other event we do not use: an empty answer."""

    intent = None

    def can_handle(self, handler_input):
        return request_type(handler_input).startswith(QUIET_PREFIXES)

    def handle(self, handler_input):
        log.info("%s answered empty", request_type(handler_input))
        return quiet(handler_input)


def speech_forbidden(handler_input) -> bool:
    """Alexa refuses outputSpeech in the answer to this request type."""
    return request_type(handler_input).startswith(QUIET_PREFIXES)
