"""The questions a gesture asks the user before it edits: replace a mapping? convert?

Gestures (``app.document.interactions``) decide *what* to ask; a :class:`Prompts` object
decides *how*. :class:`DialogPrompts` asks with a message box and a popup menu at the point
where the user dropped (or the mouse pointer); tests give the document an object that
answers on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from PySide6.QtCore import QPoint
from PySide6.QtGui import QCursor
from PySide6.QtWidgets import QApplication, QMenu, QMessageBox

from mappings.suggest import Conversion


@dataclass(frozen=True, slots=True)
class ReplaceQuestion:
    """Mapping ``new_sources`` onto a target that already reads ``old_sources`` (labels)."""

    target: str
    old_sources: str
    new_sources: str

    @property
    def text(self) -> str:
        return (
            f"{self.target} already gets its value from {self.old_sources}. "
            f"Replace it with {self.new_sources}?"
        )


class Prompts(Protocol):
    def confirm_replace(self, question: ReplaceQuestion, where: QPoint | None) -> bool: ...

    def choose_conversion(
        self, reason: str, options: list[Conversion], where: QPoint | None
    ) -> Conversion | None: ...


def conversion_text(option: Conversion) -> str:
    """The one-click action's text: ``Map with conversion: text → number``."""
    return f"Map with conversion: {option.words}"


class DialogPrompts:
    """Asks with Qt's own dialogs, at the drop point when there is one."""

    def confirm_replace(self, question: ReplaceQuestion, where: QPoint | None) -> bool:
        box = QMessageBox(QApplication.activeWindow())
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Replace the mapping?")
        box.setText(question.text)
        box.setInformativeText(f"{question.old_sources} will no longer be mapped.")
        replace = box.addButton("Replace", QMessageBox.ButtonRole.AcceptRole)
        keep = box.addButton("Keep the current mapping", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(keep)
        box.exec()
        return box.clickedButton() is replace

    def choose_conversion(
        self, reason: str, options: list[Conversion], where: QPoint | None
    ) -> Conversion | None:
        menu = QMenu(QApplication.activeWindow())
        menu.setToolTipsVisible(True)
        title = menu.addAction(reason)
        title.setEnabled(False)
        menu.addSeparator()
        by_action = {}
        for option in options:
            action = menu.addAction(conversion_text(option))
            action.setToolTip(" → ".join(step.name for step in option.steps))
            by_action[action] = option
        menu.addSeparator()
        menu.addAction("Don't map")
        chosen = menu.exec(where if where is not None else QCursor.pos())
        return by_action.get(chosen) if chosen is not None else None
