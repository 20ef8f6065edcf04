"""``fieldbridge-runner test BUNDLE``: run the fixtures a bundle carries (as ``bundle test``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from runner.commands.bundle import _test


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("test", help="run the fixtures carried in a bundle "
                                   "(same as 'bundle test')")
    parser.add_argument("bundle", type=Path, metavar="BUNDLE")
    parser.add_argument("--flow", help="only this flow's fixtures")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=test_command)


def test_command(args: argparse.Namespace) -> int:
    # One implementation: the bundle group's handler.
    return _test(args)


# pytest must not collect the handler as a test if this module is ever imported by one.
test_command.__test__ = False  # type: ignore[attr-defined]
