"""Starting a Python module as a subprocess, from source or from a frozen (PyInstaller) build.

From source, ``sys.executable`` is the interpreter and ``python -m MODULE`` runs a module. In
a PyInstaller build ``sys.executable`` is the application binary itself (``fieldbridge-runner``
or ``fieldbridge-studio``), which has no ``-m``: :func:`python_command` then asks the binary
for a hidden entry, ``BINARY __run_module__ MODULE ARGS...``, and the frozen entry point
calls :func:`dispatch` before its own argument parsing.

:func:`dispatch` also accepts ``-m MODULE`` so a call site still written as
``[sys.executable, "-m", MODULE]`` keeps working in a frozen build. Only the modules in
:data:`RUNNABLE_MODULES` can be run this way: the hidden entry is not a general interpreter.
"""

from __future__ import annotations

import runpy
import sys
from collections.abc import Sequence

RUN_MODULE = "__run_module__"

# What the applications start as subprocesses of themselves.
RUNNABLE_MODULES = frozenset({
    "runner.cli",  # the studio's local sandboxes: ``sandbox up`` (runner.sandbox.child)
    "runner.sandbox.localstripe_launcher",
    "runner.sandbox.salesforce",
})


def is_frozen() -> bool:
    """True inside a PyInstaller (or similar) build."""
    return bool(getattr(sys, "frozen", False))


def python_command(module: str, *args: str) -> list[str]:
    """The argv that runs ``python -m module args`` here, frozen or not."""
    if is_frozen():
        return [sys.executable, RUN_MODULE, module, *args]
    return [sys.executable, "-m", module, *args]


def dispatch(argv: Sequence[str] | None = None) -> int | None:
    """Run the module named by a hidden entry; None when ``argv`` is an ordinary command line.

    ``argv`` is the command line without the program name (default ``sys.argv[1:]``). The
    module runs as ``__main__`` with ``sys.argv`` set as ``python -m`` would set it; its
    ``SystemExit`` propagates, otherwise the result is 0.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in (RUN_MODULE, "-m"):
        return None
    if len(argv) < 2:
        print(f"error: {argv[0]} needs a module name", file=sys.stderr)
        return 2
    module = argv[1]
    if module not in RUNNABLE_MODULES:
        print(f"error: {module!r} cannot be run this way (runnable: "
              f"{', '.join(sorted(RUNNABLE_MODULES))})", file=sys.stderr)
        return 2
    sys.argv = [module, *argv[2:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)
    return 0
