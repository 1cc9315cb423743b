"""notification preferences kept with the household's limits

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("household_limits") as batch:
        batch.add_column(sa.Column("notification_prefs", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("household_limits") as batch:
        batch.drop_column("notification_prefs")
