"""devices for fleets: partner signing keys, signed-request nonces, device secrets, slot debounce

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "partner_keys",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("partner_id", sa.String(32), sa.ForeignKey("partners.id", ondelete="CASCADE"), nullable=False,
                  index=True),
        sa.Column("secret", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "signed_requests",
        sa.Column("key_id", sa.String(64), primary_key=True),
        sa.Column("nonce", sa.String(128), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=True),
    )
    op.create_index("ix_signed_requests_created", "signed_requests", ["created_at"])
    with op.batch_alter_table("devices") as batch:
        batch.add_column(sa.Column("secret", sa.String(128), nullable=True))
    with op.batch_alter_table("partners") as batch:
        batch.alter_column("api_key_hash", existing_type=sa.String(64), nullable=True)
    with op.batch_alter_table("device_slots") as batch:
        batch.add_column(sa.Column("debounce", sa.Integer(), nullable=False, server_default="2"))
        batch.add_column(sa.Column("low_streak", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("device_slots") as batch:
        batch.drop_column("low_streak")
        batch.drop_column("debounce")
    with op.batch_alter_table("devices") as batch:
        batch.drop_column("secret")
    op.drop_index("ix_signed_requests_created", table_name="signed_requests")
    op.drop_table("signed_requests")
    op.drop_table("partner_keys")
