"""What every handler needs for one request: the container, the linked household, and the dialog state.

A request interceptor builds the :class:`Turn` once per request (account-linking lookup included) and puts
it in the request attributes; handlers read it with :func:`turn_of`. Responses go through :func:`reply`, the
one place that escapes text for SSML and decides whether the session stays open.

Account linking: the Alexa access token is an OAuth access token from our authorization server
(``replenish.oauth``), never a household API token. It names the household and what the household allowed
(``orders:place``, ``orders:cancel``, ``orders:read``); a handler checks its scope with :meth:`Turn.may`.
"""
from __future__ import annotations

import logging
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from ask_sdk_core.dispatch_components import AbstractRequestInterceptor
from ask_sdk_model.ui import LinkAccountCard, SimpleCard

from replenish.domain.model import PIN_LOCKOUTS, hash_secret

from . import speech
from .linking import already_remembered, remember_alexa_user
from .recommending import TurnRecommendations

log = logging.getLogger(__name__)

TURN = "replenish.turn"
# The turn of the request being answered in this thread/task: VoiceSkill.invoke reads it after the SDK has built
# the response, to hand the dialog state to Alexa when a request without a session opens one.
CURRENT_TURN: ContextVar[Turn | None] = ContextVar("replenish_current_turn", default=None)


@dataclass
class Turn:
    container: Any
    request_id: str
    user_id: str | None
    household_id: str | None = None
    time_zone: str = "UTC"
    has_pin: bool = False
    pin_locked: bool = False
    lockout: int = 0  # how long the PIN lockout lasts, in minutes, when locked
    scopes: frozenset = frozenset()  # what the household allowed the skill when it linked
    session: dict = field(default_factory=dict)
    in_session: bool = True  # False for skill events, AudioPlayer, Messaging, routines' one-shot intents
    speaker: str | None = None  # the recognised voice (context.System.person.personId), if Alexa knew it
    voices_only: bool = False  # the household lets only recognised voices buy
    locale: str = "en-US"
    _recs: TurnRecommendations | None = field(default=None, repr=False)

    @property
    def linked(self) -> bool:
        return self.household_id is not None

    @property
    def household(self) -> str:
        """The linked household's id: what every handler that needs the link acts for (they run only once it is
        known, ``VoiceHandler.handle``)."""
        if self.household_id is None:
            raise RuntimeError("this turn has no linked household")
        return self.household_id

    def may(self, scope: str) -> bool:
        return scope in self.scopes

    @property
    def unrecognised(self) -> bool:
        """The household lets only recognised voices buy, and Alexa did not recognise this one."""
        return self.voices_only and not self.speaker

    @property
    def bus(self):
        return self.container.bus

    @property
    def recs(self) -> TurnRecommendations:
        """The recommender for this household and turn (history read at most once)."""
        if self._recs is None:
            self._recs = TurnRecommendations(self.container.recommendations, self.household)
        return self._recs

    def now(self) -> datetime:
        return self.container.clock()

    def local(self, when: datetime) -> datetime:
        try:
            zone = ZoneInfo(self.time_zone or "UTC")
        except Exception:
            zone = ZoneInfo("UTC")
        return when.astimezone(zone)

    def today(self):
        return self.local(self.now()).date()

    # -- dialog state (session attributes) ---------------------------------------------------------------
    @property
    def state(self) -> dict:
        value = self.session.get("state")
        return value if isinstance(value, dict) else {}

    def set_state(self, step: str, **data) -> None:
        self.session["state"] = {"step": step, **data}

    def clear_state(self) -> None:
        self.session.pop("state", None)


def lockout_minutes(limits) -> int:
    """How long the current voice PIN lockout lasts (the domain's escalation: 15 minutes, an hour, a day)."""
    steps = PIN_LOCKOUTS
    return int(steps[min(max((limits.pin_lockouts or 1) - 1, 0), len(steps) - 1)].total_seconds() // 60)


def turn_of(handler_input) -> Turn:
    return handler_input.attributes_manager.request_attributes[TURN]


class LocalizationInterceptor(AbstractRequestInterceptor):
    """Speech in the request's locale (``request.locale``: "en-GB", "de-DE"...), prices in the store's currency."""

    def __init__(self, container):
        self.currency = container.settings.currency or speech.DEFAULT_CURRENCY

    def process(self, handler_input):
        speech.use_locale(getattr(handler_input.request_envelope.request, "locale", None), self.currency)


class TurnInterceptor(AbstractRequestInterceptor):
    """Resolves the linked household and its scopes from the OAuth access token (live, not revoked) and records
    the Alexa user id for notifications."""

    def __init__(self, container):
        self.container = container

    def process(self, handler_input):
        envelope = handler_input.request_envelope
        system = envelope.context.system if envelope.context else None
        session = envelope.session
        user = getattr(system, "user", None) or (session.user if session else None)
        if session is not None:
            attributes = handler_input.attributes_manager.session_attributes
            if attributes is None:
                attributes = {}
                handler_input.attributes_manager.session_attributes = attributes
        else:
            # Out of session (skill events, AudioPlayer, a routine's one-shot intent): the SDK refuses session
            # attributes, so the dialog state lives here for this request (VoiceSkill hands it on if a session opens).
            attributes = {}
        person = getattr(system, "person", None)
        turn = Turn(self.container, envelope.request.request_id, getattr(user, "user_id", None),
                    session=attributes, in_session=session is not None,
                    speaker=getattr(person, "person_id", None) or None,
                    locale=getattr(envelope.request, "locale", None) or "en-US")
        token = getattr(user, "access_token", None)
        if token:
            self._link(turn, token)
        handler_input.attributes_manager.request_attributes[TURN] = turn
        CURRENT_TURN.set(turn)

    def _link(self, turn: Turn, token: str) -> None:
        now = self.container.clock()
        if len(token) > 512:  # ours are 47 characters; anything this long is not one
            return
        client_id = None
        with self.container.uow() as uow:
            found = uow.oauth.household_for_access_token(hash_secret(token), now)
            if found is None:
                return
            if turn.user_id and not already_remembered(self.container.redis, found[0].id, turn.user_id):
                known = uow.oauth.token_by_access(hash_secret(token), now)  # once per process and household
                client_id = known.client_id if known else None
            household, scope = found
            turn.household_id = household.id
            turn.scopes = frozenset(scope.split())
            turn.time_zone = household.time_zone or "UTC"
            turn.has_pin = household.limits.has_pin
            turn.pin_locked = household.limits.pin_locked(now)
            turn.lockout = lockout_minutes(household.limits) if turn.pin_locked else 0
            turn.voices_only = bool(getattr(household.limits, "recognised_voices_only", False))
        if turn.user_id:
            remember_alexa_user(self.container.redis, turn.household_id, turn.user_id, client_id)


def reply(handler_input, text: str, reprompt: str | None = None, *, card: tuple[str, str] | None = None):
    """Speak ``text``; with a ``reprompt`` the session stays open for an answer, otherwise it ends. A reply that
    asks something always keeps the session open: without a reprompt, its last question is the reprompt."""
    if not reprompt and speech.asks(text):
        reprompt = speech.last_question(text)
    builder = handler_input.response_builder
    builder.speak(escape(text))
    if reprompt:
        builder.ask(escape(reprompt))
    else:
        builder.set_should_end_session(True)
    if card:
        builder.set_card(SimpleCard(title=card[0], content=card[1]))
    return builder.response


def quiet(handler_input):
    """An empty response: what Alexa expects to skill events, AudioPlayer, Messaging and exception reports."""
    return handler_input.response_builder.response


def link_account(handler_input, text: str = speech.LINK_ACCOUNT):
    """Ends the session with a LinkAccount card in the Alexa app: to link, or to link again allowing more."""
    builder = handler_input.response_builder
    builder.speak(escape(text)).set_card(LinkAccountCard())
    builder.set_should_end_session(True)
    return builder.response
