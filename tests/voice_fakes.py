"""A small stand-in for ``container.recommendations`` with the recommender's contract, for voice tests.

It resolves phrases by words in the conftest catalog's titles and categories, so a dialog test knows which
candidates come in which order without depending on a trained model.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from replenish.recommend import Candidate, Timing


@dataclass
class FakeRecommendations:
    container: object
    quantities: dict | None = None
    low: list | None = None  # skus running low
    usual: list | None = None  # buy-again skus, best first
    reasons: dict | None = None
    anything: list | None = None  # skus offered for any phrase nothing matches (as a trained model would)
    timings: list | None = None  # Timing rows to answer running_low with, instead of ``low``

    def _products(self):
        with self.container.uow() as uow:
            return uow.products.all()

    def _candidate(self, product, score=0.9, phrase=None):
        reason = (self.reasons or {}).get(product.sku) or (f"the best match for {phrase}" if phrase else
                                                           "you order it often")
        return Candidate(product.sku, score, reason, product)

    def resolve(self, household_id, phrase, k=3):
        words = [w.rstrip("s") for w in phrase.lower().split()]
        found = [p for p in self._products() if p.available and all(
            w in (p.title + " " + p.category).lower() for w in words)]
        # the smaller pack first, as a household's usual would be
        found.sort(key=lambda p: p.price_cents)
        if not found and self.anything:
            by_sku = {p.sku: p for p in self._products()}
            found = [by_sku[s] for s in self.anything if s in by_sku]
        return [self._candidate(p, 0.9 - i * 0.1, phrase) for i, p in enumerate(found[:k])]

    def quantity(self, household_id, sku):
        return (self.quantities or {}).get(sku, 1)

    def buy_again(self, household_id, k=10):
        by_sku = {p.sku: p for p in self._products()}
        return [self._candidate(by_sku[s]) for s in (self.usual or [])[:k] if s in by_sku]

    def running_low(self, household_id, horizon_days=7, k=10):
        if self.timings is not None:
            return list(self.timings)[:k]
        now = self.container.clock()
        return [Timing(sku, 30.0, 25.0, 35.0, now - timedelta(days=28), now + timedelta(days=2))
                for sku in (self.low or [])[:k]]

    def reload(self):
        pass


ALEXA_REDIRECT = "https://pitangui.amazon.com/api/skill/link/M2AAAAAAAAAAAA"


def issue_voice_token(container, household_id: str = "h1", scope: str | None = None, client: str = "alexa") -> dict:
    """An OAuth token response for the household, issued as ``replenish oauth-token`` issues it (the client is
    registered first if it is not yet)."""
    from replenish.oauth import service
    with container.uow() as uow:
        known = uow.oauth.client_named(client) is not None
    if not known:
        service.create_client(container, client, [ALEXA_REDIRECT])
    return service.issue_token(container, household_id, client, scope)


class Conversation:
    """Carries session attributes from one turn to the next, as Alexa does within a session.

    ``send(envelope_dict) -> response envelope dict`` is the transport (the skill directly, or HTTP).
    """

    def __init__(self, send, token: str | None):
        self.send = send
        self.token = token
        self.attributes: dict = {}
        self.last: dict = {}
        self.new = True

    def _turn(self, env: dict) -> dict:
        self.last = self.send(env)
        response = self.last["response"]
        self.attributes = self.last.get("sessionAttributes") or {}
        ended = response.get("shouldEndSession", True) is not False
        self.new = ended
        if ended:
            self.attributes = {}
        return self.last

    def launch(self) -> dict:
        from tests.alexa_certs import launch_request
        return self._turn(launch_request(access_token=self.token, new_session=True))

    def say(self, intent: str, slots: dict | None = None, **kwargs) -> dict:
        from tests.alexa_certs import intent_request
        return self._turn(intent_request(intent, slots, access_token=self.token, new_session=self.new,
                                         attributes=dict(self.attributes), **kwargs))

    @property
    def text(self) -> str:
        ssml = (self.last.get("response", {}).get("outputSpeech") or {}).get("ssml", "")
        return ssml.removeprefix("<speak>").removesuffix("</speak>")

    @property
    def reprompt(self) -> str:
        ssml = ((self.last.get("response", {}).get("reprompt") or {}).get("outputSpeech") or {}).get("ssml", "")
        return ssml.removeprefix("<speak>").removesuffix("</speak>")

    @property
    def open(self) -> bool:
        return self.last["response"].get("shouldEndSession") is False

    @property
    def card(self) -> dict | None:
        return self.last["response"].get("card")
