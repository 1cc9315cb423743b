"""What every `replenish` command that runs a bus command shares: the answer printed as JSON or in words, and a
refusal by the rules printed as a message (exit status 1), never a traceback."""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click


def run(container, command, as_json: bool, describe: Callable[[Any], str]) -> Any:
    """Runs ``command`` on ``container``'s bus and prints its answer; returns it."""
    from replenish.domain.errors import DomainError
    try:
        result = container.bus.handle(command)
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(json.dumps(result) if as_json else describe(result))
    return result
