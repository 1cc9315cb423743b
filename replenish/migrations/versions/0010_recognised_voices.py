"""household setting: only voices Alexa recognises (voice profiles) may buy

Revision ID: 0010
Revises: 0009
"""
from alembic import op
import sqlalchemy as sa

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("household_limits") as batch:
        batch.add_column(sa.Column("recognised_voices_only", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("household_limits") as batch:
        batch.drop_column("recognised_voices_only")
