"""The templates gallery: the shipped templates with what they do, to start a workspace from.

Choosing one opens it as an unsaved, untitled workspace (Save As gives it a folder).
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app import icons
from app.workspace import TemplateInfo, list_templates

_TemplateRole = Qt.ItemDataRole.UserRole + 1


class TemplatesGallery(QDialog):
    """Pick a template; ``chosen`` holds its name after ``accept()``."""

    def __init__(
        self, parent: QWidget | None = None, templates: list[TemplateInfo] | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("New from template")
        self.setWindowIcon(icons.icon("templates"))
        self.resize(640, 480)
        self.templates = templates if templates is not None else list_templates()
        self.chosen: str | None = None

        title = QLabel("Start from a template", self)
        title.setObjectName("galleryTitle")
        hint = QLabel(
            "Each template is a ready mapping between Stripe and Salesforce. It opens as a "
            "new unsaved workspace; adjust it, then save it to a folder.",
            self,
        )
        hint.setWordWrap(True)
        hint.setObjectName("muted")
        self.list = QListWidget(self)
        self.list.setIconSize(QSize(32, 32))
        self.list.setWordWrap(True)
        self.list.setSpacing(2)
        self.list.setAccessibleName("templates")
        for info in self.templates:
            flows = f"{info.flow_count} flow{'s' if info.flow_count != 1 else ''}"
            text = f"{info.title}  ·  {flows}\n{_shorten(info.description)}"
            item = QListWidgetItem(icons.icon("templates"), text)
            item.setToolTip(f"{info.description}\n\nFlows: {', '.join(info.flows)}")
            item.setData(_TemplateRole, info.name)
            item.setSizeHint(QSize(0, 64))
            self.list.addItem(item)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Open | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.open_button = self.buttons.button(QDialogButtonBox.StandardButton.Open)
        self.open_button.setDefault(True)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.list.itemDoubleClicked.connect(lambda _item: self.accept())
        self.list.currentRowChanged.connect(self._update_buttons)

        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(hint)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.buttons)
        if self.templates:
            self.list.setCurrentRow(0)
        self._update_buttons()

    def select(self, name: str) -> None:
        for row in range(self.list.count()):
            if self.list.item(row).data(_TemplateRole) == name:
                self.list.setCurrentRow(row)
                return
        known = ", ".join(t.name for t in self.templates)
        raise ValueError(f"there is no template named {name!r} (templates: {known})")

    def current_name(self) -> str | None:
        item = self.list.currentItem()
        return item.data(_TemplateRole) if item is not None else None

    def accept(self) -> None:
        self.chosen = self.current_name()
        if self.chosen is None:
            return
        super().accept()

    def _update_buttons(self, *_: object) -> None:
        self.open_button.setEnabled(self.list.currentItem() is not None)


def _shorten(text: str, limit: int = 150) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
