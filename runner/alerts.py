"""Alerts: tell people when the runner needs them, by chat webhook and/or e-mail.

Three rules, checked by the runner's loop with :meth:`Alerter.check`:

- ``dlq``: the dead-letter queue holds ``dlq_threshold`` or more open entries;
- ``auth``: Salesforce or Stripe refused the runner's credentials;
- ``api_budget``: the Salesforce daily API budget left is under ``budget_percent`` percent.

Each rule alerts at most once per ``min_interval`` seconds, so a DLQ that stays full does not
page every poll. The chat message is Slack-compatible JSON (``{"text": ...}``, which Slack,
Mattermost, Rocket.Chat and Teams' Slack-style connectors take); the e-mail goes through
:mod:`smtplib`. A channel that fails is logged and skipped: alerting must never stop the
runner. Messages never carry secrets: known secret values (the SMTP password, any passed in
``redact``) are replaced by ``***`` in every text sent or logged.
"""

from __future__ import annotations

import logging
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage

import requests

from runner.errors import ConfigError
from runner.settings import Range, check_range, check_setting_range

log = logging.getLogger(__name__)

RULES = ("dlq", "auth", "api_budget")
DEFAULT_MIN_INTERVAL = 300.0
# Seconds between two alerts of one kind: 0 sends every one; over a day, a repeated
# problem would go unreported for too long (not a setting: code and tests choose it).
MIN_INTERVALS = Range(0, 86_400, "seconds")
DEFAULT_DLQ_THRESHOLD = 1
DEFAULT_BUDGET_PERCENT = 10.0
DEFAULT_TIMEOUT = 10.0


@dataclass
class SmtpSettings:
    """Where alert e-mails go. ``password`` comes from the secrets, never the config file."""

    host: str
    port: int = 587
    sender: str = "fieldbridge-runner@localhost"
    to: list[str] = field(default_factory=list)
    starttls: bool = True
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: str | None = None  # a private CA for the mail relay's STARTTLS certificate
    timeout: float = DEFAULT_TIMEOUT

    def __post_init__(self) -> None:
        if isinstance(self.to, str):
            self.to = [self.to]
        if not self.host:
            raise ConfigError("SMTP alerts need a host")
        check_setting_range("runner.alerts.smtp_port", int(self.port), "SMTP port")
        if not self.to or not all(isinstance(a, str) and "@" in a for a in self.to):
            raise ConfigError(f"SMTP alerts need recipient addresses (to), got {self.to!r}")
        if "@" not in (self.sender or ""):
            raise ConfigError(f"SMTP sender {self.sender!r} is not an e-mail address")
        if self.password and not self.username:
            raise ConfigError("an SMTP password was given without a username")


@dataclass(frozen=True)
class Alert:
    rule: str
    title: str
    detail: str

    @property
    def text(self) -> str:
        return f"[fieldbridge] {self.title}\n{self.detail}"


@dataclass
class Delivery:
    """What happened to one alert on each channel (True sent, False failed)."""

    alert: Alert
    channels: dict[str, bool] = field(default_factory=dict)


class Alerter:
    """Rules, de-duplication and the two channels.

    With neither a webhook URL nor SMTP settings alerts are only logged (a warning each),
    which is a fine default for a first run.
    """

    def __init__(
        self,
        webhook_url: str | None = None,
        smtp: SmtpSettings | None = None,
        *,
        min_interval: float = DEFAULT_MIN_INTERVAL,
        dlq_threshold: int = DEFAULT_DLQ_THRESHOLD,
        budget_percent: float = DEFAULT_BUDGET_PERCENT,
        redact: Sequence[str] = (),
        timeout: float = DEFAULT_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
        runner_name: str | None = None,
    ) -> None:
        if webhook_url is not None and not webhook_url.startswith(("http://", "https://")):
            # Not quoted back: a chat webhook URL carries its token.
            raise ConfigError("alert webhook URL must start with http:// or https://")
        # Ranges as the settings declare them (runner.settings): one rule, one sentence.
        check_range(MIN_INTERVALS, min_interval, "min_interval")
        check_setting_range("runner.alerts.dlq_alert_threshold", dlq_threshold,
                            "dlq_threshold (runner.alerts.dlq_alert_threshold)")
        check_setting_range("runner.alerts.api_budget_alert_percent", budget_percent,
                            "budget_percent (runner.alerts.api_budget_alert_percent)")
        self.webhook_url = webhook_url
        self.smtp = smtp
        self.min_interval = min_interval
        self.dlq_threshold = dlq_threshold
        self.budget_percent = budget_percent
        self.timeout = timeout
        self.clock = clock
        self.runner_name = runner_name or socket.gethostname()
        secrets = [s for s in redact if s]
        if smtp is not None and smtp.password:
            secrets.append(smtp.password)
        # A webhook URL is itself a credential (Slack's carry the token in the path).
        if webhook_url:
            secrets.append(webhook_url)
        # Longest first, so a secret that contains another is replaced whole.
        self._secrets = sorted(set(secrets), key=len, reverse=True)
        self._last_sent: dict[str, float] = {}
        self._lock = threading.Lock()
        self._http = requests.Session()

    # -- rules

    def evaluate(self, store_counts: Mapping[str, int] | None,
                 api_budget: tuple[int, int] | None,
                 auth_failed: bool | str | None) -> list[Alert]:
        """The alerts the current state calls for (before de-duplication)."""
        alerts: list[Alert] = []
        dlq = int((store_counts or {}).get("dlq_open", 0))
        if dlq >= self.dlq_threshold:
            alerts.append(Alert(
                "dlq", f"{dlq} record(s) in the dead-letter queue",
                f"Runner {self.runner_name}: {dlq} open dead letter(s) (threshold "
                f"{self.dlq_threshold}). Inspect with `fieldbridge-runner dlq list`, fix the "
                "bundle or the data, then `dlq replay`.",
            ))
        if auth_failed:
            what = auth_failed if isinstance(auth_failed, str) else "a connection"
            alerts.append(Alert(
                "auth", "authentication failed",
                f"Runner {self.runner_name}: {what} refused the runner's credentials; "
                "syncing is stopped until they are fixed.",
            ))
        if api_budget is not None:
            used, maximum = api_budget
            if maximum > 0:
                left = max(0, maximum - used)
                percent = 100.0 * left / maximum
                if percent < self.budget_percent:
                    alerts.append(Alert(
                        "api_budget", f"Salesforce API budget low: {percent:.1f}% left",
                        f"Runner {self.runner_name}: {left} of {maximum} daily API requests "
                        f"left ({used} used), under the {self.budget_percent:g}% threshold.",
                    ))
        return alerts

    def check(self, store_counts: Mapping[str, int] | None,
              api_budget: tuple[int, int] | None = None,
              auth_failed: bool | str | None = False) -> list[Delivery]:
        """Evaluate the rules and send what is due; the deliveries made (suppressed ones
        are not listed). Never raises for a channel's failure."""
        return [d for a in self.evaluate(store_counts, api_budget, auth_failed)
                if (d := self.raise_alert(a)) is not None]

    def raise_alert(self, alert: Alert) -> Delivery | None:
        """Send ``alert`` unless its rule alerted less than ``min_interval`` ago."""
        now = self.clock()
        with self._lock:
            last = self._last_sent.get(alert.rule)
            if last is not None and now - last < self.min_interval:
                log.debug("alert %s suppressed (sent %.0f s ago)", alert.rule, now - last)
                return None
            self._last_sent[alert.rule] = now
        return self.send(alert)

    # -- channels

    def send(self, alert: Alert) -> Delivery:
        text = _scrub(alert.text, self._secrets)
        delivery = Delivery(alert)
        log.warning("alert: %s", text.replace("\n", " - "))
        if self.webhook_url:
            delivery.channels["webhook"] = self._post(text)
        if self.smtp is not None:
            delivery.channels["email"] = self._mail(_scrub(alert.title, self._secrets), text)
        return delivery

    def _post(self, text: str) -> bool:
        assert self.webhook_url is not None
        try:
            resp = self._http.post(self.webhook_url, json={"text": text}, timeout=self.timeout)
        except requests.RequestException as exc:
            # The exception text holds the URL, which is a secret: class name only.
            log.error("could not send the alert to the webhook: %s", type(exc).__name__)
            return False
        if resp.status_code >= 300:
            log.error("the alert webhook answered HTTP %d: %s", resp.status_code,
                      _scrub(resp.text[:200], self._secrets))
            return False
        return True

    def _mail(self, subject: str, text: str) -> bool:
        s = self.smtp
        assert s is not None
        msg = EmailMessage()
        msg["Subject"] = f"[fieldbridge] {subject}"
        msg["From"] = s.sender
        msg["To"] = ", ".join(s.to)
        msg.set_content(text)
        try:
            with smtplib.SMTP(s.host, s.port, timeout=s.timeout) as smtp:
                if s.starttls:
                    smtp.starttls(context=ssl.create_default_context(cafile=s.ca_file))
                if s.username:
                    smtp.login(s.username, s.password or "")
                smtp.send_message(msg)
        except (OSError, smtplib.SMTPException, ssl.SSLError) as exc:
            log.error("could not send the alert e-mail via %s:%d: %s", s.host, s.port,
                      _scrub(f"{type(exc).__name__}: {exc}", self._secrets))
            return False
        return True

    def close(self) -> None:
        self._http.close()


def _scrub(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
