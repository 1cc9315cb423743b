"""The settings forms, parsed at the edge into typed values or a list of problems to show next to the fields.

Amounts are typed in dollars and cancel windows in minutes (what people think in); the commands take cents and
seconds. Notification preferences are kept with the household's limits (SetNotificationPrefs).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from replenish.domain import commands, model

CHANNELS = tuple(model.DEFAULT_CANCEL_WINDOWS)  # voice, button, appliance, web
CHANNEL_NAMES = {"voice": "Voice (Alexa)", "button": "Buttons", "appliance": "Appliances", "web": "This dashboard"}
MAX_WINDOW_MINUTES = 7 * 24 * 60
MAX_ORDER_CAP_CENTS = 10_000_000
MAX_MONTH_CAP_CENTS = 100_000_000
_MONEY = re.compile(r"^\$?\s*(\d{1,9})(?:\.(\d{1,2}))?$")


class FormErrors(Exception):
    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def parse_money(raw: str | None, label: str) -> int | None:
    """Cents from "25", "25.5", "$25.50"; None for an empty field (no cap)."""
    text = (raw or "").strip().replace(",", "")
    if not text:
        return None
    match = _MONEY.match(text)
    if not match:
        raise ValueError(f"{label} must be an amount in dollars, like 25 or 25.50 (or empty for no limit).")
    return int(match.group(1)) * 100 + int((match.group(2) or "0").ljust(2, "0"))


def parse_minutes(raw: str | None, label: str) -> int:
    text = (raw or "").strip()
    if not text.isdigit() or int(text) > MAX_WINDOW_MINUTES:
        raise ValueError(f"{label}: the cancel window is a whole number of minutes from 0 to {MAX_WINDOW_MINUTES}.")
    return int(text)


def limits_command(household_id: str, form) -> commands.UpdateLimits:
    errors: dict[str, str] = {}
    caps: dict[str, int | None] = {}
    for name, label, ceiling in (("per_order_cap", "The per-order limit", MAX_ORDER_CAP_CENTS),
                                 ("per_month_cap", "The monthly limit", MAX_MONTH_CAP_CENTS)):
        try:
            cap = caps[name] = parse_money(form.get(name), label)
            if cap is not None and cap > ceiling:
                raise ValueError(f"{label} can be at most ${ceiling // 100:,}.")
        except ValueError as exc:
            errors[name] = str(exc)
    windows = {}
    for channel in CHANNELS:
        key = f"window_{channel}"
        try:
            windows[channel] = parse_minutes(form.get(key), CHANNEL_NAMES[channel]) * 60
        except ValueError as exc:
            errors[key] = str(exc)
    if errors:
        raise FormErrors(errors)
    return commands.UpdateLimits(
        household_id, per_order_cap_cents=caps["per_order_cap"], per_month_cap_cents=caps["per_month_cap"],
        cancel_windows=windows, clear_per_order_cap=caps["per_order_cap"] is None,
        clear_per_month_cap=caps["per_month_cap"] is None,
        recognised_voices_only=bool(form.get("recognised_voices_only")), send_together=bool(form.get("send_together")))


def limits_form_values(limits: dict) -> dict:
    """What the limits form shows for the stored limits."""
    def dollars(cents):
        return "" if cents is None else (f"{cents // 100}" if cents % 100 == 0 else f"{cents / 100:.2f}")
    values = {"per_order_cap": dollars(limits["per_order_cap_cents"]),
              "per_month_cap": dollars(limits["per_month_cap_cents"])}
    for channel in CHANNELS:
        seconds = int(limits["cancel_windows"].get(channel, model.DEFAULT_CANCEL_WINDOWS[channel]))
        values[f"window_{channel}"] = str(seconds // 60)
    return values


def pin_command(household_id: str, form) -> commands.SetVoicePin:
    if form.get("action") == "remove":
        return commands.SetVoicePin(household_id, None)
    pin, again = (form.get("pin") or "").strip(), (form.get("pin_again") or "").strip()
    if not (pin.isdigit() and len(pin) == 4):
        raise FormErrors({"pin": "The voice PIN must be exactly four digits."})
    if pin != again:
        raise FormErrors({"pin_again": "The two PINs do not match."})
    return commands.SetVoicePin(household_id, pin)


# -- notification preferences -------------------------------------------------------------------------------
NOTIFY_CHANNELS = {"email": "Email", "sms": "Text message", "alexa": "Alexa notification"}
NOTIFY_EVENTS = {"placed": "An order is placed", "shipped": "An order ships", "delivered": "An order is delivered",
                 "problems": "An order is cancelled or fails", "running_low": "Something is running low"}
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[A-Za-z]{2,}$")
_PHONE = re.compile(r"^\+[1-9]\d{6,14}$")


@dataclass
class Prefs:
    channels: dict = field(default_factory=lambda: {"email": False, "sms": False, "alexa": True})
    events: dict = field(default_factory=lambda: {k: True for k in NOTIFY_EVENTS})
    email: str = ""
    phone: str = ""


def load_prefs(container, household_id: str) -> Prefs:
    with container.uow() as uow:
        saved = uow.households.get(household_id).limits.notify
    return Prefs(channels=saved["channels"], events=saved["topics"], email=saved["email"], phone=saved["phone"])


def save_prefs(container, household_id: str, prefs: Prefs) -> None:
    container.bus.handle(commands.SetNotificationPrefs(household_id, prefs.channels, prefs.events, prefs.email,
                                                       prefs.phone))


def parse_prefs(form) -> Prefs:
    prefs = Prefs(channels={k: form.get(f"channel_{k}") == "on" for k in NOTIFY_CHANNELS},
                  events={k: form.get(f"event_{k}") == "on" for k in NOTIFY_EVENTS},
                  email=(form.get("email") or "").strip(), phone=(form.get("phone") or "").strip().replace(" ", ""))
    errors = {}
    if prefs.email and not _EMAIL.match(prefs.email):
        errors["email"] = "That does not look like an email address."
    elif prefs.channels["email"] and not prefs.email:
        errors["email"] = "Give an email address to get emails."
    if prefs.phone and not _PHONE.match(prefs.phone):
        errors["phone"] = "Write the phone number with its country code, like +15551234567."
    elif prefs.channels["sms"] and not prefs.phone:
        errors["phone"] = "Give a phone number to get text messages."
    if errors:
        raise FormErrors(errors)
    return prefs
