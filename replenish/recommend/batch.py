"""JSON-lines batch requests: one request per line in, one answer per line out.

Each line is parsed into a typed request at the edge; a bad line yields an ``error`` answer naming
the problem and the batch carries on with the next line.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from replenish.domain.history import Purchase
from replenish.recommend.profile import Profile
from replenish.recommend.recommender import Candidate, Recommender

MAX_K = 100
CHUNK = 512  # requests answered together
PROFILES = 4096  # household summaries kept for the rest of a batch (a household often asks again)


class BadRequest(ValueError):
    pass


@dataclass(frozen=True)
class ResolveRequest:
    id: str
    household: str
    query: str
    k: int = 3


@dataclass(frozen=True)
class BuyAgainRequest:
    id: str
    household: str
    k: int = 10


@dataclass(frozen=True)
class NextPurchaseRequest:
    id: str
    household: str
    product: str


Request = ResolveRequest | BuyAgainRequest | NextPurchaseRequest


def _text(raw: dict, name: str) -> str:
    value = raw.get(name)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # household ids often arrive as numbers
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"missing or invalid field '{name}'")
    return value.strip()


def _k(raw: dict, default: int) -> int:
    k = raw.get("k", default)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise BadRequest(f"field 'k' must be an integer between 1 and {MAX_K}")
    return k


def parse(line: str) -> Request:
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as e:
        raise BadRequest(f"invalid JSON: {e.msg}") from None
    if not isinstance(raw, dict):
        raise BadRequest("a request must be a JSON object")
    rid = str(raw.get("id", ""))
    kind = raw.get("kind")
    if kind == "resolve":
        return ResolveRequest(rid, _text(raw, "household"), _text(raw, "query"), _k(raw, 3))
    if kind == "buy_again":
        return BuyAgainRequest(rid, _text(raw, "household"), _k(raw, 10))
    if kind == "next_purchase":
        return NextPurchaseRequest(rid, _text(raw, "household"), _text(raw, "product"))
    raise BadRequest(f"unknown kind {kind!r} (expected resolve, buy_again or next_purchase)")


def _results(cands: list[Candidate]) -> list[dict]:
    return [{"product": c.sku, "score": c.score, "reason": c.reason} for c in cands]


def answer(rec: Recommender, req: Request, history: Sequence[Purchase], now: datetime | None = None) -> dict:
    if isinstance(req, ResolveRequest):
        return {"id": req.id, "results": _results(rec.resolve(req.query, history, req.k, now=now))}
    if isinstance(req, BuyAgainRequest):
        return {"id": req.id, "results": _results(rec.buy_again(history, req.k, now=now))}
    if rec.product(req.product) is None or not rec.known[rec.index.row_of[req.product]]:
        raise BadRequest(f"unknown product {req.product!r}")
    t = rec.next_purchase(history, req.product, now=now)
    if t is None:
        raise BadRequest(f"household {req.household} has never bought product {req.product}")
    return {"id": req.id, "days_after_last": t.days_after_last, "low": t.low, "high": t.high}


def _line_id(line: str) -> str | None:
    try:
        raw = json.loads(line)
        return str(raw["id"]) if isinstance(raw, dict) and "id" in raw else None
    except (json.JSONDecodeError, TypeError):
        return None


def run_batch(recommender: Recommender, history_for: Callable[[str], Sequence[Purchase]],
              lines: Iterable[str], chunk: int = CHUNK, now: datetime | None = None) -> Iterator[dict]:
    """One answer per non-blank line, in input order, every one as of ``now`` (read once: a batch is
    one moment, and the same moment an API request at that time would see).

    Lines are taken ``chunk`` at a time: each household's history is fetched and summarised once per
    chunk, and all the chunk's resolve requests are scored together in one pass of array
    operations (per-request numpy overhead, not arithmetic, is what bounds throughput).
    """
    now = now or datetime.now(UTC)
    pending: list[str] = []
    profiles: dict[str, Profile] = {}
    for line in lines:
        if line.strip():
            pending.append(line)
            if len(pending) >= chunk:
                yield from _answer_chunk(recommender, history_for, pending, profiles, now)
                pending = []
    if pending:
        yield from _answer_chunk(recommender, history_for, pending, profiles, now)


def _answer_chunk(rec: Recommender, history_for: Callable[[str], Sequence[Purchase]],
                  lines: list[str], profiles: dict[str, Profile], now: datetime) -> list[dict]:
    out: list[dict | None] = [None] * len(lines)
    resolves: list[tuple[int, ResolveRequest]] = []
    for i, line in enumerate(lines):
        try:
            req = parse(line)
            if isinstance(req, ResolveRequest):
                if req.household not in profiles:
                    if len(profiles) >= PROFILES:
                        profiles.pop(next(iter(profiles)))  # oldest first
                    profiles[req.household] = rec.profile(history_for(req.household))
                resolves.append((i, req))
            else:
                out[i] = answer(rec, req, history_for(req.household), now)
        except BadRequest as e:
            out[i] = {"id": _line_id(line), "error": str(e)}
    if resolves:
        answers = rec.resolve_many([(req.query, profiles[req.household], req.k) for _, req in resolves], now)
        for (i, req), cands in zip(resolves, answers, strict=False):
            out[i] = {"id": req.id, "results": _results(cands)}
    return [answer for answer in out if answer is not None]  # every line has its answer by now
