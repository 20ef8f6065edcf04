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




class _NoDialogs:
    """Fails a test that would open a real question dialog (it would wait forever offscreen)."""

    def confirm_replace(self, question, where):
        raise AssertionError(f"unexpected question: {question.text}")

    def choose_conversion(self, reason, options, where):
        raise AssertionError(f"unexpected conversion menu: {reason}")


@pytest.fixture(autouse=True)
def _no_question_dialogs(monkeypatch):
    from app.document import prompts

    for name in ("confirm_replace", "choose_conversion"):
        monkeypatch.setattr(prompts.DialogPrompts, name, getattr(_NoDialogs, name))


class AnsweringPrompts:
    """Answers a gesture's questions as told, and remembers what was asked and where."""

    def __init__(self, replace: bool = True, conversion: int | None = 0) -> None:
        self.replace = replace
        self.conversion = conversion  # which offered conversion to pick; None: none
        self.questions: list = []
        self.menus: list = []

    def confirm_replace(self, question, where):
        self.questions.append((question, where))
        return self.replace

    def choose_conversion(self, reason, options, where):
        self.menus.append((reason, options, where))
        return options[self.conversion] if self.conversion is not None else None


@pytest.fixture
def prompts(doc) -> AnsweringPrompts:
    """The ``doc`` fixture's questions answered yes / the first conversion."""
    doc.prompts = AnsweringPrompts()
    return doc.prompts


@pytest.fixture(autouse=True)
def _no_sandbox_warm_up(monkeypatch):
    """Windows made in tests never start the local sandboxes on their own."""
    monkeypatch.setenv("FIELDBRIDGE_SANDBOX_WARM_UP", "0")
