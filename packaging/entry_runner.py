"""Frozen entry point of ``fieldbridge-runner`` (PyInstaller's script; not used from source).

The hidden ``__run_module__`` entry comes first: the runner starts the localstripe launcher
as ``sys.executable ...``, and frozen, ``sys.executable`` is this binary.
"""

from __future__ import annotations

import sys

from runner.frozen import dispatch

if __name__ == "__main__":
    code = dispatch()
    if code is None:
        from runner.cli import main

        code = main()
    sys.exit(code)
