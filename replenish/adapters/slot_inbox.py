"""Slot status reports accepted now and applied by a worker (``Prefer: respond-async``): a Redis stream.

A report is telemetry: levels are absolute, so a later report supersedes an earlier one, and the Dash
Replenishment slotStatus call it imitates answers with an empty 200. A partner that does not need the policy's
decision in the answer asks for this path; the web tier then verifies, guards and queues the report (no database
work) and a worker applies it with the synchronous path's rules, in the order received.

Redis streams with a consumer group: an entry stays pending until the worker that read it acknowledges it, and
entries a dead worker left pending are claimed again after ``CLAIM_IDLE_MS``. Adding a report also raises a flag
(as the outbox's drain requests do): only the report that finds it down asks for an apply task.
"""
from __future__ import annotations

import json
import logging
from datetime import datetime

from .redis_store import _text

log = logging.getLogger(__name__)

STREAM = "replenish:slot-reports"
GROUP = "appliers"
FLAG = "replenish:apply-pending:slot-reports"
FLAG_TTL_MS = 5000
CLAIM_IDLE_MS = 30_000
MAX_LENGTH = 1_000_000  # a bound on what an outage of every worker can pile up (approximate trimming)


class SlotReportInbox:
    def __init__(self, redis, stream: str = STREAM, group: str = GROUP):
        self.redis = redis
        self.stream, self.group = stream, group
        self._grouped = False

    @staticmethod
    def _entry(partner_id: str, device_id: str, slot_id: str, report: dict, received_at: datetime) -> dict:
        return {"partner": partner_id, "device": device_id, "slot": slot_id, "body": json.dumps(report),
                "received_at": received_at.isoformat()}

    def add_guarded(self, rates, guard, partner_id: str, device_id: str, slot_id: str, report: dict,
                    received_at: datetime):
        """Queues a report (``report``: the validated body, JSON-ready) once the request's rate limits and replay
        refusal (``guard``: limits, replay key, its expiry) pass, in one round trip (``RateLimiter.guard_then_add``):
        (the guard's decision, whether this report raised the apply flag, so that the caller must ask for an
        apply task). Nothing is queued for a refused request. Raises when Redis does not answer (the caller then
        applies the report at once)."""
        return rates.guard_then_add(*guard, stream=self.stream,
                                    fields=self._entry(partner_id, device_id, slot_id, report, received_at),
                                    max_length=MAX_LENGTH, flag=FLAG, flag_ttl_ms=FLAG_TTL_MS)

    def apply_started(self) -> None:
        """An applier lowers the flag before it reads: a report added after this asks for another applier."""
        self.redis.delete(FLAG)

    def _ensure_group(self) -> None:
        if self._grouped:
            return
        try:
            self.redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except Exception as exc:  # BUSYGROUP: made by another process already
            if "BUSYGROUP" not in str(exc):
                raise
        self._grouped = True

    def take(self, consumer: str, count: int) -> list[tuple[str, dict]]:
        """Up to ``count`` reports for ``consumer``: first any a dead consumer left pending for longer than
        ``CLAIM_IDLE_MS``, then new ones, oldest first."""
        try:
            entries = self._take(consumer, count)
        except Exception as exc:  # NOGROUP: Redis lost the stream (restarted without persistence): make it again
            if "NOGROUP" not in str(exc):
                raise
            self._grouped = False
            entries = self._take(consumer, count)
        return [(_text(entry_id), {_text(k): _text(v) for k, v in fields.items()})
                for entry_id, fields in entries if fields]

    def _take(self, consumer: str, count: int) -> list:
        self._ensure_group()
        claimed = self.redis.xautoclaim(self.stream, self.group, consumer, CLAIM_IDLE_MS, "0-0", count=count)
        entries = list(claimed[1]) if claimed else []
        if len(entries) < count:
            fresh = self.redis.xreadgroup(self.group, consumer, {self.stream: ">"}, count=count - len(entries))
            for _, items in fresh or ():
                entries.extend(items)
        return entries

    def done(self, entry_ids: list[str]) -> None:
        if entry_ids:
            pipe = self.redis.pipeline(transaction=False)
            pipe.xack(self.stream, self.group, *entry_ids)
            pipe.xdel(self.stream, *entry_ids)
            pipe.execute()

    def waiting(self) -> int:
        """Reports queued and not yet applied (read or not)."""
        return int(self.redis.xlen(self.stream))
