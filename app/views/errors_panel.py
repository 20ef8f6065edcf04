"""The errors panel: a non-modal list of what went wrong, with the details of each.

Each error reads in plain words first (what failed, why, and what to do); the class names,
cause chain and traceback a developer wants sit under a collapsed "Details".

Background failures (``app.asyncloop``'s error sink) and refused actions land here instead
of in modal boxes, so a user can keep working and read the cause chain when they want.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from datetime import datetime

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListView,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app import icons
from app.errors import StudioError
from mappings.errors import MappingError

MAX_ENTRIES = 500


@dataclass(frozen=True, slots=True)
class ErrorEntry:
    when: datetime
    summary: str
    details: str  # for developers: class names, cause chain, traceback
    message: str = ""  # for people: what failed, why, what to do


def cause_chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and its causes/contexts, outermost first (cycles stopped)."""
    chain: list[BaseException] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    return chain


def describe_exception(exc: BaseException) -> str:
    """The full message, each cause on its own line, then the traceback for developers."""
    lines = []
    for depth, item in enumerate(cause_chain(exc)):
        prefix = "" if depth == 0 else "caused by: "
        lines.append(f"{prefix}{type(item).__name__}: {item}")
    tb = "".join(traceback.format_exception(exc)).rstrip()
    return "\n".join(lines) + "\n\n" + tb


# What to do about failures that are not the studio's own, by kind (most specific first).
_FIXES: tuple[tuple[type[BaseException], str], ...] = (
    (PermissionError, "The studio may not use that file or folder: choose another one, or "
                      "ask whoever manages this computer for access."),
    (FileNotFoundError, "The file or folder is not there any more: choose it again."),
    (TimeoutError, "The other side did not answer in time: check the network connection "
                   "and try again."),
    (ConnectionError, "Check the network connection (and the connection's address under "
                      "Connections ▸ Manage Connections), then try again."),
)


def _sentence(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:] if text else text


def plain_words(exc: BaseException) -> str:
    """The error for people: each cause's own message (no class names), then the fix."""
    lines: list[str] = []
    for depth, item in enumerate(cause_chain(exc)):
        text = _sentence(str(item)) or "Something went wrong"
        if text in lines or any(text in line for line in lines):
            continue
        lines.append(text if depth == 0 else f"Because: {text}")
    if not isinstance(exc, StudioError | MappingError):
        fix = next((f for kind, f in _FIXES if any(isinstance(e, kind) for e in cause_chain(exc))),
                   "If it happens again, open Details and send them to whoever supports "
                   "the studio.")
        lines.append(fix)
    return "\n".join(lines)


class ErrorListModel(QAbstractListModel):
    """Rows of :class:`ErrorEntry`, newest last."""

    EntryRole = Qt.ItemDataRole.UserRole + 1

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.entries: list[ErrorEntry] = []

    # Qt model overrides
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.entries)

    def data(self, index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self.entries):
            return None
        entry = self.entries[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{entry.when:%H:%M:%S}  {entry.summary}"
        if role == Qt.ItemDataRole.ToolTipRole:
            return entry.summary
        if role == self.EntryRole:
            return entry
        return None

    def append(self, entry: ErrorEntry) -> None:
        if len(self.entries) >= MAX_ENTRIES:
            self.beginRemoveRows(QModelIndex(), 0, 0)
            del self.entries[0]
            self.endRemoveRows()
        row = len(self.entries)
        self.beginInsertRows(QModelIndex(), row, row)
        self.entries.append(entry)
        self.endInsertRows()

    def clear(self) -> None:
        self.beginResetModel()
        self.entries.clear()
        self.endResetModel()


class ErrorsPanel(QWidget):
    """List (time, summary) on the left, the selected error's details on the right."""

    countChanged = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = ErrorListModel(self)
        self.list = QListView(self)
        self.list.setModel(self.model)
        self.list.setUniformItemSizes(True)
        self.list.setAccessibleName("errors")
        self.message = QLabel(self)
        self.message.setObjectName("errorMessage")
        self.message.setWordWrap(True)
        self.message.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.setText("Select an error to read what happened.")
        # The developer's view (class names, causes, traceback), folded away by default.
        self.details_toggle = QToolButton(self)
        self.details_toggle.setText("Details")
        self.details_toggle.setCheckable(True)
        self.details_toggle.setAutoRaise(True)
        self.details_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.details_toggle.setToolTip("The technical details, for whoever supports the studio")
        self.details = QPlainTextEdit(self)
        self.details.setReadOnly(True)
        self.details.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.details_toggle.toggled.connect(self._show_details)
        self._show_details(False)
        self.empty = QLabel("No errors.", self)
        self.empty.setObjectName("muted")
        self.clear_button = QPushButton(icons.icon("errors"), "Clear", self)
        self.clear_button.clicked.connect(self.clear)

        reading = QWidget(self)
        reading_layout = QVBoxLayout(reading)
        reading_layout.setContentsMargins(0, 0, 0, 0)
        reading_layout.addWidget(self.message)
        reading_layout.addWidget(self.details_toggle, 0, Qt.AlignmentFlag.AlignLeft)
        reading_layout.addWidget(self.details, 1)
        reading_layout.addStretch(0)
        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.addWidget(self.list)
        splitter.addWidget(reading)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        bar = QHBoxLayout()
        bar.addWidget(self.empty, 1)
        bar.addWidget(self.clear_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(splitter, 1)

        self.list.selectionModel().currentChanged.connect(self._show_current)
        self._update_count()

    @property
    def count(self) -> int:
        return len(self.model.entries)

    def add_error(self, error: BaseException | str, summary: str = "") -> ErrorEntry:
        """Record an exception (with its cause chain) or a plain message; select it."""
        if isinstance(error, BaseException):
            message = plain_words(error)
            summary = summary or message.splitlines()[0]
            details = describe_exception(error)
        else:
            summary = summary or error
            details = error
            message = _sentence(error)
        entry = ErrorEntry(
            datetime.now(), summary.splitlines()[0] if summary else "", details, message
        )
        self.model.append(entry)
        index = self.model.index(self.model.rowCount() - 1)
        self.list.setCurrentIndex(index)
        self._show_current(index)
        self._update_count()
        return entry

    def clear(self) -> None:
        self.model.clear()
        self.details.clear()
        self.message.clear()
        self._update_count()

    def _show_details(self, shown: bool) -> None:
        self.details.setVisible(shown)
        self.details_toggle.setArrowType(
            Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow
        )

    def _show_current(self, index: QModelIndex, _previous: QModelIndex | None = None) -> None:
        entry = self.model.data(index, ErrorListModel.EntryRole)
        if entry is None:
            self.details.clear()
            self.message.clear()
            return
        words = entry.message or entry.summary
        if entry.summary and not words.startswith(entry.summary):
            words = f"{entry.summary}\n{words}"
        self.message.setText(words)
        head = f"{entry.when:%Y-%m-%d %H:%M:%S}"
        if not entry.details.startswith(entry.summary):
            head += f"\n{entry.summary}"
        self.details.setPlainText(f"{head}\n\n{entry.details}")

    def _update_count(self) -> None:
        n = self.count
        self.empty.setText("No errors." if n == 0 else f"{n} error{'s' if n != 1 else ''}")
        self.clear_button.setEnabled(n > 0)
        self.countChanged.emit(n)
