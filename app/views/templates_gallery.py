"""The templates gallery: the shipped templates with what they do, to start a workspace from.

Each template has a title in words, a picture of its direction (the two systems' marks with
the objects between them: "Stripe Charge → Salesforce Payment") and its full description
beside the list, never cut. The README tutorial's template is preselected. Choosing one
opens it as an unsaved, untitled workspace (Save As gives it a folder).
"""

from __future__ import annotations

from functools import lru_cache

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app import icons
from app.workspace import TUTORIAL_TEMPLATE, TemplateInfo, list_templates

# The systems' own colours, so the two ends of a flow are told apart at a glance.
_SYSTEM_MARKS = {"stripe": ("S", "#635bff"), "salesforce": ("sf", "#00a1e0")}


def _draw_mark(painter: QPainter, rect: QRectF, system: str) -> None:
    letter, colour = _SYSTEM_MARKS.get(system, ("?", "#64748b"))
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(colour))
    if system == "salesforce":  # a cloud-ish rounded shape
        painter.drawRoundedRect(rect, rect.height() / 2.2, rect.height() / 2.2)
    else:
        painter.drawRoundedRect(rect, rect.height() / 5, rect.height() / 5)
    painter.setPen(QColor("white"))
    font = QFont()
    font.setBold(True)
    font.setPixelSize(int(rect.height() * (0.45 if len(letter) > 1 else 0.6)))
    painter.setFont(font)
    painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, letter)


@lru_cache(maxsize=16)
def flow_picture(source_system: str, target_system: str, height: int = 32) -> QPixmap:
    """The two systems' marks with an arrow between them, source on the left."""
    mark = float(height)
    width = int(mark * 2 + mark * 1.2)
    pixmap = QPixmap(width, height)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    _draw_mark(painter, QRectF(1, 1, mark - 2, mark - 2), source_system)
    _draw_mark(painter, QRectF(width - mark + 1, 1, mark - 2, mark - 2), target_system)
    painter.setPen(QPen(QColor("#94a3b8"), 2.5))
    mid = height / 2
    left, right = mark + 4, width - mark - 4
    painter.drawLine(int(left), int(mid), int(right), int(mid))
    painter.drawLine(int(right - 6), int(mid - 5), int(right), int(mid))
    painter.drawLine(int(right - 6), int(mid + 5), int(right), int(mid))
    painter.end()
    return pixmap

_TemplateRole = Qt.ItemDataRole.UserRole + 1


class TemplatesGallery(QDialog):
    """Pick a template; ``chosen`` holds its name after ``accept()``."""

    def __init__(
        self, parent: QWidget | None = None, templates: list[TemplateInfo] | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("New from template")
        self.setWindowIcon(icons.icon("templates"))
        self.resize(860, 520)
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
        self.list.setIconSize(QSize(88, 32))
        self.list.setSpacing(2)
        self.list.setAccessibleName("templates")
        for info in self.templates:
            flows = f"{info.flow_count} flow{'s' if info.flow_count != 1 else ''}"
            text = f"{info.title}\n{info.picture_text}  ·  {flows}"
            picture = flow_picture(info.source[0], info.target[0])
            item = QListWidgetItem(QIcon(picture), text)
            item.setToolTip(info.description)
            item.setData(_TemplateRole, info.name)
            item.setSizeHint(QSize(0, 48))
            self.list.addItem(item)

        # The chosen template in full: picture, direction, every word of its description.
        self.picture = QLabel(self)
        self.direction = QLabel(self)
        self.direction.setObjectName("galleryDirection")
        self.description = QLabel(self)
        self.description.setWordWrap(True)
        self.description.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.description.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.flows_label = QLabel(self)
        self.flows_label.setWordWrap(True)
        self.flows_label.setObjectName("muted")
        detail = QVBoxLayout()
        detail.addWidget(self.picture)
        detail.addWidget(self.direction)
        detail.addWidget(self.description)
        detail.addWidget(self.flows_label)
        detail.addStretch(1)
        body = QHBoxLayout()
        body.addWidget(self.list, 3)
        body.addLayout(detail, 2)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Open | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.open_button = self.buttons.button(QDialogButtonBox.StandardButton.Open)
        self.open_button.setDefault(True)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.list.itemDoubleClicked.connect(lambda _item: self.accept())
        self.list.currentRowChanged.connect(self._update_buttons)
        self.list.currentRowChanged.connect(self._show_detail)

        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(hint)
        layout.addLayout(body, 1)
        layout.addWidget(self.buttons)
        if self.templates:
            names = [t.name for t in self.templates]
            # The README's tutorial starts from this one: a first-time user meets it first.
            self.list.setCurrentRow(names.index(TUTORIAL_TEMPLATE) if TUTORIAL_TEMPLATE in names else 0)
        self._update_buttons()
        self._show_detail()

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

    def current_info(self) -> TemplateInfo | None:
        name = self.current_name()
        return next((t for t in self.templates if t.name == name), None)

    def _show_detail(self, *_: object) -> None:
        info = self.current_info()
        if info is None:
            for label in (self.picture, self.direction, self.description, self.flows_label):
                label.clear()
            return
        self.picture.setPixmap(flow_picture(info.source[0], info.target[0], 48))
        self.direction.setText(f"<b>{info.picture_text}</b>")
        self.description.setText(info.description)
        noun = "Flow" if info.flow_count == 1 else "Flows"
        self.flows_label.setText(f"{noun}: {', '.join(info.flows)}")
