"""What the CLI tests share: a run of the `replenish` command that must never end in a traceback (the fresh,
embedded environment they run in is the ``cli_env`` fixture in tests/conftest.py)."""
from __future__ import annotations

from click.testing import CliRunner

from replenish.cli import main


def run(*args) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.output
