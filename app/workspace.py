"""Workspace files around the document: recent folders (QSettings) and the templates list.

A workspace is a folder of mapping YAML files; :class:`~app.document.document.StudioDocument`
loads and saves it. This module remembers which folders were open and what templates
ship, so the File menu and the gallery can offer them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QSettings

from mappings.document.yamlio import load_document
from mappings.errors import DocumentError

ORGANIZATION = "Fieldbridge"
APPLICATION = "Fieldbridge Studio"
MAX_RECENT = 10
_RECENT_KEY = "workspaces/recent"
_THEME_KEY = "view/theme"

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "mappings" / "templates"


def studio_settings(path: Path | str | None = None) -> QSettings:
    """The studio's settings: the user's (native format), or an INI file at ``path`` (tests)."""
    if path is not None:
        return QSettings(str(path), QSettings.Format.IniFormat)
    return QSettings(ORGANIZATION, APPLICATION)


class RecentWorkspaces:
    """Most recently used workspace folders, newest first, without duplicates."""

    def __init__(self, settings: QSettings, limit: int = MAX_RECENT) -> None:
        self.settings = settings
        self.limit = limit

    def paths(self, *, existing_only: bool = True) -> list[Path]:
        raw = self.settings.value(_RECENT_KEY, [])
        if isinstance(raw, str):  # QSettings returns a bare string for a one-item list
            raw = [raw]
        out: list[Path] = []
        for item in raw if isinstance(raw, list) else []:
            path = Path(str(item))
            if path not in out and (not existing_only or path.is_dir()):
                out.append(path)
        return out[: self.limit]

    def add(self, folder: Path | str) -> None:
        folder = Path(folder).resolve()
        paths = [p for p in self.paths(existing_only=False) if p != folder]
        self._store([folder, *paths])

    def remove(self, folder: Path | str) -> None:
        folder = Path(folder).resolve()
        self._store([p for p in self.paths(existing_only=False) if p != folder])

    def clear(self) -> None:
        self._store([])

    def last(self) -> Path | None:
        """The newest folder that still exists (the default workspace at start-up)."""
        paths = self.paths()
        return paths[0] if paths else None

    def _store(self, paths: Sequence[Path]) -> None:
        value = [str(p) for p in list(paths)[: self.limit]]
        if value == [str(p) for p in self.paths(existing_only=False)]:
            # Reopening the newest workspace changes nothing; sync() writes the file through a
            # flushed save anyway, 8-16 ms of waiting on this machine's disk (issue 12).
            return
        self.settings.setValue(_RECENT_KEY, value)
        self.settings.sync()


def saved_theme(settings: QSettings, default: str = "light") -> str:
    value = settings.value(_THEME_KEY, default)
    return str(value) if value in ("light", "dark") else default


def save_theme(settings: QSettings, name: str) -> None:
    settings.setValue(_THEME_KEY, name)
    settings.sync()


def check_workspace_folder(folder: Path | str) -> Path:
    """Refuse, with the reason, a path that cannot be opened as a workspace."""
    folder = Path(folder)
    if not folder.exists():
        raise DocumentError(f"{folder}: no such folder")
    if not folder.is_dir():
        raise DocumentError(f"{folder} is a file; a workspace is a folder of mapping YAML files")
    if not any(p.suffix in (".yaml", ".yml") for p in folder.iterdir()):
        raise DocumentError(f"{folder}: the folder holds no mapping documents (*.yaml)")
    return folder


# The README's tutorial starts here: the gallery preselects it.
TUTORIAL_TEMPLATE = "charges-payments"

# What each shipped template is called in the gallery, in the user's words (the file stem
# stays what --template takes and the document's name stays what bundles carry).
TEMPLATE_TITLES: dict[str, str] = {
    "charges-payments": "Stripe payments into Salesforce",
    "customer-account": "Stripe customers into Salesforce accounts",
    "subscriptions": "Stripe subscriptions into contracts and orders",
    "payouts": "Stripe payouts into Salesforce",
    "disputes-fraud-cases": "Disputes and fraud warnings open cases",
    "anomaly-cases": "Payment anomalies open cases",
    "account-to-stripe-customer": "Salesforce accounts into Stripe customers",
    "opportunity-to-subscription": "Closed-won deals start Stripe subscriptions",
    "invoices-orders": "Stripe invoices into orders with their products",
    "products-prices": "Stripe products and prices into the price book",
    "product2-to-stripe-product": "Salesforce products into Stripe products",
    "refunds": "Every Stripe refund as its own record",
    "payment-intents": "Payment outcomes update payments and close deals",
}


def object_words(system: str, name: str) -> str:
    """``Charge`` for Stripe ``charge``, ``Subscription Contract`` for ``Subscription_Contract__c``."""
    if system == "salesforce":
        return name.removesuffix("__c").replace("_", " ")
    words = name.rpartition(".")[2].replace("_", " ")
    return words[:1].upper() + words[1:]


@dataclass(frozen=True, slots=True)
class TemplateInfo:
    name: str  # the file stem, what --template takes
    title: str  # the gallery's title, in words
    description: str
    flow_count: int
    flows: tuple[str, ...]
    path: Path
    # The first flow's direction, for the gallery's picture: (system, object) each side.
    source: tuple[str, str] = ("", "")
    target: tuple[str, str] = ("", "")

    @property
    def picture_text(self) -> str:
        """``Stripe Charge → Salesforce Payment``."""
        (s_sys, s_obj), (t_sys, t_obj) = self.source, self.target
        if not s_sys:
            return ""
        return (
            f"{s_sys.title()} {object_words(s_sys, s_obj)} → "
            f"{t_sys.title()} {object_words(t_sys, t_obj)}"
        )


def list_templates(folder: Path = TEMPLATES_DIR) -> list[TemplateInfo]:
    """The shipped templates, the tutorial's first. A broken one raises DocumentError naming it."""
    out = []
    for path in sorted(folder.glob("*.yaml")):
        doc = load_document(path)
        first = doc.flows[0] if doc.flows else None
        out.append(
            TemplateInfo(
                name=path.stem,
                title=TEMPLATE_TITLES.get(path.stem, doc.name.replace("-", " ").capitalize()),
                description=" ".join(doc.description.split()),
                flow_count=len(doc.flows),
                flows=tuple(f.name for f in doc.flows),
                path=path,
                source=(first.source.system.value, first.source.object) if first else ("", ""),
                target=(first.target.system.value, first.target.object) if first else ("", ""),
            )
        )
    return out
