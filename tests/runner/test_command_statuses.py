"""The status choices the dlq and review commands offer are the state's statuses: the
commands spell them out (the parser must not import the state package for ``--help``)."""

from __future__ import annotations

import subprocess
import sys

from runner.commands.dlq import DLQ_STATUSES
from runner.commands.review import REVIEW_STATUSES
from runner.state import DeadLetterStatus, ReviewStatus


def test_dlq_choices_are_the_dead_letter_statuses() -> None:
    assert tuple(s.value for s in DeadLetterStatus) == DLQ_STATUSES


def test_review_choices_are_the_review_statuses() -> None:
    assert tuple(s.value for s in ReviewStatus) == REVIEW_STATUSES


def test_the_status_commands_load_without_the_state_package() -> None:
    # Checked in a fresh interpreter: this test process imported runner.state above.
    code = ("import sys, runner.commands.dlq, runner.commands.review, runner.commands.status;"
            "print('runner.state' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
