"""Clients, authorization codes and tokens, on the core's metadata (one Alembic history, one create_all).

Only SHA-256 hashes of client secrets, codes and tokens are kept: a copy of the database lets nobody act as a
client or a linked household. A ``grant_id`` names one act of linking (a code and every token refreshed from
it), so that a replayed code or refresh token revokes the whole chain.
"""
from __future__ import annotations

from sqlalchemy import JSON, Column, ForeignKey, Index, String, Table, Text

from replenish.adapters.orm import UTCDateTime, metadata

oauth_clients = Table(
    "oauth_clients", metadata,
    Column("id", String(64), primary_key=True),  # the client_id
    Column("name", String(64), nullable=False, unique=True),  # how operators name it: "alexa"
    Column("display_name", String(200), nullable=False),  # what a household reads: "Replenish for Alexa"
    Column("secret_hash", String(64), nullable=False),
    Column("redirect_uris", JSON, nullable=False, default=list),
    Column("scope", String(200), nullable=False),  # the most it may ask for
    Column("created_at", UTCDateTime, nullable=False),
)

oauth_codes = Table(
    "oauth_codes", metadata,
    Column("code_hash", String(64), primary_key=True),
    Column("client_id", String(64), ForeignKey("oauth_clients.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("household_id", String(64), ForeignKey("households.id", ondelete="CASCADE"), nullable=False,
           index=True),
    Column("grant_id", String(32), nullable=False),
    Column("redirect_uri", Text, nullable=True),
    Column("scope", String(200), nullable=False),
    Column("code_challenge", String(128), nullable=True),
    Column("code_challenge_method", String(16), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime, nullable=True),
)

oauth_tokens = Table(
    "oauth_tokens", metadata,
    Column("id", String(32), primary_key=True),
    Column("client_id", String(64), ForeignKey("oauth_clients.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("household_id", String(64), ForeignKey("households.id", ondelete="CASCADE"), nullable=False),
    Column("grant_id", String(32), nullable=False, index=True),
    Column("access_token_hash", String(64), nullable=False, unique=True),
    Column("refresh_token_hash", String(64), nullable=True, unique=True),
    Column("scope", String(200), nullable=False),
    Column("linked_at", UTCDateTime, nullable=False),  # when the household approved (kept across refreshes)
    Column("issued_at", UTCDateTime, nullable=False),
    Column("access_expires_at", UTCDateTime, nullable=False),
    Column("refresh_expires_at", UTCDateTime, nullable=True),
    Column("revoked_at", UTCDateTime, nullable=True),  # refreshed (rotated), revoked or unlinked
    Index("ix_oauth_tokens_household_client", "household_id", "client_id"),
)
