"""The transform chain of the selected mapping: add, remove, reorder, edit parameters.

The parameter form is generated from each transform's ParamSpecs. A ``map`` step gets a
value-map table editor (a named table of the document, or an inline one), a ``jsonata``
step an expression editor. Under the form, the chain up to the selected step runs on the
current sample record (``sample_provider``) so the user sees the value their edit gives.
Every change is checked by building the step first, then committed as one undo command.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import yaml
from PySide6.QtCore import QStringListModel, Qt, QTimer
from PySide6.QtGui import QAction, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QCompleter,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListView,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app import theme
from app.document.document import StudioDocument
from app.models.naming import title_in
from app.models.transform_models import TransformChainModel, TransformLibraryModel
from app.views.condition_editor import ConditionEditor
from app.views.defaults_editor import DefaultsEditor
from app.views.editor_common import split_sample
from app.views.lookup_editor import LookupEditor
from mappings.document.model import FieldMapping, TransformStep
from mappings.errors import MappingError
from mappings.transforms import CompileEnv, ParamSpec, RecordContext, build_step, get_transform
from mappings.transforms.maps import BUILTIN_TABLES

SampleProvider = Callable[[], dict | None]
INLINE = "(inline table)"


def short(value: Any) -> str:
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= 120 else text[:117] + "…"


class ValueMapEditor(QWidget):
    """A two-column from -> to table; ``changed`` is called with the table on each edit."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = QTableWidget(0, 2, self)
        self.table.setHorizontalHeaderLabels(["From (source value)", "To (target value)"])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        self.table.setMinimumHeight(120)
        add = QPushButton("Add row", self)
        remove = QPushButton("Remove row", self)
        buttons = QHBoxLayout()
        buttons.addWidget(add)
        buttons.addWidget(remove)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        self.on_change: Callable[[dict[str, Any]], None] | None = None
        self._loading = False
        add.clicked.connect(self.add_row)
        remove.clicked.connect(self.remove_row)
        self.table.itemChanged.connect(self._changed)

    def set_table(self, table: dict[str, Any], editable: bool = True) -> None:
        self._loading = True
        self.table.setRowCount(0)
        for key, value in table.items():
            self._append(str(key), "" if value is None else str(value))
        self.table.setEditTriggers(
            QAbstractItemView.EditTrigger.AllEditTriggers
            if editable
            else QAbstractItemView.EditTrigger.NoEditTriggers
        )
        self._loading = False

    def values(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for row in range(self.table.rowCount()):
            key = self.table.item(row, 0)
            value = self.table.item(row, 1)
            if key is not None and key.text().strip():
                out[key.text().strip()] = value.text() if value is not None else ""
        return out

    def _append(self, key: str, value: str) -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        self.table.setItem(row, 0, QTableWidgetItem(key))
        self.table.setItem(row, 1, QTableWidgetItem(value))

    def add_row(self) -> None:
        self._loading = True
        self._append("", "")
        self._loading = False
        item = self.table.item(self.table.rowCount() - 1, 0)
        if item is not None:
            self.table.editItem(item)

    def remove_row(self) -> None:
        row = self.table.currentRow()
        if row >= 0:
            self.table.removeRow(row)
            self._changed()

    def _changed(self, *_: object) -> None:
        if not self._loading and self.on_change is not None:
            self.on_change(self.values())


class TransformPanel(QWidget):
    def __init__(
        self,
        document: StudioDocument,
        sample_provider: SampleProvider | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.document = document
        self.sample_provider: SampleProvider = sample_provider or (lambda: None)
        self.target: str | None = None
        self.library = TransformLibraryModel(self)
        self.chain = TransformChainModel(self)
        self._editors: dict[str, Callable[[], Any]] = {}
        self.expression_editor: QPlainTextEdit | None = None
        self.value_map_editor: ValueMapEditor | None = None
        self.table_combo: QComboBox | None = None

        self.title = QLabel("Select a link on the canvas to edit its transforms", self)
        self.title.setWordWrap(True)
        self.chain_view = QListView(self)
        self.chain_view.setModel(self.chain)
        self.chain_view.setAccessibleName("transform chain")
        self.chain_view.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.chain_view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.add_button = QToolButton(self)
        self.add_button.setText("Add step")
        self.add_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.add_button.setMenu(self._library_menu())
        self.remove_button = QPushButton("Remove", self)
        self.up_button = QPushButton("Up", self)
        self.down_button = QPushButton("Down", self)
        buttons = QHBoxLayout()
        for w in (self.add_button, self.remove_button, self.up_button, self.down_button):
            buttons.addWidget(w)
        buttons.addStretch(1)
        left = QVBoxLayout()
        left.addWidget(self.chain_view, 1)
        left.addLayout(buttons)

        self.step_box = QGroupBox("Step", self)
        self.step_description = QLabel(self.step_box)
        self.step_description.setWordWrap(True)
        theme.set_text_role(self.step_description, "muted")
        self.form = QFormLayout()
        box_layout = QVBoxLayout(self.step_box)
        box_layout.addWidget(self.step_description)
        box_layout.addLayout(self.form)
        box_layout.addStretch(1)

        self.result = QLabel(self)
        self.result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.result.setWordWrap(True)
        mono = QFont("monospace")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        self.result.setFont(mono)
        self.error = QLabel(self)
        self.error.setWordWrap(True)
        theme.set_text_role(self.error, "error")

        body = QHBoxLayout()
        body.addLayout(left, 2)
        # The step's form (a value map's table is tall) scrolls inside the panel instead of
        # growing it: the bottom tabs must never push the canvas up (issue 13).
        self.step_scroll = QScrollArea(self)
        self.step_scroll.setWidgetResizable(True)
        self.step_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.step_scroll.setWidget(self.step_box)
        body.addWidget(self.step_scroll, 3)
        self.transforms_page = QWidget(self)
        page = QVBoxLayout(self.transforms_page)
        page.addWidget(self.title)
        page.addLayout(body, 1)
        page.addWidget(self.result)
        page.addWidget(self.error)

        # The flow-wide editors sit beside the chain, so the main window gets them as one
        # panel built from (document, sample_provider).
        self.lookup_editor = LookupEditor(document, self)
        self.condition_editor = ConditionEditor(document, self.sample_provider, self)
        self.defaults_editor = DefaultsEditor(document, self)
        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("transformTabs")
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.transforms_page, "Transforms")
        self.tabs.addTab(self.lookup_editor, "Lookups")
        self.tabs.addTab(self.condition_editor, "Conditions")
        self.tabs.addTab(self.defaults_editor, "Defaults")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tabs)

        self._result_timer = QTimer(self, singleShot=True, interval=150)
        self._result_timer.timeout.connect(self.refresh_result)
        self.remove_button.clicked.connect(self.remove_step)
        self.up_button.clicked.connect(lambda: self.move_step(-1))
        self.down_button.clicked.connect(lambda: self.move_step(1))
        self.chain_view.selectionModel().currentRowChanged.connect(lambda *_: self._show_step())
        document.mappingsChanged.connect(self._on_mappings_changed)
        document.currentFlowChanged.connect(lambda _name: self.show_mapping(""))
        document.documentReplaced.connect(lambda: self.show_mapping(""))
        self.show_mapping("")
        document.currentFlowChanged.connect(lambda _name: self._update_tab_titles())
        document.documentReplaced.connect(self._update_tab_titles)
        self._update_tab_titles()

    # ------------------------------------------------------------------ what is shown

    def mapping(self) -> FieldMapping | None:
        flow = self.document.find_flow(self.document.current_flow)
        if flow is None or not self.target:
            return None
        return flow.mapping_for(self.target)

    def show_mapping(self, target: str) -> None:
        """Show the chain of ``target``'s mapping in the current flow ("" for none).

        A target filled by a lookup or a default (and no mapping) opens that tab instead.
        """
        self.target = target or None
        self._reload(keep_row=False)
        if not target:
            return
        if self.mapping() is None and self.lookup_editor.select_target(target):
            self.tabs.setCurrentWidget(self.lookup_editor)
        elif self.mapping() is None and self.defaults_editor.select_field(target):
            self.tabs.setCurrentWidget(self.defaults_editor)
        else:
            self.tabs.setCurrentWidget(self.transforms_page)

    def _update_tab_titles(self) -> None:
        flow = self.document.find_flow(self.document.current_flow)
        counts = (
            (self.lookup_editor, "Lookups", len(flow.lookups) if flow else 0),
            (self.condition_editor, "Conditions", len(flow.conditions) if flow else 0),
            (self.defaults_editor, "Defaults", len(flow.defaults) if flow else 0),
        )
        for widget, label, count in counts:
            self.tabs.setTabText(self.tabs.indexOf(widget), f"{label} ({count})" if count else label)

    def selected_row(self) -> int:
        index = self.chain_view.currentIndex()
        return index.row() if index.isValid() else -1

    def select_row(self, row: int) -> None:
        self.chain_view.setCurrentIndex(self.chain.index(row, 0))

    def _on_mappings_changed(self, flow: str) -> None:
        if flow == self.document.current_flow:
            self._reload(keep_row=True)
            self._update_tab_titles()

    def _reload(self, keep_row: bool) -> None:
        row = self.selected_row() if keep_row else -1
        mapping = self.mapping()
        enabled = mapping is not None
        for w in (self.add_button, self.remove_button, self.up_button, self.down_button):
            w.setEnabled(enabled)
        self.chain_view.setEnabled(enabled)
        if mapping is None:
            self.chain.set_steps([])
            if self.target:
                self.title.setText(f"<b>{self.target}</b> has no field mapping in this flow")
            else:
                self.title.setText("Select a link on the canvas to edit its transforms")
        else:
            flow = self.document.current_flow or ""
            source = self.document.source_schema(flow)
            target = self.document.target_schema(flow)
            sources = ", ".join(title_in(source, p) for p in mapping.sources) or "the whole record"
            title = title_in(target, mapping.target, show_api_names=False)
            api = "" if title == mapping.target else f" <small>{mapping.target}</small>"
            self.title.setText(f"<b>{title}</b>{api} ← {sources}")
            self.chain.source_schema = source
            self.chain.set_steps(mapping.transforms)
        if self.chain.rowCount() and row < 0:
            row = 0 if not keep_row else -1
        if 0 <= row < self.chain.rowCount():
            self.select_row(min(row, self.chain.rowCount() - 1))
        self._show_step()

    # ------------------------------------------------------------------ chain edits

    def _library_menu(self) -> QMenu:
        menu = QMenu(self)
        for label, specs in self.library.grouped():
            sub = menu.addMenu(label)
            for spec in specs:
                action = QAction(spec.label or spec.name, sub)
                action.setToolTip(spec.description)
                action.setData(spec.name)
                action.triggered.connect(lambda _=False, n=spec.name: self.add_step(n))
                sub.addAction(action)
        menu.setToolTipsVisible(True)
        return menu

    def add_step(self, name: str) -> bool:
        """Append a library transform (with its defaults) after the selected step."""
        spec = get_transform(name)
        args = {p.name: p.default for p in spec.params if p.required and p.default is not None}
        if name == "map":
            args["values"] = {}  # start from an empty inline table the editor fills
        steps = self.chain.steps
        row = self.selected_row()
        position = row + 1 if row >= 0 else len(steps)
        steps.insert(position, TransformStep(name, args))
        # A new step often lacks a required argument: commit it and let the form ask for it.
        if self._commit(steps, check=False):
            self.select_row(position)
            return True
        return False

    def remove_step(self) -> bool:
        row = self.selected_row()
        if row < 0:
            return False
        steps = self.chain.steps
        del steps[row]
        ok = self._commit(steps, check=False)
        if ok and steps:
            self.select_row(min(row, len(steps) - 1))
        return ok

    def move_step(self, delta: int) -> bool:
        row = self.selected_row()
        new = row + delta
        steps = self.chain.steps
        if row < 0 or not 0 <= new < len(steps):
            return False
        steps[row], steps[new] = steps[new], steps[row]
        ok = self._commit(steps, check=False)
        if ok:
            self.select_row(new)
        return ok

    def set_arg(self, name: str, value: Any) -> bool:
        """Set (``value`` None: remove) one argument of the selected step, checked first."""
        row = self.selected_row()
        if row < 0:
            return False
        steps = self.chain.steps
        args = dict(steps[row].args)
        if value is None or value == "":
            args.pop(name, None)
        else:
            args[name] = value
        if args == steps[row].args:
            return True
        steps[row] = TransformStep(steps[row].name, args)
        return self._commit(steps, check_row=row)

    def _commit(self, steps: list[TransformStep], check: bool = True, check_row: int = -1) -> bool:
        mapping = self.mapping()
        flow = self.document.current_flow
        if mapping is None or flow is None:
            return False
        if check and check_row >= 0:
            try:
                build_step(steps[check_row], self._env())
            except MappingError as exc:
                self.error.setText(str(exc))
                return False
        try:
            self.document.set_transforms(flow, mapping.target, steps)
        except MappingError as exc:
            self.error.setText(str(exc))
            self.document.editRefused.emit(str(exc))
            return False
        self.error.setText("")
        return True

    # ------------------------------------------------------------------ the step form

    def _clear_form(self) -> None:
        # Editors commit from their own signals and the commit rebuilds this form, so they
        # are deleted later, never inside their own slot.
        while self.form.rowCount():
            row = self.form.takeRow(0)
            for item in (row.labelItem, row.fieldItem):
                widget = item.widget() if item is not None else None
                if widget is not None:
                    widget.hide()
                    widget.deleteLater()
        self._editors = {}
        self.expression_editor = None
        self.value_map_editor = None
        self.table_combo = None

    def _show_step(self) -> None:
        self._clear_form()
        row = self.selected_row()
        step = self.chain.step(row)
        if step is None:
            self.step_box.setTitle("Step")
            self.step_description.setText(
                "Add a step from the library: money, dates, text, value maps, logic, "
                "JSONata expressions." if self.mapping() is not None else ""
            )
            self.refresh_result()
            return
        try:
            spec = get_transform(step.name)
        except MappingError as exc:
            self.step_box.setTitle(step.name)
            self.step_description.setText(str(exc))
            return
        self.step_box.setTitle(f"{row + 1}. {spec.label or spec.name}")
        self.step_description.setText(spec.description)
        if spec.name == "map":
            self._map_form(step)
        else:
            for param in spec.params:
                editor = self._param_editor(param, step.args.get(param.name))
                label = param.title + (" *" if param.required else "")
                self.form.addRow(label, editor)
        self.refresh_result()

    def _param_editor(self, param: ParamSpec, value: Any) -> QWidget:
        tip = param.description + (f" (default: {param.default})" if param.default is not None else "")
        if param.kind == "boolean":
            box = QCheckBox(self.step_box)
            box.setChecked(bool(param.default if value is None else value))
            box.setToolTip(tip)
            box.toggled.connect(lambda checked, n=param.name: self.set_arg(n, checked))
            self._editors[param.name] = box.isChecked
            return box
        if param.kind == "enum":
            combo = QComboBox(self.step_box)
            combo.addItem("" if param.required else "(default)")
            combo.addItems(list(param.choices))
            if value in param.choices:
                combo.setCurrentText(value)
            combo.setToolTip(tip)
            combo.activated.connect(
                lambda _i, c=combo, n=param.name: self.set_arg(
                    n, c.currentText() if c.currentIndex() > 0 else None
                )
            )
            self._editors[param.name] = combo.currentText
            return combo
        if param.kind == "expression":
            return self._expression_editor(param, value)
        line = QLineEdit(self.step_box)
        line.setToolTip(tip)
        line.setPlaceholderText(
            str(param.default) if param.default is not None else param.description
        )
        if value is not None:
            line.setText(value if isinstance(value, str) else json.dumps(value, default=str))
        if param.kind == "path":
            line.setCompleter(self._path_completer(line))
        line.editingFinished.connect(
            lambda ln=line, p=param: self._line_committed(p, ln.text())
        )
        self._editors[param.name] = line.text
        return line

    def _line_committed(self, param: ParamSpec, text: str) -> None:
        text = text.strip()
        if not text:
            self.set_arg(param.name, None)
            return
        value: Any = text
        try:
            if param.kind == "integer":
                value = int(text)
            elif param.kind == "number":
                value = float(text)
            elif param.kind in ("any", "mapping"):
                value = yaml.safe_load(text)
        except (ValueError, yaml.YAMLError):
            self.error.setText(f"{param.title}: {text!r} is not a valid {param.kind}")
            return
        self.set_arg(param.name, value)

    def _path_completer(self, parent: QWidget) -> QCompleter:
        flow = self.document.current_flow
        schema = self.document.source_schema(flow) if flow else None
        paths = sorted(schema.fields) if schema is not None else []
        completer = QCompleter(QStringListModel(paths, parent), parent)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        return completer

    def _expression_editor(self, param: ParamSpec, value: Any) -> QWidget:
        wrapper = QWidget(self.step_box)
        editor = QPlainTextEdit(wrapper)
        editor.setObjectName("jsonataEditor")
        mono = QFont("monospace")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        editor.setFont(mono)
        editor.setPlaceholderText("JSONata, e.g. $uppercase(currency)")
        editor.setPlainText(value or "")
        editor.setMinimumHeight(80)
        apply = QPushButton("Apply expression", wrapper)
        layout = QVBoxLayout(wrapper)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(editor)
        layout.addWidget(apply)
        self.expression_editor = editor
        # The live result follows the draft text; the document changes only on Apply.
        editor.textChanged.connect(self._result_timer.start)
        apply.clicked.connect(lambda: self.set_arg(param.name, editor.toPlainText().strip()))
        self._editors[param.name] = editor.toPlainText
        return wrapper

    def _map_form(self, step: TransformStep) -> None:
        combo = QComboBox(self.step_box)
        combo.addItem(INLINE)
        doc_maps = self._value_maps()
        combo.addItems(sorted(doc_maps))
        builtins = [n for n in sorted(BUILTIN_TABLES) if n not in doc_maps]
        for name in builtins:
            combo.addItem(f"{name} (built in)", name)
        table_name = step.args.get("table")
        editor = ValueMapEditor(self.step_box)
        self.value_map_editor = editor
        if isinstance(table_name, str):
            index = combo.findText(table_name)
            if index < 0:
                index = combo.findData(table_name)
            combo.setCurrentIndex(max(index, 0))
        self.table_combo = combo

        def load() -> None:
            name = combo.currentData() or combo.currentText()
            if combo.currentIndex() == 0:
                editor.set_table(dict(step.args.get("values") or {}))
            elif name in doc_maps:
                editor.set_table(dict(doc_maps[name]))
            else:
                editor.set_table(dict(BUILTIN_TABLES.get(name, {})), editable=False)

        def picked(_i: int) -> None:
            name = combo.currentData() or combo.currentText()
            if combo.currentIndex() == 0:
                self._set_map_args(None, editor.values())
            else:
                self._set_map_args(name, None)
            load()

        def edited(values: dict[str, Any]) -> None:
            name = combo.currentText()
            if combo.currentIndex() == 0:
                self._set_map_args(None, values)
            elif name in doc_maps:
                flow = self.document.current_flow
                assert flow is not None
                self.document.set_value_map(self.document.document_of(flow), name, values)

        load()
        editor.on_change = edited
        combo.activated.connect(picked)
        self.form.addRow("Table", combo)
        self.form.addRow(editor)
        spec = get_transform("map")
        for param in spec.params:
            if param.name in ("default", "strict"):
                self.form.addRow(param.title, self._param_editor(param, step.args.get(param.name)))

    def _set_map_args(self, table: str | None, values: dict[str, Any] | None) -> bool:
        row = self.selected_row()
        if row < 0:
            return False
        steps = self.chain.steps
        args = {k: v for k, v in steps[row].args.items() if k not in ("table", "values")}
        if table is not None:
            args["table"] = table
        else:
            args["values"] = dict(values or {})
        steps[row] = TransformStep("map", args)
        return self._commit(steps, check_row=row)

    # ------------------------------------------------------------------ live result

    def _value_maps(self) -> dict[str, dict[str, Any]]:
        flow = self.document.current_flow
        if flow is None or self.document.find_flow(flow) is None:
            return {}
        return self.document.document_of(flow).value_maps

    def _env(self) -> CompileEnv:
        flow = self.document.current_flow
        doc = self.document.document_of(flow) if flow else None
        target = self.document.target_schema(flow) if flow else None
        field = target.find(self.target) if target is not None and self.target else None
        return CompileEnv(
            value_maps=doc.value_maps if doc else {},
            rates=doc.rates if doc else None,
            target=field,
        )

    def draft_steps(self) -> list[TransformStep]:
        """The chain up to the selected step, with the expression editor's draft text."""
        steps = self.chain.steps
        row = self.selected_row()
        if row >= 0:
            steps = steps[: row + 1]
            editor = self.expression_editor
            if steps[-1].name == "jsonata" and editor is not None:
                steps[-1] = TransformStep("jsonata", {"expr": editor.toPlainText()})
        return steps

    def evaluate(self) -> tuple[Any, Any]:
        """(input value, result) of the draft chain on the sample; raises MappingError."""
        mapping = self.mapping()
        if mapping is None:
            raise MappingError("no mapping selected")
        record, event = split_sample(self.sample_provider())
        ctx = RecordContext(record, event)
        values = [ctx.get(p) for p in mapping.sources]
        value: Any = values[0] if len(values) == 1 else (values or None)
        start = value
        env = self._env()
        for step in self.draft_steps():
            value = build_step(step, env)(value, ctx)
        return start, value

    def refresh_result(self) -> None:
        if self.mapping() is None:
            self.result.setText("")
            return
        if self.sample_provider() is None:
            self.result.setText("No sample record: pick one in the preview to see results here")
            return
        try:
            start, value = self.evaluate()
        except MappingError as exc:
            self.result.setText(f"On the sample: error — {exc}")
            return
        except Exception as exc:  # a transform bug must not take the panel down
            self.result.setText(f"On the sample: error — {type(exc).__name__}: {exc}")
            return
        upto = self.selected_row()
        where = f" after step {upto + 1}" if upto >= 0 else ""
        self.result.setText(f"On the sample{where}: {short(start)} → {short(value)}")
