"""Purchase history: what a household bought, when, and how many packs."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Purchase:
    """One line of one past order. ``household_id`` and ``sku`` are external ids (strings).

    ``ordered_at`` is timezone-aware UTC. ``order_ref`` groups lines bought together (one basket).
    """

    household_id: str
    sku: str
    ordered_at: datetime
    quantity: int = 1
    order_ref: str = ""
