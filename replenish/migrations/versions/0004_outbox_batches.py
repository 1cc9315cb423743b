"""outbox: claimed in batches; failed events retried with backoff

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("retry_after", sa.DateTime(timezone=True), nullable=True))
        batch.drop_index("ix_outbox_pending")
    op.create_index("ix_outbox_unhandled", "outbox", ["id"], unique=False,
                    postgresql_where=sa.text("handled_at IS NULL"), sqlite_where=sa.text("handled_at IS NULL"))


def downgrade() -> None:
    op.drop_index("ix_outbox_unhandled", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.create_index("ix_outbox_pending", ["dispatched_at", "id"], unique=False)
        batch.drop_column("retry_after")
        batch.drop_column("attempts")
