"""`replenish buttons ...`, `replenish partners ...` and `replenish simulate`."""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from replenish.domain.model import MAX_QUANTITY

if TYPE_CHECKING:
    from replenish.bootstrap import Container

_make_container: Callable[[], Container] | None = None


def _container() -> Container:
    if _make_container is None:
        raise RuntimeError("replenish.devices.cli.register() gives the commands their container first")
    return _make_container()


def register(main: click.Group, make_container: Callable[[], Container]) -> None:
    """Adds the groups to the ``replenish`` command; ``make_container`` is how that command builds its
    container (it migrates an embedded database first)."""
    global _make_container
    _make_container = make_container
    main.add_command(buttons)
    main.add_command(partners)
    main.add_command(simulate)


@click.group()
def buttons() -> None:
    """Pair Dash-style buttons with a household."""


@buttons.command("register")
@click.option("--household", required=True, help="Household id.")
@click.option("--product", "sku", help="SKU the button orders.")
@click.option("--category", help="Or a category the recommender resolves at press time (e.g. detergent).")
@click.option("--quantity", default=1, type=click.IntRange(1, MAX_QUANTITY), show_default=True)
@click.option("--action", type=click.Choice(["order", "list"]), default="order", show_default=True,
              help="What a press does: order, or add to the household's shopping list.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def buttons_register(household: str, sku: str | None, category: str | None, quantity: int, action: str,
                     as_json: bool) -> None:
    """Pair a button; prints its serial and its secret (shown once)."""
    from replenish.devices.domain.commands import RegisterButton
    if bool(sku) == bool(category):
        raise click.UsageError("give exactly one of --product or --category")
    _run(RegisterButton(household, sku, category, quantity, action), as_json,
         lambda r: f"button {r['serial']} paired with household {household}\n"
                   f"{'orders' if action == 'order' else 'adds to the list'}: {r['quantity']} x "
                   f"{r['sku'] or r['category']}\n"
                   f"key id: {r['key_id']}\nsecret: {r['secret']}")


@click.group()
def partners() -> None:
    """Appliance partners: signing keys and webhook secrets."""


@partners.command("create")
@click.argument("name")
@click.option("--webhook-url", default="", help="Where partner webhooks are sent.")
@click.option("--test-mode", is_flag=True, help="Every order its devices ask for is a test order, never sent to "
              "the store (for integrating).")
@click.option("--json", "as_json", is_flag=True)
def partners_create(name: str, webhook_url: str, test_mode: bool, as_json: bool) -> None:
    """Create a partner; prints its signing key (key id and secret) and webhook secret (shown once)."""
    from replenish.devices.domain.commands import CreatePartner
    _run(CreatePartner(name, webhook_url, test_mode), as_json,
         lambda r: f"partner {r['partner_id']} ({name})\nkey id: {r['key_id']}\nsecret: {r['secret']}\n"
                   f"webhook secret: {r['webhook_secret']}")


def _run(command, as_json: bool, describe) -> None:
    from replenish.cli_support import run
    run(_container(), command, as_json, describe)


@partners.command("create-key")
@click.argument("partner_id")
@click.option("--json", "as_json", is_flag=True)
def partners_create_key(partner_id: str, as_json: bool) -> None:
    """A new signing key for a partner (rotation: sign with it, then revoke the old one)."""
    from replenish.devices.domain.commands import CreatePartnerKey
    _run(CreatePartnerKey(partner_id), as_json,
                     lambda r: f"key id: {r['key_id']}\nsecret: {r['secret']}")


@partners.command("revoke-key")
@click.argument("partner_id")
@click.argument("key_id")
@click.option("--json", "as_json", is_flag=True)
def partners_revoke_key(partner_id: str, key_id: str, as_json: bool) -> None:
    """Revoke one of a partner's signing keys: requests signed with it are refused from now on."""
    from replenish.devices.domain.commands import RevokePartnerKey
    _run(RevokePartnerKey(partner_id, key_id), as_json, lambda r: f"key {r['key_id']} revoked")


@partners.command("add-webhook-secret")
@click.argument("partner_id")
@click.option("--json", "as_json", is_flag=True)
def partners_add_webhook_secret(partner_id: str, as_json: bool) -> None:
    """A new webhook secret; webhooks are signed with every live one until the old one is retired."""
    from replenish.devices.domain.commands import RotateWebhookSecret
    _run(RotateWebhookSecret(partner_id), as_json, lambda r: f"webhook secret: {r['added']}")


@partners.command("retire-webhook-secret")
@click.argument("partner_id")
@click.argument("secret")
@click.option("--json", "as_json", is_flag=True)
def partners_retire_webhook_secret(partner_id: str, secret: str, as_json: bool) -> None:
    """Stop signing webhooks with one of a partner's webhook secrets."""
    from replenish.devices.domain.commands import RotateWebhookSecret
    _run(RotateWebhookSecret(partner_id, retire=secret), as_json,
                     lambda r: f"{r['active_secrets']} webhook secret(s) left")


@click.command()
@click.option("--appliances", default=3, type=click.IntRange(0, 100_000), show_default=True)
@click.option("--buttons", "button_count", default=2, type=click.IntRange(0, 100_000), show_default=True)
@click.option("--days", default=30, type=click.IntRange(1, 3650), show_default=True)
@click.option("--url", default="http://127.0.0.1:8000", show_default=True)
@click.option("--seed", default=7, type=int, show_default=True)
@click.option("--concurrency", default=16, type=click.IntRange(1, 256), show_default=True,
              help="Requests in flight at once.")
@click.option("--json", "as_json", is_flag=True)
def simulate(appliances: int, button_count: int, days: int, url: str, seed: int, concurrency: int,
             as_json: bool) -> None:
    """Drive simulated households, appliances and buttons against a running server through the SDK (the
    server's retailer must deliver within a simulated day: see replenish/devices/simulate.py)."""
    from replenish.devices.simulate import run
    try:
        report = run(_container(), url, appliances=appliances, buttons=button_count, days=days, seed=seed,
                     echo=None if as_json else click.echo, concurrency=concurrency)
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from exc
    except Exception as exc:  # the server is not there, or answered nonsense: say so, no traceback
        import requests
        if isinstance(exc, requests.RequestException):
            raise click.ClickException(f"could not reach the server at {url}: {exc}") from exc
        raise
    click.echo(json.dumps(report, indent=2) if as_json else report["summary"])
