"""The ``rmf`` entry point: usage errors exit with click's code and message, not a trace; the
commands that the help and the documentation name exist."""

from __future__ import annotations

import re
from pathlib import Path

import typer

from rmf_spark.cli import app, main

ROOT = Path(__file__).resolve().parents[2]
#: ``rmf <command> [<sub-command>]`` in prose or code (not ``rmf_spark``, not a path)
_MENTION = re.compile(r"(?<![\w/.-])rmf ([a-z][a-z0-9-]*)(?: ([a-z][a-z0-9-]*))?")


def test_a_missing_option_is_a_usage_error_not_a_traceback(capsys):
    assert main(["statistics", "od", "--mno", "mno_a"]) == 2
    assert "Missing option '--start'" in capsys.readouterr().err


def test_an_unknown_command_is_a_usage_error(capsys):
    assert main(["statistics", "no-such-product"]) == 2
    assert "No such command" in capsys.readouterr().err


def _unknown_commands(text: str) -> list[str]:
    """The ``rmf ...`` mentions in ``text`` naming a command or sub-command that does not exist."""
    root = typer.main.get_command(app)
    unknown = []
    for m in _MENTION.finditer(text):
        command = root.commands.get(m.group(1))
        subs = getattr(command, "commands", None)  # a group: the second word is a command
        if command is None or (subs is not None and m.group(2) and m.group(2) not in subs):
            unknown.append(m.group(0))
    return unknown


def test_readme_and_docs_name_only_commands_that_exist():
    assert _unknown_commands("run rmf ingest, then rmf statistics od; rmf nope") == ["rmf nope"]
    assert _unknown_commands("rmf statistics no-such and rmf fusion run") == [
        "rmf statistics no-such"
    ]
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        assert _unknown_commands(doc.read_text()) == [], doc.name


def test_help_lists_the_commands_and_names_only_existing_stages(capsys):
    assert main(["--help"]) == 0
    shown = capsys.readouterr().out
    root = typer.main.get_command(app)
    for name in root.commands:
        assert re.search(rf"\b{name}\b", shown), name
    order = re.sub(r"\([^)]*\)", "", app.info.help.split("Stages run in this order:")[1])
    named = {w.strip(" .") for step in order.split("->") for w in step.split(",")}
    assert {"synth", "ingest", "convergence", "statistics", "release", "evaluate"} <= named
    assert named <= set(root.commands), named - set(root.commands)
