"""The `replenish` command."""
from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

import click

from replenish.config import ConfigError, Settings


class _Main(click.Group):
    """A setting the product refuses to run with is one line naming the variable, not a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None


def _container(migrate_sqlite: bool = True):
    from replenish.bootstrap import bootstrap
    from replenish.db import migrate
    settings = Settings.from_env()
    if migrate_sqlite and settings.is_sqlite:
        migrate(settings.database_url)
    return bootstrap(settings)


@click.group(cls=_Main)
@click.option("-v", "--verbose", is_flag=True, help="Log more.")
def main(verbose: bool) -> None:
    """Replenish: replenishment ordering by voice, button and appliance."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not verbose:
        logging.getLogger("alembic").setLevel(logging.WARNING)


@main.command()
def migrate() -> None:
    """Upgrade the configured database to the newest schema."""
    from sqlalchemy.exc import OperationalError

    from replenish.db import migrate as run
    settings = Settings.from_env()
    try:
        run(settings.database_url)
    except OperationalError as exc:
        raise click.ClickException(_unreachable(settings.database_url, exc)) from exc
    click.echo(f"database at head: {_redact(settings.database_url)}")


def _unreachable(url: str, exc: Exception) -> str:
    """Why the database could not be opened, in one line, with what to do about it."""
    from sqlalchemy.engine import make_url
    reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
    parsed = make_url(url)
    hint = ""
    if "does not exist" in reason and parsed.database:
        hint = (f"\nCreate it first, e.g. `createdb -h {parsed.host or '127.0.0.1'} -U {parsed.username or 'postgres'}"
                f" {parsed.database}`, then run `replenish migrate` again.")
    return f"cannot open the database {_redact(url)}: {reason}{hint}"


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url
    return make_url(url).render_as_string(hide_password=True)


@main.command("seed-demo")
@click.option("--json", "as_json", is_flag=True, help="Print the household id and its API token as JSON.")
def seed_demo(as_json: bool) -> None:
    """Load the demo catalog and a demo household with two years of purchase history."""
    from replenish.importers import seed_demo as run
    result = run(_container())
    if as_json:
        click.echo(json.dumps({"household_id": result["household_id"], "token": result["token"]}))
    else:
        click.echo(f"demo household {result['household_id']} ({'created' if result['created'] else 'already there'}),"
                   f" {result['products']} products\nAPI token: {result['token']}")


@main.group("import")
def import_group() -> None:
    """Import catalogs and order histories."""


@import_group.command("instacart")
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@click.option("--anchor", help="Date of each household's last order (ISO 8601; default now).")
def import_instacart(directory: str, anchor: str | None) -> None:
    """Import an Instacart Market Basket directory (products, aisles, departments, orders, order lines)."""
    from replenish.cli_recommend import instacart_directory, peak_memory, report_bad_rows
    from replenish.importers import import_instacart as run
    from replenish.progress import Progress
    anchor_at = _parse_anchor(anchor)
    instacart_directory(directory)
    progress = Progress("purchases")
    report = run(_container(), directory, anchor=anchor_at, progress=progress)
    progress.done()
    report_bad_rows(report.bad_rows)
    click.echo(f"imported {_count(report.products, 'product')}, {_count(report.purchases, 'purchase line')}, "
               f"{_count(report.households_created, 'new household')}; {_count(report.bad_count, 'bad row')} skipped; "
               f"{peak_memory()}")


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def _parse_anchor(anchor: str | None) -> datetime | None:
    if not anchor:
        return None
    try:
        value = datetime.fromisoformat(anchor)
    except ValueError:
        raise click.BadParameter("use ISO 8601, e.g. 2026-03-01", param_hint="--anchor") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@main.command()
@click.option("--host", default=None, help="Interface (default 127.0.0.1 or HOST).")
@click.option("--port", default=None, type=int, help="Port (default 8000 or PORT).")
@click.option("--no-seed", is_flag=True, help="Do not seed the demo household into an empty database.")
def serve(host: str | None, port: int | None, no_seed: bool) -> None:
    """Run the web server (and, in embedded mode, the worker inside it)."""
    from werkzeug.serving import run_simple

    from replenish.config import ConfigError, check_secret_key
    from replenish.importers import seed_demo as run_seed
    from replenish.web import create_app
    from workers import runtime
    try:
        check_secret_key(Settings.from_env().secret_key)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    container = _container()
    settings = container.settings
    host, port = host or settings.host, port or settings.port
    _check_port_free(host, port)
    settings.host, settings.port = host, port  # what the app decides by (the session cookie's Secure flag)
    token = None
    with container.uow() as uow:
        empty = uow.households.count() == 0
    if empty and not no_seed:
        token = run_seed(container)["token"]
    runtime.set_container(container)
    worker = None
    if settings.embedded_worker:
        from workers.embedded import EmbeddedWorker
        worker = EmbeddedWorker().start()
    if not settings.alexa_verify:
        click.secho("WARNING: Alexa request verification is OFF (REPLENISH_ALEXA_VERIFY=0). "
                    "Never run like this where Alexa can reach you.", fg="red", bold=True, err=True)
    base = f"http://{host}:{port}"
    click.echo(f"Replenish is up ({'embedded' if settings.embedded else 'services'} mode, "
               f"database {_redact(settings.database_url)})")
    click.echo(f"  health:     {base}/healthz")
    click.echo(f"  dashboard:  {base}/dashboard")
    click.echo(f"  orders API: {base}/v1/orders")
    if token:
        click.echo(f"  demo token: {token}")
    else:
        click.echo("  API token:  shown when a household is created; "
                   "`.venv/bin/replenish household token create <household>` issues another")
    click.echo("  example:    curl -H 'Authorization: Bearer <token>' " + base + "/v1/orders"
               if not token else f"  example:    curl -H 'Authorization: Bearer {token}' {base}/v1/orders")
    from replenish.web import logredact
    logredact.install("werkzeug")  # one-time sign-in links never reach the request log
    try:
        run_simple(host, port, create_app(container), threaded=True, use_reloader=False)
    finally:
        if worker:
            worker.stop()


def _check_port_free(host: str, port: int) -> None:
    """Refuses, before saying the server is up, a port another program already listens on."""
    import socket
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise click.ClickException(f"cannot listen on {host!r}: {exc.strerror}") from exc
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise click.ClickException(
                f"cannot listen on {host}:{port}: {exc.strerror}. Another program is using it; choose another port "
                "with --port or PORT=..., e.g. `PORT=8001 make run`.") from exc


@main.command()
@click.option("--concurrency", "-c", default=2, type=int)
@click.option("--pool", default="prefork", type=click.Choice(["prefork", "threads", "solo"]))
@click.option("--loglevel", default="INFO")
@click.option("--no-supervise", is_flag=True, help="Run the worker in this process; do not restart it.")
def worker(concurrency: int, pool: str, loglevel: str, no_supervise: bool) -> None:
    """Run a Celery worker (real mode: REDIS_URL or BROKER_URL), restarted if it dies."""
    from workers import run
    settings = Settings.from_env()
    if settings.embedded:
        raise click.ClickException(
            "no broker is configured, so this worker could never receive a task. Set BROKER_URL (or REDIS_URL) "
            "to the broker the web processes use; in the embedded default, `replenish serve` runs its own worker.")
    args = [str(concurrency), pool, loglevel, settings.queue_name]
    sys.exit(run.main(args) if no_supervise else run.supervise(args))


@main.command()
@click.option("--loglevel", default="INFO")
def beat(loglevel: str) -> None:
    """Run the periodic scheduler (relay the outbox, submit due orders, track, retrain)."""
    import tempfile
    from pathlib import Path

    from workers.celery_app import app
    schedule = Path(Settings.from_env().var_dir) / "celerybeat-schedule"
    schedule.parent.mkdir(parents=True, exist_ok=True)
    app.start(["beat", f"--loglevel={loglevel}", f"--schedule={schedule or tempfile.mktemp()}"])


@main.group()
def household() -> None:
    """Create households and issue their API tokens."""


@household.command("create")
@click.argument("household_id")
@click.option("--name", default="")
@click.option("--address", default="")
@click.option("--time-zone", default="UTC")
@click.option("--json", "as_json", is_flag=True)
def household_create(household_id, name, address, time_zone, as_json) -> None:
    """Create a household (an id of letters, digits, '.', '_' or '-') and issue its first API token."""
    from replenish.domain import commands
    from replenish.domain.errors import DomainError
    container = _container()
    try:
        container.bus.handle(commands.CreateHousehold(household_id, name, address, time_zone))
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    token = container.bus.handle(commands.IssueToken(household_id))
    click.echo(json.dumps({"household_id": household_id, "token": token}) if as_json
               else f"household {household_id} created\nAPI token: {token}")


def _token_command(command, as_json: bool, describe) -> None:
    from replenish.cli_support import run
    run(_container(), command, as_json, describe)


@household.group("token")
def household_token() -> None:
    """A household's API tokens: create, list (first characters only), rotate, revoke."""


@household_token.command("create")
@click.argument("household_id")
@click.option("--label", default="api", show_default=True)
@click.option("--json", "as_json", is_flag=True)
def token_create(household_id: str, label: str, as_json: bool) -> None:
    """A new token (shown this once)."""
    from replenish.domain import commands
    from replenish.domain.errors import DomainError
    from replenish.services.handlers import new_token
    container = _container()
    try:
        made = new_token(commands.IssueToken(household_id, label), container.deps)
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(json.dumps(made) if as_json else f"token {made['id']} ({made['label']}): {made['token']}")


@household_token.command("list")
@click.argument("household_id")
@click.option("--json", "as_json", is_flag=True)
def token_list(household_id: str, as_json: bool) -> None:
    from replenish.domain.errors import DomainError
    from replenish.services.handlers import list_tokens
    try:
        tokens = list_tokens(household_id, _container().deps)
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    if as_json:
        click.echo(json.dumps(tokens))
        return
    for t in tokens:
        state = f"revoked {t['revoked_at']}" if t["revoked_at"] else "live"
        click.echo(f"{t['id']}  {t['prefix'] or '(made before prefixes)':<22} {t['label']:<16} {state}")


@household_token.command("rotate")
@click.argument("household_id")
@click.argument("token_id")
@click.option("--json", "as_json", is_flag=True)
def token_rotate(household_id: str, token_id: str, as_json: bool) -> None:
    """A new token with the old one's label; the old one stops working now."""
    from replenish.domain import commands
    _token_command(commands.RotateToken(household_id, token_id), as_json,
                   lambda r: f"token {r['id']} ({r['label']}) replaces {r['replaces']}: {r['token']}")


@household_token.command("revoke")
@click.argument("household_id")
@click.argument("token_id")
@click.option("--json", "as_json", is_flag=True)
def token_revoke(household_id: str, token_id: str, as_json: bool) -> None:
    from replenish.domain import commands
    _token_command(commands.RevokeToken(household_id, token_id), as_json, lambda r: f"token {r['id']} revoked")


def _register_feature_commands() -> None:
    """Command groups that live beside the feature they drive (recommender, buttons and devices, OAuth clients,
    the Alexa skill package)."""
    from replenish import cli_recommend
    from replenish.devices import wiring as devices
    from replenish.oauth import wiring as oauth
    from skills.skill_package import cli as skill_package
    cli_recommend.register(main)
    devices.register_commands(main, _container)
    oauth.register_commands(main, _container)
    skill_package.register(main, _container)


_register_feature_commands()

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
