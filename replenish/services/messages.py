"""What the household is told. Kept apart from logic so the words can change without touching a handler.

Times are said in the household's time zone, relative to today where that is shorter ("today at 3:15 PM"), with
the year once a date is more than six months away; counts have their plurals (Babel's plural rules)."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_time

from replenish.domain.model import zone

LOCALE = "en_US"
FAR = timedelta(days=183)  # a date further away than this says its year


def money(cents: int) -> str:
    return f"${cents / 100:,.2f}"


def and_list(items: list[str]) -> str:
    """"A", "A and B", "A, B and C" (nothing for no items)."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def plural(n: float, one: str, other: str | None = None, locale: str = LOCALE) -> str:
    """``1 load``, ``2 loads``, ``1.5 loads``: the count and the noun in the form the language's rules pick."""
    form = Locale.parse(locale).plural_form(n)
    word = one if form == "one" else (other or one + "s")
    return f"{n:,g} {word}" if isinstance(n, float) else f"{n:,} {word}"


def _aware(value: datetime | str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=ZoneInfo("UTC"))


def local_day(value: datetime | str, time_zone: str | None, now: datetime, locale: str = LOCALE) -> str:
    """``today``, ``tomorrow``, ``yesterday``, ``Tuesday, December 8`` (this week or within six months) or
    ``December 8, 2027``, in the household's time zone."""
    tz = zone(time_zone)
    local, today = _aware(value).astimezone(tz), _aware(now).astimezone(tz).date()
    days = (local.date() - today).days
    if days in (-1, 0, 1):
        return ("yesterday", "today", "tomorrow")[days + 1]
    if abs(local - _aware(now)) > FAR:
        return format_date(local, "MMMM d, y", locale=locale)
    return format_date(local, "EEEE, MMMM d", locale=locale)


def local_time(value: datetime | str, time_zone: str | None, now: datetime, locale: str = LOCALE) -> str:
    """``today at 3:15 PM``, ``tomorrow at 9:00 AM``, ``Tuesday, December 8 at 3:15 PM``: a moment as the
    household reads its own clock. The one way a moment is written for people: notices, the dashboard's
    deadlines (``Formatter.moment``), and in the skill's word order (``speech.day_at``: "tomorrow at 3 PM")."""
    local = _aware(value).astimezone(zone(time_zone))
    return f"{local_day(local, time_zone, now, locale)} at {format_time(local, 'h:mm a', locale=locale)}"


def describe_lines(order: dict) -> str:
    parts = []
    for line in order["lines"]:
        title = line["title"] or line["sku"]
        parts.append(title if line["quantity"] == 1 else f"{line['quantity']} x {title}")
    return ", ".join(parts)


TEMPLATES = {
    "OrderPlaced": "Ordered {items} for {total}. It goes to the store {submit_after}; cancel before then and "
                   "nothing is sent.",
    "OrderPlacedNow": "Ordered {items} for {total}; it goes to the store now.",
    "OrderSubmitted": "Your order of {items} was sent to the store.",
    "OrderConfirmed": "The store confirmed your order of {items}.",
    "OrderShipped": "Your order of {items} has shipped.",
    "OrderDelivered": "Your order of {items} was delivered.",
    "OrderCancelled": "Your order of {items} was cancelled ({reason}).",
    "OrderFailed": "Your order of {items} could not be placed: {reason}.",
}


def order_message(event_type: str, order: dict, payload: dict, time_zone: str | None = None,
                  now: datetime | None = None) -> str:
    """The notice for one order event; the cancel deadline in the household's time zone."""
    submit_after = payload.get("submit_after")
    now = now or datetime.now(ZoneInfo("UTC"))
    if event_type == "OrderPlaced" and (not submit_after or _aware(submit_after) <= _aware(now)):
        event_type = "OrderPlacedNow"
    return TEMPLATES[event_type].format(
        items=describe_lines(order), total=money(order["total_cents"]),
        submit_after=local_time(submit_after, time_zone, now) if submit_after else "",
        reason=payload.get("reason") or "no reason given")


def limit_per_order(total: int, cap: int) -> str:
    return f"That order comes to {money(total)}, which is over your limit of {money(cap)} per order."


def limit_per_month(total: int, spent: int, cap: int) -> str:
    return (f"That order comes to {money(total)}. You have already spent {money(spent)} this month, "
            f"and your monthly limit is {money(cap)}.")


def duration_words(seconds: float) -> str:
    """'40 seconds', 'a minute', '12 minutes', 'an hour', '2 hours' (rounded to the unit it is said in)."""
    seconds = max(0, round(seconds))
    for size, one, many in ((86400, "a day", "days"), (3600, "an hour", "hours"), (60, "a minute", "minutes")):
        if seconds >= size:
            count = round(seconds / size)
            return one if count == 1 else f"{count} {many}"
    return "a second" if seconds == 1 else f"{seconds} seconds"


def store_gave_up(tries: int, seconds: float) -> str:
    """Why an order failed when the store never answered (the household hears it after its items' names)."""
    return (f"the store did not answer, though we tried {tries} time{'s' if tries != 1 else ''} over "
            f"{duration_words(seconds)}")
