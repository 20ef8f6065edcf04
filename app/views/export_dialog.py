"""Export the workspace as a bundle (``.fbz``), optionally signed, then re-open it to check.

The build runs on the thread pool (``app.asyncloop.submit``) over a copy of the documents,
so the window stays responsive and later edits cannot change a bundle half-written.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app import asyncloop, icons
from mappings.bundle import build_bundle, load_bundle, load_private_key, public_key_fingerprint
from mappings.document.model import MappingDocument
from mappings.errors import BundleError
from mappings.schema.model import Catalog, System


@dataclass(frozen=True, slots=True)
class ExportResult:
    path: Path
    flows: list[str]
    signed: bool
    fingerprint: str | None


def check_destination(text: str) -> Path:
    """The bundle path for what the user typed; ``.fbz`` is added when missing."""
    text = text.strip()
    if not text:
        raise BundleError("choose where to write the bundle")
    path = Path(text).expanduser()
    if path.suffix != ".fbz":
        path = path.with_name(path.name + ".fbz")
    if path.is_dir():
        raise BundleError(f"{path} is a folder; give a file name for the bundle")
    if not path.parent.is_dir():
        raise BundleError(f"cannot write {path.name}: the folder {path.parent} does not exist")
    return path


def export_bundle(
    documents: Sequence[MappingDocument],
    destination: Path,
    key_file: Path | None = None,
    catalogs: Mapping[System, Catalog] | None = None,
) -> ExportResult:
    """Build the bundle, then load it back (checking the signature with our own key)."""
    key = load_private_key(key_file) if key_file is not None else None
    catalogs = catalogs or {}
    build_bundle(
        list(documents),
        destination,
        stripe_catalog=catalogs.get(System.STRIPE),
        salesforce_catalog=catalogs.get(System.SALESFORCE),
        signing_key=key,
    )
    try:
        bundle = load_bundle(
            destination,
            public_key=key.public_key() if key is not None else None,
            require_signature=key is not None,
        )
    except BundleError as exc:
        raise BundleError(f"the bundle was written but does not re-open: {exc}") from exc
    return ExportResult(
        path=destination,
        flows=[f.name for _, f in bundle.flows()],
        signed=bundle.signed,
        fingerprint=public_key_fingerprint(key) if key is not None else None,
    )


class ExportDialog(QDialog):
    """Destination, optional signing key, Export; the result (or the reason) shown below."""

    exported = Signal(object)  # ExportResult
    failed = Signal(str)

    def __init__(
        self,
        documents: Callable[[], Sequence[MappingDocument]],
        parent: QWidget | None = None,
        *,
        catalogs: Callable[[], Mapping[System, Catalog]] | None = None,
        default_destination: Path | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export bundle")
        self.setWindowIcon(icons.icon("export"))
        self.resize(560, 240)
        self._documents = documents
        self._catalogs = catalogs
        self.result_: ExportResult | None = None
        self.call: asyncloop.BackgroundCall | None = None

        self.destination = QLineEdit(self)
        self.destination.setPlaceholderText("/path/to/mappings.fbz")
        if default_destination is not None:
            self.destination.setText(str(default_destination))
        browse_dest = QPushButton("Browse…", self)
        browse_dest.clicked.connect(self._browse_destination)
        self.key_file = QLineEdit(self)
        self.key_file.setPlaceholderText("optional: an Ed25519 private key (PEM or OpenSSH)")
        browse_key = QPushButton("Browse…", self)
        browse_key.clicked.connect(self._browse_key)

        dest_row = QHBoxLayout()
        dest_row.addWidget(self.destination, 1)
        dest_row.addWidget(browse_dest)
        key_row = QHBoxLayout()
        key_row.addWidget(self.key_file, 1)
        key_row.addWidget(browse_key)
        form = QFormLayout()
        form.addRow("Bundle file", dest_row)
        form.addRow("Signing key", key_row)

        self.progress = QProgressBar(self)
        self.progress.setRange(0, 0)
        self.progress.setVisible(False)
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.export_button = self.buttons.addButton(
            "Export", QDialogButtonBox.ButtonRole.ActionRole
        )
        self.export_button.setIcon(icons.icon("export"))
        self.export_button.setDefault(True)
        self.export_button.clicked.connect(self.export)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.status, 1)
        layout.addWidget(self.buttons)

    @property
    def running(self) -> bool:
        return self.call is not None and self.call.running

    def export(self) -> asyncloop.BackgroundCall | None:
        """Start the export; None (with the reason shown) if the form is not right."""
        if self.running:
            return self.call
        try:
            destination = check_destination(self.destination.text())
            key_text = self.key_file.text().strip()
            key_file = Path(key_text).expanduser() if key_text else None
            if key_file is not None and not key_file.is_file():
                raise BundleError(f"the signing key file {key_file} does not exist")
        except BundleError as exc:
            self._fail(exc)
            return None
        documents = copy.deepcopy(list(self._documents()))
        catalogs = dict(self._catalogs()) if self._catalogs is not None else None
        self.export_button.setEnabled(False)
        self.progress.setVisible(True)
        self.status.setText(f"Writing {destination.name}…")
        self.call = asyncloop.submit(
            export_bundle,
            documents,
            destination,
            key_file,
            catalogs,
            on_done=self._done,
            on_error=self._fail,
            what=f"exporting {destination.name}",
        )
        return self.call

    def _done(self, result: ExportResult) -> None:
        self.result_ = result
        self.progress.setVisible(False)
        self.export_button.setEnabled(True)
        signed = f"signed (key {result.fingerprint})" if result.signed else "not signed"
        flows = f"{len(result.flows)} flow{'' if len(result.flows) == 1 else 's'}"
        self.status.setText(
            f"✓ Wrote {result.path} and opened it again: {flows} "
            f"({', '.join(result.flows)}), {signed}."
        )
        self.exported.emit(result)

    def _fail(self, exc: BaseException) -> None:
        self.progress.setVisible(False)
        self.export_button.setEnabled(True)
        message = str(exc) if isinstance(exc, BundleError) else f"{type(exc).__name__}: {exc}"
        self.status.setText(f"✗ {message}")
        self.failed.emit(message)

    def _browse_destination(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export bundle", self.destination.text(), "Fieldbridge bundles (*.fbz)"
        )
        if path:
            self.destination.setText(path)

    def _browse_key(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Signing key", "", "Keys (*.pem *.key);;All (*)"
        )
        if path:
            self.key_file.setText(path)
