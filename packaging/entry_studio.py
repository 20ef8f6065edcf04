"""Frozen entry point of ``fieldbridge-studio`` (PyInstaller's script; not used from source).

The studio's "Local sandbox" starts the localstripe launcher as ``sys.executable ...``;
frozen, ``sys.executable`` is this binary, so the hidden module entry is dispatched before
Qt is loaded.
"""

from __future__ import annotations

import sys

from runner.frozen import dispatch

if __name__ == "__main__":
    code = dispatch()
    if code is None:
        from app.main import main

        code = main()
    sys.exit(code)
