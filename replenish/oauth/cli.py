"""`replenish oauth-client create|list|revoke` and `replenish oauth-token`.

With ``--json`` the answer is one JSON object on stdout, and so is a refusal (``{"error": {"code", "message",
"field"}}``, exit status 2); without it, a refusal is click's usual one-line error. Never a traceback.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from .service import OAuthInputError

_make_container: Callable[[], Any] | None = None

# the command-line option each field of a refusal came from
_OPTIONS = {"name": "--name", "redirect_uri": "--redirect-uri", "scope": "--scope", "display_name": "--display-name",
            "client": "--client", "household": "--household"}


def _container():
    if _make_container is None:
        raise RuntimeError("replenish.oauth.cli.register() was not called")
    return _make_container()


def register(main: click.Group, make_container) -> None:
    global _make_container
    _make_container = make_container
    main.add_command(oauth_client)
    main.add_command(oauth_token)


def _refuse(exc: OAuthInputError, as_json: bool, field_override: str | None = None):
    field = field_override or exc.field
    if as_json:
        body = exc.body()
        body["error"]["field"] = _OPTIONS.get(field, field)
        click.echo(json.dumps(body))
        raise click.exceptions.Exit(2)
    raise click.BadParameter(exc.message, param_hint=_OPTIONS.get(field, field))


@click.group("oauth-client")
def oauth_client() -> None:
    """OAuth clients that households link (the Alexa skill's account linking)."""


@oauth_client.command("create")
@click.option("--name", required=True, help="How you name the client in commands, e.g. alexa.")
@click.option("--redirect-uri", "redirect_uris", multiple=True, required=True,
              help="A redirect URI the client may use (repeat for each; for Alexa, every Alexa Redirect URL).")
@click.option("--display-name", default=None, help='What households read (default "Replenish for <Name>").')
@click.option("--scope", default=None, help="The scopes it may ask for (default: orders:place orders:cancel "
                                            "orders:read).")
@click.option("--json", "as_json", is_flag=True, help="Print the client as JSON.")
def client_create(name, redirect_uris, display_name, scope, as_json) -> None:
    """Register a client; prints its client id and secret (the secret is shown once)."""
    from . import service
    try:
        client = service.create_client(_container(), name, redirect_uris, display_name, scope)
    except OAuthInputError as exc:
        _refuse(exc, as_json)
    if as_json:
        click.echo(json.dumps(client))
        return
    click.echo(f"OAuth client {client['name']} ({client['display_name']})\n"
               f"client id:     {client['client_id']}\nclient secret: {client['client_secret']}\n"
               f"scopes:        {client['scope']}\nredirect URIs: {' '.join(client['redirect_uris'])}")


@oauth_client.command("list")
@click.option("--json", "as_json", is_flag=True)
def client_list(as_json) -> None:
    """The registered clients and how many households each is linked to."""
    from . import service
    clients = service.list_clients(_container())
    if as_json:
        click.echo(json.dumps({"clients": clients}))
        return
    if not clients:
        click.echo("no OAuth clients (replenish oauth-client create --name alexa --redirect-uri URL)")
    for c in clients:
        click.echo(f"{c['name']}\t{c['client_id']}\t{c['display_name']}\t{c['linked_households']} linked\t"
                   f"{c['scope']}")


@oauth_client.command("revoke")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
def client_revoke(name, as_json) -> None:
    """Remove a client: its secret stops working and every household linked through it is unlinked."""
    from . import service
    try:
        result = service.revoke_client(_container(), name)
    except OAuthInputError as exc:
        _refuse(exc, as_json, "NAME")
    if as_json:
        click.echo(json.dumps(result))
    else:
        click.echo(f"OAuth client {result['revoked']} removed; {result['households_unlinked']} link(s) ended")


@click.command("oauth-token")
@click.option("--household", required=True, help="Household id.")
@click.option("--client", "client_name", required=True, help="The client's name (replenish oauth-client list).")
@click.option("--scope", default=None, help='e.g. "orders:place orders:cancel orders:read" (default: all the '
                                            "client may ask for).")
@click.option("--json", "as_json", is_flag=True, help="Print the token response as JSON.")
def oauth_token(household, client_name, scope, as_json) -> None:
    """Issue an access token (and refresh token) for a household, as the token endpoint would after the household
    approved: to try the voice skill locally without a browser."""
    from . import service
    try:
        token = service.issue_token(_container(), household, client_name, scope)
    except OAuthInputError as exc:
        _refuse(exc, as_json)
    if as_json:
        click.echo(json.dumps(token))
    else:
        click.echo(f"access token:  {token['access_token']} (expires in {token['expires_in']} s)\n"
                   f"refresh token: {token['refresh_token']}\nscope:         {token['scope']}")
