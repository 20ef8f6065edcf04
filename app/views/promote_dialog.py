"""Tools ▸ Promote Bundle…: the runner's promotion (:mod:`runner.api.promote`), step by step.

The bundle is the open workspace's (built as File ▸ Export Bundle builds it) or a chosen
``.fbz``. The seven steps are listed and tick as the promotion runs on the thread pool; the
first failure stops it and its reason is shown under the list. A protected environment
(``prod``) is asked about before anything starts. The history below is the workspace's
``promotions.jsonl``, the same lines ``bundle promote --history`` prints.

Imported when the dialog first opens: :mod:`runner.api.promote` loads the writer, the
connectors and the admin client.
"""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app import asyncloop
from app.services.environments import EnvironmentState
from app.views.export_dialog import export_bundle
from mappings.document.model import MappingDocument
from mappings.schema.model import Catalog, System
from runner.api.promote import STEPS, Promotion, StepResult, format_history, promote, read_history

WORKSPACE_BUNDLE = "The open workspace (built now)"
_MARKS = {None: "○", True: "✓", False: "✗"}
_COLOURS = {True: "#2e7d32", False: "#c62828"}


class PromoteDialog(QDialog):
    # (index, step, result or None) from the worker thread; queued to the UI thread.
    stepChanged = Signal(int, str, object)

    def __init__(self, workspace: Path, environments: EnvironmentState,
                 documents: list[MappingDocument] | None = None,
                 catalogs: dict[System, Catalog] | None = None,
                 parent: QWidget | None = None, *,
                 ask: Callable[[str, str], bool] | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Promote Bundle")
        self.setMinimumWidth(620)
        self.workspace = workspace
        self.environments = environments
        # A copy, so edits while the promotion runs cannot change the bundle half-built.
        self.documents = copy.deepcopy(documents) if documents else None
        self.catalogs = dict(catalogs or {})
        self.ask = ask or self._ask
        self.last_call: asyncloop.BackgroundCall | None = None
        self.promotion: Promotion | None = None

        self.source = QComboBox(self)
        if self.documents:
            self.source.addItem(WORKSPACE_BUNDLE)
        self.source.setEditable(True)
        browse = QPushButton("Choose .fbz…", self)
        browse.clicked.connect(self._browse)
        source_row = QHBoxLayout()
        source_row.addWidget(self.source, 1)
        source_row.addWidget(browse)
        self.target = QComboBox(self)
        self.target.addItems(environments.names)
        current = environments.current.name if environments.current else None
        following = environments.next_after(current)
        if following is not None:
            self.target.setCurrentText(following.name)
        self.target.currentTextChanged.connect(self._show_target)
        self.target_note = QLabel(self)
        self.target_note.setWordWrap(True)
        self.sign_key = QLineEdit(self)
        self.sign_key.setPlaceholderText("private key file (empty: the keyring's key for the "
                                         "environment, if any)")
        form = QFormLayout()
        form.addRow("Bundle", source_row)
        form.addRow("Promote to", self.target)
        form.addRow("", self.target_note)
        form.addRow("Sign with", self.sign_key)

        self.steps = QListWidget(self)
        for index, step in enumerate(STEPS):
            self.steps.addItem(QListWidgetItem(f"{_MARKS[None]}  {index + 1}. {step}"))
        self.steps.setMinimumHeight(170)
        self.outcome = QLabel(self)
        self.outcome.setWordWrap(True)
        self.details = QPlainTextEdit(self)
        self.details.setReadOnly(True)
        self.details.setMaximumHeight(120)
        self.history = QPlainTextEdit(self)
        self.history.setReadOnly(True)
        self.history.setMaximumHeight(90)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.promote_button = buttons.addButton("Promote",
                                                QDialogButtonBox.ButtonRole.ActionRole)
        self.promote_button.clicked.connect(self.start)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(QLabel("Steps (the first failure stops the promotion):", self))
        layout.addWidget(self.steps)
        layout.addWidget(self.outcome)
        layout.addWidget(self.details)
        layout.addWidget(QLabel("History:", self))
        layout.addWidget(self.history)
        layout.addWidget(buttons)
        self.stepChanged.connect(self._show_step)
        self._show_target(self.target.currentText())
        self.show_history()
        if not environments.names:
            self.promote_button.setEnabled(False)
            self.outcome.setText(environments.problem or "This workspace declares no "
                                 "environments: add environments.toml to its folder.")

    # -- choices
    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Bundle to promote", str(self.workspace),
                                              "Fieldbridge bundles (*.fbz)")
        if path:
            self.source.setCurrentText(path)

    def _show_target(self, name: str) -> None:
        if not name or self.environments.environments is None:
            self.target_note.clear()
            return
        env = self.environments.environments.get(name)
        guard = " · protected: you will be asked first" if env.protected else ""
        self.target_note.setText(
            f"<span style='color:{env.color}'>■</span> runner {env.runner} · Stripe "
            f"{env.stripe!r} · Salesforce {env.salesforce!r}{guard}")

    def _ask(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(self, title, text)
        return answer == QMessageBox.StandardButton.Yes

    # -- running
    def start(self) -> asyncloop.BackgroundCall | None:
        name = self.target.currentText()
        env = self.environments.environments.get(name) if self.environments.environments \
            else None
        if env is None:
            return None
        if env.protected and not self.ask(
                f"Promote to {name}?",
                f"{name} is a protected environment: this deploys the bundle to its runner "
                f"({env.runner}), which then writes to its Salesforce org. Go ahead?"):
            self.outcome.setText(f"Not promoted: you chose not to write to {name}.")
            return None
        for index, step in enumerate(STEPS):
            self._mark(index, step, None)
        self.details.clear()
        self.outcome.setText(f"Promoting to {name}…")
        self.promote_button.setEnabled(False)
        source = self.source.currentText().strip()
        key = self.sign_key.text().strip()

        def work() -> Promotion:
            with tempfile.TemporaryDirectory(prefix="fieldbridge-promote-") as folder:
                path = Path(source)
                if source == WORKSPACE_BUNDLE and self.documents:
                    path = Path(folder) / f"{self.workspace.name}.fbz"
                    export_bundle(self.documents, path, catalogs=self.catalogs)
                return promote(path, self.workspace, name,
                               sign_key=Path(key) if key else None,
                               progress=self.stepChanged.emit)

        self.last_call = asyncloop.submit(work, on_done=self._finished,
                                          on_error=self._failed, what="promoting the bundle")
        return self.last_call

    def _show_step(self, index: int, step: str, result: StepResult | None) -> None:
        self._mark(index, step, result)
        if result is not None and result.detail:
            self.details.appendPlainText(f"{step}:")
            for line in result.detail[:60]:
                self.details.appendPlainText(f"  {line}")

    def _mark(self, index: int, step: str, result: StepResult | None) -> None:
        item = self.steps.item(index)
        ok = None if result is None else result.ok
        text = f"{_MARKS[ok]}  {index + 1}. {step}"
        item.setText(text + (f": {result.summary}" if result is not None else ""))
        item.setForeground(QColor(_COLOURS[ok]) if ok is not None
                           else self.palette().text().color())

    def _finished(self, promotion: Promotion) -> None:
        self.promotion = promotion
        self.promote_button.setEnabled(True)
        if promotion.deployed:
            self.outcome.setText(f"<b style='color:#2e7d32'>Promoted {promotion.bundle} to "
                                 f"{promotion.environment}.</b>")
        else:
            self.outcome.setText(f"<b style='color:#c62828'>Not promoted</b>: "
                                 f"{promotion.result}")
        self.show_history()

    def _failed(self, exc: BaseException) -> None:
        self.promote_button.setEnabled(True)
        self.outcome.setText(f"<b style='color:#c62828'>Not promoted</b>: {exc}")

    def show_history(self) -> None:
        entries = read_history(self.workspace)[-20:]
        self.history.setPlainText(format_history(list(reversed(entries))))
