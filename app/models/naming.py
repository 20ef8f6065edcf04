"""How the studio names a field: the business label first, the API name second.

Citizen integrators know their org's labels ("Amount Refunded"), not its API names
(``Amount_Refunded__c``). Every view that shows a field (trees, canvas, preview headers,
forms) asks :func:`field_title` for its main text and :func:`field_api_hint` for the
secondary text, so the rule lives here once. Salesforce fields carry their describe label;
Stripe paths are already readable words, and their documentation goes to tooltips.

The View ▸ Show API names toggle is one process-wide switch (:func:`field_naming`), kept in
the settings by the main window.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QSettings, Signal

from mappings.schema.model import FieldSchema, ObjectSchema, System

_SHOW_API_KEY = "view/show_api_names"


class FieldNaming(QObject):
    """The "Show API names" switch; views repaint on :attr:`changed`."""

    changed = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._show_api_names = False

    @property
    def show_api_names(self) -> bool:
        return self._show_api_names

    def set_show_api_names(self, show: bool) -> None:
        if show != self._show_api_names:
            self._show_api_names = show
            self.changed.emit(show)


_NAMING: FieldNaming | None = None


def field_naming() -> FieldNaming:
    """The studio's one naming switch (made on first use)."""
    global _NAMING
    if _NAMING is None:
        _NAMING = FieldNaming()
    return _NAMING


def saved_show_api_names(settings: QSettings) -> bool:
    return str(settings.value(_SHOW_API_KEY, "false")).lower() == "true"


def save_show_api_names(settings: QSettings, show: bool) -> None:
    settings.setValue(_SHOW_API_KEY, "true" if show else "false")
    settings.sync()


def has_business_label(fs: FieldSchema | None) -> bool:
    """True when the field has a describe label to show instead of its API name."""
    return fs is not None and bool(fs.label)


def _is_salesforce(fs: FieldSchema | None, system: System | None) -> bool:
    if system is not None:
        return system is System.SALESFORCE
    # Salesforce API names are flat; Stripe paths use snake_case and dots.
    return fs is not None and "." not in fs.path and fs.path[:1].isupper()


def field_title(
    fs: FieldSchema | None,
    path: str,
    *,
    system: System | None = None,
    show_api_names: bool | None = None,
) -> str:
    """The main text for a field: its Salesforce label, else its path.

    Stripe's catalog labels are its paths capitalised ("Amount captured"): the path is as
    readable and is what Stripe's own docs use, so Stripe fields keep their paths.

    With "Show API names" on, the API name follows the label: ``Amount Refunded
    (Amount_Refunded__c)``.
    """
    if not _is_salesforce(fs, system) or not has_business_label(fs):
        return path
    assert fs is not None
    show = field_naming().show_api_names if show_api_names is None else show_api_names
    return f"{fs.label} ({path})" if show else fs.label


def field_api_hint(fs: FieldSchema | None, path: str, *, system: System | None = None) -> str:
    """The secondary text: the API name when the main text is a label, else ""."""
    if _is_salesforce(fs, system) and has_business_label(fs):
        return path
    return ""


def object_title(obj: ObjectSchema | None, name: str) -> str:
    """``Payment`` for ``Payment__c``; Stripe object names as they are."""
    if obj is None or obj.system is not System.SALESFORCE or not obj.label:
        return name
    return obj.label


def title_in(obj: ObjectSchema | None, path: str, *, show_api_names: bool | None = None) -> str:
    """:func:`field_title` of ``path`` looked up in ``obj`` (the path when it is unknown)."""
    fs = obj.find(path) if obj is not None and path else None
    system = obj.system if obj is not None else None
    return field_title(fs, path, system=system, show_api_names=show_api_names)
