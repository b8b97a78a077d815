"""Every command has help text and a section in docs/cli.md."""

from __future__ import annotations

import html
import subprocess
import sys
from pathlib import Path

import pytest
import typer
import typer.rich_utils
from rich.text import Text

from taskgroup.cli.main import app
from tests.taskgroup.cli.helpers import every_command, run_ok

CLI_DOC = Path(__file__).resolve().parents[3] / "docs" / "cli.md"


COMMANDS = every_command()


@pytest.mark.parametrize("path", [path for path, _ in COMMANDS], ids=lambda path: " ".join(path))
def test_every_command_has_help_and_a_doc_section(path):
    command = dict(COMMANDS)[path]
    assert (command.help or "").strip(), f"`taskgroup {' '.join(path)}` has no help text"
    assert "Usage" in run_ok(*path, "--help").output
    assert f"## `taskgroup {' '.join(path)}`" in CLI_DOC.read_text(), (
        "docs/cli.md is out of date: regenerate it with the command at its top"
    )


@pytest.mark.parametrize("path", [path for path, _ in COMMANDS], ids=lambda path: " ".join(path))
def test_no_help_text_loses_a_bracketed_word_to_rich_markup(path):
    """Help is rendered as rich markup, where `[dataset]` would be a style tag and vanish: a
    literal bracket must be written `\\[`."""
    command = dict(COMMANDS)[path]
    for text in [command.help or "", *(getattr(param, "help", None) or "" for param in command.params)]:
        assert Text.from_markup(text).plain == text.replace("\\[", "["), f"`taskgroup {' '.join(path)}`: {text!r}"


def test_docs_cli_md_is_what_the_cli_generates_now(tmp_path):
    """docs/cli.md is regenerated with the command at its top whenever a command or option changes."""
    out = tmp_path / "cli.md"
    subprocess.run([sys.executable, "-m", "typer", "taskgroup.cli.main", "utils", "docs", "--name", "taskgroup",
                    "--output", str(out)], check=True, capture_output=True)
    header, _, _ = CLI_DOC.read_text().partition("\n\n")
    assert CLI_DOC.read_text() == f"{header}\n\n{html.unescape(out.read_text())}", (
        "docs/cli.md is out of date: regenerate it with the command at its top"
    )


GROUPS = [((), typer.main.get_command(app))] + [(path, command) for path, command in COMMANDS if hasattr(command, "commands")]


@pytest.mark.parametrize("path", [path for path, _ in GROUPS], ids=lambda path: " ".join(path) or "taskgroup")
def test_a_group_lists_each_command_with_its_first_paragraph_on_one_line(path, monkeypatch):
    """On a terminal wide enough, nothing wraps: a docstring's own line breaks must not cut a
    command's description in the listing."""
    monkeypatch.setattr(typer.rich_utils, "MAX_WIDTH", 400)
    listing = run_ok(*path, "--help").output.splitlines()
    for name, command in dict(GROUPS)[path].commands.items():
        first_paragraph = " ".join(command.help.split("\n\n")[0].split())
        row = next(line for line in listing if line.startswith(f"│ {name} "))
        assert first_paragraph in " ".join(row.split()), f"{name}: {row!r}"
