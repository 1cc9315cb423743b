"""The members' tables (on the core's metadata, so Alembic and ``create_all`` see them) and their repository."""
from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    delete,
    insert,
    select,
    true,
    update,
)
from sqlalchemy.orm import Session

from replenish.adapters.orm import AnyRow, UTCDateTime, metadata
from replenish.domain.model import as_utc

from .model import ApprovalRequest, Member, RequestLine

members = Table(
    "members", metadata,
    Column("id", String(32), primary_key=True),
    Column("household_id", String(64), ForeignKey("households.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(60), nullable=False),
    Column("role", String(8), nullable=False),
    Column("per_order_cap_cents", Integer, nullable=True),
    Column("per_month_cap_cents", Integer, nullable=True),
    Column("person_id", String(255), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    # their own contact for the notices about requests (migration 0018), and whether they want them there
    Column("email", String(254), nullable=True),
    Column("phone", String(16), nullable=True),
    Column("approval_notices", Boolean, nullable=False, default=True, server_default=true()),
    UniqueConstraint("household_id", "person_id", name="uq_members_household_person"),
    Index("ix_members_household", "household_id"),
)

approval_requests = Table(
    "approval_requests", metadata,
    Column("id", String(32), primary_key=True),
    Column("household_id", String(64), ForeignKey("households.id", ondelete="CASCADE"), nullable=False),
    Column("member_id", String(32), ForeignKey("members.id", ondelete="CASCADE"), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("lines", JSON, nullable=False),
    Column("status", String(10), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("decided_by", String(32), nullable=True),
    Column("decided_at", UTCDateTime, nullable=True),
    Column("order_id", String(32), nullable=True),
    Column("reason", Text, nullable=True),
    Index("ix_approval_requests_household", "household_id", "status"),
    Index("ix_approval_requests_expiry", "status", "expires_at"),
)

# The orders placed for a member (by their voice, or approved for them): their month's spending, and the name in
# each order's timeline.
member_orders = Table(
    "member_orders", metadata,
    Column("order_id", String(32), ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True),
    Column("household_id", String(64), ForeignKey("households.id", ondelete="CASCADE"), nullable=False),
    Column("member_id", String(32), ForeignKey("members.id", ondelete="CASCADE"), nullable=False),
    Index("ix_member_orders_member", "member_id"),
)

_MEMBER = ("id", "household_id", "name", "role", "per_order_cap_cents", "per_month_cap_cents", "person_id",
           "created_at", "email", "phone", "approval_notices")
_REQUEST = ("id", "household_id", "member_id", "channel", "status", "created_at", "expires_at", "decided_by",
            "decided_at", "order_id", "reason")


def _member(row: AnyRow) -> Member:
    return Member(**{name: getattr(row, name) for name in _MEMBER})


def _request(row: AnyRow) -> ApprovalRequest:
    values = {name: getattr(row, name) for name in _REQUEST}
    for name in ("created_at", "expires_at", "decided_at"):
        values[name] = as_utc(values[name])
    return ApprovalRequest(lines=[RequestLine(**line) for line in row.lines], **values)


def _request_values(request: ApprovalRequest) -> dict[str, Any]:
    values = {name: getattr(request, name) for name in _REQUEST}
    values["lines"] = [{"sku": line.sku, "quantity": line.quantity, "title": line.title,
                        "unit_price_cents": line.unit_price_cents} for line in request.lines]
    return values


class MemberRepository:
    def __init__(self, session: Session):
        self.session = session

    # members
    def list(self, household_id: str) -> list[Member]:
        rows = self.session.execute(select(members).where(members.c.household_id == household_id)
                                    .order_by(members.c.created_at, members.c.name))
        return [_member(r) for r in rows]

    def get(self, household_id: str, member_id: str) -> Member | None:
        row = self.session.execute(select(members).where(members.c.household_id == household_id,
                                                         members.c.id == member_id)).first()
        return _member(row) if row else None

    def by_speaker(self, household_id: str, speaker: str | None) -> Member | None:
        if not speaker:
            return None
        row = self.session.execute(select(members).where(
            members.c.household_id == household_id,
            (members.c.person_id == speaker) | (members.c.id == speaker))).first()
        return _member(row) if row else None

    def add(self, member: Member) -> None:
        self.session.execute(insert(members).values(**{n: getattr(member, n) for n in _MEMBER}))

    def save(self, member: Member) -> None:
        self.session.execute(update(members).where(members.c.id == member.id)
                             .values(**{n: getattr(member, n) for n in _MEMBER if n not in ("id", "household_id")}))

    def remove(self, member_id: str) -> None:
        self.session.execute(delete(members).where(members.c.id == member_id))

    # approval requests
    def add_request(self, request: ApprovalRequest) -> None:
        self.session.execute(insert(approval_requests).values(**_request_values(request)))

    def request(self, household_id: str, request_id: str, for_update: bool = False) -> ApprovalRequest | None:
        stmt = select(approval_requests).where(approval_requests.c.household_id == household_id,
                                               approval_requests.c.id == request_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = self.session.execute(stmt).first()
        return _request(row) if row else None

    def save_request(self, request: ApprovalRequest) -> None:
        values = _request_values(request)
        self.session.execute(update(approval_requests).where(approval_requests.c.id == request.id).values(**values))

    def requests(self, household_id: str, statuses: builtins.list[str] | None = None, member_id: str | None = None,
                 limit: int = 50) -> builtins.list[ApprovalRequest]:
        stmt = select(approval_requests).where(approval_requests.c.household_id == household_id)
        if statuses:
            stmt = stmt.where(approval_requests.c.status.in_(statuses))
        if member_id:
            stmt = stmt.where(approval_requests.c.member_id == member_id)
        rows = self.session.execute(stmt.order_by(approval_requests.c.created_at.desc(),
                                                  approval_requests.c.id).limit(limit))
        return [_request(r) for r in rows]

    def by_orders(self, order_ids: builtins.list[str]) -> dict[str, ApprovalRequest]:
        if not order_ids:
            return {}
        rows = self.session.execute(select(approval_requests).where(approval_requests.c.order_id.in_(order_ids)))
        return {r.order_id: _request(r) for r in rows}

    def due_to_expire(self, now: datetime, limit: int = 500) -> builtins.list[tuple[str, str]]:
        rows = self.session.execute(select(approval_requests.c.household_id, approval_requests.c.id)
                                    .where(approval_requests.c.status == "pending",
                                           approval_requests.c.expires_at <= now).limit(limit))
        return [(r.household_id, r.id) for r in rows]

    # orders placed for members
    def record_order(self, order_id: str, household_id: str, member_id: str) -> None:
        found = self.session.execute(select(member_orders.c.order_id)
                                     .where(member_orders.c.order_id == order_id)).first()
        if found is None:
            self.session.execute(insert(member_orders).values(order_id=order_id, household_id=household_id,
                                                              member_id=member_id))

    def order_owners(self, order_ids: builtins.list[str]) -> dict[str, str]:
        if not order_ids:
            return {}
        rows = self.session.execute(select(member_orders.c.order_id, member_orders.c.member_id)
                                    .where(member_orders.c.order_id.in_(order_ids)))
        return {r.order_id: r.member_id for r in rows}
