"""docs/configuration.md is generated from runner.config.SETTINGS and cannot drift."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.config import SETTINGS, describe_settings
from tests.packaging.conftest import ROOT, load_packaging_module

gen = load_packaging_module("gen_config_reference")


def test_the_committed_reference_is_the_generators_output() -> None:
    committed = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert committed == gen.render(), (
        "docs/configuration.md is stale: run .venv/bin/python packaging/gen_config_reference.py")


def test_every_setting_is_documented_with_its_env_var_and_default() -> None:
    text = gen.render()
    for s in SETTINGS:
        row = next(line for line in text.splitlines()
                   if line.startswith(f"| `{s.key}` |") and (s.env or "—") in line)
        assert gen.format_default(s.default) in row
        assert ("**Secret.**" in row) is s.secret
        for choice in s.choices or ():
            assert f"`{choice}`" in row
    for section in {s.section for s in SETTINGS}:
        assert f"## `[{section}]`" in text


def test_secrets_are_listed_and_no_default_value_is_secret() -> None:
    text = gen.render()
    secrets = text.split("## Secrets", 1)[1]
    for s in SETTINGS:
        assert (f"- `{s.name}`" in secrets) is s.secret
        if s.secret:
            assert s.default in (None, []), s.name


@pytest.mark.parametrize(("value", "shown"), [
    (None, "*unset*"), (True, "`true`"), (False, "`false`"), ("json", '`"json"`'),
    (30.0, "`30.0`"), (200, "`200`"), ([], "`[]`"), (["a", "b"], '`["a", "b"]`'),
])
def test_defaults_are_shown_as_toml(value: object, shown: str) -> None:
    assert gen.format_default(value) == shown


def test_a_setting_of_an_unknown_type_is_named() -> None:
    bad = [*describe_settings(), {"name": "runner.odd", "type": "dict", "default": None,
                                  "description": "?", "env": None, "secret": False,
                                  "choices": None}]
    with pytest.raises(ValueError, match=r"runner\.odd: unknown type 'dict'"):
        gen.render(bad)


def test_a_pipe_in_a_description_does_not_break_the_table() -> None:
    item = {**describe_settings()[0], "description": "a | b"}
    assert "a \\| b" in gen._row(item)


def test_check_mode_fails_on_a_stale_or_missing_file(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "configuration.md"
    assert gen.main(["--check", "--output", str(target)]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert gen.main(["--output", str(target)]) == 0
    assert gen.main(["--check", "--output", str(target)]) == 0
    target.write_text(target.read_text(encoding="utf-8") + "\nedited by hand\n",
                      encoding="utf-8")
    assert gen.main(["--check", "--output", str(target)]) == 1
    assert "is stale" in capsys.readouterr().err
