"""The weekly digest: once a week, on Sunday evening in the household's own time zone, one notice that says what
was ordered this week, what is running low (now on the shopping list), the month's spending against its limit and
the deliveries saved by sending orders together. It goes to the feed and to each channel the household wants
(email and text through SNS); a digest is sent at most once in six days, however often beat asks. The same
``Digest`` (``weekly_digest``) is what the skill says when asked "what did we order this week": Alexa's proactive
notifications carry order status only, so the digest cannot be pushed as speech."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from replenish.adapters import orm
from replenish.domain import model
from replenish.lists import handlers as lists
from replenish.lists.model import AddToList
from replenish.services import messages
from replenish.services.event_handlers import notify_household_of
from replenish.services.handlers import month_start

log = logging.getLogger(__name__)

KIND = "WeeklyDigest"
SEND_AT_HOUR = 17  # local time, on Sunday: the week is over and the next one's shopping is ahead
WEEK = timedelta(days=7)
RUNNING_LOW_ON_LIST = 3  # at most this many running-low things are put on the list by a digest
SHOWN = 2  # things named in a sentence; the rest are counted ("and 3 more")


@dataclass(frozen=True)
class SendWeeklyDigests:
    """Sends the digest of every household whose Sunday evening it is (or of one household, now: ``household_id``)."""
    household_id: str | None = None


@dataclass(frozen=True)
class Digest:
    """One household's week, as the digest tells it: the notice writes it (``written``), the skill says it
    (DigestIntent, ``skills.speech.digest``). Names, never ids."""
    orders: int  # this week's orders, neither cancelled nor failed, test orders left out
    total_cents: int
    things: tuple[str, ...]  # the products' titles, in the order they were first ordered
    running_low: tuple[str, ...]  # titles: the recommender's next week, at most RUNNING_LOW_ON_LIST
    on_list: bool  # the running-low things were put on the shopping list
    spent_cents: int  # this calendar month, in the household's time zone
    cap_cents: int | None  # the household's monthly limit
    saved: int  # deliveries saved by sending orders together this week
    skus: tuple[str, ...] = ()  # of ``things``, in the same order (what a voice calls them: their aisles)
    running_low_skus: tuple[str, ...] = ()  # of ``running_low``


def _named(names: list[str]) -> str:
    if len(names) <= SHOWN:
        return " and ".join(names)
    return f"{', '.join(names[:SHOWN])} and {messages.plural(len(names) - SHOWN, 'more', 'more')}"


def _due(household: model.Household, now: datetime) -> bool:
    local = now.astimezone(model.zone(household.time_zone))
    return local.weekday() == 6 and local.hour >= SEND_AT_HOUR


def _sent_recently(uow, household_id: str, now: datetime) -> bool:
    last = uow.session.execute(select(func.max(orm.notifications.c.created_at)).where(
        orm.notifications.c.household_id == household_id, orm.notifications.c.kind == KIND,
        orm.notifications.c.channel == "feed")).scalar_one_or_none()
    return last is not None and now - model.as_utc(last) < timedelta(days=6)


def _saved_deliveries(uow, household_id: str, since: datetime) -> int:
    from replenish.services.merging import deliveries_saved
    return int(deliveries_saved(uow, household_id, since))


def week_of(deps, household_id: str, now: datetime, running_low: list[tuple[str, str]], on_list: bool) -> Digest:
    """The week's orders, the month's spending and the deliveries saved, with what ``running_low`` found."""
    since = now - WEEK
    with deps.uow() as uow:
        household = uow.households.get(household_id)
        orders = [o for o in uow.orders.list(household_id, limit=200)
                  if model.as_utc(o.created_at) >= since and not o.test
                  and o.status not in ("cancelled", "failed")]
        things: dict[str, str] = {}  # title -> sku
        for order in reversed(orders):  # in the order they were placed
            for line in order.lines:
                things.setdefault(line.title, line.sku)
        total = sum(o.total_cents for o in orders)
        spent = uow.orders.spent_since(household_id, month_start(now, household.time_zone))
        saved = _saved_deliveries(uow, household_id, since)
        cap = household.limits.per_month_cap_cents if household.limits else None
    return Digest(len(orders), total, tuple(things), tuple(title for _, title in running_low),
                  on_list and bool(running_low), spent, cap, saved, tuple(things.values()),
                  tuple(sku for sku, _ in running_low))


def running_low(deps, household_id: str, put_on_list: bool, recommendations=None) -> list[tuple[str, str]]:
    """What runs out next week, (sku, title): put on the shopping list (``added_by`` digest, once) when
    ``put_on_list``. Empty when the recommender cannot answer: the digest goes on without it."""
    recommendations = recommendations or deps.recommendations
    try:
        timings = list(recommendations.running_low(household_id, horizon_days=7, k=RUNNING_LOW_ON_LIST))
    except Exception:
        log.warning("digest: running-low not available for %s", household_id, exc_info=True)
        return []
    if not put_on_list:
        with deps.uow() as uow:
            products = uow.products.get_many(t.sku for t in timings)
        return [(t.sku, products[t.sku].title) for t in timings if t.sku in products]
    found: list[tuple[str, str]] = []
    for timing in timings:
        try:
            item = lists.add_to_list(AddToList(household_id, sku=timing.sku, added_by="digest", only_if_absent=True),
                                     deps)
            found.append((timing.sku, item.get("title") or item["phrase"]))
        except Exception:
            log.warning("digest: could not put %s on the list of %s", timing.sku, household_id, exc_info=True)
    return found


def weekly_digest(deps, household_id: str, now: datetime, *, put_on_list: bool = True,
                  recommendations=None) -> Digest:
    """The digest of the week up to ``now``: the one computation behind the Sunday notice and the skill's answer
    ("what did we order this week"; the skill asks with ``put_on_list=False``: a question changes no list)."""
    low = running_low(deps, household_id, put_on_list, recommendations)
    return week_of(deps, household_id, now, low, put_on_list)


def written(digest: Digest) -> str:
    """The digest's words for the notice (read, not heard: a few short sentences)."""
    parts = []
    if digest.orders:
        parts.append(f"This week: {messages.plural(digest.orders, 'order')} for {messages.money(digest.total_cents)}, "
                     f"with {_named(list(digest.things))}.")
    else:
        parts.append("Nothing was ordered this week.")
    if digest.running_low:
        low = f"Running low: {_named(list(digest.running_low))}"
        parts.append(f"{low}; I've put {'it' if len(digest.running_low) == 1 else 'them'} on your shopping list."
                     if digest.on_list else f"{low}.")
    if digest.cap_cents is not None:
        parts.append(f"This month you've spent {messages.money(digest.spent_cents)} of your "
                     f"{messages.money(digest.cap_cents)} limit.")
    else:
        parts.append(f"This month you've spent {messages.money(digest.spent_cents)}.")
    if digest.saved:
        parts.append(f"Sending orders together saved {messages.plural(digest.saved, 'delivery', 'deliveries')} "
                     "this week.")
    return " ".join(parts)


def send_digest(deps, household_id: str, now: datetime) -> str | None:
    """One household's digest, now: the running-low things go on its list first. None when one was sent less
    than six days ago."""
    with deps.uow() as uow:
        if uow.households.get(household_id) is None or _sent_recently(uow, household_id, now):
            return None
    text = written(weekly_digest(deps, household_id, now))
    with deps.uow() as uow:
        uow.households.lock_limits(household_id)  # two beats at once: the second finds the first's digest
        if _sent_recently(uow, household_id, now):
            return None
        notify_household_of(uow, deps, household_id, KIND, text)
        uow.commit()
    return text


def send_weekly_digests(cmd: SendWeeklyDigests, deps) -> int:
    now = deps.clock()
    if cmd.household_id is not None:
        return int(send_digest(deps, cmd.household_id, now) is not None)
    with deps.uow() as uow:
        due = [h.id for h in uow.session.scalars(select(model.Household)) if _due(h, now)]
    return sum(send_digest(deps, household_id, now) is not None for household_id in due)


DIGEST_COMMAND_HANDLERS = {SendWeeklyDigests: send_weekly_digests}
