"""Every ``fieldbridge-runner`` command and action answers ``--help`` in plain text."""

from __future__ import annotations

import argparse

import pytest

from runner.cli import build_parser, main


def _commands() -> list[list[str]]:
    """Each command, and each action of a command group, as argv prefixes."""
    found: list[list[str]] = []

    def walk(parser: argparse.ArgumentParser, prefix: list[str]) -> None:
        for action in parser._actions:  # argparse keeps its subparsers only here
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    found.append([*prefix, name])
                    walk(sub, [*prefix, name])

    walk(build_parser(), [])
    return found


COMMANDS = _commands()


def test_the_commands_are_found() -> None:
    assert ["run"] in COMMANDS and ["bundle", "build"] in COMMANDS and ["dlq", "replay"] in COMMANDS


@pytest.mark.parametrize("argv", COMMANDS, ids=" ".join)
def test_help_is_plain_text(argv: list[str], capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: fieldbridge-runner " + " ".join(argv))
    assert "``" not in out  # reST markup from a docstring reads as noise in a terminal
