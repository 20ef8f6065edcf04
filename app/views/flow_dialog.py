"""Create or edit a flow: name, direction, objects, trigger and operation.

The choices come from the catalogs: a Stripe source offers the event types that carry its
object; a Salesforce source offers a change trigger on one of its fields; an upsert offers
the target's external-id fields. The dialog checks as the user types and says what is
missing; accepting it issues one undo command (add or edit).
"""

from __future__ import annotations

import yaml
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.document.document import StudioDocument
from mappings.document.model import (
    Action,
    Flow,
    ObjectRef,
    Operation,
    SalesforceChange,
    Trigger,
)
from mappings.errors import MappingError
from mappings.schema.model import System

DIRECTIONS = [
    ("Stripe → Salesforce", System.STRIPE, System.SALESFORCE),
    ("Salesforce → Stripe", System.SALESFORCE, System.STRIPE),
]
ACTIONS = {
    System.SALESFORCE: [Action.UPSERT, Action.INSERT, Action.UPDATE],
    System.STRIPE: [Action.CREATE, Action.UPDATE],
}
ACTION_LABELS = {
    Action.UPSERT: "Upsert (create or update by an external id)",
    Action.INSERT: "Insert (always create)",
    Action.UPDATE: "Update an existing record",
    Action.CREATE: "Create",
}


def _scalar(text: str) -> object:
    """``true`` -> True, ``3`` -> 3, ``Closed Won`` -> "Closed Won", empty -> None."""
    if not text:
        return None
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return value if isinstance(value, str | int | float | bool) else text


class FlowDialog(QDialog):
    """``editing`` is the name of the flow to edit, or None to create one."""

    def __init__(
        self, document: StudioDocument, editing: str | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.document = document
        self.editing = editing
        self.setWindowTitle("Edit flow" if editing else "New flow")
        self.setMinimumWidth(520)

        self.name = QLineEdit(self)
        self.name.setPlaceholderText("e.g. charge-to-payment")
        self.description = QLineEdit(self)
        self.direction = QComboBox(self)
        for label, _, _ in DIRECTIONS:
            self.direction.addItem(label)
        self.source = QComboBox(self)
        self.source.setEditable(True)
        self.source.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.target = QComboBox(self)
        self.target.setEditable(True)
        self.target.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)

        # Trigger: a page per source system.
        self.events = QListWidget(self)
        self.events.setMinimumHeight(110)
        self.change_field = QComboBox(self)
        self.change_becomes = QLineEdit(self)
        self.change_becomes.setPlaceholderText("any value (optional)")
        change_page = QWidget(self)
        change_form = QFormLayout(change_page)
        change_form.setContentsMargins(0, 0, 0, 0)
        change_form.addRow("When field", self.change_field)
        change_form.addRow("becomes", self.change_becomes)
        self.trigger_stack = QStackedWidget(self)
        self.trigger_stack.addWidget(self.events)
        self.trigger_stack.addWidget(change_page)

        self.action = QComboBox(self)
        self.external_id = QComboBox(self)

        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("Description", self.description)
        form.addRow("Direction", self.direction)
        form.addRow("Source object", self.source)
        form.addRow("Target object", self.target)
        self.trigger_label = QLabel("Stripe events", self)
        form.addRow(self.trigger_label, self.trigger_stack)
        form.addRow("Operation", self.action)
        form.addRow("External id", self.external_id)

        self.problem = QLabel(self)
        self.problem.setStyleSheet("color: #b91c1c")
        self.problem.setWordWrap(True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)

        self.direction.currentIndexChanged.connect(self._direction_changed)
        self.source.currentTextChanged.connect(self._source_changed)
        self.target.currentTextChanged.connect(self._target_changed)
        self.action.currentIndexChanged.connect(self._action_changed)
        for signal in (
            self.name.textChanged,
            self.events.itemChanged,
            self.external_id.currentIndexChanged,
            self.change_field.currentIndexChanged,
        ):
            signal.connect(self.validate)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        self._direction_changed()
        if editing is not None:
            self._load(document.flow(editing))
        self.validate()

    # ------------------------------------------------------------------ filling

    @property
    def systems(self) -> tuple[System, System]:
        _, src, tgt = DIRECTIONS[self.direction.currentIndex()]
        return src, tgt

    def _names(self, system: System) -> list[str]:
        catalog = self.document.catalogs.get(system)
        return catalog.names() if catalog is not None else []

    def _direction_changed(self, *_: object) -> None:
        src, tgt = self.systems
        for combo, system in ((self.source, src), (self.target, tgt)):
            combo.blockSignals(True)
            combo.clear()
            combo.addItems(self._names(system))
            combo.setCurrentIndex(-1)
            combo.blockSignals(False)
        self.action.blockSignals(True)
        self.action.clear()
        for action in ACTIONS[tgt]:
            self.action.addItem(ACTION_LABELS[action], action.value)
        self.action.blockSignals(False)
        self.trigger_stack.setCurrentIndex(0 if src is System.STRIPE else 1)
        # The stack is as tall as its tallest page; the change page needs two rows only.
        page = self.trigger_stack.currentWidget()
        self.trigger_stack.setMaximumHeight(
            16777215 if src is System.STRIPE or page is None else page.sizeHint().height()
        )
        self.trigger_label.setText("Stripe events" if src is System.STRIPE else "Salesforce change")
        self._source_changed()
        self._target_changed()

    def _source_changed(self, *_: object) -> None:
        src = self.systems[0]
        obj = self.document.catalogs.get(src, None)
        schema = obj.get(self.source.currentText()) if obj is not None else None
        self.events.blockSignals(True)
        self.events.clear()
        for event_type in schema.event_types if schema is not None else ():
            item = QListWidgetItem(event_type, self.events)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
        self.events.blockSignals(False)
        self.change_field.blockSignals(True)
        self.change_field.clear()
        self.change_field.addItem("(any change)", None)
        if schema is not None and src is System.SALESFORCE:
            for fs in schema:
                self.change_field.addItem(fs.path, fs.path)
        self.change_field.blockSignals(False)
        self.validate()

    def _target_changed(self, *_: object) -> None:
        tgt = self.systems[1]
        catalog = self.document.catalogs.get(tgt)
        schema = catalog.get(self.target.currentText()) if catalog is not None else None
        self.external_id.blockSignals(True)
        self.external_id.clear()
        if schema is not None:
            for fs in schema.external_id_fields():
                self.external_id.addItem(fs.path)
        self.external_id.blockSignals(False)
        self._action_changed()

    def _action_changed(self, *_: object) -> None:
        self.external_id.setEnabled(self.current_action() is Action.UPSERT)
        self.validate()

    def current_action(self) -> Action:
        # Qt hands the enum back as its plain string value.
        return Action(self.action.currentData())

    def _load(self, flow: Flow) -> None:
        self.name.setText(flow.name)
        self.description.setText(flow.description)
        self.description.setCursorPosition(0)
        index = next(
            i for i, (_, s, _t) in enumerate(DIRECTIONS) if s is flow.source.system
        )
        self.direction.setCurrentIndex(index)
        self._direction_changed()
        self.source.setCurrentText(flow.source.object)
        self.target.setCurrentText(flow.target.object)
        self.set_events(flow.trigger.stripe_events)
        change = flow.trigger.salesforce_change
        if change is not None:
            found = self.change_field.findData(change.field)
            self.change_field.setCurrentIndex(max(found, 0))
            self.change_becomes.setText("" if change.becomes is None else str(change.becomes))
        self.action.setCurrentIndex(max(self.action.findData(flow.operation.action.value), 0))
        if flow.operation.external_id:
            self.external_id.setCurrentText(flow.operation.external_id)
        self._original = flow

    def set_events(self, events: list[str]) -> None:
        for row in range(self.events.count()):
            item = self.events.item(row)
            checked = item.text() in events
            item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)

    def checked_events(self) -> list[str]:
        return [
            self.events.item(r).text()
            for r in range(self.events.count())
            if self.events.item(r).checkState() == Qt.CheckState.Checked
        ]

    # ------------------------------------------------------------------ result

    def problems(self) -> list[str]:
        out = []
        name = self.name.text().strip()
        src, tgt = self.systems
        if not name:
            out.append("Give the flow a name.")
        elif "/" in name:
            out.append("A flow name cannot contain '/'.")
        elif name != self.editing and self.document.find_flow(name) is not None:
            out.append(f"A flow named {name!r} already exists.")
        if self.source.currentText() not in self._names(src):
            out.append(f"Pick a {src.value.title()} source object.")
        if self.target.currentText() not in self._names(tgt):
            out.append(f"Pick a {tgt.value.title()} target object.")
        elif src is System.STRIPE and self.events.count() and not self.checked_events():
            out.append("Tick at least one Stripe event that starts the flow.")
        if self.current_action() is Action.UPSERT and not self.external_id.currentText():
            out.append("An upsert needs an external id field on the target.")
        return out

    def validate(self, *_: object) -> bool:
        problems = self.problems()
        self.problem.setText(" ".join(problems))
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(not problems)
        return not problems

    def flow(self) -> Flow:
        """The flow the form describes (fields, lookups... empty: edit keeps the old ones)."""
        src, tgt = self.systems
        source_obj = self.source.currentText()
        if src is System.STRIPE:
            trigger = Trigger(stripe_events=self.checked_events())
        else:
            becomes_text = self.change_becomes.text().strip()
            trigger = Trigger(
                salesforce_change=SalesforceChange(
                    object=source_obj,
                    field=self.change_field.currentData(),
                    becomes=_scalar(becomes_text),
                )
            )
        action = self.current_action()
        original = self.document.find_flow(self.editing) if self.editing else None
        kept = original.operation if original is not None else Operation(action)
        return Flow(
            name=self.name.text().strip(),
            description=self.description.text().strip(),
            trigger=trigger,
            source=ObjectRef(src, source_obj),
            target=ObjectRef(tgt, self.target.currentText()),
            operation=Operation(
                action,
                external_id=self.external_id.currentText() if action is Action.UPSERT else None,
                # Not on this form: dedup and write-back settings are kept as they were.
                dedup_on=list(kept.dedup_on),
                writeback=kept.writeback,
            ),
        )

    def apply(self) -> bool:
        """Add or edit the flow in the document (one undo step); select it."""
        if not self.validate():
            return False
        flow = self.flow()
        try:
            if self.editing is None:
                self.document.add_flow(flow)
            else:
                self.document.edit_flow(self.editing, flow)
        except MappingError as exc:
            self.problem.setText(str(exc))
            return False
        self.document.set_current_flow(flow.name)
        return True

    def accept(self) -> None:
        if self.apply():
            super().accept()
