"""Desktop entry, AppStream metadata, Containerfile, systemd unit and multi-runner examples.

Each file is checked against the code it describes (paths, ports, metric names, flows), and
with the platform's own validator when it is installed.
"""

from __future__ import annotations

import configparser
import http.server
import json
import re
import shlex
import shutil
import subprocess
import sys
import threading
import tomllib
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from runner.config import load_config
from runner.errors import ConfigError
from runner.ingest.webhook_server import HEALTH_PATH, METRICS_PATH, WEBHOOK_PATH
from tests.packaging.conftest import PACKAGING, ROOT

LINUX = PACKAGING / "linux"
EXAMPLES = PACKAGING / "examples"
UNIT = PACKAGING / "systemd" / "fieldbridge-runner.service"
SCRIPTS = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
    "scripts"]


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed")
    return path


# -- desktop integration ------------------------------------------------------------------------
def _desktop() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read(LINUX / "fieldbridge-studio.desktop", encoding="utf-8")
    return parser["Desktop Entry"]


def _metainfo() -> ET.Element:
    return ET.parse(LINUX / "io.fieldbridge.Studio.metainfo.xml").getroot()


def test_desktop_entry_starts_the_studio_with_its_icon() -> None:
    entry = _desktop()
    assert entry["Type"] == "Application"
    assert shlex.split(entry["Exec"])[0] == entry["TryExec"] == "fieldbridge-studio"
    assert "fieldbridge-studio" in SCRIPTS
    assert (LINUX / f"{entry['Icon']}.svg").is_file()
    assert entry["Icon"] == _metainfo().findtext("id")


def test_desktop_entry_is_valid() -> None:
    proc = subprocess.run([_tool("desktop-file-validate"),
                           str(LINUX / "fieldbridge-studio.desktop")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_metainfo_points_at_the_desktop_file_and_the_binary() -> None:
    root = _metainfo()
    assert root.get("type") == "desktop-application"
    assert root.find("launchable").text == "fieldbridge-studio.desktop"
    assert root.find("provides/binary").text in SCRIPTS
    assert root.findtext("name") == _desktop()["Name"]


def test_metainfo_is_valid_appstream() -> None:
    proc = subprocess.run([_tool("appstreamcli"), "validate", "--no-net",
                           str(LINUX / "io.fieldbridge.Studio.metainfo.xml")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_icon_is_the_studios_own_svg() -> None:
    icon = LINUX / "io.fieldbridge.Studio.svg"
    root = ET.parse(icon).getroot()
    assert root.tag.endswith("svg") and root.get("viewBox")
    assert icon.read_bytes() == (ROOT / "resources" / "icons" / "app.svg").read_bytes()


# -- systemd ----------------------------------------------------------------------------------
def _unit_lines() -> list[tuple[str, str]]:
    pairs = []
    for line in UNIT.read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
            key, value = line.split("=", 1)
            pairs.append((key.strip(), value.strip()))
    return pairs


def test_unit_runs_the_bundle_hardened_and_restarts_on_failure() -> None:
    unit = dict(_unit_lines())
    assert unit["ExecStart"] == (
        "/usr/local/bin/fieldbridge-runner run /etc/fieldbridge/bundle.fbz "
        "--config /etc/fieldbridge/runner.toml --listen 127.0.0.1:8080")
    assert unit["DynamicUser"] == "yes"
    assert unit["StateDirectory"] == "fieldbridge"
    assert unit["ProtectSystem"] == "strict"
    assert unit["NoNewPrivileges"] == "yes"
    assert unit["Restart"] == "on-failure"
    assert unit["EnvironmentFile"].startswith("/etc/fieldbridge/")
    # The state database lives in the StateDirectory, the one writable place.
    assert "/var/lib/fieldbridge/" in unit["Environment"] or any(
        v.startswith("FIELDBRIDGE_STATE_URL=sqlite:////var/lib/fieldbridge/")
        for k, v in _unit_lines() if k == "Environment")


def _unit_copy(tmp_path: Path) -> Path:
    # verify insists that ExecStart's binary exists: point it at one that does.
    copy = tmp_path / UNIT.name
    copy.write_text(UNIT.read_text(encoding="utf-8").replace(
        "/usr/local/bin/fieldbridge-runner", sys.executable), encoding="utf-8")
    return copy


def test_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    proc = subprocess.run([_tool("systemd-analyze"), "verify", str(_unit_copy(tmp_path))],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and not proc.stderr.strip(), proc.stderr


def test_unit_exposure_is_low(tmp_path: Path) -> None:
    # systemd's own exposure score, 0 (locked down) to 10 (exposed), "OK" under 5; the
    # threshold is given in tenths: 30 means 3.0.
    proc = subprocess.run([_tool("systemd-analyze"), "security", "--offline=true",
                           "--threshold=30", str(_unit_copy(tmp_path))],
                          capture_output=True, text=True)
    if "Unknown option" in proc.stderr or "unrecognized option" in proc.stderr:
        pytest.skip("this systemd-analyze cannot score offline")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr


# -- Containerfile ----------------------------------------------------------------------------
def _instructions() -> list[tuple[str, str]]:
    text = (PACKAGING / "Containerfile").read_text(encoding="utf-8")
    text = re.sub(r"\\\n", " ", text)
    out = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_container_runs_as_a_non_root_user_on_python_311_slim() -> None:
    steps = _instructions()
    assert [v.split()[0] for k, v in steps if k == "FROM"][-1] == "python:3.11-slim"
    users = [v for k, v in steps if k == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert any(k == "VOLUME" and "/var/lib/fieldbridge" in v for k, v in steps)
    for k, v in steps:
        if k == "COPY" and not v.startswith("--from"):
            assert (ROOT / v.split()[0]).exists(), v


def test_container_exposes_the_port_it_listens_on_and_checks_health() -> None:
    steps = _instructions()
    exposed = {v for k, v in steps if k == "EXPOSE"}
    env = " ".join(v for k, v in steps if k == "ENV")
    listen = re.search(r"FIELDBRIDGE_LISTEN=([\d.]+):(\d+)", env)
    assert listen and listen.group(1) == "0.0.0.0" and exposed == {listen.group(2)}
    health = next(v for k, v in steps if k == "HEALTHCHECK")
    assert f"127.0.0.1:{listen.group(2)}{HEALTH_PATH}" in health


class _Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.send_response(self.status if self.path == HEALTH_PATH else 404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[tuple[type[_Health], int]]:
    handler = type("Handler", (_Health,), {})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield handler, server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_container_healthcheck_command_follows_healthz(health_server) -> None:
    handler, port = health_server
    health = next(v for k, v in _instructions() if k == "HEALTHCHECK")
    argv = json.loads(health[health.index("CMD") + 3:].strip())  # the exec form is JSON
    assert argv[0] == "python"
    code = argv[2].replace("127.0.0.1:8787", f"127.0.0.1:{port}")
    run = [sys.executable, argv[1], code]
    assert subprocess.run(run, capture_output=True, timeout=30).returncode == 0
    handler.status = 503
    assert subprocess.run(run, capture_output=True, timeout=30).returncode != 0


# -- several runners --------------------------------------------------------------------------
def _secrets_env() -> dict[str, str]:
    pairs = {}
    for line in (EXAMPLES / "secrets.env.example").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            key, value = line.split("=", 1)
            pairs[key] = value
    return pairs


def test_example_runner_toml_loads_and_shares_postgresql() -> None:
    config = load_config(EXAMPLES / "runner.toml", env={}, use_keyring=False)
    assert config.state_url.startswith("postgresql+psycopg://")
    assert ":" not in config.state_url.split("//", 1)[1].split("@", 1)[0]  # no password
    host, port = config.listen.rsplit(":", 1)
    assert host == "0.0.0.0" and int(port) > 0
    sf = config.salesforce_connection()
    assert sf.auth == "jwt" and sf.private_key_file


def test_example_runner_toml_needs_its_secrets_from_the_environment() -> None:
    with pytest.raises(ConfigError, match="FIELDBRIDGE_STRIPE_DEFAULT_API_KEY"):
        load_config(EXAMPLES / "runner.toml", env={}, use_keyring=False).stripe_connection()
    env = _secrets_env()
    config = load_config(EXAMPLES / "runner.toml", env=env, use_keyring=False)
    stripe = config.stripe_connection()
    assert stripe.api_key == env["FIELDBRIDGE_STRIPE_DEFAULT_API_KEY"]
    assert stripe.webhook_secrets == [env["FIELDBRIDGE_STRIPE_DEFAULT_WEBHOOK_SECRET"]]
    assert config.alerts.webhook_url == env["FIELDBRIDGE_ALERT_WEBHOOK_URL"]


def test_flows_excluded_on_webhook_only_runners_are_the_salesforce_polled_ones() -> None:
    text = (EXAMPLES / "runner.toml").read_text(encoding="utf-8")
    excluded = re.search(r"FIELDBRIDGE_FLOWS_EXCLUDE=(\S+)", text).group(1).split(",")
    polled = set()
    for path in (ROOT / "mappings" / "templates").glob("*.yaml"):
        for flow in yaml.safe_load(path.read_text(encoding="utf-8")).get("flows", []):
            if "salesforce_change" in (flow.get("trigger") or {}):
                polled.add(flow["name"])
    assert set(excluded) == polled
    config = load_config(EXAMPLES / "runner.toml", use_keyring=False,
                         env={"FIELDBRIDGE_FLOWS_EXCLUDE": ",".join(excluded)})
    assert not any(config.flow_enabled(name) for name in excluded)
    assert config.flow_enabled("charge-to-payment")


def test_load_balancer_sends_webhooks_and_probes_health() -> None:
    cfg = (EXAMPLES / "haproxy.cfg").read_text(encoding="utf-8")
    assert f"path {WEBHOOK_PATH}" in cfg
    assert f"uri {HEALTH_PATH}" in cfg
    servers = re.findall(r"^\s*server \S+ (\S+)", cfg, flags=re.M)
    assert len(servers) >= 2
    scrape = yaml.safe_load((EXAMPLES / "prometheus.yml").read_text(encoding="utf-8"))
    job = scrape["scrape_configs"][0]
    assert job["metrics_path"] == METRICS_PATH
    assert sorted(job["static_configs"][0]["targets"]) == sorted(servers)
    port = load_config(EXAMPLES / "runner.toml", env={}, use_keyring=False).listen.split(":")[1]
    assert {s.rsplit(":", 1)[1] for s in servers} == {port}


def test_haproxy_config_is_valid() -> None:
    proc = subprocess.run([_tool("haproxy"), "-c", "-f", str(EXAMPLES / "haproxy.cfg")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_alert_rules_use_metrics_the_runner_exports() -> None:
    from runner.metrics import Metrics

    exported = set(re.findall(r"^# TYPE (\w+)", Metrics().render().decode(), flags=re.M))
    scrape = yaml.safe_load((EXAMPLES / "prometheus.yml").read_text(encoding="utf-8"))
    rules_file = EXAMPLES / scrape["rule_files"][0]
    rules = yaml.safe_load(rules_file.read_text(encoding="utf-8"))["groups"][0]["rules"]
    used = set()
    for rule in rules:
        used |= set(re.findall(r"\b(fieldbridge_\w+)", rule["expr"]))
    assert used
    # Counters are exported as <name>_total; the TYPE line names the family without it.
    unknown = {m for m in used if m not in exported and m.removesuffix("_total") not in exported}
    assert unknown == set()
