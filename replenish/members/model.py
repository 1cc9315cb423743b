"""Members of a household and the approval requests of those who may not spend on their own.

Pure Python: the roles, what each may do, a member's caps, and the life of a request (pending, then approved,
declined or expired; approving places one order)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from replenish.domain.errors import DomainError, InvalidCommand
from replenish.domain.model import check_amount

ROLES = ("owner", "adult", "child", "guest")
ASKERS = frozenset({"child", "guest"})  # their orders become approval requests
APPROVERS = frozenset({"owner", "adult"})
REQUEST_LIFETIME = timedelta(days=1)
MAX_NAME = 60
MAX_MEMBERS = 20
MAX_CAP_CENTS = 10_000_00
MAX_EMAIL = 254
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")  # a mobile number with its country code, as SNS texts it


class ApprovalNeeded(DomainError):
    """A child or guest asked to spend: that is a request for an adult, never an order."""
    code = "approval_needed"
    field = "speaker"


class NotAllowed(DomainError):
    code = "forbidden"


class RequestClosed(DomainError):
    """The request was already declined or expired (an approved one answers with its order)."""
    code = "request_closed"
    field = "request_id"


@dataclass
class Member:
    id: str
    household_id: str
    name: str
    role: str
    per_order_cap_cents: int | None = None
    per_month_cap_cents: int | None = None
    person_id: str | None = None  # the Alexa voice profile (context.System.person.personId)
    created_at: datetime | None = None
    email: str | None = None  # their own contact, for the notices about requests (through SNS)
    phone: str | None = None  # E.164
    approval_notices: bool = True  # whether they want those notices on that contact

    @property
    def reachable(self) -> bool:
        """Has a contact of their own and wants the approval notices on it."""
        return self.approval_notices and bool(self.email or self.phone)

    @property
    def asks(self) -> bool:
        return self.role in ASKERS

    @property
    def approves(self) -> bool:
        return self.role in APPROVERS

    def speaker(self) -> str:
        """What an order placed for this member records as its speaker (found again by ``speaks_as``)."""
        return self.id

    def speaks_as(self, speaker: str | None) -> bool:
        return bool(speaker) and speaker in (self.id, self.person_id)


@dataclass
class RequestLine:
    sku: str
    quantity: int
    title: str
    unit_price_cents: int

    @property
    def total_cents(self) -> int:
        return self.quantity * self.unit_price_cents


@dataclass
class ApprovalRequest:
    id: str
    household_id: str
    member_id: str
    channel: str
    lines: list[RequestLine]
    created_at: datetime
    expires_at: datetime
    status: str = "pending"  # pending | approved | declined | expired
    decided_by: str | None = None  # a member id, or "owner" for the household token's holder
    decided_at: datetime | None = None
    order_id: str | None = None
    reason: str | None = None  # why it did not become an order (a cap, out of stock)
    extra: dict = field(default_factory=dict)

    @property
    def total_cents(self) -> int:
        return sum(line.total_cents for line in self.lines)

    def idempotency_key(self) -> str:
        """The order it becomes: one key per request, so approving twice places one order."""
        return f"approval:{self.id}"

    def expired(self, now: datetime) -> bool:
        return self.status == "pending" and now >= self.expires_at


# -- commands -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AddMember:
    household_id: str
    name: str
    role: str
    per_order_cap_cents: int | None = None
    per_month_cap_cents: int | None = None
    person_id: str | None = None
    email: str | None = None
    phone: str | None = None
    approval_notices: bool = True


_UNSET = object()


@dataclass(frozen=True)
class ChangeMember:
    household_id: str
    member_id: str
    changes: dict  # any of name, role, the caps, person_id, email, phone, approval_notices (None clears a cap)


@dataclass(frozen=True)
class RemoveMember:
    household_id: str
    member_id: str


@dataclass(frozen=True)
class RequestApproval:
    household_id: str
    member_id: str
    channel: str
    lines: tuple  # of replenish.domain.commands.LineRequest


@dataclass(frozen=True)
class DecideApproval:
    household_id: str
    request_id: str
    approve: bool
    decided_by: str | None = None  # the deciding member's id; None: the household token's holder (the owner)


@dataclass(frozen=True)
class ExpireApprovals:
    pass


@dataclass(frozen=True)
class ReachMember:
    """Brings a member's own notice channel in line with their contact (SNS: their topic's email and text
    subscriptions); a member removed, or left without a contact, has none."""
    household_id: str
    member_id: str


def clean_name(name) -> str:
    if not isinstance(name, str) or not " ".join(name.split()):
        raise InvalidCommand("Give the member a name, e.g. 'Sam'.", field="name")
    name = " ".join(name.split())
    if len(name) > MAX_NAME:
        raise InvalidCommand(f"Keep the name under {MAX_NAME} characters.", field="name")
    return name


def check_role(role) -> str:
    if role not in ROLES:
        raise InvalidCommand(f"role is one of {', '.join(ROLES)}.", field="role")
    return role


# A member's own caps (within the household's): the domain's one rule for amounts, in these words.
CAPS = {"per_order_cap_cents": "A member's per-order cap", "per_month_cap_cents": "A member's monthly cap"}


def check_cap(field: str, cents) -> int | None:
    """A member's own cap in cents, 0 to ``MAX_CAP_CENTS``, None for no cap of their own (``check_amount``)."""
    return check_amount(cents, field=field, name=CAPS[field], ceiling=MAX_CAP_CENTS, none="no cap of their own")


def check_person(value) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 255 or not value.strip():
        raise InvalidCommand("person_id is the Alexa voice profile's personId.", field="person_id")
    return value.strip()


def check_email(value) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str) or len(value.strip()) > MAX_EMAIL or not _EMAIL.match(value.strip()):
        raise InvalidCommand("email is an address like sam@example.com, or empty for none.", field="email")
    return value.strip()


def check_phone(value) -> str | None:
    """A mobile number with its country code; spaces, dashes, dots and brackets are dropped (+1 (555) 010-0199)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    number = re.sub(r"[\s().-]", "", value) if isinstance(value, str) else ""
    if not _E164.match(number):
        raise InvalidCommand("phone is a mobile number with its country code, like +15551234567, or empty for "
                             "none.", field="phone")
    return number


def check_flag(value, name: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidCommand(f"{name} is true or false.", field=name)
    return value
