"""The dashboard's forms (WTForms, through Flask-WTF): each parses ``request.form`` into typed values, or into
problems by field name that the page shows next to the fields (``problems()``: the first of each field's).

Amounts are typed in dollars and cancel windows in minutes (what people think in); the commands take cents and
seconds. The bounds of a household's limits are the domain's (``model.check_cap``, ``model.check_cancel_window``),
asked by the API too, so both refuse the same values in the same words. Notification preferences are kept with
the household's limits (SetNotificationPrefs).

The CSRF token is not a field here: ``CSRFProtect`` checked it before any view ran (``dashboard_security``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from flask_wtf import FlaskForm
from wtforms import BooleanField, Field, StringField
from wtforms.validators import EqualTo, Length, Regexp, StopValidation, ValidationError

from replenish.domain import commands, model
from replenish.domain.errors import InvalidCommand

CHANNELS = tuple(model.DEFAULT_CANCEL_WINDOWS)  # voice, button, appliance, web
CHANNEL_NAMES = model.CHANNEL_NAMES
MAX_WINDOW_MINUTES = int(model.MAX_CANCEL_WINDOW.total_seconds() // 60)
_MONEY = re.compile(r"^\$?\s*(\d{1,9})(?:\.(\d{1,2}))?$")


def strip(value):
    return value.strip() if isinstance(value, str) else value


class DashboardForm(FlaskForm):
    class Meta:
        csrf = False  # checked for every POST of the dashboard before its view runs (dashboard_security.csrf)

    def problems(self) -> dict[str, str]:
        """The first problem of each field that has one, by field name."""
        return {name: errors[0] for name, errors in self.errors.items() if name and errors}

    def first_problem(self) -> str:
        """What a page that says one thing says (in a flash): the first field's problem."""
        return next(iter(self.problems().values()), "Something in the form needs fixing.")

    def entered(self, *names: str) -> dict[str, str]:
        """What was typed into these fields (all the text fields when none are named), to show it again."""
        fields = [self[n] for n in names] if names else [f for f in self if not isinstance(f, BooleanField)]
        return {f.name: (f.raw_data[0] if f.raw_data else "") for f in fields}


# -- fields -------------------------------------------------------------------------------------------------
class MoneyField(Field):
    """Dollars as typed ("25", "25.5", "$25.50", "1,200"); ``data`` is cents, or None for an empty field."""

    def __init__(self, label: str, empty: str = "or empty for no limit", **kwargs):
        super().__init__(label, **kwargs)
        self.empty = empty

    def process_formdata(self, valuelist):
        text = (valuelist[0] if valuelist else "").strip().replace(",", "")
        self.data = None
        if not text:
            return
        match = _MONEY.match(text)
        if not match:
            raise ValueError(f"{self.label.text} must be an amount in dollars, like 25 or 25.50 ({self.empty}).")
        self.data = int(match.group(1)) * 100 + int((match.group(2) or "0").ljust(2, "0"))


class WholeNumberField(Field):
    """A whole number typed as digits; empty gives ``default`` (none: empty is a problem too). Anything else is
    the field's ``message``."""

    data: Any  # an int once the form validated (``pre_validate`` refuses None)

    def __init__(self, label: str, message: str, **kwargs):
        super().__init__(label, **kwargs)
        self.message = message

    def process_formdata(self, valuelist):
        text = (valuelist[0] if valuelist else "").strip()
        if not text:
            return  # the default stays
        if not (text.isascii() and text.isdigit()) or len(text) > 9:
            self.data = None
            raise ValueError(self.message)
        self.data = int(text)

    def pre_validate(self, form):
        if self.data is None:
            raise StopValidation(None if self.process_errors else self.message)


class InRange:
    """``low`` to ``high`` inclusive, in the field's own words (skipped when the field could not be read)."""

    def __init__(self, low: int, high: int):
        self.low, self.high = low, high

    def __call__(self, form, field):
        if field.data is not None and not self.low <= field.data <= self.high:
            raise ValidationError(field.message)


class Rule:
    """A domain rule on the field's value: its ``InvalidCommand`` is the field's problem, in the domain's words."""

    def __init__(self, check):
        self.check = check

    def __call__(self, form, field):
        if field.process_errors:
            raise StopValidation()  # said already: it could not be read
        try:
            self.check(field.data)
        except InvalidCommand as exc:
            raise ValidationError(exc.message) from None


def quantity_field(label: str = "Quantity", default: int | None = 1) -> WholeNumberField:
    """1 to ``MAX_QUANTITY`` (of one product in one order); empty is ``default`` (None: empty is a problem)."""
    words = f"{label} must be a whole number from 1 to {model.MAX_QUANTITY}."
    return WholeNumberField(label, words, default=default, validators=[InRange(1, model.MAX_QUANTITY)])


class NumberField(Field):
    """A number as typed ("10", "2.5"); ``data`` is a float, None for an empty field (``required``: a problem)."""

    data: Any  # a float once the form validated, when ``required``

    def __init__(self, label: str, message: str, required: bool = True, **kwargs):
        super().__init__(label, **kwargs)
        self.message, self.required = message, required

    def process_formdata(self, valuelist):
        text = (valuelist[0] if valuelist else "").strip()
        self.data = None
        if not text:
            return
        try:
            value = float(text)
        except ValueError:
            raise ValueError(self.message) from None
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(self.message)
        self.data = value

    def pre_validate(self, form):
        if self.data is None and self.required and not self.process_errors:
            raise StopValidation(self.message)


# -- ordering one product -----------------------------------------------------------------------------------
class OrderForm(DashboardForm):
    """"Order now" (the forecast), and a child's or guest's "ask for it" (replenish.members)."""
    sku = StringField("Product", filters=[strip], validators=[Length(min=1, max=64, message="Choose a product.")])
    quantity = quantity_field()
    key = StringField(filters=[lambda v: (v or "")[:100] or None])  # one per rendered form: a double click orders once


# -- limits -------------------------------------------------------------------------------------------------
def _cap(field_name: str) -> Rule:
    return Rule(lambda cents: model.check_cap(field_name, cents))


def _window(channel: str) -> Rule:
    return Rule(lambda minutes: model.check_cancel_window(channel, minutes * 60))


class LimitsForm(DashboardForm):
    per_order_cap = MoneyField(model.CAPS["per_order_cap_cents"][0], validators=[_cap("per_order_cap_cents")])
    per_month_cap = MoneyField(model.CAPS["per_month_cap_cents"][0], validators=[_cap("per_month_cap_cents")])
    recognised_voices_only = BooleanField()
    send_together = BooleanField()

    def command(self, household_id: str) -> commands.UpdateLimits:
        caps = {"per_order_cap_cents": self.per_order_cap.data, "per_month_cap_cents": self.per_month_cap.data}
        return commands.UpdateLimits(
            household_id, **caps, cancel_windows={c: self[f"window_{c}"].data * 60 for c in CHANNELS},
            clear_per_order_cap=caps["per_order_cap_cents"] is None,
            clear_per_month_cap=caps["per_month_cap_cents"] is None,
            recognised_voices_only=self.recognised_voices_only.data, send_together=self.send_together.data)


for _channel in CHANNELS:  # window_voice, window_button, ...: minutes
    setattr(LimitsForm, f"window_{_channel}", WholeNumberField(
        CHANNEL_NAMES[_channel], f"{CHANNEL_NAMES[_channel]}: the cancel window is a whole number of minutes, from 0 "
        f"to {MAX_WINDOW_MINUTES:,} ({model.MAX_CANCEL_WINDOW.days} days).", validators=[_window(_channel)]))


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


# -- voice PIN ----------------------------------------------------------------------------------------------
class PinForm(DashboardForm):
    action = StringField()
    pin = StringField("Voice PIN", filters=[strip], validators=[
        Regexp(r"[0-9]{4}\Z", message="The voice PIN must be exactly four digits.")])
    pin_again = StringField("The PIN again", filters=[strip], validators=[
        EqualTo("pin", message="The two PINs do not match.")])

    @property
    def removing(self) -> bool:
        return self.action.data == "remove"

    def command(self, household_id: str) -> commands.SetVoicePin:
        return commands.SetVoicePin(household_id, None if self.removing else self.pin.data)


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


class NotificationsForm(DashboardForm):
    email = StringField("Email address", filters=[strip])
    phone = StringField("Mobile number", filters=[lambda v: (v or "").strip().replace(" ", "")])

    def validate_email(self, field):
        if field.data and not _EMAIL.match(field.data):
            raise ValidationError("That does not look like an email address.")
        if self.channel_email.data and not field.data:
            raise ValidationError("Give an email address to get emails.")

    def validate_phone(self, field):
        if field.data and not _PHONE.match(field.data):
            raise ValidationError("Write the phone number with its country code, like +15551234567.")
        if self.channel_sms.data and not field.data:
            raise ValidationError("Give a phone number to get text messages.")

    def prefs(self) -> Prefs:
        """The choices as sent (also to show them again when something needs fixing)."""
        return Prefs(channels={k: self[f"channel_{k}"].data for k in NOTIFY_CHANNELS},
                     events={k: self[f"event_{k}"].data for k in NOTIFY_EVENTS},
                     email=self.email.data or "", phone=self.phone.data or "")


for _key, _label in NOTIFY_CHANNELS.items():
    setattr(NotificationsForm, f"channel_{_key}", BooleanField(_label))
for _key, _label in NOTIFY_EVENTS.items():
    setattr(NotificationsForm, f"event_{_key}", BooleanField(_label))


def load_prefs(container, household_id: str) -> Prefs:
    with container.uow() as uow:
        saved = uow.households.get(household_id).limits.notify
    return Prefs(channels=saved["channels"], events=saved["topics"], email=saved["email"], phone=saved["phone"])


def save_prefs(container, household_id: str, prefs: Prefs) -> None:
    container.bus.handle(commands.SetNotificationPrefs(household_id, prefs.channels, prefs.events, prefs.email,
                                                       prefs.phone))
