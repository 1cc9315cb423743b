"""Members by voice: a child's or guest's yes becomes a request for an adult (``ask_approval``, from the order
confirmation in ``ordering``), and adults hear what waits for approval and answer yes or no (ApprovalsIntent).

A recognised voice (``turn.speaker``, Alexa's personId) is a member when the household linked it to one; an
unrecognised voice is the account holder, as it is for every other intent."""
from __future__ import annotations

import logging
from datetime import datetime

from replenish.domain import commands
from replenish.domain.errors import DomainError, LimitExceeded, NotFound, ProductUnavailable
from replenish.members import handlers as members
from replenish.members.model import DecideApproval, RequestApproval, RequestClosed
from replenish.oauth.scopes import PLACE
from replenish.services.ports import PermanentError, TransientError

from .. import dialog, speech
from ..dialog import Say
from .base import VoiceHandler

log = logging.getLogger(__name__)
APPROVE = "approve"  # the dialog step: a pending request was read out, yes approves it and no declines it


def member(turn):
    return members.member_for(turn.container.deps, turn.household_id, turn.speaker)


def spoken(lines: list[dict]) -> str:
    first = speech.short_name(lines[0]["title"]) if lines else ""
    if len(lines) == 1:
        return speech.product_phrase(first, "", lines[0]["quantity"])
    return speech.and_more(first, len(lines) - 1)


def ask_approval(turn, asker) -> Say:
    """The offered product, asked for: adults are told, nothing is ordered."""
    state = turn.state
    item = state["items"][state["index"]]
    quantity = int(state.get("qty") or 1)
    try:
        request = turn.bus.handle(RequestApproval(turn.household_id, asker.id, "voice",
                                                  (commands.LineRequest(item["sku"], quantity),)))
    except DomainError as exc:
        log.info("voice request refused for %s: %s", turn.household_id, exc)
        return dialog.next_candidate(turn, lead=speech.not_ordered())
    turn.clear_state()
    return Say(speech.approval_asked(spoken(request["lines"])))


def decide(turn, approve: bool) -> Say:
    request_id = turn.state.get("request_id")
    turn.clear_state()
    decider = member(turn)
    if decider is not None and decider.asks:
        return Say(speech.approvals_adults_only())
    try:
        result = turn.bus.handle(DecideApproval(turn.household_id, str(request_id or ""), approve,
                                                decider.id if decider else None))
    except (RequestClosed, NotFound):
        return Say(speech.approval_closed())
    except (LimitExceeded, ProductUnavailable, PermanentError, TransientError, DomainError) as exc:
        log.info("approval by voice not placed for %s: %s", turn.household_id, exc)
        return Say(speech.approval_not_placed())
    if approve:
        return Say(speech.approval_approved(result["requested_by"], spoken(result["lines"])))
    return Say(speech.approval_declined(result["requested_by"]))


class ApprovalsIntentHandler(VoiceHandler):
    """"what needs approval": the first request still waiting (the one that expires first), for a yes or no."""

    intent = "ApprovalsIntent"
    scope = PLACE

    def answer(self, turn, handler_input):
        turn.clear_state()
        asker = member(turn)
        if asker is not None and asker.asks:
            return Say(speech.approvals_adults_only())
        pending = members.approvals_view(turn.container.deps, turn.household_id, pending_only=True)
        now = turn.now()
        pending = sorted((r for r in pending if datetime.fromisoformat(r["expires_at"]) > now),
                         key=lambda r: r["created_at"])
        if not pending:
            return Say(speech.approvals_none())
        first = pending[0]
        turn.set_state(APPROVE, request_id=first["id"])
        return Say(speech.approval_pending(first["requested_by"], spoken(first["lines"]), first["total_cents"],
                                           len(pending) - 1))
