"""Everything the skill says, kept apart from the handlers so wording can change without touching logic.

Functions take plain values (titles, cents, dates already in the household's time zone) and return plain
text; the response layer escapes it for SSML.

Voice design rules (Amazon's certification checklist and its voice design guide), enforced by
``tests/unit/test_voice_design.py`` over every reply here:

- a reply that asks something keeps the session open with a reprompt (``reply`` takes the last question as the
  reprompt when none is given), and a reply that closes the session does not invite an answer;
- nothing is longer than 8 seconds at 155 words a minute (``MAX_WORDS``): optional parts (a reason, how long
  the order can be cancelled) are dropped by ``fit`` when they would make it longer; products are spoken by a
  short name, the full title goes on the card;
- lists longer than two are summarised ("detergent, toilet paper and 3 more") and the whole list goes on a card;
- dates more than six months away say the year.
"""
from __future__ import annotations

import gettext
import re
from contextvars import ContextVar
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from io import BytesIO
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_skeleton, format_time, format_timedelta
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency

SKILL_NAME = "Replenish"
WORDS_PER_MINUTE = 155
MAX_SECONDS = 8
MAX_WORDS = int(MAX_SECONDS * WORDS_PER_MINUTE / 60)  # 20
YEAR_AFTER_DAYS = 182  # dates further away than about six months say the year
SHORT_NAME_WORDS = 5


# -- languages ----------------------------------------------------------------------------------------------
# The English in this module is the en-US speech and the msgid of every message. Other locales are gettext
# catalogs, skills/locales/<ll_CC>/LC_MESSAGES/skill.po, read at first use with Babel (a compiled skill.mo next
# to it is used instead when it is newer): adding a locale is adding its catalog, not code. Prices and dates are
# formatted for the locale with Babel. The request's locale is chosen per request (``use_locale``, by the
# skill's localization interceptor); a locale without a catalog falls back to one of the same language, then
# to en-US.

LOCALES_DIR = Path(__file__).resolve().with_name("locales")
DOMAIN = "skill"
DEFAULT_LOCALE = "en-US"
DEFAULT_CURRENCY = "USD"  # the store's prices are in this currency (REPLENISH_CURRENCY changes it)
_locale: ContextVar[str] = ContextVar("speech_locale", default=DEFAULT_LOCALE)
_currency: ContextVar[str] = ContextVar("speech_currency", default=DEFAULT_CURRENCY)


def available_locales() -> list[str]:
    """en-US and every locale with a catalog, as Alexa spells them ("de-DE")."""
    found = {DEFAULT_LOCALE}
    if LOCALES_DIR.is_dir():
        found |= {d.name.replace("_", "-") for d in LOCALES_DIR.iterdir()
                  if (d / "LC_MESSAGES" / f"{DOMAIN}.po").exists() or (d / "LC_MESSAGES" / f"{DOMAIN}.mo").exists()}
    return sorted(found)


@lru_cache(maxsize=64)
def resolve_locale(requested: str | None) -> str:
    """The locale to speak for the request's: itself if it has a catalog, else one of its language, else en-US."""
    available = available_locales()
    wanted = (requested or DEFAULT_LOCALE).replace("_", "-")
    if wanted in available:
        return wanted
    language = wanted.split("-")[0].lower()
    same = [loc for loc in available if loc.split("-")[0].lower() == language]
    return same[0] if same else DEFAULT_LOCALE


@lru_cache(maxsize=16)
def translations(locale: str) -> gettext.NullTranslations:
    folder = LOCALES_DIR / locale.replace("-", "_") / "LC_MESSAGES"
    mo, po = folder / f"{DOMAIN}.mo", folder / f"{DOMAIN}.po"
    if mo.exists() and (not po.exists() or mo.stat().st_mtime >= po.stat().st_mtime):
        with open(mo, "rb") as handle:
            return gettext.GNUTranslations(handle)
    if po.exists():
        with open(po, "rb") as handle:
            catalog = read_po(handle, locale=locale.replace("-", "_"), domain=DOMAIN)
        compiled = BytesIO()
        write_mo(compiled, catalog)
        compiled.seek(0)
        return gettext.GNUTranslations(compiled)
    return gettext.NullTranslations()


@lru_cache(maxsize=16)
def babel_locale(locale: str) -> Locale:
    try:
        return Locale.parse(locale, sep="-")
    except (UnknownLocaleError, ValueError):
        return Locale.parse(DEFAULT_LOCALE, sep="-")


def use_locale(locale: str | None, currency: str | None = None) -> None:
    """Speak this request's language (and price in the store's currency) from now on in this context."""
    _locale.set(resolve_locale(locale))
    if currency:
        _currency.set(currency)


def keep_locale() -> tuple:
    """What ``restore_locale`` puts back when a request is answered (the next one starts in en-US)."""
    return _locale.set(DEFAULT_LOCALE), _currency.set(DEFAULT_CURRENCY)


def restore_locale(kept: tuple) -> None:
    _locale.reset(kept[0])
    _currency.reset(kept[1])


def current_locale() -> str:
    return _locale.get()


def N_(message: str) -> str:
    """Marks a message for the catalogs; it is translated where it is said."""
    return message


def _(message: str) -> str:
    """The message in the request's language."""
    return translations(_locale.get()).gettext(message)


def _n(singular: str, plural: str, count: int) -> str:
    return translations(_locale.get()).ngettext(singular, plural, count)


# Fixed replies, by name (``speech.WELCOME``...). Read through ``__getattr__`` so each is said in the language
# of the request being answered.
_TEXTS = {
    "WELCOME": N_("Welcome to Replenish. What should I order? You can also ask: where's my stuff?"),
    "WELCOME_REPROMPT": N_("What should I order? For example, say: order paper towels."),
    "HELP": (N_("I order your household essentials, and always ask first. Try: order detergent, or: "
             "where's my stuff. What would you like?")),
    "HELP_REPROMPT": N_("What would you like to do?"),
    "HELP_CARD": (N_("Say: order detergent, or order two paper towels.\nSay: reorder my usual.\n"
                  "Say: cancel my order.\nSay: where's my stuff?\nSay: what am I running low on?\n"
                  "I always ask before buying anything.")),
    "GOODBYE": N_("Okay. Goodbye."),
    "FALLBACK": N_("Sorry, I didn't catch that. You can say: order detergent, or: where's my stuff. "
                   "What would you like?"),
    "FALLBACK_REPROMPT": N_("What would you like? For example: order detergent."),
    "FALLBACK_CONFIRM_ORDER": N_("Sorry, I didn't catch that. Should I order it? Say yes, no, or something else."),
    "FALLBACK_PIN": N_("Sorry, I didn't catch that. What's your four digit voice PIN?"),
    "FALLBACK_CONFIRM_CANCEL": N_("Sorry, I didn't catch that. Should I cancel that order? Say yes or no."),
    "FALLBACK_DID_YOU_MEAN": N_("Sorry, I didn't catch that. Is that what you meant? Say yes or no."),
    "LINK_ACCOUNT": N_("To order with Replenish, please link your Replenish account. "
                       "I've sent a card to the Alexa app to help."),
    "ASK_ITEM": N_("What would you like to order? For example, say: order detergent."),
    "ASK_ITEM_REPROMPT": N_("What should I order?"),
    "CONFIRM_REPROMPT": N_("Should I order it? Say yes, no, or something else."),
    "CONFIRM_MANY_REPROMPT": N_("Should I order them? Say yes, no, or something else."),
    "DID_YOU_MEAN_REPROMPT": N_("Is that what you meant? Say yes or no."),
    "NOTHING_TO_CONFIRM": N_("There's nothing waiting for a yes right now. What would you like to do?"),
    "NOTHING_TO_CONFIRM_REPROMPT": N_("What would you like to do?"),
    "NOTHING_ORDERED": N_("Okay, I didn't order anything."),
    "NO_OTHER_CANDIDATES": N_("That's all I found, so I didn't order anything. What else should I look for?"),
    "NO_USUAL": N_("I don't see anything you've ordered before yet. What would you like to order?"),
    "ASK_PIN": N_("Please say your four digit voice PIN to confirm."),
    "ASK_PIN_REPROMPT": N_("What's your voice PIN?"),
    "PIN_NOT_EXPECTED": N_("I don't need a PIN right now. What would you like to do?"),
    "PIN_UNHEARD": N_("I didn't catch four digits. What's your voice PIN?"),
    "PIN_WRONG": N_("That PIN isn't right. What's your four digit voice PIN?"),
    "STORE_UNAVAILABLE": N_("The store isn't answering right now, so I couldn't do that. Please try again later."),
    "ERROR": N_("Sorry, something went wrong on my side, and nothing was changed. What would you like to do?"),
    "ERROR_REPROMPT": N_("What would you like to do?"),
    "NO_CANCELLABLE": N_("You don't have an order that can still be cancelled. Shipped orders can't be cancelled."),
    "CANCEL_KEPT": N_("Okay, I'll leave that order as it is."),
    "CANCEL_REPROMPT": N_("Should I cancel it? Say yes or no."),
    "NO_ORDERS": N_("You don't have any recent orders."),
    "NOTHING_RUNNING_LOW": N_("Nothing looks like it's running low right now. What would you like to order?"),
    "RUNNING_LOW_REPROMPT": N_("Should I order it? Say yes or no."),
    "VOICE_NOT_RECOGNISED": (N_("Sorry, only recognized voices can order for this household, and I don't recognize "
                             "yours.")),
    "LIMITS_CARD": N_("You can change your spending limits in the Replenish app."),
    "NOT_THAT": N_("Okay. What should I look for instead?"),
}
# While a question is open, what "I didn't catch that" says, and its reprompt, by dialog step.
_FALLBACK_DURING = {"confirm_order": ("FALLBACK_CONFIRM_ORDER", "CONFIRM_REPROMPT"),
                    "pin": ("FALLBACK_PIN", "ASK_PIN_REPROMPT"),
                    "confirm_cancel": ("FALLBACK_CONFIRM_CANCEL", "CANCEL_REPROMPT"),
                    "did_you_mean": ("FALLBACK_DID_YOU_MEAN", "DID_YOU_MEAN_REPROMPT")}
# What a linked account may not do unless the household allowed it when linking, by OAuth scope.
_SCOPE_ACTIONS = {"orders:place": N_("place orders"), "orders:cancel": N_("cancel orders"),
                  "orders:read": N_("check your orders")}


def __getattr__(name: str):
    if name in _TEXTS:
        return _(_TEXTS[name])
    if name == "FALLBACK_DURING":
        return {step: (_(_TEXTS[text]), _(_TEXTS[again])) for step, (text, again) in _FALLBACK_DURING.items()}
    raise AttributeError(name)


# -- rules --------------------------------------------------------------------------------------------------

_TAG = re.compile(r"<[^>]+>")


def words(text: str) -> int:
    """Words spoken (SSML tags are not)."""
    return len(_TAG.sub(" ", text or "").split())


def seconds(text: str) -> float:
    return words(text) * 60 / WORDS_PER_MINUTE


def asks(text: str) -> bool:
    return "?" in (text or "")


def last_question(text: str) -> str:
    """The last sentence that asks something: the reprompt a question gets when none is given."""
    found = re.findall(r"[^.?!]*\?", text or "")
    return found[-1].strip() if found else ""


def fit(*parts: str, required: int = 1) -> str:
    """The first ``required`` parts, then each optional part that still fits in ``MAX_WORDS``, space-joined."""
    out = [p for p in parts[:required] if p]
    used = sum(words(p) for p in out)
    for part in parts[required:]:
        if part and used + words(part) <= MAX_WORDS:
            out.append(part)
            used += words(part)
    return " ".join(out)


# -- formatting ---------------------------------------------------------------------------------------------

def money(cents: int) -> str:
    """'$12.99' (en-US), 'US$12.99' (en-GB), '12,99 $' (de-DE): the store's currency, written for the locale."""
    return _spaced(format_currency(Decimal(int(cents)) / 100, _currency.get(), locale=babel_locale(_locale.get())))


def day(when: datetime | date, today: date | None = None) -> str:
    """'today', 'tomorrow', 'yesterday', 'Thursday, March 12', or 'August 14, 2025' when over six months away
    (dates are in the household's zone)."""
    target = when.date() if isinstance(when, datetime) else when
    if today is not None:
        delta = (target - today).days
        if delta == 0:
            return _("today")
        if delta == 1:
            return _("tomorrow")
        if delta == -1:
            return _("yesterday")
        if abs(delta) > YEAR_AFTER_DAYS:
            return _spaced(format_date(target, "long", locale=babel_locale(_locale.get())))
    return _spaced(format_date(target, _weekday_and_date(_locale.get()), locale=babel_locale(_locale.get())))


@lru_cache(maxsize=16)
def _weekday_and_date(locale: str) -> str:
    """The locale's full date pattern without the year: 'EEEE, MMMM d' / 'EEEE d MMMM' / 'EEEE, d. MMMM'."""
    pattern = babel_locale(locale).date_formats["full"].pattern
    return re.sub(r"[\s,.]*\by+\b[.]?", "", pattern).strip(" ,")


def clock_time(when: datetime) -> str:
    """'3 PM' / '3:30 PM' (en-US), '15:00' / '15:30' (en-GB), '15 Uhr' / '15:30' (de-DE)."""
    locale = babel_locale(_locale.get())
    if not when.minute:  # a whole hour, the locale's way ("3 PM", "15 Uhr"), unless that is a bare number
        twelve = "h" in locale.time_formats["short"].pattern
        hour = _spaced(format_skeleton("h" if twelve else "H", when, locale=locale))
        if not hour.strip().isdigit():
            return hour
    return _spaced(format_time(when, "short", locale=locale))


def _spaced(text: str) -> str:
    """Babel's no-break spaces as plain ones (what is said is the same; words are counted right)."""
    return text.replace("\u202f", " ").replace("\xa0", " ")


def at_time(when: datetime, today: date) -> str:
    """'at 3 PM' today, else 'Thursday, March 12 at 3 PM'."""
    if when.date() == today:
        return _("at {time}").format(time=clock_time(when))
    return day_at(when, today)


def day_at(when: datetime, today: date) -> str:
    return _("{day} at {time}").format(day=day(when, today), time=clock_time(when))


def join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return _("{first} and {last}").format(first=", ".join(items[:-1]), last=items[-1])


def summary(items: list[str]) -> str:
    """'detergent', 'detergent and paper towels', 'detergent, paper towels and 3 more'."""
    if len(items) <= 2:
        return join(items)
    return _("{first}, {second} and {more} more").format(first=items[0], second=items[1], more=len(items) - 2)


# Aisle names (the last part of a product's category) as lists say them; listed so catalogs can translate them.
AISLES = (
    N_("aa batteries"), N_("aaa batteries"), N_("air filters"), N_("all purpose cleaner"), N_("almond milk"),
    N_("baby wipes"), N_("bananas"), N_("body wash"), N_("bread"), N_("cat food"), N_("cat litter"),
    N_("cat treats"), N_("cereal"), N_("coffee pods"), N_("conditioner"), N_("deodorant"), N_("descaler"),
    N_("detergent"), N_("diapers"), N_("dish soap"), N_("dishwasher detergent"), N_("disinfecting wipes"),
    N_("dog treats"), N_("dry dog food"), N_("dryer sheets"), N_("eggs"), N_("espresso capsules"),
    N_("fabric softener"), N_("facial tissues"), N_("faucet water filters"), N_("formula"), N_("ground coffee"),
    N_("ink cartridges"), N_("milk"), N_("napkins"), N_("oat milk"), N_("olive oil"), N_("paper towels"),
    N_("pitcher water filters"), N_("razors"), N_("refrigerator water filters"), N_("rice"), N_("rinse aid"),
    N_("shampoo"), N_("sponges"), N_("stain remover"), N_("toilet paper"), N_("toner cartridges"),
    N_("toothbrush heads"), N_("toothpaste"), N_("trash bags"), N_("vacuum bags"), N_("wet dog food"),
    N_("whole bean coffee"),
)


def aisle(name: str) -> str | None:
    """The aisle's name in the request's language; None when its catalog has none (not English, not translated)."""
    said = _(name)
    if said != name or _locale.get().startswith("en"):
        return said
    return None


def and_more(first: str, more: int) -> str:
    return _("{first} and {more} more").format(first=first, more=more)


def short_name(title: str) -> str:
    """How a product is said: its name before the first comma, at most five words (the brand's first two, then
    what it is): 'Purina Pro Plan Sensitive Skin and Stomach Dry Dog Food, ...' -> 'Purina Pro Dry Dog Food'."""
    name = (title or "").split(",")[0].strip() or (title or "")
    parts = name.split()
    if len(parts) > SHORT_NAME_WORDS:
        parts = parts[:2] + parts[-(SHORT_NAME_WORDS - 2):]
    return " ".join(parts)


def product_phrase(title: str, size: str, quantity: int) -> str:
    """'Tide PODS Laundry Detergent, 42 Count' or '2 packs of ...': the short name, and the size as the title
    words it (when the title has it; a size the title lacks is on the card only)."""
    name = short_name(title)
    number = size.split()[0] if size else ""
    if number and number not in name:
        said = next((part.strip() for part in (title or "").split(",")[1:] if part.strip().startswith(number)), "")
        if said and words(said) <= 3:
            name = f"{name}, {said}"
    if quantity == 1:
        return name
    return _("{quantity} packs of {name}").format(quantity=quantity, name=name)


def with_reason(reason: str) -> str:
    """"It's the best match for detergent." / "You bought this on March 3." / "" (the recommender's words)."""
    reason = (reason or "").strip().rstrip(".")
    if not reason or not _locale.get().startswith("en"):  # the recommender explains itself in English only
        return ""
    if reason.startswith(("the ", "a ")):
        return f"It's {reason}."
    return f"{reason[:1].upper()}{reason[1:]}."


def product_card(title: str, price_cents: int, quantity: int, reason: str = "") -> tuple[str, str]:
    """The Alexa app card for an offer: the full title, the price, why it was offered."""
    lines = [title, _price(price_cents, quantity)]
    if reason:
        lines.append(with_reason(reason))
    return SKILL_NAME, "\n".join(lines)


def list_card(title: str, items: list[str]) -> tuple[str, str]:
    return title, "\n".join(f"- {item}" for item in items)


# -- ordering -----------------------------------------------------------------------------------------------

def _price(price_cents: int, quantity: int) -> str:
    if quantity == 1:
        return money(price_cents)
    return _("{each} each, {total} in all").format(each=money(price_cents), total=money(price_cents * quantity))


def _spoken_price(price_cents: int, quantity: int) -> str:
    if quantity == 1:
        return money(price_cents)
    return _("{total} in all").format(total=money(price_cents * quantity))


def _first_that_fits(variants: list[str]) -> str:
    for text in variants:
        if words(text) <= MAX_WORDS:
            return text
    return variants[-1]


def _offer(opener: str, title: str, size: str, price_cents: int, quantity: int, reason: str, lead: str) -> str:
    """The offer said as fully as 8 seconds allow: the reason goes first, then the size (both are on the card),
    then what came before (``lead``); the product, its price and the question always stay."""
    question = _("Should I order it?") if quantity == 1 else _("Should I order them?")
    price = _spoken_price(price_cents, quantity)
    variants = []
    for leading in (lead, ""):
        for sized in (size, ""):
            found = opener.format(product=product_phrase(title, sized, quantity), price=price)
            for because in (with_reason(reason), ""):
                variants.append(" ".join(p for p in (leading, found, because, question) if p))
    return _first_that_fits(variants)


def offer(title: str, size: str, price_cents: int, quantity: int, reason: str, first: bool = True,
          lead: str = "") -> str:
    opener = _("I found {product}, for {price}.") if first else _("Next, there's {product}, for {price}.")
    return _offer(opener, title, size, price_cents, quantity, reason, lead)


def usual_offer(title: str, size: str, price_cents: int, quantity: int, reason: str) -> str:
    return _offer(_("Your usual is {product}, for {price}."), title, size, price_cents, quantity, reason, "")


def _said(phrase: str) -> str:
    """What the household asked for, as said back (at most five words)."""
    return " ".join((phrase or "").split()[:5])


def nothing_found(phrase: str) -> str:
    return _("I couldn't find {phrase}. What else would you like to order?").format(phrase=_said(phrase))


def did_you_mean(phrase: str, title: str) -> str:
    return _("I couldn't find {phrase}. Did you mean {name}?").format(phrase=_said(phrase), name=short_name(title))


def bad_quantity() -> str:
    return _("I can order one to ninety nine packs at a time. What should I order? For example: order two "
             "detergent.")


def arriving(arrival: str) -> str:
    if arrival in (_("today"), _("tomorrow")):
        return _("should arrive {day}").format(day=arrival)
    return _("should arrive by {day}").format(day=arrival)


def placed(items: str, total_cents: int, arrival: str, cancel_minutes: int) -> str:
    """What was ordered, for how much, and when it comes; how long it can be cancelled when there is room (the
    card says how to cancel)."""
    done = _("Okay, I've ordered {items} for {total}.").format(items=items, total=money(total_cents))
    when = _("It {arriving}.").format(arriving=arriving(arrival))
    cancel = (_("You can cancel it for {duration}.").format(duration=duration(cancel_minutes))
              if cancel_minutes > 0 else "")
    return fit(done, when, cancel, required=2)


def placed_card(items: str, total_cents: int, arrival: str, cancel_minutes: int) -> tuple[str, str]:
    text = _("Ordered {items} for {total}. It {arriving}.").format(items=items, total=money(total_cents),
                                                                  arriving=arriving(arrival))
    if cancel_minutes > 0:
        text += "\n" + _("To cancel it in the next {duration}, say: Alexa, ask home replenish to cancel my "
                         "order.").format(duration=duration(cancel_minutes))
    return _("Ordered: {items}").format(items=items), text


def already_in_flight(items: str, status_text: str) -> str:
    return fit(_("You already have an order of {items}, so I didn't place another.").format(items=items),
               _("It {status}.").format(status=status_text))


def out_of_stock(title: str) -> str:
    return _("{name} is out of stock.").format(name=short_name(title))


def not_ordered() -> str:
    return _("I couldn't order that one.")


def limit_per_order(total_cents: int, cap_cents: int) -> str:
    return _("That's {total}, over your {cap} limit per order, so I didn't order it.").format(
        total=money(total_cents), cap=money(cap_cents))


def limit_per_month(cap_cents: int) -> str:
    return _("That would go over your {cap} monthly limit, so I didn't order it.").format(cap=money(cap_cents))


def pin_wrong() -> str:
    return _(_TEXTS["PIN_WRONG"])


def duration(minutes: int) -> str:
    """'15 minutes', '1 hour', '1 day' ('15 Minuten'...): how long, in the request's language."""
    return _spaced(format_timedelta(timedelta(minutes=int(minutes)), threshold=1.0,
                                    locale=babel_locale(_locale.get())))


def pin_locked_now(lockout_minutes: int) -> str:
    lockout = duration(lockout_minutes) if lockout_minutes else _("a while")
    return _("That PIN was wrong three times, so voice ordering is locked for {lockout}. Nothing was "
             "ordered.").format(lockout=lockout)


def pin_locked_up_front(lockout_minutes: int) -> str:
    if not lockout_minutes:
        return _("Voice ordering is locked after three wrong PINs, so I can't order anything right now.")
    return _("Voice ordering is locked for {lockout} after three wrong PINs, so I can't order anything "
             "now.").format(lockout=duration(lockout_minutes))


# -- status and cancel --------------------------------------------------------------------------------------

def status_text(status: str, *, at: str = "", arrival: str = "", reason: str = "") -> str:
    """The part after 'it': 'has shipped and should arrive by Thursday, March 12'."""
    if status == "pending":
        return _("is placed and goes to the store {at}").format(at=at) if at else _("is placed")
    if status == "submitted":
        return (_("was sent to the store and {arriving}").format(arriving=arriving(arrival)) if arrival
                else _("was sent to the store"))
    if status == "confirmed":
        return (_("was confirmed and {arriving}").format(arriving=arriving(arrival)) if arrival
                else _("was confirmed by the store"))
    if status == "shipped":
        return (_("has shipped and {arriving}").format(arriving=arriving(arrival)) if arrival
                else _("has shipped"))
    if status == "delivered":
        return _("was delivered {day}").format(day=at) if at else _("was delivered")
    if status == "cancelled":
        return _("was cancelled {day}").format(day=at) if at else _("was cancelled")
    if status == "failed":
        return _("couldn't be placed")
    return _("is {status}").format(status=status)


def order_status(items: str, status_sentence: str) -> str:
    return _("Your order of {items} {status}.").format(items=items, status=status_sentence)


def status_summary(first: str, first_brief: str, more: int) -> str:
    """The newest order's status, and how many more are on the card."""
    if not more:
        return first
    tail = _n("{count} more is in your Alexa app.", "{count} more are in your Alexa app.", more).format(count=more)
    return fit(first, tail) if words(first) + words(tail) <= MAX_WORDS else fit(first_brief, tail)


def no_matching_orders(phrase: str) -> str:
    return _("I don't see a recent order of {phrase}.").format(phrase=_said(phrase))


def no_cancellable_match(phrase: str) -> str:
    return _("I don't see an order of {phrase} that can still be cancelled.").format(phrase=_said(phrase))


def confirm_cancel(items: str, total_cents: int, placed_on: str) -> str:
    """'You placed it yesterday at 3 PM. Should I cancel your order of ... for $12.99?' (when it is placed is
    dropped when the whole would be too long; the question always stays)."""
    question = _("Should I cancel your order of {items} for {total}?").format(items=items, total=money(total_cents))
    placed_text = _("You placed it {when}.").format(when=placed_on)
    if words(placed_text) + words(question) <= MAX_WORDS:
        return f"{placed_text} {question}"
    return question


def cancelled(items: str) -> str:
    return _("Okay, I've cancelled your order of {items}.").format(items=items)


def cancel_refused(message: str) -> str:
    """Why, in the store's or the service's words, when they speak the request's language (English)."""
    return fit(_("I couldn't cancel it."), message if _locale.get().startswith("en") else "")


# -- running low --------------------------------------------------------------------------------------------

def running_low_one(name: str, last: str, price_cents: int, quantity: int) -> str:
    """'Tide PODS Laundry Detergent may be running low, last ordered August 14, 2025. Should I order more, for
    $12.99?' (when it was last ordered is left out when there is no room)."""
    question = (_("Should I order more, for {price}?").format(price=money(price_cents)) if quantity == 1 else
                _("Should I order {quantity} packs, for {price}?").format(quantity=quantity,
                                                                        price=money(price_cents * quantity)))
    return _first_that_fits([
        _("{name} may be running low, last ordered {last}.").format(name=name, last=last) + " " + question,
        _("{name} may be running low.").format(name=name) + " " + question])


def running_low_many(names: list[str], offer: str | None = None) -> str:
    """'You may be running low on detergent and toilet paper.' / 'Running low: detergent, toilet paper and 3
    more; the list is in your Alexa app.', then 'Should I order the detergent?' when one can be ordered."""
    question = " " + _("Should I order the {name}?").format(name=offer) if offer else ""
    if len(names) <= 2:
        return _("You may be running low on {names}.").format(names=join(names)) + question
    more = len(names) - 2
    return _first_that_fits([
        _("Running low: {names}; the list is in your Alexa app.").format(names=summary(names)) + question,
        _("Running low: {names}, listed in your Alexa app.").format(names=summary(names)) + question,
        _("Running low: {name} and {more} more, listed in your Alexa app.").format(name=names[0], more=more + 1)
        + question])


def running_low_item(title: str, last: str, expected: str) -> str:
    """A line of the running-low card."""
    return _("{title}: last ordered {last}, usually needed again around {expected}").format(
        title=title, last=last, expected=expected)


def not_allowed(scope: str) -> str:
    action = _(_SCOPE_ACTIONS.get(scope) or N_("do that"))
    return _("Your account is linked without permission to {action}. To allow it, link again in the Alexa "
             "app.").format(action=action)


# -- the shopping list (issue 18) ------------------------------------------------------------------------------

_TEXTS.update({
    "LIST_EMPTY": N_("Your shopping list is empty."),
    "LIST_ASK_ITEM": N_("What should I add to your list?"),
    "LIST_ASK_REMOVE": N_("What should I take off your list?"),
    "LIST_CONFIRM_REPROMPT": N_("Should I order your list? Say yes or no."),
    "LIST_NOT_ORDERED": N_("Okay, I didn't order your list. It's still there."),
    "LIST_REMOVE_KEPT": N_("Okay, I left your list as it was."),
    "LIST_REMOVE_REPROMPT": N_("Which one should I take off your list?"),
    "LIST_BUSY": N_("Your list is being ordered right now, so I didn't order it again."),
    "LIST_OUT_OF_STOCK": N_("Something on your list is out of stock, so I didn't order it. Your list is as it was."),
    "LIST_GONE": N_("That's no longer on your list, so I left it as it is."),
    "FALLBACK_CONFIRM_LIST": N_("Sorry, I didn't catch that. Should I order your list? Say yes or no."),
    "FALLBACK_LIST_REMOVE": N_("Sorry, I didn't catch that. Which one should I take off your list?"),
})
_FALLBACK_DURING.update({"confirm_list": ("FALLBACK_CONFIRM_LIST", "LIST_CONFIRM_REPROMPT"),
                         "list_pin": ("FALLBACK_PIN", "ASK_PIN_REPROMPT"),
                         "list_pick": ("FALLBACK_DID_YOU_MEAN", "DID_YOU_MEAN_REPROMPT"),
                         "list_remove": ("FALLBACK_LIST_REMOVE", "LIST_REMOVE_REPROMPT")})


def _list_what(phrase: str, quantity: int) -> str:
    name = _said(phrase)
    return name if quantity == 1 else _("{quantity} packs of {name}").format(quantity=quantity, name=name)


def list_added(phrase: str, quantity: int, total: int, title: str, size: str) -> str:
    """'I've added paper towels to your list. I'll get Bounty Select-A-Size Paper Towels, 6 Rolls.' (or 'Your list
    now has 3 packs of paper towels.' when it was there already); the pack size is dropped when there is no room."""
    done = (_("I've added {what} to your list.").format(what=_list_what(phrase, quantity)) if total == quantity
            else _("Your list now has {what}.").format(what=_list_what(phrase, total)))
    return _first_that_fits([f"{done} " + _("I'll get {product}.").format(product=product_phrase(title, sized, 1))
                             for sized in (size, "")] + [done])  # at worst the pick is on the card only


def list_added_weak(phrase: str, title: str) -> str:
    """A weak match, asked about as the ordering dialog asks: the words are on the list, the pick is not yet."""
    return _("I've put {phrase} on your list. Did you mean {name}?").format(phrase=_said(phrase),
                                                                           name=short_name(title))


def list_added_unmatched(phrase: str) -> str:
    said = _("I've put {phrase} on your list.").format(phrase=_said(phrase))
    return _first_that_fits([said + " " + _("I couldn't find a product for it, so choose one in the Replenish app."),
                             said + " " + _("I couldn't find a product for it yet.")])


def list_picked(phrase: str, title: str, size: str) -> str:
    return _first_that_fits([_("Okay, for {phrase} I'll get {product}.").format(
        phrase=_said(phrase), product=product_phrase(title, sized, 1)) for sized in (size, "")])


def list_kept_in_words(phrase: str) -> str:
    return _("Okay, {phrase} stays on your list. Choose a product for it in the Replenish app.").format(
        phrase=_said(phrase))


def _things(count: int) -> str:
    return _n("{count} thing", "{count} things", count).format(count=count)


def list_read(names: list[str], total_cents: int, offer: bool = True) -> str:
    """'Your list has paper towels and detergent, for $31.98 in all. Should I order your list?'; more than two are
    summarised ('..., detergent and 3 more') and the whole list is on the card."""
    question = " " + _("Should I order your list?") if offer else ""
    total = money(total_cents)
    return _first_that_fits([
        _("Your list has {names}, for {total} in all.").format(names=summary([_said(n) for n in names]),
                                                              total=total) + question,
        _("Your list has {things}, for {total} in all, listed in your Alexa app.").format(
            things=_things(len(names)), total=total) + question,
        _("Your list has {things}, for {total} in all.").format(things=_things(len(names)), total=total)
        + question])


def list_offer(picks: list[str], total_cents: int, lead: str = "") -> str:
    """'I'll order Bounty Select-A-Size Paper Towels and Tide PODS Laundry Detergent, for $31.98. Should I order your
    list?': each thing said by its pick when there is room, else counted (the card has them all). ``lead`` (the list
    changed) is always said."""
    question = _("Should I order your list?")
    total = money(total_cents)
    bodies = [_("I'll order {picks}, for {total} in all.").format(picks=summary(picks), total=total),
              _("I'll order {picks}, for {total}.").format(picks=summary(picks), total=total)]
    if lead:
        bodies.append(_("That's {things} for {total}.").format(things=_things(len(picks)), total=total))
    else:
        bodies.append(_("Your list has {things}, for {total} in all.").format(things=_things(len(picks)),
                                                                            total=total))
    return _first_that_fits([" ".join(p for p in (lead, body, asked) if p) for body in bodies
                             for asked in (question, _("Should I order it?"))])


def list_changed() -> str:
    return _("Your list changed since I read it.")


def list_unpicked(names: list[str]) -> str:
    names = [_said(n) for n in names]
    return _first_that_fits([
        _("I don't know which product you mean by {names} yet. Choose one in the Replenish app, then order your "
          "list.").format(names=summary(names)),
        _("Choose a product for {names} in the Replenish app, then order your list.").format(names=summary(names)),
        _n("Choose a product for {count} thing in the Replenish app, then order your list.",
           "Choose products for {count} things in the Replenish app, then order your list.",
           len(names)).format(count=len(names))])


def list_needs_picks(names: list[str]) -> str:
    """The short way to say why a list is not offered: 'laundry soap needs a product.'"""
    if len(names) == 1:
        return _("{name} needs a product.").format(name=_said(names[0]))
    return _n("{count} thing needs a product.", "{count} things need a product.",
              len(names)).format(count=len(names))


def list_removed(phrase: str) -> str:
    return _("Okay, I've taken {phrase} off your list.").format(phrase=_said(phrase))


def list_not_on(phrase: str) -> str:
    return _("I don't see {phrase} on your list.").format(phrase=_said(phrase))


def list_which(names: list[str]) -> str:
    """'Do you mean whole milk or oat milk?' (three at most; the card lists them all)."""
    said = [_said(n) for n in names[:3]]
    alternatives = said[0] if len(said) == 1 else _("{first} or {last}").format(first=", ".join(said[:-1]),
                                                                                 last=said[-1])
    return _("Do you mean {names}?").format(names=alternatives)


def list_card_line(name: str, title: str | None, quantity: int, price_cents: int | None) -> str:
    """A line of the list's card: what it was called, its pick and price, or that it has none yet."""
    what = name if quantity == 1 else _("{quantity} packs of {name}").format(quantity=quantity, name=name)
    if not title:
        return _("{what}: no product chosen yet").format(what=what)
    if title == name:
        return f"{what}: {money(price_cents or 0)}"
    return f"{what}: {title}, {money(price_cents or 0)}"


def list_bad_quantity() -> str:
    return _("I can put one to ninety nine packs on your list. What should I add?")


def list_refused(message: str) -> str:
    """Why the list could not be changed, in the list's words when they speak the request's language (English)."""
    return fit(_("I couldn't change your list."), message if _locale.get().startswith("en") else "")
# -- members and approvals ----------------------------------------------------------------------------------

def approval_asked(items: str) -> str:
    """A child's or guest's yes: a request for an adult, not an order."""
    return fit(_("Okay, I've asked an adult to approve {items}.").format(items=items),
               _("They have a day to answer."))


def approval_pending(name: str, items: str, total_cents: int, more: int) -> str:
    """'Sam asked for 2 packs of Tide PODS, for $25.98. Should I approve it?' (how many more wait, when there is
    room)."""
    asked = _("{name} asked for {items}, for {total}.").format(name=name, items=items, total=money(total_cents))
    question = _("Should I approve it?")
    if not more:
        return f"{asked} {question}"
    waiting = _n("{count} more is waiting.", "{count} more are waiting.", more).format(count=more)
    return _first_that_fits([f"{asked} {waiting} {question}", f"{asked} {question}"])


def approval_approved(name: str, items: str) -> str:
    return _("Okay, I've approved {name}'s request and ordered {items}.").format(name=name, items=items)


def approval_declined(name: str) -> str:
    return _("Okay, I've declined {name}'s request.").format(name=name)


def approvals_none() -> str:
    return _("Nothing is waiting for approval right now.")


def approvals_adults_only() -> str:
    return _("Only an adult can approve requests.")


def approval_not_placed() -> str:
    return _("I couldn't order that, so the request is still waiting.")


def approval_closed() -> str:
    return _("That request was already answered.")


# -- the weekly digest (issue 18) ------------------------------------------------------------------------------
# The digest itself is ``replenish.digest`` (one computation for the Sunday notice and this answer); these say it.

def _digest_sentences(orders: int, total_cents: int, things: str, low: str, spent_cents: int,
                      cap_cents: int | None, saved: int) -> tuple[str, str, str, str, str]:
    """The week (with what was ordered, ``things``), the week in brief, what runs low (``low``), the month, the
    deliveries saved; the last three empty when there is nothing to say."""
    total = money(total_cents)
    if orders:
        week = _n("This week: {count} order for {total}, with {things}.",
                  "This week: {count} orders for {total}, with {things}.", orders).format(
            count=orders, total=total, things=things)
        brief = _n("This week: {count} order for {total}.", "This week: {count} orders for {total}.",
                   orders).format(count=orders, total=total)
    else:
        week = brief = _("Nothing was ordered this week.")
    said_low = _("Running low: {names}.").format(names=low) if low else ""
    if cap_cents is not None:
        month = _("This month: {spent} of your {cap} limit.").format(spent=money(spent_cents), cap=money(cap_cents))
    else:
        month = _("This month: {spent} so far.").format(spent=money(spent_cents))
    said_saved = (_n("Sending orders together saved {count} delivery.",
                     "Sending orders together saved {count} deliveries.", saved).format(count=saved) if saved else "")
    return week, brief, said_low, month, said_saved


def digest(orders: int, total_cents: int, names: list[str], running_low: list[str], spent_cents: int,
           cap_cents: int | None, saved: int) -> str:
    """'This week: 3 orders for $60.97, with detergent, toilet paper and 1 more. This month: $60.97 of your $500.00
    limit.': as much of the digest as 8 seconds hold, things by what lists call them (``names``: their aisles, or
    short names) and lists over two summarised; what was ordered goes first, then what runs low, the month and the
    deliveries saved (the card has it all, by full title)."""
    week, brief, low, month, saved_ = _digest_sentences(orders, total_cents, summary(names), summary(running_low),
                                                        spent_cents, cap_cents, saved)
    variants = [(week, low, month, saved_), (week, low, month), (week, month), (brief, low, month, saved_),
                (brief, low, month), (brief, month), (week,), (brief,)]
    return _first_that_fits([" ".join(p for p in parts if p) for parts in variants])


def digest_card(orders: int, total_cents: int, titles: list[str], running_low: list[str], spent_cents: int,
                cap_cents: int | None, saved: int) -> tuple[str, str]:
    """The whole digest, read in the Alexa app: every product by its full title."""
    _week, brief, low, month, saved_ = _digest_sentences(orders, total_cents, "", join(running_low), spent_cents,
                                                         cap_cents, saved)
    lines = [brief, *(f"- {title}" for title in titles), low, month, saved_]
    return _("Your week"), "\n".join(line for line in lines if line)
