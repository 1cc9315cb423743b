"""The OAuth tables through the unit of work's session (``uow.oauth``): reads give ``models`` values, writes that
must happen once (a code exchanged, a refresh token rotated) are single conditional UPDATEs, so two requests
racing with the same code or refresh token cannot both win."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from replenish.adapters import orm
from replenish.domain import model

from .models import AuthorizationCode, Client, Token
from .tables import oauth_clients, oauth_codes, oauth_tokens

_TOKEN_COLUMNS = (oauth_tokens.c.id, oauth_tokens.c.client_id, oauth_tokens.c.household_id, oauth_tokens.c.grant_id,
                  oauth_tokens.c.scope, oauth_tokens.c.linked_at, oauth_tokens.c.issued_at,
                  oauth_tokens.c.access_expires_at, oauth_tokens.c.refresh_expires_at, oauth_tokens.c.revoked_at)


class OAuthStore:
    def __init__(self, session: Session):
        self.session = session

    # -- clients --------------------------------------------------------------------------------------------
    def client(self, client_id: str) -> Client | None:
        row = self.session.execute(select(oauth_clients).where(oauth_clients.c.id == client_id)).first()
        return _client(row) if row else None

    def client_named(self, name: str) -> Client | None:
        row = self.session.execute(select(oauth_clients).where(oauth_clients.c.name == name)).first()
        return _client(row) if row else None

    def clients(self) -> list[Client]:
        return [_client(r) for r in self.session.execute(select(oauth_clients).order_by(oauth_clients.c.name))]

    def add_client(self, client: Client) -> None:
        self.session.execute(insert(oauth_clients).values(
            id=client.id, name=client.name, display_name=client.display_name, secret_hash=client.secret_hash,
            redirect_uris=list(client.redirect_uris), scope=client.scope, created_at=client.created_at))

    def delete_client(self, client_id: str) -> int:
        """The client and everything issued to it; returns how many live links that ended."""
        live = self.session.execute(select(func.count(func.distinct(oauth_tokens.c.grant_id))).where(
            oauth_tokens.c.client_id == client_id, oauth_tokens.c.revoked_at.is_(None))).scalar_one()
        self.session.execute(delete(oauth_tokens).where(oauth_tokens.c.client_id == client_id))
        self.session.execute(delete(oauth_codes).where(oauth_codes.c.client_id == client_id))
        self.session.execute(delete(oauth_clients).where(oauth_clients.c.id == client_id))
        return int(live)

    def live_links(self, now: datetime) -> dict[str, int]:
        """Linked households per client id."""
        stmt = (select(oauth_tokens.c.client_id,
                       func.count(func.distinct(oauth_tokens.c.household_id)).label("households"))
                .where(*_live(now)).group_by(oauth_tokens.c.client_id))
        return {row.client_id: int(row.households) for row in self.session.execute(stmt)}

    # -- authorization codes --------------------------------------------------------------------------------
    def add_code(self, code: AuthorizationCode) -> None:
        self.session.execute(insert(oauth_codes).values(
            code_hash=code.code_hash, client_id=code.client_id, household_id=code.household_id,
            grant_id=code.grant_id, redirect_uri=code.redirect_uri, scope=code.scope,
            code_challenge=code.code_challenge, code_challenge_method=code.code_challenge_method,
            created_at=code.created_at, expires_at=code.expires_at))

    def code(self, code_hash: str) -> AuthorizationCode | None:
        row = self.session.execute(select(oauth_codes).where(oauth_codes.c.code_hash == code_hash)).first()
        return AuthorizationCode(**row._mapping) if row else None

    def claim_code(self, code_hash: str, now: datetime) -> bool:
        """Marks the code used; False when it already was (or has expired) meanwhile."""
        result = self.session.execute(update(oauth_codes).where(
            oauth_codes.c.code_hash == code_hash, oauth_codes.c.used_at.is_(None),
            oauth_codes.c.expires_at > now).values(used_at=now))
        return orm.rowcount(result) == 1

    def prune_codes(self, before: datetime) -> None:
        self.session.execute(delete(oauth_codes).where(oauth_codes.c.expires_at < before))

    def prune_tokens(self, before: datetime) -> int:
        """Deletes tokens that ended before ``before``: revoked (or refreshed) then, or whose refresh token (or,
        without one, access token) expired then. A rotated refresh token presented again after that is only an
        unknown token (invalid_grant), no longer recognised as a reuse."""
        ended = or_(oauth_tokens.c.revoked_at < before,
                    and_(oauth_tokens.c.refresh_expires_at.is_not(None), oauth_tokens.c.refresh_expires_at < before),
                    and_(oauth_tokens.c.refresh_expires_at.is_(None), oauth_tokens.c.access_expires_at < before))
        return orm.rowcount(self.session.execute(delete(oauth_tokens).where(ended)))

    # -- tokens ---------------------------------------------------------------------------------------------
    def add_token(self, **values: Any) -> None:
        self.session.execute(insert(oauth_tokens).values(**values))

    def token_by_access(self, access_hash: str, now: datetime) -> Token | None:
        return self._token(oauth_tokens.c.access_token_hash == access_hash, now)

    def token_by_refresh(self, refresh_hash: str, now: datetime) -> Token | None:
        return self._token(oauth_tokens.c.refresh_token_hash == refresh_hash, now)

    def _token(self, where: ColumnElement[bool], now: datetime) -> Token | None:
        row = self.session.execute(select(*_TOKEN_COLUMNS).where(where)).first()
        return Token(**row._mapping, now=now) if row else None

    def retire_token(self, token_id: str, now: datetime) -> bool:
        """Ends one token (it was refreshed); False when something else ended it first."""
        result = self.session.execute(update(oauth_tokens).where(
            oauth_tokens.c.id == token_id, oauth_tokens.c.revoked_at.is_(None)).values(revoked_at=now))
        return orm.rowcount(result) == 1

    def revoke_grant(self, grant_id: str, now: datetime) -> int:
        self.session.execute(update(oauth_codes).where(oauth_codes.c.grant_id == grant_id,
                                                       oauth_codes.c.used_at.is_(None)).values(used_at=now))
        result = self.session.execute(update(oauth_tokens).where(
            oauth_tokens.c.grant_id == grant_id, oauth_tokens.c.revoked_at.is_(None)).values(revoked_at=now))
        return orm.rowcount(result)

    def unlink(self, household_id: str, client_id: str, now: datetime) -> int:
        """Every token the client holds for the household, and any code not yet exchanged."""
        self.session.execute(update(oauth_codes).where(
            oauth_codes.c.household_id == household_id, oauth_codes.c.client_id == client_id,
            oauth_codes.c.used_at.is_(None)).values(used_at=now))
        result = self.session.execute(update(oauth_tokens).where(
            oauth_tokens.c.household_id == household_id, oauth_tokens.c.client_id == client_id,
            oauth_tokens.c.revoked_at.is_(None)).values(revoked_at=now))
        return orm.rowcount(result)

    def linked(self, household_id: str, now: datetime) -> list[tuple[Client, datetime, str]]:
        """The clients linked to a household: (client, first linked, every scope granted), oldest link first."""
        stmt = (select(oauth_tokens.c.client_id, oauth_tokens.c.linked_at, oauth_tokens.c.scope)
                .where(oauth_tokens.c.household_id == household_id, *_live(now)))
        found: dict[str, tuple[datetime, set[str]]] = {}
        for row in self.session.execute(stmt):
            first, granted = found.get(row.client_id, (row.linked_at, set()))
            found[row.client_id] = (min(first, row.linked_at), granted | set(row.scope.split()))
        clients = {c.id: c for c in self.clients()} if found else {}
        rows = [(clients[cid], first, " ".join(sorted(granted))) for cid, (first, granted) in found.items()
                if cid in clients]
        return sorted(rows, key=lambda r: (r[1], r[0].name))

    def household_for_access_token(self, access_hash: str, now: datetime) -> tuple[model.Household, str] | None:
        """(household, scope) for a live access token, in one query: what the voice skill asks every turn."""
        stmt = (select(model.Household, oauth_tokens.c.scope)
                .join(oauth_tokens, oauth_tokens.c.household_id == orm.households.c.id)
                .where(oauth_tokens.c.access_token_hash == access_hash, oauth_tokens.c.revoked_at.is_(None),
                       oauth_tokens.c.access_expires_at > now))
        row = self.session.execute(stmt).first()
        return (row[0], row[1]) if row else None


def _live(now: datetime) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """A token that still works, or whose refresh token still does."""
    return (oauth_tokens.c.revoked_at.is_(None),
            (oauth_tokens.c.access_expires_at > now) | (oauth_tokens.c.refresh_expires_at > now))


def _client(row: orm.AnyRow) -> Client:
    values = dict(row._mapping)
    values["redirect_uris"] = list(values.get("redirect_uris") or [])
    return Client(**values)
