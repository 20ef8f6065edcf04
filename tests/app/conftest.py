"""Fixtures shared by the Studio tests: the shipped catalogs, documents opened on a template,
and an in-memory keyring."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from app.document.document import StudioDocument, default_catalogs
from mappings.schema.model import Catalog, System

OpenTemplate = Callable[..., StudioDocument]


@pytest.fixture(scope="module")
def catalogs() -> dict[System, Catalog]:
    """The shipped catalogs, read once per module (a document copies the mapping it is given)."""
    return default_catalogs()


@pytest.fixture
def open_template(qtbot, catalogs) -> OpenTemplate:
    """Opens a shipped template in a new document; ``flow``, if given, becomes the current one."""

    def open_(template: str, flow: str | None = None) -> StudioDocument:
        document = StudioDocument(catalogs=catalogs)
        document.open_template(template)
        if flow is not None:
            document.set_current_flow(flow)
        return document

    return open_


@pytest.fixture
def doc(open_template) -> StudioDocument:
    """The charges-payments template, the one most Studio tests edit (charge-to-payment)."""
    return open_template("charges-payments")


