"""Running the real `taskgroup` app in-process, as a user would from a shell."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner, Result

from taskgroup.cli.main import app

_runner = CliRunner()


def run(*args: str) -> Result:
    """Invoke `taskgroup ARGS...`; the caller checks exit_code and output."""
    return _runner.invoke(app, list(args), catch_exceptions=False)


def run_ok(*args: str) -> Result:
    result = run(*args)
    assert result.exit_code == 0, f"taskgroup {' '.join(args)} failed ({result.exit_code}):\n{result.output}"
    return result


def run_json(*args: str) -> Any:
    return json.loads(run_ok(*args, "--json").stdout)


def run_error(*args: str) -> str:
    """Invoke a command expected to fail with one clear `error:` line; return that line."""
    result = run(*args)
    assert result.exit_code != 0, f"taskgroup {' '.join(args)} unexpectedly succeeded:\n{result.output}"
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) >= 1 and lines[-1].startswith("error:"), result.output
    assert "Traceback" not in result.output
    return " ".join(lines)


def every_command() -> list[tuple[tuple[str, ...], Any]]:
    """Each command and command group of the app, with its path (`("study", "create")`), groups first."""
    import typer

    def below(group: Any, prefix: tuple[str, ...]) -> list[tuple[tuple[str, ...], Any]]:
        found = []
        for name, command in group.commands.items():
            path = (*prefix, name)
            found.append((path, command))
            if hasattr(command, "commands"):
                found.extend(below(command, path))
        return found

    return below(typer.main.get_command(app), ())
