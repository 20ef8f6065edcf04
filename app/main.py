"""``fieldbridge-studio``: open the studio on a workspace, a template, a bundle or the last
workspace.

The studio opens on the Preview tab, filled from the current flow's fixtures, as the README
shows it (``--tab`` picks another). ``--screenshot OUT.png`` renders the main window
offscreen (first flow selected, preview filled) to a PNG and exits: 0 when written, 1 with
the reason. ``--bundle FILE.fbz`` verifies the bundle and opens it as a workspace (beside
the bundle, or in a scratch folder for a screenshot).
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QTimer
from PySide6.QtWidgets import QApplication

from app import asyncloop, icons, theme
from app.errors import StudioError
from app.views.main_window import MainWindow
from app.workspace import APPLICATION, ORGANIZATION, saved_theme, studio_settings

SCREENSHOT_SIZE = (1400, 900)
TABS = ("transform", "preview", "testrun")
DESKTOP_FILE_NAME = "fieldbridge-studio"


class StudioStartError(StudioError):
    """The studio cannot start as asked (bad workspace, unknown template, unwritable PNG)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fieldbridge-studio",
        description="Map Stripe and Salesforce fields, preview, test and export bundles.",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--workspace", metavar="DIR", help="open this folder of mapping YAML files")
    source.add_argument("--template", metavar="NAME", help="start from a shipped template")
    source.add_argument(
        "--bundle", metavar="FILE.fbz", help="verify a bundle and open it as a workspace"
    )
    parser.add_argument(
        "--tab", choices=TABS, default="preview",
        help="the bottom tab to show (default: preview, filled from the flow's fixtures)",
    )
    parser.add_argument(
        "--theme", choices=("light", "dark"), help="colour theme (default: last used)"
    )
    parser.add_argument(
        "--screenshot", metavar="OUT.png", help="render the window offscreen to a PNG and exit"
    )
    parser.add_argument(
        "--settings", metavar="FILE.ini", help=argparse.SUPPRESS
    )  # an isolated settings file, for tests and screenshots
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.screenshot:
        # Before the QApplication exists: no display is needed to render a screenshot.
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    try:
        return _run(args)
    except StudioError as exc:  # the studio's own errors are one sentence for people
        print(f"fieldbridge-studio: {exc}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    if args.screenshot:
        out = Path(args.screenshot)
        if out.suffix.lower() != ".png":
            raise StudioStartError(f"--screenshot must name a .png file, not {out.name!r}")
        if not out.parent.is_dir():
            raise StudioStartError(f"cannot write {out}: the folder {out.parent} does not exist")

    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    # Matches packaging's fieldbridge-studio.desktop: Wayland and docks group the window
    # under the installed launcher and its icon.
    app.setDesktopFileName(DESKTOP_FILE_NAME)
    app.setWindowIcon(icons.app_icon())
    settings = studio_settings(args.settings)
    theme.apply_theme(app, args.theme or saved_theme(settings))

    # A screenshot never starts the local sandboxes.
    window = MainWindow(settings=settings, warm_up=None if not args.screenshot else False)
    if not _open_initial(window, args):
        reason = window.errors.model.entries[-1].summary if window.errors.count else "?"
        window.document.undo_stack.clear()
        window.close()
        raise StudioStartError(reason)

    if args.screenshot:
        return _screenshot(app, window, Path(args.screenshot), args.tab)

    loop = asyncloop.create_loop(app)
    _show_tab(window, args.tab)
    window.show()
    window.canvas.setFocus()
    opened = args.workspace or args.template or args.bundle
    if not opened and window.document.workspace is None:
        # Nothing to reopen: start from the gallery once the loop runs.
        QTimer.singleShot(0, window.new_from_template)
    app.aboutToQuit.connect(asyncloop.shutdown_executor)
    QTimer.singleShot(0, freeze_start_up_objects)  # once the event loop runs
    try:
        return int(app.exec())
    finally:
        loop.stop()
        loop.close()


def freeze_start_up_objects() -> None:
    """Leave what start-up made (modules, catalogs, the window) out of later full garbage
    collections: they live as long as the studio. Python runs a full collection every few
    workspaces opened and it walks every tracked object; with the benchmark's catalogs (a
    1,000- and a 10,000-field pair of objects) that pause inside an open was 0.07-0.08 s of
    CPU, frozen 0.02 s (issue 12, ``tests/benchmarks/bench_studio.py``). Collected first, so
    no garbage is kept."""
    gc.collect()
    gc.freeze()


def _open_initial(window: MainWindow, args: argparse.Namespace) -> bool:
    """Open what the command line asks, else the last workspace; False if that failed."""
    if args.workspace:
        return window.open_workspace(Path(args.workspace))
    if args.template:
        return window.open_template(args.template)
    if args.bundle:
        # A screenshot leaves no folder behind: the bundle is unpacked in a scratch one.
        scratch = tempfile.mkdtemp(prefix="fieldbridge-bundle-") if args.screenshot else None
        return window.open_bundle(args.bundle, scratch)
    last = window.recent.last()
    if last is not None:
        window.open_workspace(last)  # a broken last workspace lands in the errors panel
    elif not args.screenshot:
        window.document.new_workspace()
    return True


def _show_tab(window: MainWindow, tab: str) -> None:
    """Fill the preview from the current flow's fixtures, then show ``tab``."""
    if window.document.current_flow is not None:
        window.fill_preview_from_fixtures()
    widgets = {
        "transform": window.transform_panel,
        "preview": window.preview_panel,
        "testrun": window.testrun_panel,
    }
    window.bottom_tabs.setCurrentWidget(widgets[tab])


def _screenshot(app: QApplication, window: MainWindow, out: Path, tab: str = "preview") -> int:
    window.resize(*SCREENSHOT_SIZE)
    window.show()
    window.canvas.setFocus()  # not the first combo box, which would draw a focus frame
    flows = window.document.flows()
    if flows:
        window.document.set_current_flow(flows[0][1].name)
    QCoreApplication.processEvents()
    _show_tab(window, tab)
    window._update_issue_count()
    window.statusBar().clearMessage()  # a passing note ("Opened …") is not the picture
    for _ in range(3):  # layouts settle over a few passes (splitters, fit-to-width canvas)
        QCoreApplication.processEvents()
    pixmap = window.grab()
    if not pixmap.save(str(out), "PNG"):
        raise StudioStartError(f"could not write the screenshot to {out}")
    window.document.undo_stack.setClean()  # nothing to save: close without the prompt
    window.close()
    print(f"wrote {out} ({pixmap.width()}x{pixmap.height()})")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
