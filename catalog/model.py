"""The catalog's value types. Pure Python: no framework imports here."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Product:
    """One buyable product (a pack), as the retailer sells it.

    ``category`` is a path with ``/`` separators, coarse to fine, e.g. ``household/laundry/detergent``.
    ``pack_size`` and ``unit`` describe one pack ("42 count", "150 fl oz"); ``price_cents`` is per pack.
    """

    sku: str
    title: str
    brand: str = ""
    category: str = ""
    pack_size: float = 1.0
    unit: str = "count"
    price_cents: int = 0
    available: bool = True
    synonyms: tuple[str, ...] = field(default=())

    @property
    def price(self) -> float:
        return self.price_cents / 100.0

    @property
    def category_leaf(self) -> str:
        return self.category.rsplit("/", 1)[-1] if self.category else ""

    @property
    def size_label(self) -> str:
        size = int(self.pack_size) if float(self.pack_size).is_integer() else self.pack_size
        return f"{size} {self.unit}".strip()
