"""environments.toml: read in order, defaults filled, every mistake one sentence."""

from __future__ import annotations

from pathlib import Path

import pytest

from mappings.environments import (
    EnvironmentsError,
    format_environments,
    load_environments,
    parse_environments,
)

GOOD = """format_version = 1

[environments.dev]
stripe = "dev"
salesforce = "dev-org"
runner = "http://127.0.0.1:8787/"

[environments.qa]
stripe = "qa"
salesforce = "qa-org"
runner = "http://qa.example.com"
config = "qa/runner.toml"

[environments.prod]
stripe = "live"
salesforce = "production"
runner = "https://sync.example.com"
require_signature = true
public_key = "keys/prod.pub"
"""


def test_environments_keep_their_order_and_get_defaults(tmp_path: Path) -> None:
    (tmp_path / "environments.toml").write_text(GOOD, encoding="utf-8")
    envs = load_environments(tmp_path)
    assert envs.names == ["dev", "qa", "prod"]
    dev, qa, prod = envs.environments
    assert dev.runner == "http://127.0.0.1:8787" and not dev.protected
    assert dev.color == "#2e7d32" and prod.color == "#c62828"
    assert prod.protected and prod.require_signature
    assert qa.config == (tmp_path / "qa" / "runner.toml").resolve()
    assert envs.previous("qa") == dev and envs.previous("dev") is None


def test_format_environments_reads_back(tmp_path: Path) -> None:
    text = format_environments([{"name": "dev", "stripe": "a", "salesforce": "b",
                                 "runner": "http://x", "protected": False}])
    env = parse_environments(text, tmp_path / "environments.toml").get("dev")
    assert (env.stripe, env.salesforce, env.runner, env.protected) == ("a", "b", "http://x",
                                                                        False)


@pytest.mark.parametrize(("text", "message"), [
    ("", "format_version = 1"),
    ("format_version = 1\n", "declares no environments"),
    ("format_version = 1\n[environments.dev]\nstripe = 'a'\nsalesforce = 'b'\n",
     "needs runner"),
    ("format_version = 1\n[environments.Dev]\nstripe='a'\nsalesforce='b'\nrunner='http://x'\n",
     "not an environment name"),
    ("format_version = 1\n[environments.dev]\nstripe='a'\nsalesforce='b'\nrunner='ftp://x'\n",
     "http:// or https://"),
    ("format_version = 1\n[environments.dev]\nstripe='a'\nsalesforce='b'\nrunner='http://x'\n"
     "colour='red'\n", "unknown key(s) colour"),
    ("format_version = 1\n[environments.dev]\nstripe='a'\nsalesforce='b'\nrunner='http://x'\n"
     "require_signature=true\n", "names no public_key"),
    ("format_version = 1\n[environments.a]\nstripe='a'\nsalesforce='b'\nrunner='http://x'\n"
     "[environments.b]\nstripe='a'\nsalesforce='b'\nrunner='http://x/'\n", "same runner"),
    ("format_version = 1\n[environments", "not valid TOML"),
])
def test_mistakes_are_one_sentence(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(EnvironmentsError) as err:
        parse_environments(text, tmp_path / "environments.toml")
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_a_missing_file_and_an_unknown_environment_say_so(tmp_path: Path) -> None:
    with pytest.raises(EnvironmentsError, match="does not exist"):
        load_environments(tmp_path)
    (tmp_path / "environments.toml").write_text(GOOD, encoding="utf-8")
    with pytest.raises(EnvironmentsError, match=r"no environment 'uat' \(environments: dev, qa"):
        load_environments(tmp_path).get("uat")
