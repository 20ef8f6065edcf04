"""Create or edit a flow: name, direction, objects, trigger and operation.

The choices come from the catalogs: a Stripe source offers the event types that carry its
object; a Salesforce source starts on a record change (real time, or polled) or a platform
event, and the dialog says which of them the current Salesforce connection's org supports
(asked off the UI thread, :mod:`app.services.triggers`); an upsert offers the target's
external-id fields. The dialog checks as the user types and says what is
missing; accepting it issues one undo command (add or edit).
"""

from __future__ import annotations

import json
import re
from functools import cache

import shiboken6
import yaml
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
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

from app import asyncloop, theme
from app.document.document import StudioDocument
from app.models.policies import on_delete_choices, on_delete_question
from app.services import Services
from app.services.triggers import POLL_EVERY, support_sentence, trigger_support
from mappings.document.model import (
    Action,
    DeletionPolicy,
    Flow,
    ObjectRef,
    Operation,
    SalesforceChange,
    SalesforceEvent,
    Trigger,
)
from mappings.document.yamlio import schema_path
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


# How a Salesforce source starts a flow, in plain words. A record change and polling are the
# same trigger in the document (salesforce_change): the runner listens to change events
# where the org offers them and polls otherwise (runner.salesforce_triggers decides).
CHANGE, EVENT, POLL = "change", "event", "poll"
SALESFORCE_TRIGGERS = [
    (CHANGE, "When a record changes (real time)"),
    (EVENT, "When a platform event arrives"),
    (POLL, f"Poll {POLL_EVERY}"),
]


@cache
def _event_name_rule() -> tuple[re.Pattern[str], str]:
    """The document schema's rule for a platform event's name (its one home)."""
    trigger = json.loads(schema_path().read_text(encoding="utf-8"))["$defs"]["trigger"]
    event = trigger["properties"]["salesforce_event"]["properties"]["event"]
    return re.compile(event["pattern"]), event["x-messages"]["pattern"]


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
        self, document: StudioDocument, editing: str | None = None, parent: QWidget | None = None,
        *, services: Services | None = None, connection: str | None = None,
    ) -> None:
        """``services`` and ``connection`` (a Salesforce connection's name) let the dialog ask
        the org which triggers it supports; without them it says the runner decides."""
        super().__init__(parent)
        self.document = document
        self.editing = editing
        self.services = services
        self.connection = connection
        self._support_asked = 0  # the latest question to the org; older answers are dropped
        self._support_question: tuple[object, ...] | None = None
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
        self.trigger_kind = QComboBox(self)
        for kind, label in SALESFORCE_TRIGGERS:
            self.trigger_kind.addItem(label, kind)
        self.event_name = QLineEdit(self)
        self.event_name.setPlaceholderText("e.g. Opportunity_Closed_Won__e")
        self.event_record_id = QLineEdit(self)
        self.event_fallback = QCheckBox(
            f"If the org does not offer it, poll {POLL_EVERY} for this change:", self)
        self.change_field = QComboBox(self)
        self.change_becomes = QLineEdit(self)
        self.change_becomes.setPlaceholderText("any value (optional)")
        self.support = QLabel(self)
        self.support.setWordWrap(True)
        change_page = QWidget(self)
        self.change_form = change_form = QFormLayout(change_page)
        change_form.setContentsMargins(0, 0, 0, 0)
        change_form.addRow("Starts", self.trigger_kind)
        change_form.addRow("Platform event", self.event_name)
        change_form.addRow("Record id field", self.event_record_id)
        change_form.addRow("", self.event_fallback)
        change_form.addRow("When field", self.change_field)
        change_form.addRow("becomes", self.change_becomes)
        change_form.addRow("", self.support)
        self.trigger_stack = QStackedWidget(self)
        self.trigger_stack.addWidget(self.events)
        self.trigger_stack.addWidget(change_page)

        self.action = QComboBox(self)
        self.external_id = QComboBox(self)
        # Issue 14: what a deletion of the source record does to the target, in words.
        self.on_delete = QComboBox(self)
        self.on_delete.setAccessibleName("When the source record is deleted")
        self.on_delete_label = QLabel(self)
        self.on_delete_label.setWordWrap(True)

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
        form.addRow(self.on_delete_label, self.on_delete)

        self.problem = QLabel(self)
        theme.set_text_role(self.problem, "error")
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
        self.trigger_kind.currentIndexChanged.connect(self._sf_kind_changed)
        self.event_fallback.toggled.connect(self._sf_kind_changed)
        self.event_name.editingFinished.connect(self.check_support)
        for signal in (
            self.event_name.textChanged,
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
        self.trigger_label.setText("Stripe events" if src is System.STRIPE else "Salesforce trigger")
        self._fill_on_delete()
        self._sf_kind_changed()
        self._source_changed()
        self._target_changed()

    def sf_kind(self) -> str:
        return str(self.trigger_kind.currentData())

    def _sf_kind_changed(self, *_: object) -> None:
        """Show the rows of the chosen Salesforce trigger, then ask the org about it."""
        event = self.sf_kind() == EVENT
        polled_change = not event or self.event_fallback.isChecked()
        for widget, shown in (
            (self.event_name, event), (self.event_record_id, event),
            (self.event_fallback, event), (self.change_field, polled_change),
            (self.change_becomes, polled_change),
        ):
            self.change_form.setRowVisible(widget, shown)
        # The stack is as tall as its tallest page; the Salesforce page needs its rows only.
        page = self.trigger_stack.currentWidget()
        stripe = self.systems[0] is System.STRIPE
        self.trigger_stack.setMaximumHeight(
            16777215 if stripe or page is None else page.sizeHint().height()
        )
        self.validate()
        self.check_support()

    def check_support(self, *_: object) -> None:
        """Say which trigger the connected org supports: the runner's answer without a
        connection, the org's (off the UI thread) with one."""
        if self.systems[0] is not System.SALESFORCE or self.sf_kind() == EVENT and \
                not self.event_name.text().strip():
            self.support.setText("")
            return
        flow = self._sketch()
        if self.services is None or self.connection is None:
            self.support.setText(support_sentence(flow, None))
            return
        # Ask once per question, and only about an object of the catalog (the source box is
        # editable: not on every keystroke).
        question = (flow.source.object, flow.trigger.salesforce_event,
                    flow.trigger.salesforce_change is not None)
        if question == self._support_question or \
                flow.source.object not in self._names(System.SALESFORCE):
            return
        self._support_question = question
        self.support.setText(f"Asking {self.connection} which triggers it offers…")
        self._support_asked += 1
        asked = self._support_asked
        asyncloop.submit(
            trigger_support, self.services, self.connection, flow,
            on_done=lambda text: self._support_answered(asked, text),
            on_error=lambda exc: self._support_answered(
                asked, f"Could not ask {self.connection}: {exc}. " + support_sentence(flow, None)),
            what="ask the org about its triggers",
        )

    def _support_answered(self, asked: int, text: str) -> None:
        # An answer to an older question, or one that comes after the dialog closed, is dropped.
        if asked == self._support_asked and shiboken6.isValid(self.support):
            self.support.setText(text)

    def _sketch(self) -> Flow:
        """The flow as the form stands, for the trigger question (no name needed)."""
        src, tgt = self.systems
        return Flow(name=self.name.text().strip() or "new", trigger=self.trigger(),
                    source=ObjectRef(src, self.source.currentText()),
                    target=ObjectRef(tgt, self.target.currentText()),
                    operation=Operation(self.current_action()))

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
        default_id = SalesforceEvent("").record_id_field(self.source.currentText() or "Object")
        self.event_record_id.setPlaceholderText(f"{default_id} (default)")
        self.change_field.blockSignals(True)
        self.change_field.clear()
        self.change_field.addItem("(any change)", None)
        if schema is not None and src is System.SALESFORCE:
            for fs in schema:
                self.change_field.addItem(fs.path, fs.path)
        self.change_field.blockSignals(False)
        self.validate()
        self.check_support()

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

    def _fill_on_delete(self) -> None:
        """The deletion choices in the direction's words, keeping the chosen policy."""
        src, tgt = self.systems
        kept = self.on_delete.currentData() or DeletionPolicy.MARK
        self.on_delete_label.setText(on_delete_question(src))
        self.on_delete.blockSignals(True)
        self.on_delete.clear()
        for policy, words in on_delete_choices(tgt):
            self.on_delete.addItem(words, policy)
        self.on_delete.setCurrentIndex(max(self.on_delete.findData(kept), 0))
        self.on_delete.blockSignals(False)

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
        change, event = flow.trigger.salesforce_change, flow.trigger.salesforce_event
        if event is not None:
            self.event_name.setText(event.event)
            self.event_record_id.setText(event.record_id or "")
            self.event_fallback.setChecked(change is not None)
        kind = EVENT if event is not None else CHANGE
        self.trigger_kind.setCurrentIndex(self.trigger_kind.findData(kind))
        if change is not None:
            found = self.change_field.findData(change.field)
            self.change_field.setCurrentIndex(max(found, 0))
            self.change_becomes.setText("" if change.becomes is None else str(change.becomes))
        self.action.setCurrentIndex(max(self.action.findData(flow.operation.action.value), 0))
        if flow.operation.external_id:
            self.external_id.setCurrentText(flow.operation.external_id)
        self.on_delete.setCurrentIndex(max(self.on_delete.findData(flow.on_delete), 0))
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
        if src is System.SALESFORCE and self.sf_kind() == EVENT:
            pattern, message = _event_name_rule()
            event = self.event_name.text().strip()
            if not event:
                out.append("Name the platform event that starts the flow.")
            elif not pattern.fullmatch(event):
                out.append(message[0].upper() + message[1:] + ".")
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
        trigger = self.trigger()
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
            on_delete=DeletionPolicy(self.on_delete.currentData() or DeletionPolicy.MARK),
        )

    def trigger(self) -> Trigger:
        """The trigger the form describes: Stripe events, or a Salesforce record change
        (real time or polled), a platform event, or both (the change as the polling fallback)."""
        if self.systems[0] is System.STRIPE:
            return Trigger(stripe_events=self.checked_events())
        kind = self.sf_kind()
        change = SalesforceChange(
            object=self.source.currentText(),
            field=self.change_field.currentData(),
            becomes=_scalar(self.change_becomes.text().strip()),
        )
        if kind != EVENT:
            return Trigger(salesforce_change=change)
        event = SalesforceEvent(self.event_name.text().strip(),
                                self.event_record_id.text().strip() or None)
        return Trigger(salesforce_change=change if self.event_fallback.isChecked() else None,
                       salesforce_event=event)

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
