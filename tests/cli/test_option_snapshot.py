"""The public names and every command's option names, held against a committed snapshot.

A rename here breaks scripts and notebooks, so it should be a choice, not an
accident. To change them on purpose, keep the old spelling as a hidden alias
(``terrasight.cli.options.AliasedOption``), then write the snapshot again and
commit it with the change:

    TERRASIGHT_UPDATE_SNAPSHOT=1 .venv/bin/python -m pytest tests/cli/test_option_snapshot.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

import terrasight
from terrasight.cli import main
from terrasight.cli.options import AliasedOption

SNAPSHOT = Path(__file__).with_name("option_snapshot.json")
HOW = (
    "differs from tests/cli/option_snapshot.json. If the change is on purpose, keep old "
    "spellings as hidden aliases and run TERRASIGHT_UPDATE_SNAPSHOT=1 .venv/bin/python -m "
    "pytest tests/cli/test_option_snapshot.py, then commit the snapshot."
)


def _params(command: click.Command) -> dict[str, Any]:
    options, arguments = {}, []
    for p in command.params:
        if isinstance(p, click.Argument):
            arguments.append(p.name)
            continue
        names = sorted(p.opts + p.secondary_opts + list(getattr(p, "hidden_aliases", ())))
        hidden = set(getattr(p, "hidden_aliases", ()))
        if getattr(p, "hidden", False):
            hidden = set(names)
        options[p.name + ("" if not getattr(p, "hidden", False) else " (hidden)")] = {
            "shown": [n for n in names if n not in hidden],
            "hidden": sorted(hidden),
        }
    return {"arguments": arguments, "options": options}


def _commands(group: click.Group, prefix: str = "") -> dict[str, Any]:
    ctx = click.Context(group, info_name="terrasight")
    found: dict[str, Any] = {}
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None
        if isinstance(command, click.Group):
            found.update(_commands(command, f"{prefix}{name} "))
        else:
            found[f"{prefix}{name}"] = _params(command)
    return found


def _current() -> dict[str, Any]:
    return {"terrasight.__all__": list(terrasight.__all__), "commands": _commands(main)}


def test_public_names_and_options_match_the_snapshot():
    current = _current()
    if os.environ.get("TERRASIGHT_UPDATE_SNAPSHOT"):
        SNAPSHOT.write_text(json.dumps(current, indent=1, sort_keys=True) + "\n")
        pytest.skip("snapshot written")
    expected = json.loads(SNAPSHOT.read_text())
    assert current["terrasight.__all__"] == expected["terrasight.__all__"], f"__all__ {HOW}"
    for name in sorted(set(current["commands"]) | set(expected["commands"])):
        got = current["commands"].get(name)
        assert got == expected["commands"].get(name), f"options of 'terrasight {name}' {HOW}"


def test_every_public_name_resolves():
    assert [n for n in terrasight.__all__ if getattr(terrasight, n, None) is None] == []


def test_hidden_aliases_work_and_stay_out_of_help():
    @click.command()
    @click.option("-o", "--out", "--outdir", "out", cls=AliasedOption, hidden_aliases=("--outdir",))
    def cmd(out: str) -> None:
        click.echo(out)

    runner = CliRunner()
    assert runner.invoke(cmd, ["--outdir", "x"]).output == "x\n"
    assert runner.invoke(cmd, ["-o", "y"]).output == "y\n"
    text = runner.invoke(cmd, ["--help"]).output
    assert "--out" in text and "--outdir" not in text


def test_old_spellings_reach_the_same_parameter():
    """``find --top`` and ``index search --k`` are still the count; chat's ``--model`` warns."""
    ctx = click.Context(main)
    for command, args, name, value in (
        ("find", ["t", "s.tif", "--top", "3"], "top", 3),
        ("find", ["t", "s.tif", "--limit", "4"], "top", 4),
        (
            "search-scenes",
            [
                "--stac",
                "u",
                "--collection",
                "c",
                "--bbox",
                "1,2,3,4",
                "--from",
                "2024-01-01",
                "--to",
                "2024-02-01",
                "-k",
                "2",
            ],
            "limit",
            2,
        ),
    ):
        cmd = main.get_command(ctx, command)
        assert cmd is not None
        parsed = cmd.make_context(command, list(args))
        assert parsed.params[name] == value
    chat = main.get_command(ctx, "chat")
    assert chat is not None
    result = CliRunner().invoke(main, ["chat", "/nonexistent", "--model", "m", "--brain", "x"])
    assert "--model is deprecated here; use --llm" in result.output


def test_the_help_list_says_what_each_command_says():
    """``terrasight --help`` lists the commands from SUMMARIES, without importing them."""
    from terrasight.cli import COMMANDS
    from terrasight.cli.summaries import SUMMARIES

    ctx = click.Context(main)
    assert set(SUMMARIES) == set(COMMANDS)
    for name, text in SUMMARIES.items():
        command = main.get_command(ctx, name)
        assert command is not None
        assert command.get_short_help_str(limit=500) == text, name
    listed = CliRunner().invoke(main, ["--help"]).output
    assert all(f"  {name} " in listed for name in COMMANDS)
