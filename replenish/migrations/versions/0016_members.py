"""household members, their roles and caps, and approval requests

Revision ID: 0016
Revises: 0015
"""
from alembic import op
import sqlalchemy as sa

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "members",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("household_id", sa.String(64), sa.ForeignKey("households.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(60), nullable=False),
        sa.Column("role", sa.String(8), nullable=False),
        sa.Column("per_order_cap_cents", sa.Integer(), nullable=True),
        sa.Column("per_month_cap_cents", sa.Integer(), nullable=True),
        sa.Column("person_id", sa.String(255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("household_id", "person_id", name="uq_members_household_person"),
    )
    op.create_index("ix_members_household", "members", ["household_id"])
    op.create_table(
        "approval_requests",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("household_id", sa.String(64), sa.ForeignKey("households.id", ondelete="CASCADE"), nullable=False),
        sa.Column("member_id", sa.String(32), sa.ForeignKey("members.id", ondelete="CASCADE"), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(32), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("order_id", sa.String(32), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
    )
    op.create_index("ix_approval_requests_household", "approval_requests", ["household_id", "status"])
    op.create_index("ix_approval_requests_expiry", "approval_requests", ["status", "expires_at"])
    op.create_table(
        "member_orders",
        sa.Column("order_id", sa.String(32), sa.ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("household_id", sa.String(64), sa.ForeignKey("households.id", ondelete="CASCADE"), nullable=False),
        sa.Column("member_id", sa.String(32), sa.ForeignKey("members.id", ondelete="CASCADE"), nullable=False),
    )
    op.create_index("ix_member_orders_member", "member_orders", ["member_id"])


def downgrade() -> None:
    op.drop_table("member_orders")
    op.drop_table("approval_requests")
    op.drop_table("members")
