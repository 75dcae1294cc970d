"""Every command's `--help` reads whole at 80 columns (a common terminal): each option's name and
each word of its help and of the command's own help is shown, none cut off with an ellipsis."""

from __future__ import annotations

import re

import typer
from typer.testing import CliRunner

from crossroads.entrypoints.cli import app

ROOT = typer.main.get_command(app)


def commands(command=ROOT, path=()):
    yield list(path), command
    for name, sub in getattr(command, "commands", {}).items():
        if not sub.hidden:
            yield from commands(sub, (*path, name))


def test_every_help_shows_every_option_and_word_at_80_columns():
    runner = CliRunner()
    cut = {}
    for path, command in commands():
        shown = runner.invoke(app, [*path, "--help"], terminal_width=80).output
        words = set(re.findall(r"[^\s│╭╮╰╯─]+", shown))
        wanted = set((command.help or "").split())
        for param in command.params:
            if getattr(param, "hidden", False):
                continue
            if param.param_type_name == "option":  # an argument is shown by its metavar
                wanted |= {*param.opts, *param.secondary_opts}
            wanted |= set((getattr(param, "help", None) or "").split())
        if missing := sorted(w for w in wanted if w not in words and w != "\b"):
            cut[" ".join(path) or "crossroads"] = missing
    assert not cut, cut
