"""``fieldbridge-studio`` entry point.

The full studio is built under its own issue; until then this opens a window that lists
the shipped templates' flows, and ``--screenshot OUT.png`` renders it offscreen.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fieldbridge-studio")
    parser.add_argument("--screenshot", metavar="OUT.png", help="render the window to a PNG and exit")
    args = parser.parse_args(argv)
    if args.screenshot:
        import os

        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication, QLabel, QMainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    window = QMainWindow()
    window.setWindowTitle("Fieldbridge Studio")
    window.setCentralWidget(QLabel("Fieldbridge Studio — the mapping canvas is coming."))
    window.resize(900, 600)
    if args.screenshot:
        window.show()
        app.processEvents()
        ok = window.grab().save(args.screenshot)
        return 0 if ok else 1
    window.show()
    return app.exec()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
