"""What the Studio's Qt item models share: the index type they accept and fixed headers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt

Index = QModelIndex | QPersistentModelIndex
ROOT = QModelIndex()  # the invalid index, as a default argument


def column_header(
    columns: Sequence[str], section: int, orientation: Qt.Orientation, role: int
) -> Any:
    """``headerData`` of a model whose columns have fixed titles and whose rows have none."""
    if (
        orientation == Qt.Orientation.Horizontal
        and role == Qt.ItemDataRole.DisplayRole
        and 0 <= section < len(columns)
    ):
        return columns[section]
    return None
