"""POST /alexa: the custom skill hosted as a web service.

Every request is verified first (certificate URL and chain, signature, timestamp, skill id) with
``skills.verify.RequestVerifier``; any failure is a 400 with the reason in the log, whatever the request type
(the timestamp may be up to 150 s off, 3,600 s for skill events). A verified envelope whose request type the SDK
cannot read is answered with an empty response (``VoiceSkill.invoke``); only a body that is no envelope is a 400.
The verifier's trust store and
certificate fetcher come from the container (``alexa_cert_store``, ``alexa_fetch_cert``: None for Amazon's), or
a whole verifier from ``app.extensions["alexa.verifier"]``. Its clock is real time: Alexa stamps requests with
real time, whatever clock the domain runs on.
"""
from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from flask import Blueprint, current_app, jsonify, request

from replenish.adapters.clock import system_clock
from skills.skill import EnvelopeError, VoiceSkill
from skills.verify import RequestVerifier, VerificationError

from .auth import container
from .errors import error_body

if TYPE_CHECKING:
    from replenish.bootstrap import Container

log = logging.getLogger(__name__)

bp = Blueprint("alexa", __name__)

_SKILL = "alexa.skill"
_VERIFIER = "alexa.verifier"
_build_lock = threading.Lock()
_warned: set[str] = set()


def _warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        log.warning(message)


def _app_once(key: str, make):
    """One object per app, made on first use (threads of one worker may ask at the same time)."""
    found = current_app.extensions.get(key)
    if found is None:
        with _build_lock:
            found = current_app.extensions.get(key)
            if found is None:
                found = current_app.extensions[key] = make()
    return found


def _skill() -> VoiceSkill:
    return _app_once(_SKILL, lambda: VoiceSkill(container()))


def _verifier() -> RequestVerifier:
    return _app_once(_VERIFIER, lambda: _make_verifier(container()))


def _make_verifier(c: Container) -> RequestVerifier:
    """Amazon's certificate store and fetcher unless the container gives its own (a test's PKI)."""
    skill_ids = tuple(c.settings.alexa_skill_ids or ())
    if c.alexa_fetch_cert is not None:
        return RequestVerifier(c.alexa_cert_store, skill_ids, clock=system_clock, fetch_cert=c.alexa_fetch_cert)
    return RequestVerifier(c.alexa_cert_store, skill_ids, clock=system_clock)


def _reject(reason: str, code: str = "invalid_request"):
    # the reason may quote the body (a parser's message): a line in the log, never the request itself
    log.warning("alexa request rejected: %s", reason if len(reason) <= 200 else reason[:200] + "...")
    return jsonify(error_body(code, "The request could not be verified as coming from Alexa.")), 400


@bp.post("/alexa")
def alexa():
    body = request.get_data(cache=False)
    c = container()
    if c.settings.alexa_verify:
        if not c.settings.alexa_skill_ids:
            # fail closed: without our skill's id, a request signed by Alexa for anybody's skill would pass
            _warn_once("skill_ids", "ALEXA_SKILL_IDS is not set: /alexa refuses every request until it is (or set "
                                    "REPLENISH_ALEXA_VERIFY=0 for local testing only).")
            return _reject("ALEXA_SKILL_IDS is not set", "verification_failed")
        try:
            _verifier().verify(request.headers, body)
        except VerificationError as exc:
            return _reject(exc.reason, "verification_failed")
    else:
        _warn_once("verify", "!!! Alexa request verification is OFF (REPLENISH_ALEXA_VERIFY=false): anyone can "
                             "post to /alexa as any linked household. Never run like this in production. !!!")
    try:
        response = _skill().invoke(body)
    except (EnvelopeError, UnicodeDecodeError) as exc:
        return _reject(str(exc))
    return jsonify(response)
