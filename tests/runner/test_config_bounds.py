"""Every numeric setting has declared bounds, checked alike from the file, the environment and
the command line, and refused in one sentence naming the key, the value and the range
(issue 11, finding 2: -5, nan and inf were accepted, 0 and 100000 gave tracebacks)."""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
from pathlib import Path

import pytest

from runner.config import load_config
from runner.errors import ConfigError
from runner.pipeline.batching import MAX_BATCH
from runner.settings import SETTINGS, Range, Setting, cli_type, setting

NUMERIC = [s for s in SETTINGS if s.type in (int, float)]


def _below(s: Setting) -> float:
    assert s.bounds is not None
    return s.bounds.low if s.bounds.low_open else s.bounds.low - 1


def _above(s: Setting) -> float:
    assert s.bounds is not None
    return s.bounds.high if s.bounds.high_open else s.bounds.high + 1


def _text(value: float, s: Setting) -> str:
    return str(int(value)) if s.type is int and math.isfinite(value) else repr(float(value))


# (case, TOML literal, environment/command-line text) per setting
def _cases(s: Setting) -> list[tuple[str, str, str]]:
    below, above = _below(s), _above(s)
    return [("below", _text(below, s), _text(below, s)),
            ("above", _text(above, s), _text(above, s)),
            ("nan", "nan", "nan"), ("inf", "inf", "inf"), ("-inf", "-inf", "-inf"),
            ("not a number", '"lots"', "lots")]


TABLE = [pytest.param(s, case, toml, text, id=f"{s.name}-{case}")
         for s in NUMERIC for case, toml, text in _cases(s)]


def _key(s: Setting) -> str:
    return s.name.replace("<name>", "default")


def _env_var(s: Setting) -> str:
    assert s.env is not None
    return s.env.replace("{NAME}", "DEFAULT")


def _file(tmp_path: Path, s: Setting, literal: str) -> Path:
    section, key = _key(s).rsplit(".", 1)
    path = tmp_path / "runner.toml"
    path.write_text(f"[{section}]\n{key} = {literal}\n", encoding="utf-8")
    return path


def _assert_one_sentence(exc: ConfigError, s: Setting, case: str, shown: str) -> None:
    message = str(exc)
    assert "\n" not in message and s.key in message
    assert s.bounds is not None
    if case in ("below", "above", "nan", "inf", "-inf") and not (
            s.type is int and case in ("nan", "inf", "-inf")):
        # A number of the right type, out of range: the range and the value are named.
        assert s.bounds.describe() in message and shown in message
    else:
        assert "integer" in message or "number" in message


def test_every_numeric_setting_declares_bounds() -> None:
    assert NUMERIC and all(isinstance(s.bounds, Range) for s in NUMERIC)
    assert all(s.bounds is None for s in SETTINGS if s.type not in (int, float))
    # Defaults sit inside their own bounds.
    assert all(s.default in s.bounds for s in NUMERIC if s.bounds is not None)
    # One limit, two homes: the declaration repeats sObject Collections' 200 on purpose.
    assert setting("runner.batch_size").bounds == Range(1, MAX_BATCH)


@pytest.mark.parametrize(("s", "case", "toml", "text"), TABLE)
def test_out_of_range_from_the_file(tmp_path, s: Setting, case: str, toml: str,
                                    text: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(_file(tmp_path, s, toml), env={}, use_keyring=False)
    assert "runner.toml" in str(info.value)
    _assert_one_sentence(info.value, s, case, text.replace(".0", "").replace("'", ""))


@pytest.mark.parametrize(("s", "case", "toml", "text"), TABLE)
def test_out_of_range_from_the_environment(s: Setting, case: str, toml: str,
                                           text: str) -> None:
    var = _env_var(s)
    with pytest.raises(ConfigError) as info:
        load_config(None, env={var: text}, use_keyring=False)
    assert f"environment {var}" in str(info.value) and _key(s) in str(info.value)
    _assert_one_sentence(info.value, s, case, text.replace(".0", ""))


@pytest.mark.parametrize(("s", "case", "toml", "text"),
                         [p for p in TABLE if "<name>" not in p.values[0].name])
def test_out_of_range_from_the_command_line(s: Setting, case: str, toml: str,
                                            text: str) -> None:
    # Command-line values (load_config's overrides, as text) ...
    with pytest.raises(ConfigError) as info:
        load_config(None, env={}, overrides={s.name: text}, use_keyring=False)
    assert str(info.value).startswith("command line: ")
    _assert_one_sentence(info.value, s, case, text.replace(".0", ""))
    # ... and the argparse type a flag for the setting takes: the same sentence.
    with pytest.raises(argparse.ArgumentTypeError) as parsed:
        cli_type(s.name)(text)
    assert str(parsed.value) == str(info.value).removeprefix("command line: ")


@pytest.mark.parametrize("s", NUMERIC, ids=lambda s: s.name)
def test_the_edges_are_allowed_everywhere(tmp_path, s: Setting) -> None:
    assert s.bounds is not None
    edges = [v for v, open_ in ((s.bounds.low, s.bounds.low_open),
                                (s.bounds.high, s.bounds.high_open)) if not open_]
    for value in edges:
        text = _text(value, s)
        from_file = load_config(_file(tmp_path, s, text), env={}, use_keyring=False)
        from_env = load_config(None, env={_env_var(s): text}, use_keyring=False)
        if "<name>" in s.name:
            system = s.name.split(".")[1]
            got = {c.connections[system]["default"][s.key] for c in (from_file, from_env)}
        else:
            got = {from_file.get(s.name), from_env.get(s.name), cli_type(s.name)(text)}
        assert got == {value}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"FIELDBRIDGE_CATCHUP_INTERVAL": "-1"},
         "environment FIELDBRIDGE_CATCHUP_INTERVAL: runner.catchup_interval must be from 1 to "
         "86400 seconds, not -1"),
        ({"FIELDBRIDGE_STRIPE_DEFAULT_TIMEOUT": "-1"},
         "connections.stripe.default.timeout must be from 1 to 600 seconds, not -1"),
        ({"FIELDBRIDGE_SALESFORCE_DEFAULT_TIMEOUT": "0"},
         "connections.salesforce.default.timeout must be from 1 to 600 seconds, not 0"),
        ({"FIELDBRIDGE_BATCH_SIZE": "100000"},
         "runner.batch_size must be from 1 to 200, not 100000"),
    ],
)
def test_the_reported_values(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(None, env=env, use_keyring=False)


@pytest.mark.parametrize("literal", ["-5", "inf", "nan", "0"])
def test_the_reported_file_values(tmp_path, literal: str) -> None:
    path = tmp_path / "runner.toml"
    path.write_text(f"[runner]\ncatchup_interval = {literal}\npoll_interval = 30\n")
    with pytest.raises(ConfigError, match=r"\[runner\]: catchup_interval must be from 1 to "
                       rf"86400 seconds, not {literal}$"):
        load_config(path, env={}, use_keyring=False)


@pytest.mark.parametrize(("value", "shown"),
                         [("0", "0"), ("nan", "nan"), ("-1", "-1"), ("1e9", "1000000000")])
def test_the_poll_interval_flag_is_refused_like_the_file(tmp_path, value: str,
                                                          shown: str) -> None:
    """``--poll-interval`` goes through the same declaration (argparse usage error, exit 2,
    one sentence, no traceback)."""
    done = subprocess.run(
        [sys.executable, "-m", "runner.cli", "run", str(tmp_path / "b.fbz"),
         "--poll-interval", value], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert ("argument --poll-interval: runner.poll_interval must be from 1 to 86400 seconds, "
            f"not {shown}") in done.stderr
