"""What a linked app may do, and the words a person reads for it."""
from __future__ import annotations

PLACE, CANCEL, READ = "orders:place", "orders:cancel", "orders:read"
# In the order people read them: "Replenish for Alexa wants to: order, cancel, check orders".
WORDS = {PLACE: "order", CANCEL: "cancel", READ: "check orders"}
ALL = tuple(WORDS)
DEFAULT = " ".join(ALL)


def split(scope: str | None) -> list[str]:
    return [s for s in (scope or "").split() if s]


def normalise(scope: str | None) -> str:
    """Space-separated, known order, no repeats."""
    wanted = set(split(scope))
    return " ".join(s for s in ALL if s in wanted)


def unknown(scope: str | None) -> list[str]:
    return [s for s in split(scope) if s not in WORDS]


def in_words(scope: str | None) -> list[str]:
    granted = set(split(scope))
    return [WORDS[s] for s in ALL if s in granted]
