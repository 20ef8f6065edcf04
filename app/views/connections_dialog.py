"""The connections dialog: add, edit, test and remove Stripe accounts and Salesforce orgs.

The list shows each connection with a badge (TEST / LIVE for Stripe keys, PRODUCTION /
SANDBOX ORG / the custom domain for Salesforce, SANDBOX for the built-in local pair). Secret
fields are masked and never filled from the keyring: an empty secret field on an existing
connection reads "stored in keyring" and keeps the stored value on save.

Test runs in the background (``app.asyncloop.submit``) and shows the
:class:`~app.services.connections.TestResult` message, its technical detail as a tooltip.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QSize, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app import asyncloop
from app.services.connections import (
    LOCAL_SANDBOX,
    PRODUCTION_LOGIN,
    SANDBOX_LOGIN,
    Connection,
    ConnectionsError,
    ConnectionStore,
    SalesforceConnection,
    StripeConnection,
    TestResult,
    stripe_key_gaps,
    stripe_key_mode,
    test_connection,
)

if TYPE_CHECKING:
    from mappings.document.model import MappingDocument

STORED = "stored in keyring"
BADGE_COLOURS = {
    "TEST": "#ef6c00",
    "LIVE": "#c62828",
    "SANDBOX": "#1565c0",
    "SANDBOX ORG": "#2e7d32",
    "PRODUCTION": "#c62828",
}
ROLE_KEY = Qt.ItemDataRole.UserRole  # (system, name) of a list item


# Said when the machine has no password store (no keyring backend): what happened and what
# to do, in the user's terms; the session goes on with the secret held in memory.
NO_KEYRING_NOTICE = (
    "⚠ {name!r} is saved, but its key is NOT saved: this computer has no password store "
    "the studio can use, so the key is kept in memory and works until you close the studio. "
    "To keep it, set up a password store (on Linux: GNOME Keyring or KWallet; macOS and "
    "Windows have one built in), then open this connection and enter the key again."
)


def badge_label(text: str) -> QLabel:
    label = QLabel(text)
    colour = BADGE_COLOURS.get(text, "#546e7a")
    label.setStyleSheet(
        f"background: {colour}; color: white; border-radius: 3px; padding: 1px 5px;"
        "font-size: 10px; font-weight: 600"
    )
    return label


def _secret_edit() -> QLineEdit:
    edit = QLineEdit()
    edit.setEchoMode(QLineEdit.EchoMode.Password)
    return edit


class _FileEdit(QWidget):
    """A path field with a Browse button."""

    def __init__(self, caption: str, filter_: str) -> None:
        super().__init__()
        self.edit = QLineEdit()
        button = QPushButton("Browse…")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.edit, 1)
        lay.addWidget(button)
        button.clicked.connect(lambda: self._browse(caption, filter_))

    def _browse(self, caption: str, filter_: str) -> None:
        path, _ = QFileDialog.getOpenFileName(self, caption, self.edit.text(), filter_)
        if path:
            self.edit.setText(path)

    def text(self) -> str:
        return self.edit.text().strip()

    def setText(self, text: str) -> None:  # noqa: N802 - Qt naming, like QLineEdit
        self.edit.setText(text)


class StripeForm(QWidget):
    def __init__(self) -> None:
        super().__init__()
        self.name = QLineEdit()
        self.api_key = _secret_edit()
        self.api_base = QLineEdit()
        self.api_base.setPlaceholderText("optional: https://api.stripe.com by default")
        self.mode = QLabel()
        form = QFormLayout(self)
        form.addRow("Name", self.name)
        form.addRow("Secret or restricted key", self.api_key)
        form.addRow("Mode", self.mode)
        form.addRow("API base", self.api_base)
        self.api_key.textChanged.connect(self._show_mode)

    def _show_mode(self, key: str) -> None:
        if not key:
            return
        try:
            self.mode.setText(f"{stripe_key_mode(key)} mode (from the key's prefix)")
        except ConnectionsError as exc:
            self.mode.setText(str(exc))

    def load(self, conn: StripeConnection | None, has_key: bool) -> None:
        self.name.setText(conn.name if conn else "")
        self.api_key.clear()  # never prefilled from the keyring
        self.api_key.setPlaceholderText(STORED if has_key else "sk_test_… / rk_live_…")
        self.api_base.setText((conn.api_base or "") if conn else "")
        self.mode.setText(f"{conn.mode} mode" if conn else "from the key's prefix")
        builtin = bool(conn and conn.builtin)
        for edit in (self.name, self.api_key, self.api_base):
            edit.setReadOnly(builtin)
        if builtin:
            self.api_key.setPlaceholderText("none needed: the local sandbox")

    def connection(self) -> StripeConnection:
        key = self.api_key.text().strip()
        mode = stripe_key_mode(key) if key else "test"
        return StripeConnection(self.name.text().strip(), mode,
                                self.api_base.text().strip() or None, key)


class SalesforceForm(QWidget):
    LOGINS = (("Production (login.salesforce.com)", PRODUCTION_LOGIN),
              ("Sandbox (test.salesforce.com)", SANDBOX_LOGIN),
              ("Custom domain…", ""))

    def __init__(self) -> None:
        super().__init__()
        self.name = QLineEdit()
        self.login = QComboBox()
        for label, url in self.LOGINS:
            self.login.addItem(label, url)
        self.custom_url = QLineEdit()
        self.custom_url.setPlaceholderText("https://mycompany.my.salesforce.com")
        self.auth = QComboBox()
        self.auth.addItem("JWT bearer (consumer key + private key file)", "jwt")
        self.auth.addItem("Username + password + security token", "password")
        self.auth.addItem("Log in with Salesforce in the browser", "refresh_token")
        self.browser_login = QPushButton("Log in with Salesforce…")
        self.browser_login.setToolTip(
            "Opens the login page in your browser; after you approve, the studio keeps a "
            "refresh token (Save puts it in the keyring)")
        self.browser_login.clicked.connect(self.start_browser_login)
        self.login_status = QLabel()
        self.login_status.setWordWrap(True)
        self._login: Any = None  # the runner.api.oauth.BrowserLogin in progress
        self._refresh_token = ""
        # Opens the authorize URL; a test replaces it with a scripted browser.
        self.open_browser: Any = lambda url: QDesktopServices.openUrl(QUrl(url))
        self.username = QLineEdit()
        self.consumer_key = QLineEdit()
        self.private_key_file = _FileEdit("Private key (PEM)", "PEM files (*.pem *.key);;All (*)")
        self.password = _secret_edit()
        self.security_token = _secret_edit()
        self.client_secret = _secret_edit()
        self.ca_file = _FileEdit("CA certificate (PEM)", "PEM files (*.pem *.crt);;All (*)")
        self.form = form = QFormLayout(self)
        form.addRow("Name", self.name)
        form.addRow("Login URL", self.login)
        form.addRow("Custom domain", self.custom_url)
        form.addRow("Login with", self.auth)
        form.addRow("", self.browser_login)
        form.addRow("", self.login_status)
        form.addRow("Username", self.username)
        form.addRow("Consumer key", self.consumer_key)
        form.addRow("Private key file", self.private_key_file)
        form.addRow("Password", self.password)
        form.addRow("Security token", self.security_token)
        form.addRow("Consumer secret", self.client_secret)
        form.addRow("CA file (optional)", self.ca_file)
        self.login.currentIndexChanged.connect(self._update_rows)
        self.auth.currentIndexChanged.connect(self._update_rows)
        self._update_rows()

    def _update_rows(self, *_args: Any) -> None:
        jwt = self.auth.currentData() == "jwt"
        browser = self.auth.currentData() == "refresh_token"
        self.form.setRowVisible(self.custom_url, self.login.currentData() == "")
        self.form.setRowVisible(self.private_key_file, jwt)
        for edit in (self.password, self.security_token, self.client_secret):
            self.form.setRowVisible(edit, not jwt and not browser)
        self.form.setRowVisible(self.browser_login, browser)
        self.form.setRowVisible(self.login_status, browser)

    def start_browser_login(self) -> asyncloop.BackgroundCall | None:
        """Open the login page in the browser and wait, off the UI thread, for the approval;
        a second click cancels the login in progress."""
        if self._login is not None:
            self._login.cancel()
            return None
        # Lazy: runner.api.oauth loads authlib and requests, which start-up must not.
        from runner.api.oauth import LoginError, start_login

        url = self.login.currentData() or self.custom_url.text().strip()
        key = self.consumer_key.text().strip()
        if not url or not key:
            self.login_status.setText("Give the login URL and the connected app's consumer "
                                      "key first")
            return None
        try:
            self._login = login = start_login(url, key, ca_file=self.ca_file.text() or None)
        except LoginError as exc:
            self.login_status.setText(f"Cannot start the login: {exc}")
            return None
        self.browser_login.setText("Cancel login")
        self.login_status.setText("Waiting for the browser: log in and approve access…")
        self.open_browser(login.authorize_url)

        def done(result: Any) -> None:
            self._finish_login()
            self._refresh_token = result.refresh_token or ""
            if not self._refresh_token:
                self.login_status.setText("Logged in, but Salesforce gave no refresh token: "
                                          "the connected app needs the refresh_token scope")
                return
            self.login_status.setText(f"Logged in as user {result.user_id} of org "
                                      f"{result.org_id}; Save keeps the refresh token in the "
                                      "keyring")

        def failed(exc: BaseException) -> None:
            self._finish_login()
            self.login_status.setText(f"Not logged in: {exc}")

        return asyncloop.submit(login.wait, on_done=done, on_error=failed,
                                what="logging in to Salesforce")

    def _finish_login(self) -> None:
        if self._login is not None:
            self._login.close()
        self._login = None
        self.browser_login.setText("Log in with Salesforce…")

    def load(self, conn: SalesforceConnection | None, stored: set[str]) -> None:
        conn = conn or SalesforceConnection("")
        # A token approved for the previous form's connection is not this one's.
        self._refresh_token = ""
        self.login_status.setText("A refresh token is stored" if "refresh_token" in stored
                                  else "")
        self.name.setText(conn.name)
        url = conn.login_url.rstrip("/")
        index = self.login.findData(url)
        self.login.setCurrentIndex(index if index >= 0 else 2)
        self.custom_url.setText("" if index >= 0 else url)
        self.auth.setCurrentIndex(max(self.auth.findData(conn.auth), 0))
        self.username.setText(conn.username)
        self.consumer_key.setText(conn.consumer_key)
        self.private_key_file.setText(conn.private_key_file or "")
        self.ca_file.setText(conn.ca_file or "")
        secrets = {"password": self.password, "security_token": self.security_token,
                   "client_secret": self.client_secret}
        for name, edit in secrets.items():
            edit.clear()  # never prefilled from the keyring
            edit.setPlaceholderText(STORED if name in stored else "")
        for widget in (self.name, self.username, self.consumer_key, self.custom_url):
            widget.setReadOnly(conn.builtin)
        for control in (self.login, self.auth, self.private_key_file, self.ca_file,
                        self.password, self.security_token, self.client_secret):
            control.setEnabled(not conn.builtin)
        if conn.builtin:
            self.username.setText("(the local org emulator's integration user)")
            self.custom_url.setText("(started on demand)")

    def connection(self) -> SalesforceConnection:
        url = self.login.currentData() or self.custom_url.text().strip()
        return SalesforceConnection(
            self.name.text().strip(), self.auth.currentData(), url,
            self.username.text().strip(), self.consumer_key.text().strip(),
            self.private_key_file.text() or None, self.ca_file.text() or None,
            self.password.text(), self.security_token.text(), self.client_secret.text(),
            refresh_token=self._refresh_token,
        )


class ConnectionsDialog(QDialog):
    """Manage the connections of a :class:`ConnectionStore`."""

    testFinished = Signal(object)  # TestResult

    def __init__(
        self,
        store: ConnectionStore | Any,
        parent: QWidget | None = None,
        documents: Callable[[], Sequence[MappingDocument]] | None = None,
    ) -> None:
        """``store``: a ConnectionStore, or the studio's Services (its ``store`` is used).
        ``documents``: the workspace's mapping documents, whose flows a tested Stripe key is
        checked against (what it may not read or write)."""
        super().__init__(parent)
        if not isinstance(store, ConnectionStore):
            store = store.store
        self.setWindowTitle("Connections")
        self.setObjectName("connectionsDialog")
        self.resize(820, 480)
        self.store = store
        self._editing: tuple[str, str] | None = None  # (system, name); None: a new one
        self.revoking: asyncloop.BackgroundCall | None = None  # the last token revocation
        self._new_system = "stripe"
        self._pending: Any = None
        self._documents = documents
        self._gaps: list[str] = []  # what the last tested Stripe key lacks

        self.list = QListWidget()
        self.list.setMinimumWidth(330)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.add_stripe = QPushButton("Add Stripe account")
        self.add_salesforce = QPushButton("Add Salesforce org")
        left = QVBoxLayout()
        left.addWidget(self.list, 1)
        left.addWidget(self.add_stripe)
        left.addWidget(self.add_salesforce)

        self.stripe_form = StripeForm()
        self.salesforce_form = SalesforceForm()
        self.forms = QStackedWidget()
        self.forms.addWidget(self.stripe_form)
        self.forms.addWidget(self.salesforce_form)
        self.title = QLabel()
        self.title.setStyleSheet("font-size: 14px; font-weight: 600")
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # What a tested Stripe key may not do for the workspace's flows; stays through Save.
        self.key_gaps = QLabel()
        self.key_gaps.setObjectName("keyGaps")
        self.key_gaps.setWordWrap(True)
        self.key_gaps.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.key_gaps.setStyleSheet("color: #b45309")
        self.key_gaps.hide()
        self.save_button = QPushButton("Save")
        self.test_button = QPushButton("Test")
        self.remove_button = QPushButton("Remove")
        close = QPushButton("Close")
        buttons = QHBoxLayout()
        buttons.addWidget(self.test_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        buttons.addWidget(self.save_button)
        buttons.addWidget(close)
        right = QVBoxLayout()
        right.addWidget(self.title)
        right.addWidget(self.forms)
        right.addStretch(1)
        right.addWidget(self.message)
        right.addWidget(self.key_gaps)
        right.addLayout(buttons)

        layout = QHBoxLayout(self)
        layout.addLayout(left)
        layout.addLayout(right, 1)

        self.list.currentItemChanged.connect(self._on_current)
        self.add_stripe.clicked.connect(lambda: self.new_connection("stripe"))
        self.add_salesforce.clicked.connect(lambda: self.new_connection("salesforce"))
        self.save_button.clicked.connect(self.save)
        self.test_button.clicked.connect(self.test)
        self.remove_button.clicked.connect(self.remove)
        close.clicked.connect(self.accept)
        self.refresh()
        if self.list.count():
            self.list.setCurrentRow(0)

    # -- the list -------------------------------------------------------------------------
    def refresh(self, select: tuple[str, str] | None = None) -> None:
        self.list.blockSignals(True)
        self.list.clear()
        for conn in self.store.connections():
            item = QListWidgetItem()
            item.setData(ROLE_KEY, f"{conn.system}\n{conn.name}")
            not_saved = self._not_saved_mark(conn)
            item.setToolTip(self._describe(conn) + not_saved)
            self.list.addItem(item)
            row = QWidget()
            lay = QHBoxLayout(row)
            lay.setContentsMargins(6, 2, 6, 2)
            system = "Stripe" if conn.system == "stripe" else "Salesforce"
            name = QLabel(f"<b>{conn.name}</b> <span style='color:#78909c'>{system}</span>"
                          + (f" <i>{not_saved.lstrip(' —')}</i>" if not_saved else ""))
            name.setMinimumWidth(40)  # shrinks before the badge does
            name.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            lay.addWidget(name, 1)
            lay.addWidget(badge_label(conn.badge), 0)
            # Width 0: the row follows the list's width instead of widening it.
            item.setSizeHint(QSize(0, row.sizeHint().height()))
            self.list.setItemWidget(item, row)
        self.list.blockSignals(False)
        if select is not None:
            self.select(*select)

    @staticmethod
    def _describe(conn: Connection) -> str:
        if isinstance(conn, StripeConnection):
            where = conn.api_base or "api.stripe.com"
            return f"Stripe {conn.mode} mode at {where}"
        if conn.builtin:
            return "The local Salesforce org emulator, started on demand"
        return f"{conn.username} at {conn.login_url} ({conn.auth})"

    def _not_saved_mark(self, conn: Connection) -> str:
        """" — key not saved (this session only)" for a secret held in memory."""
        unsaved = getattr(self.store, "unsaved_secrets", None)
        return " — key not saved (this session only)" if unsaved and unsaved(conn) else ""

    def entries(self) -> list[tuple[str, str]]:
        """``(system, name)`` of each listed connection, in order."""
        out = []
        for row in range(self.list.count()):
            system, _, name = str(self.list.item(row).data(ROLE_KEY)).partition("\n")
            out.append((system, name))
        return out

    def select(self, system: str, name: str) -> None:
        for row, key in enumerate(self.entries()):
            if key == (system, name):
                self.list.setCurrentRow(row)
                self._load(self.store.get(system, name))  # even if it already was current
                return
        raise ValueError(f"there is no {system} connection named {name!r}")

    def _on_current(self, item: QListWidgetItem | None, _previous: Any = None) -> None:
        if item is None:
            return
        system, _, name = str(item.data(ROLE_KEY)).partition("\n")
        self._load(self.store.get(system, name))

    # -- forms ----------------------------------------------------------------------------
    def current_connection(self) -> Connection | None:
        if self._editing is None:
            return None
        return self.store.get(*self._editing)

    def _load(self, conn: Connection) -> None:
        self._editing = (conn.system, conn.name)
        self._show_message("")
        self._show_gaps([])
        if isinstance(conn, StripeConnection):
            self.forms.setCurrentWidget(self.stripe_form)
            self.stripe_form.load(conn, self.store.has_secret(conn, "api_key"))
        else:
            self.forms.setCurrentWidget(self.salesforce_form)
            stored = {f for f in conn.SECRET_FIELDS if self.store.has_secret(conn, f)}
            self.salesforce_form.load(conn, stored)
        builtin = conn.builtin
        self.title.setText(f"{conn.name} — built in, no account needed" if builtin
                           else conn.name)
        self.save_button.setEnabled(not builtin)
        self.remove_button.setEnabled(not builtin)
        self.test_button.setEnabled(True)

    def new_connection(self, system: str) -> None:
        """Clear the form for a new connection of ``system``."""
        self._editing = None
        self._new_system = system
        self.list.clearSelection()
        self._show_message("")
        self._show_gaps([])
        if system == "stripe":
            self.forms.setCurrentWidget(self.stripe_form)
            self.stripe_form.load(None, False)
            self.title.setText("New Stripe account")
        else:
            self.forms.setCurrentWidget(self.salesforce_form)
            self.salesforce_form.load(None, set())
            self.title.setText("New Salesforce org")
        self.save_button.setEnabled(True)
        self.remove_button.setEnabled(False)
        self.test_button.setEnabled(True)

    def form_connection(self) -> Connection:
        if self.forms.currentWidget() is self.stripe_form:
            return self.stripe_form.connection()
        return self.salesforce_form.connection()

    def save(self) -> bool:
        try:
            conn = self.form_connection()
            if self._editing is None:
                self.store.add(conn)
            else:
                self.store.update(self._editing[1], conn)
        except ConnectionsError as exc:
            self._show_message(str(exc), ok=False)
            return False
        gaps = self._gaps
        self.refresh(select=(conn.system, conn.name))
        self._show_gaps(gaps)  # saved with the warning: it stays in view
        if self.store.unsaved_secrets(conn):
            self._show_message(NO_KEYRING_NOTICE.format(name=conn.name), ok=None)
            self.message.setStyleSheet("color: #b45309")
            return True
        self._show_message(f"Saved {conn.name!r}; its secrets are in the OS keyring.", ok=True)
        return True

    def remove(self) -> None:
        if self._editing is None:
            return
        system, name = self._editing
        try:
            conn = self.store.get(system, name)
            # A browser login's refresh token is revoked at Salesforce, not only forgotten.
            token = self.store.secret(conn, "refresh_token") if isinstance(
                conn, SalesforceConnection) and conn.auth == "refresh_token" else None
            self.store.remove(system, name)
        except ConnectionsError as exc:
            self._show_message(str(exc), ok=False)
            return
        self.refresh()
        if self.list.count():
            self.list.setCurrentRow(0)
        self._show_message(f"Removed {name!r} and its keyring entries.", ok=True)
        if token and isinstance(conn, SalesforceConnection):
            self.revoking = self._revoke(conn, token, name)

    def _revoke(self, conn: SalesforceConnection, token: str,
                name: str) -> asyncloop.BackgroundCall:
        # Lazy: runner.api.oauth loads authlib and requests, which start-up must not.
        from runner.api.oauth import revoke_token

        return asyncloop.submit(
            lambda: revoke_token(conn.login_url, token, client_id=conn.consumer_key,
                                 ca_file=conn.ca_file),
            on_done=lambda _r: self._show_message(
                f"Removed {name!r}; Salesforce revoked its refresh token.", ok=True),
            on_error=lambda exc: self._show_message(
                f"Removed {name!r}, but Salesforce did not revoke its token: {exc}", ok=False),
            what="revoking the Salesforce token")

    # -- testing --------------------------------------------------------------------------
    def test(self) -> bool:
        """Test what the form holds (a saved connection's stored secrets fill the gaps)."""
        if self._pending is not None:
            return False
        try:
            conn = self.form_connection()
        except ConnectionsError as exc:
            self._show_message(str(exc), ok=False)
            return False
        if self._editing is not None:
            saved = self.current_connection()
            conn.builtin = bool(saved and saved.builtin)
            if conn.builtin:
                conn.name = LOCAL_SANDBOX
            elif saved is not None and conn.name != saved.name:
                conn.name = saved.name  # the stored secrets are under the saved name
        self._pending = True
        self.test_button.setEnabled(False)
        self._show_message(f"Testing {conn.name or 'the connection'}…")
        self._show_gaps([])
        documents = list(self._documents()) if self._documents is not None else []
        store = self.store

        def run() -> tuple[TestResult, list[str]]:
            result = test_connection(conn, store)
            # A restricted key refused the test's read of customers still has its flows'
            # needs to check: customers may be none of them.
            usable = result.ok or result.reason == "permission"
            gaps = stripe_key_gaps(conn, documents, store) if (
                usable and documents and isinstance(conn, StripeConnection)) else []
            return result, gaps

        call = asyncloop.submit(
            run,
            on_done=lambda done: self._tested(*done),
            on_error=lambda exc: self._tested(TestResult(False, f"{type(exc).__name__}: {exc}",
                                                         "", "error")),
            what=f"testing connection {conn.name}",
        )
        if self._pending is not None:
            self._pending = call
        return True

    @property
    def testing(self) -> bool:
        return self._pending is not None

    def _tested(self, result: TestResult, gaps: Sequence[str] = ()) -> None:
        self._pending = None
        self.test_button.setEnabled(True)
        self._show_message(("✔ " if result.ok else "✘ ") + result.message, ok=result.ok)
        self.message.setToolTip(result.detail)
        self._show_gaps(gaps)
        self.testFinished.emit(result)

    def _show_gaps(self, gaps: Sequence[str]) -> None:
        """What the key may not do for this workspace's flows; Save is still allowed."""
        self._gaps = list(gaps)
        if not gaps:
            self.key_gaps.clear()
            self.key_gaps.hide()
            return
        lines = "\n".join(f"• {gap}" for gap in gaps)
        self.key_gaps.setText("For this workspace's flows, this key lacks permissions "
                              f"(you can still save it):\n{lines}")
        self.key_gaps.show()

    def _show_message(self, text: str, ok: bool | None = None) -> None:
        self.message.setText(text)
        self.message.setToolTip("")
        colour = {True: "#2e7d32", False: "#c62828", None: ""}[ok]
        self.message.setStyleSheet(f"color: {colour}" if colour else "")
