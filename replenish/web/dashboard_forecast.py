"""The forecast page's data and chart geometry: run-out predictions and past purchases on one time axis.

The chart is plain SVG drawn by a template from the numbers computed here (no chart library): one lane per
regular consumable, with its past purchases as dots, the predicted run-out date as a marker and the
model's interval as a band, and a line for today.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from replenish.domain.model import as_utc

log = logging.getLogger(__name__)

SOON_DAYS = 7
# Below this chance that the household still buys an overdue item, the page asks whether it is still needed
# instead of saying it has probably run out (it may have been dropped, or bought elsewhere).
DOUBTFUL = 0.7
CHART_LANES = 12
WIDTH = 640
PAD_X = 14
AXIS_H = 30
LANE_H = 52


@dataclass
class Item:
    sku: str
    title: str
    last_purchased_at: datetime
    expected_at: datetime
    low_at: datetime
    high_at: datetime
    days_after_last: float
    soon: bool
    overdue: bool
    purchases: list = field(default_factory=list)  # (ordered_at, quantity)
    available: bool = True
    still_buying: float = 1.0  # the model's chance that the household still buys it

    @property
    def doubtful(self) -> bool:
        """Overdue, and the household may well have stopped buying it."""
        return self.overdue and self.still_buying < DOUBTFUL


@dataclass
class Forecast:
    items: list[Item]
    soon: list[Item]
    history_count: int
    error: str | None = None


def build(recommendations, uow, household_id: str, now: datetime, *, soon_days: int = SOON_DAYS,
          lanes: int = CHART_LANES) -> Forecast:
    """The chart's items (what the household still buys, soonest run-out first) and "running low soon": the
    list the API and Alexa give for the same days, in their order (most needed first: this week's milk
    before something long overdue that may have been dropped)."""
    try:
        forecast = getattr(recommendations, "forecast", None)  # what the household still buys, soonest first
        timings = list((forecast(household_id, k=lanes) if forecast is not None
                        else recommendations.running_low(household_id, horizon_days=3650, k=lanes)) or [])
        low = list(recommendations.running_low(household_id, horizon_days=soon_days, k=lanes) or [])
        history = list(recommendations.history(household_id) or [])
    except Exception:  # the page still shows the rest; the log says what broke
        log.exception("forecast unavailable for %s", household_id)
        return Forecast([], [], 0, error="The forecast is not available right now. Try again in a minute.")
    products = uow.products.get_many({t.sku for t in timings + low})
    bought: dict[str, list] = defaultdict(list)  # each product's purchases, in one pass over the history
    for p in history:
        bought[p.sku].append((as_utc(p.ordered_at), int(p.quantity)))

    def item(t) -> Item:
        last = as_utc(t.last_purchased_at)
        expected = as_utc(t.expected_at)
        product = products.get(t.sku)
        return Item(
            sku=t.sku, title=product.title if product else t.sku, last_purchased_at=last, expected_at=expected,
            low_at=last + timedelta(days=float(t.low)), high_at=last + timedelta(days=float(t.high)),
            days_after_last=float(t.days_after_last), soon=expected <= now + timedelta(days=soon_days),
            overdue=expected < now, available=product.available if product else False,
            purchases=sorted(bought.get(t.sku, [])), still_buying=float(t.still_buying))

    items = sorted((item(t) for t in timings), key=lambda i: i.expected_at)
    return Forecast(items, [i for i in map(item, low) if i.soon], len(history))


# -- chart geometry -------------------------------------------------------------------------------------------
@dataclass
class Dot:
    x: float
    r: float
    label: str


@dataclass
class Lane:
    title: str
    y: float  # the lane's time line
    label_y: float
    dots: list[Dot]
    band: tuple[float, float]
    last_x: float
    expected_x: float
    expected_label: str
    soon: bool
    hidden_before: int


@dataclass
class Chart:
    width: int
    height: int
    left: float
    right: float
    today_x: float
    ticks: list[tuple[float, str]]
    lanes: list[Lane]


def _month_start(value: datetime) -> datetime:
    return value.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _add_month(value: datetime) -> datetime:
    return value.replace(year=value.year + (value.month == 12), month=value.month % 12 + 1)


def _short(title: str, chars: int) -> str:
    return title if len(title) <= chars else title[:chars - 1].rstrip(" ,") + "…"


def chart(items: list[Item], now: datetime, fmt_day, *, width: int = WIDTH, past_days: int = 365,
          future_days: int = 365, title_chars: int = 70) -> Chart | None:
    """Lays the items out on one axis. ``fmt_day`` turns a datetime into a short date in the household's zone.

    A phone gets a narrower drawing (its own width, a shorter past) rather than a shrunken wide one, so the
    text stays readable without zooming.
    """
    if not items:
        return None
    earliest = min((p[0] for i in items for p in i.purchases), default=now)
    start = max(min(earliest, now - timedelta(days=min(60, past_days))), now - timedelta(days=past_days))
    start = _month_start(start) if past_days > 120 else start.replace(hour=0, minute=0, second=0, microsecond=0)
    end = max(max(i.high_at for i in items), now + timedelta(days=min(30, future_days)))
    end = min(end, now + timedelta(days=future_days))
    left, right = PAD_X, width - PAD_X
    span = (end - start).total_seconds() or 1.0

    def x(at: datetime) -> float:
        at = min(max(at, start), end)
        return round(left + (right - left) * (at - start).total_seconds() / span, 1)

    ticks: list[tuple[float, str]] = []
    month = _month_start(start)
    step = 1 if span <= (240 if width >= 600 else 130) * 86400 else 2
    index = 0
    while month <= end:
        if month >= start and index % step == 0:
            # the first tick and every January carry the year, so a chart across New Year reads right
            label = f"{month:%b %Y}" if month.month == 1 or not ticks else f"{month:%b}"
            ticks.append((x(month), label))
        month = _add_month(month)
        index += 1

    lanes = []
    for n, item in enumerate(items):
        top = AXIS_H + n * LANE_H
        shown = [(at, q) for at, q in item.purchases if at >= start]
        dots = [Dot(x(at), 4 + min(q - 1, 4), f"Bought {q} on {fmt_day(at)}") for at, q in shown]
        lanes.append(Lane(
            title=_short(item.title, title_chars), y=top + 36, label_y=top + 18, dots=dots, band=(x(item.low_at),
                                                                                                  x(item.high_at)),
            last_x=x(item.last_purchased_at), expected_x=x(item.expected_at),
            expected_label=(f"Runs out around {fmt_day(item.expected_at)} "
                            f"(likely {fmt_day(item.low_at)} to {fmt_day(item.high_at)})"),
            soon=item.soon, hidden_before=len(item.purchases) - len(shown)))
    height = AXIS_H + len(items) * LANE_H + 10
    return Chart(width, height, left, right, x(now), ticks, lanes)
