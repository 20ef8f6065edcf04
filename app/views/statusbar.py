"""The main window's status bar: the flow, the busy state, validation issues, the connection
badges and the errors button.

The badges say which Stripe account and which Salesforce org the studio works against now:
TEST or LIVE for Stripe, the login and the org for Salesforce, "Local sandbox" for the
built-in pair. The window tells :class:`StatusArea` when the user picks a connection (in the
preview or test-run panel) or edits the connections; this module only formats and shows.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar, QToolButton, QWidget

from app import icons
from app.document.child_flow import ChildFlowView
from app.services.connections import LOCAL_SANDBOX, PRODUCTION_LOGIN, SANDBOX_LOGIN
from mappings.document.model import Flow
from mappings.engine.result import Issue


class Badge(QLabel):
    """A rounded label whose colours come from the stylesheet's ``mode`` property."""

    clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("badge")

    def set_state(self, text: str, mode: str, tooltip: str = "") -> None:
        self.setText(text)
        self.setToolTip(tooltip)
        self.setProperty("mode", mode)
        self.style().unpolish(self)
        self.style().polish(self)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # Qt override
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit()
            event.accept()
            return
        super().mousePressEvent(event)


def badge_mode(badge: str) -> str:
    """Colour class of a connection badge text ("TEST", "LIVE", "SANDBOX", "PRODUCTION")."""
    badge = badge.upper()
    if badge in ("LIVE", "PRODUCTION"):
        return "live"
    if badge == "SANDBOX":
        return "local"
    if badge in ("TEST", "SANDBOX ORG"):
        return "test"
    return "none"


def _org_of(login_url: str) -> tuple[str, str]:
    """(what to call the org, badge mode) from a Salesforce login URL."""
    url = (login_url or PRODUCTION_LOGIN).rstrip("/")
    if url == PRODUCTION_LOGIN:
        return "production", "live"
    if url == SANDBOX_LOGIN:
        return "sandbox org", "test"
    host = url.removeprefix("https://").removeprefix("http://")
    # A My Domain of a sandbox says so in its host; any other custom domain is production.
    return host, "test" if ".sandbox.my.salesforce.com" in host else "live"


def describe_connection(system: str, conn: Any) -> tuple[str, str, str]:
    """(badge text, mode, tooltip) for a Stripe or Salesforce connection; None: not connected.

    ``conn`` is an ``app.services.StripeConnection`` / ``SalesforceConnection`` (read by
    attribute, so a test may pass any object with the same fields).
    """
    title = "Stripe" if system == "stripe" else "Salesforce"
    if conn is None:
        return f"{title}: not connected", "none", f"No {title} connection is chosen"
    if getattr(conn, "builtin", False):
        what = "the local Stripe sandbox" if system == "stripe" else "the local org emulator"
        return (f"{title} · {LOCAL_SANDBOX}", "local",
                f"Built-in connection: {what}, started on demand; writes stay on this machine")
    name = conn.name
    if system == "stripe":
        mode = str(getattr(conn, "mode", "test")).lower()
        where = f" via {conn.api_base}" if getattr(conn, "api_base", None) else ""
        danger = ("live mode: real money and real customers" if mode == "live"
                  else "test mode: no real money moves")
        return (f"Stripe · {name} · {mode.upper()}", "live" if mode == "live" else "test",
                f"Stripe connection {name!r}{where}, {danger}")
    org, mode = _org_of(getattr(conn, "login_url", ""))
    login = getattr(conn, "username", "") or name
    writes = ("test runs may write here" if mode == "test"
              else "production: test runs are refused")
    return (f"Salesforce · {login} @ {org}", mode,
            f"Salesforce connection {name!r}: {login} at {conn.login_url}; {writes}")


class StatusArea(QObject):
    """The status bar's widgets and how they show the window's state."""

    connectionsClicked = Signal()  # a badge was clicked: open the connections dialog
    environmentClicked = Signal()  # the environment badge was clicked: choose another
    errorsClicked = Signal()

    def __init__(self, status: QStatusBar, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.status = status
        owner = status.parentWidget() or status
        self.flow_status = QLabel(owner)
        status.addWidget(self.flow_status, 1)
        self.busy_label = QLabel(owner)
        self.busy_label.setObjectName("muted")
        self.busy_bar = QProgressBar(owner)
        self.busy_bar.setRange(0, 0)
        self.busy_bar.setFixedWidth(80)
        self.busy_bar.setTextVisible(False)
        self.busy_label.hide()
        self.busy_bar.hide()
        status.addPermanentWidget(self.busy_label)
        status.addPermanentWidget(self.busy_bar)
        self.issue_label = QLabel(owner)
        self.issue_label.setObjectName("issueCount")
        status.addPermanentWidget(self.issue_label)
        # The workspace's current environment (environments.toml), in its own colour.
        self.environment_badge = Badge(owner)
        self.environment_badge.setCursor(Qt.CursorShape.PointingHandCursor)
        self.environment_badge.clicked.connect(self.environmentClicked)
        self.environment_badge.hide()
        status.addPermanentWidget(self.environment_badge)
        self.stripe_badge = Badge(owner)
        self.salesforce_badge = Badge(owner)
        for badge in (self.stripe_badge, self.salesforce_badge):
            badge.setCursor(Qt.CursorShape.PointingHandCursor)
            badge.clicked.connect(self.connectionsClicked)
            status.addPermanentWidget(badge)
        self.errors_button = QToolButton(owner)
        self.errors_button.setIcon(icons.icon("errors"))
        self.errors_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.errors_button.setAutoRaise(True)
        self.errors_button.setToolTip("Show the errors panel")
        self.errors_button.clicked.connect(self.errorsClicked)
        status.addPermanentWidget(self.errors_button)

    # -- connections

    def set_connection_badges(
        self, stripe: tuple[str, str] | None, salesforce: tuple[str, str] | None
    ) -> None:
        """(connection name, badge text) per system, None when not connected."""
        for widget, system, value in (
            (self.stripe_badge, "Stripe", stripe),
            (self.salesforce_badge, "Salesforce", salesforce),
        ):
            if value is None:
                widget.set_state(f"{system}: not connected", "none")
            else:
                name, badge = value
                widget.set_state(
                    f"{system} · {badge.lower()}",
                    badge_mode(badge),
                    f"{system} connection {name!r} ({badge})",
                )

    def show_connections(self, stripe: Any, salesforce: Any) -> None:
        """The chosen connection objects (None: not connected), described per system."""
        self.stripe_badge.set_state(*describe_connection("stripe", stripe))
        self.salesforce_badge.set_state(*describe_connection("salesforce", salesforce))

    def show_environment(self, name: str | None, color: str = "", tooltip: str = "") -> None:
        """The current environment's name on its colour (None: the workspace has none)."""
        badge = self.environment_badge
        badge.setVisible(name is not None)
        if name is None:
            return
        badge.set_state(f"ENV · {name.upper()}", "env", tooltip)
        badge.setStyleSheet(f"QLabel#badge {{ background: {color}; color: white; "
                            "font-weight: bold; }")

    # -- busy, errors

    def show_busy(self, count: int, what: str) -> None:
        self.busy_bar.setVisible(count > 0)
        self.busy_label.setVisible(count > 0)
        more = f" (+{count - 1})" if count > 1 else ""
        self.busy_label.setText(f"{what or 'working'}…{more}" if count else "")

    def show_error_count(self, count: int) -> None:
        self.errors_button.setText(f"{count} error{'s' if count != 1 else ''}" if count else "")
        self.errors_button.setVisible(count > 0)

    # -- the flow

    def show_flow(self, flow: Flow | None) -> None:
        if flow is None:
            self.flow_status.setText(
                "No flow: start from a template or create one (Edit ▸ New Flow)."
            )
            return
        n = len(flow.fields)
        # A child mapping reads "flow ▸ OrderItems", not its key "flow/OrderItems".
        name = (f"{flow.parent.name} ▸ {flow.child.relationship}"
                if isinstance(flow, ChildFlowView) else flow.name)
        self.flow_status.setText(
            f"<b>{name}</b> · {flow.source.system.value.title()} {flow.source.object} → "
            f"{flow.target.system.value.title()} {flow.target.object} · "
            f"{n} mapped field{'s' if n != 1 else ''}"
        )

    def show_issues(self, issues: list[Issue], *, started: bool = True) -> None:
        """The flow's issues; before anything is mapped (``started`` False) what is missing is
        a to-do list, not a row of errors."""
        n = len(issues)
        label = self.issue_label
        if not started and n:
            label.setText(f"To do: {n} field{'s' if n != 1 else ''} to fill")
            severity = "todo"
        else:
            label.setText(
                "✓ No validation issues" if n == 0
                else f"⚠ {n} validation issue{'s' if n != 1 else ''}"
            )
            severity = "ok" if n == 0 else "warn"
        label.setProperty("severity", severity)
        label.setToolTip("\n".join(f"{i.field or '—'}: {i.message}" for i in issues[:12]))
        label.style().unpolish(label)
        label.style().polish(label)
