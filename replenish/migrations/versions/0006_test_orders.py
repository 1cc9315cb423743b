"""test orders (DRS TEST_ORDER_PLACED): orders marked test; partners in test mode and devices flagged test

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("test", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("partners") as batch:
        batch.add_column(sa.Column("test_mode", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("devices") as batch:
        batch.add_column(sa.Column("test", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("devices") as batch:
        batch.drop_column("test")
    with op.batch_alter_table("partners") as batch:
        batch.drop_column("test_mode")
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("test")
