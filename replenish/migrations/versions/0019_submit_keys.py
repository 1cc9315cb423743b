"""the retailer key each order is sent under, written before it is sent (a claim)

Revision ID: 0019
Revises: 0018

``orders.submit_key``: the idempotency key a pending order goes to the store under, decided once, with the
orders it goes with (those sharing the key), and committed before anything is sent; NULL while it is not claimed.
Orders tried before this revision keep the key they were tried under: their merged group's, or, tried alone,
their own id.
"""
import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("submit_key", sa.String(32), nullable=True))
        batch.create_index("ix_orders_submit_key", ["submit_key"])
    op.execute("UPDATE orders SET submit_key = merge_group WHERE status = 'pending' AND merge_group IS NOT NULL")
    op.execute("UPDATE orders SET submit_key = id WHERE status = 'pending' AND submit_key IS NULL "
               "AND submit_attempts > 0")


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_index("ix_orders_submit_key")
        batch.drop_column("submit_key")
