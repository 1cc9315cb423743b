"""the household shopping list

Revision ID: 0013
Revises: 0012
"""
from alembic import op
import sqlalchemy as sa


revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shopping_lists",
        sa.Column("household_id", sa.String(64), sa.ForeignKey("households.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("nonce", sa.String(32), nullable=False),
    )
    op.create_table(
        "list_items",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("household_id", sa.String(64), sa.ForeignKey("households.id", ondelete="CASCADE"), nullable=False),
        sa.Column("phrase", sa.String(200), nullable=False),
        sa.Column("sku", sa.String(64), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("added_by", sa.String(16), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_list_items_household", "list_items", ["household_id", "position"])


def downgrade() -> None:
    op.drop_index("ix_list_items_household", "list_items")
    op.drop_table("list_items")
    op.drop_table("shopping_lists")
