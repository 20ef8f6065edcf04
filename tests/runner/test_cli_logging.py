"""The runner CLI's log output: one redacting handler from the first record, and a reader
that goes away (``| head``) ends the command quietly."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from runner.cli import main
from runner.secrets import configure_logging
from tests.runner.e2e.helpers import TEMPLATES

SECRET = "sk_live_abcdefghijklmnopqrstuvwx"


def test_commands_log_through_one_redacting_handler(monkeypatch, tmp_path, capsys) -> None:
    root = logging.getLogger()
    # As in a fresh process: no handler yet (pytest's own are put back afterwards).
    monkeypatch.setattr(root, "handlers", [])
    monkeypatch.setattr(root, "level", root.level)
    assert main(["bundle", "keygen", "--private", str(tmp_path / "k"),
                 "--public", str(tmp_path / "k.pub")]) == 0
    capsys.readouterr()
    assert [getattr(h, "_fieldbridge", False) for h in root.handlers] == [True]

    logging.getLogger("runner.example").warning("retrying with api_key %s", SECRET)
    err = capsys.readouterr().err
    assert SECRET not in err and "sk_live_[REDACTED]" in err
    assert err.count("retrying with api_key") == 1

    configure_logging("json", "INFO")  # what `run` does with its configured format
    logging.getLogger("runner.example").warning("once")
    assert capsys.readouterr().err.count("once") == 1  # replaced, not doubled
    assert len(root.handlers) == 1


@pytest.mark.slow  # a subprocess
def test_a_closed_pipe_ends_the_command_quietly(tmp_path: Path) -> None:
    bundle = tmp_path / "all.fbz"
    assert main(["bundle", "build", str(TEMPLATES), "-o", str(bundle)]) == 0
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has already gone, as after `head` has its lines
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "runner.cli", "bundle", "inspect", str(bundle)],
            stdout=write_end, stderr=subprocess.PIPE, timeout=60, check=False,
        )
    finally:
        os.close(write_end)
    err = proc.stderr.decode()
    assert proc.returncode == 1
    assert "Broken pipe" not in err and "Traceback" not in err and "Exception" not in err
