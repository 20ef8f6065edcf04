"""Objects built in code (FinanceSettings, Alerter, SmtpSettings) refuse a value by the range
the settings declare (runner.settings), in the same sentence the file, the environment and
the command line give: one rule, one place."""

from __future__ import annotations

import pytest

from runner.alerts import Alerter, SmtpSettings
from runner.errors import ConfigError
from runner.finance.runtime import FinanceSettings
from runner.settings import setting

MONITORS = [
    ("interval", [0, -1, float("nan"), float("inf"), 1e9]),
    ("drift_check_minutes", [-1, float("nan"), 1e9]),
    ("null_rate_window", [0, -1, 10**12]),
    ("null_rate_baseline", [0, -1, 10**12]),
    ("null_rate_increase", [0, -0.5, 1.5, float("nan")]),
    ("cursor_warn_days", [0, -1, 31, float("inf")]),
]


@pytest.mark.parametrize(("key", "value"), [(k, v) for k, vs in MONITORS for v in vs])
def test_finance_settings_use_the_declared_ranges(key, value) -> None:
    bounds = setting(f"runner.monitors.{key}").bounds
    with pytest.raises(ConfigError) as exc:
        FinanceSettings(**{key: value})
    assert str(exc.value).startswith(
        f"runner.monitors.{key} must be {bounds.describe()}, not ")


def test_finance_settings_accept_the_ends_of_their_ranges() -> None:
    for key, _ in MONITORS:
        bounds = setting(f"runner.monitors.{key}").bounds
        for end, is_open in ((bounds.low, bounds.low_open), (bounds.high, bounds.high_open)):
            if not is_open:
                FinanceSettings(**{key: end})


@pytest.mark.parametrize(("kwargs", "sentence"), [
    ({"dlq_threshold": 0}, "dlq_threshold (runner.alerts.dlq_alert_threshold) must be from "
                           "1 to 1000000, not 0"),
    ({"budget_percent": 100}, "budget_percent (runner.alerts.api_budget_alert_percent) must "
                              "be more than 0 and less than 100 percent, not 100"),
    ({"budget_percent": float("nan")}, "budget_percent (runner.alerts.api_budget_alert_"
                                       "percent) must be more than 0 and less than 100 "
                                       "percent, not nan"),
    ({"min_interval": -1}, "min_interval must be from 0 to 86400 seconds, not -1"),
    ({"min_interval": float("inf")}, "min_interval must be from 0 to 86400 seconds, not inf"),
])
def test_alerter_uses_the_declared_ranges(kwargs, sentence) -> None:
    with pytest.raises(ConfigError) as exc:
        Alerter(**kwargs)
    assert str(exc.value) == sentence


def test_smtp_port_uses_the_declared_range() -> None:
    with pytest.raises(ConfigError) as exc:
        SmtpSettings(host="mail", to=["a@b.c"], port=70000)
    assert str(exc.value) == "SMTP port must be from 1 to 65535, not 70000"
