"""members' own contacts: an email and/or mobile number per member and whether they want the notices about
requests there; a notice sent to one person records them in its channel ("sns to Alex"), so the column widens

Revision ID: 0018
Revises: 0017
"""
import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("members") as batch:
        batch.add_column(sa.Column("email", sa.String(254), nullable=True))
        batch.add_column(sa.Column("phone", sa.String(16), nullable=True))
        batch.add_column(sa.Column("approval_notices", sa.Boolean, nullable=False, server_default=sa.true()))
    with op.batch_alter_table("notifications") as batch:
        batch.alter_column("channel", existing_type=sa.String(32), type_=sa.String(80), existing_nullable=False)


def downgrade() -> None:
    op.execute("UPDATE notifications SET channel = 'sns' WHERE channel LIKE 'sns to %'")
    with op.batch_alter_table("notifications") as batch:
        batch.alter_column("channel", existing_type=sa.String(80), type_=sa.String(32), existing_nullable=False)
    with op.batch_alter_table("members") as batch:
        batch.drop_column("approval_notices")
        batch.drop_column("phone")
        batch.drop_column("email")
