"""docs/cli.md holds every command's help, generated from the code with cog, and is current."""

from __future__ import annotations

from pathlib import Path

from cogapp import Cog

from djflow.cli import cli

DOCS = Path(__file__).resolve().parent.parent / "docs" / "cli.md"


def test_cli_docs_are_current(capsys):
    status = Cog().main(["cog", "--check", "--diff", str(DOCS)])
    output = capsys.readouterr().out
    assert status == 0, f"docs/cli.md is out of date; run `cog -r docs/cli.md`\n{output}"


def test_every_core_command_has_a_docs_entry():
    text = DOCS.read_text()
    core = [name for name, command in cli.commands.items() if command.callback.__module__ == "djflow.commands"]
    assert len(core) == 10
    for name in core:
        assert f"\n### djflow {name}\n" in text, name
