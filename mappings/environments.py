"""A workspace's environments (``environments.toml``, committed with the mappings).

Each environment names its Stripe and Salesforce connections (names only: the secrets live
in the OS keyring under those names) and the runner that serves it (a URL; its admin token
is in the keyring too, under the URL). The order of the tables is the promotion order:
``dev`` then ``qa`` then ``prod``::

    format_version = 1

    [environments.dev]
    stripe = "dev"
    salesforce = "dev"
    runner = "http://127.0.0.1:8787"

    [environments.prod]
    stripe = "live"
    salesforce = "production"
    runner = "https://sync.example.com"
    require_signature = true
    public_key = "keys/prod.pub"

Optional per environment: ``config`` (a runner config file holding the connections' other
settings, relative to the workspace), ``sandbox`` (a ``sandbox up --json`` file instead),
``color`` (``#rrggbb``), ``protected`` (ask before anything writes; on by default for
``prod`` and ``production``), ``require_signature`` and ``public_key``.

Pure: reading a file and checking it; no keyring, no network. Every problem is one
:class:`~mappings.errors.WorkspaceError` sentence.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mappings.errors import MappingError

ENVIRONMENTS_FILE = "environments.toml"
FORMAT_VERSION = 1
PROTECTED_NAMES = frozenset({"prod", "production"})
# A colour per usual name, so an environment without one is still told apart at a glance.
DEFAULT_COLORS = {"dev": "#2e7d32", "qa": "#ef6c00", "staging": "#ef6c00", "uat": "#ef6c00",
                  "prod": "#c62828", "production": "#c62828"}
OTHER_COLOR = "#546e7a"

_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
_KEYS = {"stripe", "salesforce", "runner", "config", "sandbox", "color", "protected",
         "require_signature", "public_key"}


class EnvironmentsError(MappingError):
    """The environments file cannot be used as written; the message says why."""


@dataclass(frozen=True, slots=True)
class Environment:
    name: str
    stripe: str
    salesforce: str
    runner: str
    color: str
    protected: bool
    require_signature: bool = False
    config: Path | None = None  # resolved against the workspace
    sandbox: Path | None = None
    public_key: Path | None = None


@dataclass(frozen=True, slots=True)
class Environments:
    path: Path
    environments: tuple[Environment, ...]

    @property
    def names(self) -> list[str]:
        return [e.name for e in self.environments]

    def get(self, name: str) -> Environment:
        for env in self.environments:
            if env.name == name:
                return env
        raise EnvironmentsError(f"{self.path.name} has no environment {name!r} "
                                f"(environments: {', '.join(self.names)})")

    def previous(self, name: str) -> Environment | None:
        """The environment promoted from into ``name`` (None for the first)."""
        index = self.names.index(self.get(name).name)
        return self.environments[index - 1] if index else None


def environments_path(workspace: Path | str) -> Path:
    return Path(workspace) / ENVIRONMENTS_FILE


def load_environments(workspace: Path | str) -> Environments:
    """The workspace's environments; EnvironmentsError when the file is missing or wrong."""
    path = environments_path(workspace)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise EnvironmentsError(f"{path} does not exist; declare the workspace's environments "
                                f"there (see 'format_version = {FORMAT_VERSION}' and "
                                "[environments.<name>] tables)") from None
    except OSError as exc:
        raise EnvironmentsError(f"{path} cannot be read: {exc.strerror or exc}") from None
    return parse_environments(text, path)


def parse_environments(text: str, path: Path) -> Environments:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise EnvironmentsError(f"{path.name} is not valid TOML: {exc}") from None
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise EnvironmentsError(f"{path.name} must say format_version = {FORMAT_VERSION}, "
                                f"not {version!r}")
    unknown = sorted(set(data) - {"format_version", "environments"})
    if unknown:
        raise EnvironmentsError(f"{path.name} has unknown top-level key(s): "
                                f"{', '.join(unknown)}")
    tables = data.get("environments")
    if not isinstance(tables, dict) or not tables:
        raise EnvironmentsError(f"{path.name} declares no environments; add an "
                                "[environments.dev] table")
    envs = tuple(_environment(name, table, path) for name, table in tables.items())
    runners: dict[str, str] = {}
    for env in envs:
        if env.runner in runners:
            raise EnvironmentsError(f"{path.name}: environments {runners[env.runner]!r} and "
                                    f"{env.name!r} name the same runner {env.runner}")
        runners[env.runner] = env.name
    return Environments(path, envs)


def _environment(name: str, table: Any, path: Path) -> Environment:
    where = f"{path.name}: environment {name!r}"
    if not _NAME.match(name):
        raise EnvironmentsError(f"{path.name}: {name!r} is not an environment name (lower "
                                "case letters, digits, - and _, starting with a letter)")
    if not isinstance(table, dict):
        raise EnvironmentsError(f"{where} must be a table")
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise EnvironmentsError(f"{where} has unknown key(s) {', '.join(unknown)} (known: "
                                f"{', '.join(sorted(_KEYS))})")
    for key in ("stripe", "salesforce", "runner"):
        if not isinstance(table.get(key), str) or not table[key].strip():
            raise EnvironmentsError(f"{where} needs {key} = \"...\" (the "
                                    + ("runner's URL)" if key == "runner"
                                       else f"{key.title()} connection's name)"))
    runner = table["runner"].strip().rstrip("/")
    if not runner.startswith(("http://", "https://")):
        raise EnvironmentsError(f"{where}: runner must be an http:// or https:// URL, not "
                                f"{runner[:80]!r}")
    color = table.get("color", DEFAULT_COLORS.get(name, OTHER_COLOR))
    if not isinstance(color, str) or not _COLOR.match(color):
        raise EnvironmentsError(f"{where}: color must be #rrggbb, not {color!r}")
    flags = {}
    for key, default in (("protected", name in PROTECTED_NAMES), ("require_signature", False)):
        value = table.get(key, default)
        if not isinstance(value, bool):
            raise EnvironmentsError(f"{where}: {key} must be true or false, not {value!r}")
        flags[key] = value
    paths: dict[str, Path | None] = {}
    for key in ("config", "sandbox", "public_key"):
        value = table.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise EnvironmentsError(f"{where}: {key} must be a file path")
        paths[key] = None if value is None else (path.parent / value).resolve()
    if paths["config"] is not None and paths["sandbox"] is not None:
        raise EnvironmentsError(f"{where} gives both config and sandbox; the connections come "
                                "from one of them")
    if flags["require_signature"] and paths["public_key"] is None:
        raise EnvironmentsError(f"{where} requires a signature but names no public_key to "
                                "check it with")
    return Environment(name=name, stripe=table["stripe"].strip(),
                       salesforce=table["salesforce"].strip(), runner=runner, color=color,
                       protected=flags["protected"],
                       require_signature=flags["require_signature"], config=paths["config"],
                       sandbox=paths["sandbox"], public_key=paths["public_key"])


def format_environments(envs: list[dict[str, Any]]) -> str:
    """The text of an environments file for ``envs`` (dicts of the keys above, with
    ``name``): what the studio writes when a workspace gets its first environments."""
    lines = [f"format_version = {FORMAT_VERSION}", ""]
    for env in envs:
        lines.append(f"[environments.{env['name']}]")
        for key in ("stripe", "salesforce", "runner", "config", "sandbox", "color",
                    "protected", "require_signature", "public_key"):
            value = env.get(key)
            if value is None:
                continue
            text = ("true" if value else "false") if isinstance(value, bool) \
                else '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
            lines.append(f"{key} = {text}")
        lines.append("")
    return "\n".join(lines)
