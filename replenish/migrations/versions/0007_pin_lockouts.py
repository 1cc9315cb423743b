"""voice PIN lockouts escalate: how many in a row

Revision ID: 0007
Revises: 0006
"""
from alembic import op
import sqlalchemy as sa

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("household_limits") as batch:
        batch.add_column(sa.Column("pin_lockouts", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("household_limits") as batch:
        batch.drop_column("pin_lockouts")
