"""fewer deliveries: orders sent together in one retailer order, and the household's "send together" choice

Revision ID: 0017
Revises: 0016
"""
import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("merge_group", sa.String(32), nullable=True))
        batch.create_index("ix_orders_merge_group", ["merge_group"])
    with op.batch_alter_table("household_limits") as batch:
        batch.add_column(sa.Column("send_together", sa.Boolean, nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("household_limits") as batch:
        batch.drop_column("send_together")
    with op.batch_alter_table("orders") as batch:
        batch.drop_index("ix_orders_merge_group")
        batch.drop_column("merge_group")
