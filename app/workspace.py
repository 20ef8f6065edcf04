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
        self.settings.setValue(_RECENT_KEY, [str(p) for p in list(paths)[: self.limit]])
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


@dataclass(frozen=True, slots=True)
class TemplateInfo:
    name: str  # the file stem, what --template takes
    title: str  # the document's name
    description: str
    flow_count: int
    flows: tuple[str, ...]
    path: Path


def list_templates(folder: Path = TEMPLATES_DIR) -> list[TemplateInfo]:
    """The shipped templates, by name. A broken template raises DocumentError naming it."""
    out = []
    for path in sorted(folder.glob("*.yaml")):
        doc = load_document(path)
        out.append(
            TemplateInfo(
                name=path.stem,
                title=doc.name,
                description=doc.description.strip(),
                flow_count=len(doc.flows),
                flows=tuple(f.name for f in doc.flows),
                path=path,
            )
        )
    return out
