"""Synthetic shopping histories in the Instacart layout, for tests and offline evaluation.

Each household has an order cadence and a set of needs (milk, detergent, ...), each consumed on its own
cycle. For each need it keeps a habit (brand, variant, pack size) that it mostly follows but sometimes
breaks: it tries other products, occasionally switches for good, and some needs are bought in two
variants on separate cycles. Baskets also carry impulse buys. Popularity is skewed (Zipf) so the most
popular product is often *not* the one a given household buys -- as in real shopping.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from catalog.instacart import Order, write_dataset

# (department, aisle, head noun, base interval days, brands, variants, sizes, need popularity)
NEEDS: list[tuple[str, str, str, float, str, str, str, float]] = [
    ("dairy eggs", "milk", "Milk", 6, "Horizon|Organic Valley|Lactaid|Fairlife|Darigold|Great Value",
     "Whole|2% Reduced Fat|1% Lowfat|Fat Free|Organic Whole|Chocolate", "64 oz|128 oz", 5),
    ("dairy eggs", "soy lactosefree", "Almond Milk", 8, "Silk|Almond Breeze|Califia Farms|Elmhurst",
     "Unsweetened|Original|Vanilla|Unsweetened Vanilla", "64 oz|32 oz", 2),
    ("dairy eggs", "soy lactosefree", "Oat Milk", 8, "Oatly|Planet Oat|Chobani", "Original|Extra Creamy|Barista",
     "64 oz|32 oz", 1.5),
    ("dairy eggs", "eggs", "Eggs", 9, "Vital Farms|Eggland's Best|Pete and Gerry's|Great Value",
     "Large Brown|Large White|Organic Free Range|Pasture Raised", "12 ct|18 ct", 4),
    ("dairy eggs", "yogurt", "Greek Yogurt", 5, "Chobani|Fage|Oikos|Siggi's",
     "Plain|Vanilla|Strawberry|Blueberry|Honey", "5.3 oz|32 oz", 3),
    ("dairy eggs", "cheese", "Cheddar Cheese", 14, "Tillamook|Cabot|Kraft|Sargento",
     "Sharp|Medium|Extra Sharp|Shredded Mild", "8 oz|16 oz", 2.5),
    ("dairy eggs", "butter", "Butter", 20, "Kerrygold|Land O Lakes|Challenge", "Salted|Unsalted", "8 oz|16 oz", 2),
    ("bakery", "bread", "Bread", 7, "Dave's Killer Bread|Nature's Own|Arnold|Pepperidge Farm",
     "Whole Wheat|White|Multigrain|Sourdough|Honey Wheat", "20 oz|24 oz", 4),
    ("produce", "fresh fruits", "Bananas", 5, "Organic|Dole|Chiquita", "Bunch of|Bag of", "1 ct", 6),
    ("produce", "fresh fruits", "Strawberries", 6, "Driscoll's|Organic|Naturipe", "Fresh|Whole", "16 oz|32 oz", 3),
    ("produce", "fresh fruits", "Apples", 9, "Organic|Washington", "Honeycrisp|Gala|Fuji|Granny Smith",
     "3 lb|1 ct", 3),
    ("produce", "fresh vegetables", "Avocado", 6, "Organic|Mission", "Hass|Large Hass", "1 ct|4 ct", 3.5),
    ("produce", "packaged vegetables fruits", "Baby Spinach", 7, "Organic Girl|Earthbound Farm|Taylor Farms",
     "Organic|Fresh", "5 oz|10 oz", 3),
    ("beverages", "water seltzer sparkling water", "Sparkling Water", 10, "LaCroix|Bubly|Perrier|Spindrift",
     "Lime|Grapefruit|Lemon|Pure|Mango", "12 pack|8 pack", 3),
    ("beverages", "coffee", "Ground Coffee", 18, "Starbucks|Peet's|Folgers|Dunkin",
     "Medium Roast|Dark Roast|French Roast|Breakfast Blend", "12 oz|24 oz", 3),
    ("beverages", "juice nectars", "Orange Juice", 9, "Tropicana|Simply|Florida's Natural|Minute Maid",
     "No Pulp|Pulp Free|Some Pulp|Calcium", "52 oz|89 oz", 2.5),
    ("beverages", "soft drinks", "Soda", 12, "Coca Cola|Pepsi|Sprite|Dr Pepper", "Classic|Zero Sugar|Diet|Cherry",
     "12 pack|2 l", 2),
    ("pantry", "cereal", "Cereal", 14, "Cheerios|Kellogg's|Post|Kashi", "Honey Nut|Original|Frosted|Multigrain",
     "12 oz|18 oz", 2.5),
    ("pantry", "dry pasta", "Pasta", 16, "Barilla|De Cecco|Banza|Ronzoni", "Spaghetti|Penne|Rotini|Whole Grain Penne",
     "16 oz", 2),
    ("pantry", "spreads", "Peanut Butter", 25, "Jif|Skippy|Smucker's|Justin's", "Creamy|Crunchy|Natural Creamy",
     "16 oz|40 oz", 2),
    ("snacks", "chips pretzels", "Tortilla Chips", 10, "Tostitos|Late July|Mission|Siete",
     "Restaurant Style|Lime|Sea Salt|Multigrain", "13 oz", 2.5),
    ("snacks", "cookies cakes", "Cookies", 12, "Oreo|Chips Ahoy|Tate's|Pepperidge Farm",
     "Chocolate Chip|Double Stuf|Oatmeal Raisin|Sandwich", "13 oz", 2),
    ("snacks", "candy chocolate", "Milk Chocolate Bar", 20, "Hershey's|Lindt|Ghirardelli|Cadbury",
     "Classic|Almond|Caramel", "1.5 oz|4 oz", 1),
    ("meat seafood", "poultry counter", "Chicken Breast", 7, "Perdue|Tyson|Bell & Evans|Foster Farms",
     "Boneless Skinless|Organic Boneless|Thin Sliced", "1 lb|2 lb", 3),
    ("meat seafood", "meat counter", "Ground Beef", 9, "Laura's Lean|Organic Prairie|Butcher's Choice",
     "85% Lean|93% Lean|80% Lean|Grass Fed", "1 lb", 2),
    ("household", "laundry", "Laundry Detergent", 30, "Tide|Gain|Persil|Seventh Generation|all",
     "Original|Free & Clear|Plus Bleach|Lavender|Pods Original|Pods Spring Meadow", "92 oz|150 oz|42 ct", 2.5),
    ("household", "dish detergents", "Dishwasher Detergent", 28, "Cascade|Finish|Seventh Generation",
     "Platinum Pacs|Complete Gel|Quantum Tabs|Free & Clear Packs", "48 ct|75 ct", 2),
    ("household", "dish detergents", "Dish Soap", 25, "Dawn|Palmolive|Seventh Generation|Mrs. Meyer's",
     "Ultra Original|Lemon|Free & Clear|Basil", "19 oz|38 oz", 2),
    ("household", "paper goods", "Toilet Paper", 21, "Charmin|Cottonelle|Scott|Angel Soft",
     "Ultra Soft|Ultra Strong|Clean Care|1000 Sheets", "12 rolls|24 rolls|6 rolls", 3),
    ("household", "paper goods", "Paper Towels", 24, "Bounty|Viva|Brawny|Scott",
     "Select-A-Size|Full Sheet|Choose-A-Sheet",
     "6 rolls|12 rolls", 2.5),
    ("household", "cleaning products", "All Purpose Cleaner", 40, "Lysol|Clorox|Method|Mrs. Meyer's",
     "Lemon|Lavender|Free & Clear", "32 oz", 1.5),
    ("household", "trash bags liners", "Trash Bags", 35, "Glad|Hefty|Great Value",
     "ForceFlex Tall Kitchen|Ultra Strong|Compostable",
     "40 ct|80 ct", 1.5),
    ("personal care", "oral hygiene", "Toothpaste", 40, "Colgate|Crest|Sensodyne|Tom's of Maine",
     "Whitening|Total|Cavity Protection|Fluoride Free", "4 oz|6 oz", 1.5),
    ("personal care", "hair care", "Shampoo", 45, "Pantene|Head & Shoulders|Dove|Suave",
     "Daily Moisture|Classic Clean|Volume",
     "12 oz|25 oz", 1.2),
    ("personal care", "soap", "Hand Soap", 30, "Softsoap|Method|Dial|Mrs. Meyer's",
     "Lavender|Aloe|Sea Minerals|Unscented",
     "7.5 oz|50 oz", 1.5),
    ("babies", "diapers wipes", "Diapers", 10, "Pampers|Huggies|Honest|Luvs",
     "Swaddlers Size 3|Little Movers Size 4|Baby Dry Size 2",
     "84 ct|124 ct", 0.6),
    ("pets", "cat food care", "Cat Litter", 18, "Tidy Cats|Fresh Step|Arm & Hammer", "Clumping|Lightweight|Unscented",
     "20 lb|35 lb", 0.8),
    ("pets", "dog food care", "Dog Food", 25, "Purina|Blue Buffalo|Pedigree", "Adult Chicken|Lamb & Rice|Puppy",
     "15 lb|30 lb", 0.8),
]


@dataclass
class Habit:
    """A household's ongoing purchase of one need: its favourite product(s) and consumption cycle."""

    products: np.ndarray           # indices into the need's product list (all that exist)
    favourite: int
    interval: float
    loyalty: float
    due: float = 0.0
    tried: list[int] = field(default_factory=list)


def build_catalog(rng: np.random.Generator) -> tuple[list[tuple[int, str, str, str]], list[np.ndarray], np.ndarray]:
    """(rows for products.csv, product ids per need, popularity weight per product id)."""
    rows: list[tuple[int, str, str, str]] = []
    by_need: list[np.ndarray] = []
    pop: list[float] = []
    for dept, aisle, head, _, brands, variants, sizes, _ in NEEDS:
        ids = []
        combos = [(b, v, s) for b in brands.split("|") for v in variants.split("|") for s in sizes.split("|")]
        keep = rng.permutation(len(combos))[: max(6, int(len(combos) * 0.8))]  # not every combination exists
        for rank, c in enumerate(keep):
            b, v, s = combos[c]
            pid = len(rows) + 1
            rows.append((pid, f"{b} {v} {head}, {s}", dept, aisle))
            ids.append(pid)
            pop.append(1.0 / (rank + 1) ** 0.9)  # Zipf-like: a few products dominate each need
        by_need.append(np.array(ids))
    return rows, by_need, np.r_[0.0, pop]


def _pick(rng: np.random.Generator, ids: np.ndarray, pop: np.ndarray) -> int:
    w = pop[ids]
    return int(rng.choice(ids, p=w / w.sum()))


def _habits(rng: np.random.Generator, by_need: list[np.ndarray], pop: np.ndarray, scale: float) -> list[Habit]:
    need_w = np.array([n[7] for n in NEEDS], dtype=float)
    n_needs = int(rng.integers(6, 20))
    chosen = rng.choice(len(NEEDS), size=min(n_needs, len(NEEDS)), replace=False, p=need_w / need_w.sum())
    habits = []
    for n in chosen:
        ids = by_need[n]
        copies = 2 if rng.random() < 0.25 else 1  # some households keep two variants of one thing
        for _ in range(copies):
            interval = NEEDS[n][3] * scale * rng.lognormal(0, 0.35) * copies
            habits.append(Habit(ids, _pick(rng, ids, pop), interval, float(rng.beta(6, 1.8)),
                                due=float(rng.uniform(0, interval))))
    return habits


def _choose(rng: np.random.Generator, h: Habit, pop: np.ndarray) -> int:
    if rng.random() < h.loyalty:
        return h.favourite
    if h.tried and rng.random() < 0.4:
        return int(rng.choice(h.tried))  # back to something tried before
    pid = _pick(rng, h.products, pop)
    h.tried.append(pid)
    if rng.random() < 0.2:
        h.favourite = pid  # switched for good
    return pid


# How many orders a household places: "wide" (the default; 6 to 69, evenly) or "instacart", shaped like the
# users of Instacart's 2017 data set (4 to 100 orders each, 16.6 on average, most of them few: 3 plus a
# geometric count, capped at 100), so that 206,209 households make about its 3.4M orders and 33M lines.
ORDER_COUNTS = ("wide", "instacart")
INSTACART_MEAN_ORDERS = 16.59  # 3,421,083 orders / 206,209 users


def _order_count(rng: np.random.Generator, shape: str) -> int:
    if shape == "instacart":
        return int(min(100, 3 + rng.geometric(1 / (INSTACART_MEAN_ORDERS - 3))))
    return int(rng.integers(6, 70))


def simulate_household(rng: np.random.Generator, by_need: list[np.ndarray], pop: np.ndarray, orders: str = "wide"
                       ) -> list[tuple[float, list[int]]]:
    """[(days since previous order, product ids)] for one household."""
    cadence = float(rng.uniform(4, 18))
    habits = _habits(rng, by_need, pop, scale=float(rng.lognormal(0, 0.25)))
    all_ids = np.arange(1, pop.size)
    n_orders = _order_count(rng, orders)
    day, out = 0.0, []
    for i in range(n_orders):
        gap = 0.0 if i == 0 else float(min(30, max(1, round(rng.gamma(4, cadence / 4)))))
        day += gap
        basket = set()
        horizon = day + cadence * 0.6  # buy what will run out before the next order, roughly
        for h in habits:
            if h.due <= horizon and rng.random() > 0.08:  # sometimes forgotten
                basket.add(_choose(rng, h, pop))
                h.due = day + h.interval * rng.lognormal(0, 0.25)
        for _ in range(int(rng.poisson(1.2))):  # impulse buys
            basket.add(_pick(rng, all_ids, pop))
        if basket:
            out.append((gap, sorted(basket)))
    return out


def generate(households: int, out_dir: str | os.PathLike, seed: int = 0,
             progress: Callable[[str, float], None] | None = None, order_counts: str = "wide") -> None:
    if order_counts not in ORDER_COUNTS:
        raise ValueError(f"order_counts is one of {', '.join(ORDER_COUNTS)}")
    rng = np.random.default_rng(seed)
    rows, by_need, pop = build_catalog(rng)

    def orders():
        oid = 0
        for u in range(1, households + 1):
            hist = simulate_household(rng, by_need, pop, order_counts)
            for n, (gap, basket) in enumerate(hist, 1):
                oid += 1
                yield Order(oid, u, n, None if n == 1 else gap, tuple(basket),
                            "train" if n == len(hist) else "prior",
                            int(rng.integers(0, 7)), int(rng.integers(7, 22)))
            if progress is not None and u % 500 == 0:
                progress("synth", u / households)

    write_dataset(out_dir, rows, orders())
    if progress is not None:
        progress("synth", 1.0)
