"""buttons: what a press does (order, or add to the shopping list)

Revision ID: 0014
Revises: 0013
"""
from alembic import op
import sqlalchemy as sa

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("buttons") as batch:
        batch.add_column(sa.Column("action", sa.String(8), nullable=False, server_default="order"))


def downgrade() -> None:
    with op.batch_alter_table("buttons") as batch:
        batch.drop_column("action")
