"""``sandbox_up`` in process, and ``fieldbridge-runner sandbox up`` as a real subprocess."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from runner.cli import build_parser, main
from runner.errors import ConfigError
from runner.sandbox import up as up_module
from runner.sandbox.up import SandboxSession, sandbox_up

needs_emulator = pytest.mark.skipif(
    importlib.util.find_spec("runner.sandbox.salesforce.server") is None,
    reason="the Salesforce org emulator has not landed yet",
)


STRIPE_KEYS = {"api_base", "api_key", "webhook_secret"}
SALESFORCE_KEYS = {
    "instance_url", "access_token", "ca_file", "login_url", "username", "password",
    "consumer_key", "pubsub_endpoint",
}


@dataclass
class FakeEmulator:
    """Stands in for the org emulator where only the Stripe half is under test."""

    state_dir: Path
    instance_url: str = "https://127.0.0.1:1"
    login_url: str = "https://127.0.0.1:1"
    access_token: str = "00Dfake!token"
    ca_file: str = "/nonexistent/ca.pem"
    username: str = "admin@fieldbridge.sandbox"
    password: str = "fake-password-5821"
    consumer_key: str = "3MVGfake"
    security_token: str = "tok"
    pubsub_endpoint: str = "127.0.0.1:2"
    calls: list[dict] = field(default_factory=list)
    stopped: bool = False

    def stop(self) -> None:
        self.stopped = True


@pytest.fixture
def fake_salesforce(monkeypatch):
    started: list[FakeEmulator] = []

    def start(state_dir, *, port, reset, faults):
        emulator = FakeEmulator(state_dir)
        emulator.calls.append({"port": port, "reset": reset, "faults": faults})
        started.append(emulator)
        return emulator

    monkeypatch.setattr(up_module, "_start_salesforce", start)
    return started


@pytest.mark.slow
def test_session_json_has_the_contract_keys(tmp_path: Path, fake_salesforce):
    with sandbox_up(tmp_path, faults="latency=5ms") as session:
        line = session.to_json()
        assert "\n" not in line
        data = json.loads(line)
        assert set(data["stripe"]) >= STRIPE_KEYS
        assert set(data["salesforce"]) >= SALESFORCE_KEYS
        assert data["stripe"]["api_base"] == session.stripe.api_base
        assert data["salesforce"]["security_token"] == "tok"
        customer = session.stripe.client().v1.customers.create(params={"email": "j@x.example"})
        assert customer.id.startswith("cus_")
        assert fake_salesforce[0].state_dir == tmp_path.resolve() / "salesforce"
        assert fake_salesforce[0].calls == [{"port": 0, "reset": False, "faults": "latency=5ms"}]
    assert fake_salesforce[0].stopped and not session.stripe.running


@pytest.mark.slow
def test_state_survives_a_restart_and_reset_wipes_it(tmp_path: Path, fake_salesforce):
    with sandbox_up(tmp_path) as first:
        kept = first.stripe.client().v1.customers.create(params={"email": "k@x.example"}).id
        secret = first.stripe.webhook_secret
    secret_file = tmp_path / "stripe" / "webhook_secret"
    assert secret_file.stat().st_mode & 0o077 == 0
    with sandbox_up(tmp_path) as second:
        assert second.stripe.client().v1.customers.retrieve(kept).email == "k@x.example"
        assert second.stripe.webhook_secret == secret
    with sandbox_up(tmp_path, reset=True) as third:
        assert third.stripe.client().v1.customers.list().data == []
        assert third.stripe.webhook_secret != secret
        assert fake_salesforce[-1].calls[0]["reset"] is True


def test_bad_arguments_are_config_errors(tmp_path: Path, fake_salesforce):
    with pytest.raises(ConfigError, match="unknown seed 'big'"):
        sandbox_up(tmp_path, seed="big")
    with pytest.raises(ConfigError, match="invalid Stripe sandbox port"):
        sandbox_up(tmp_path, stripe_port=-1)
    assert fake_salesforce == []  # nothing was started


@needs_emulator
def test_a_bad_fault_spec_is_refused_before_anything_starts(tmp_path: Path, monkeypatch):
    from runner.sandbox.salesforce.faults import FaultSpecError

    def must_not_start(*args, **kwargs):
        raise AssertionError("started the Stripe sandbox despite a bad fault spec")

    monkeypatch.setattr(up_module, "start_stripe_sandbox", must_not_start)
    with pytest.raises(FaultSpecError, match="unknown fault 'bogus'"):
        sandbox_up(tmp_path, faults="bogus=1")


@pytest.mark.slow
@needs_emulator
def test_faults_spare_the_seeding_and_apply_once_up(tmp_path: Path):
    from simple_salesforce.exceptions import SalesforceError

    from runner.sandbox.salesforce.server import salesforce_client

    # Every Salesforce data call fails once up; the seed must land all the same.
    with sandbox_up(tmp_path, seed="demo", faults="error503=1") as session:
        assert session.seed is not None
        assert len(session.seed.salesforce_accounts) == len(session.seed.salesforce_contacts) == 6
        with pytest.raises(SalesforceError, match="503|SERVER_UNAVAILABLE"):
            salesforce_client(session.salesforce).query("SELECT Id FROM Account")


@pytest.mark.slow
def test_a_failing_salesforce_start_stops_stripe(tmp_path: Path, monkeypatch):
    started: list[SandboxSession] = []
    real_start = up_module.start_stripe_sandbox

    def spy(*args, **kwargs):
        sb = real_start(*args, **kwargs)
        started.append(sb)
        return sb

    def broken(*args, **kwargs):
        raise up_module.SandboxError("emulator exploded")

    monkeypatch.setattr(up_module, "start_stripe_sandbox", spy)
    monkeypatch.setattr(up_module, "_start_salesforce", broken)
    with pytest.raises(up_module.SandboxError, match="exploded"):
        sandbox_up(tmp_path)
    assert len(started) == 1 and not started[0].running


@pytest.mark.parametrize(
    "argv",
    [
        ["sandbox", "up", "--stripe-port", "abc"],
        ["sandbox", "up", "--salesforce-port", "70000"],
        ["sandbox", "up", "--seed", "huge"],
        ["sandbox"],
    ],
)
def test_cli_refuses_bad_flags(argv, capsys):
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(argv)
    assert info.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_cli_refuses_an_empty_fault_spec(capsys):
    assert main(["sandbox", "up", "--faults", " "]) == 1
    assert "--faults needs a spec" in capsys.readouterr().err


def _run_command_until_up(monkeypatch, argv: list[str]) -> tuple[int, SandboxSession]:
    """Run ``main(argv)`` here; SIGTERM ourselves once the sandboxes are up."""
    sessions: list[SandboxSession] = []
    real = up_module.sandbox_up

    def recording(*args, **kwargs):
        sessions.append(real(*args, **kwargs))
        return sessions[-1]

    def terminate_when_up():
        while not sessions:
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(up_module, "sandbox_up", recording)
    threading.Thread(target=terminate_when_up, daemon=True).start()
    code = main(argv)
    return code, sessions[0]


@pytest.mark.slow
def test_command_prints_one_json_line_and_stops_on_sigterm(
    tmp_path: Path, fake_salesforce, monkeypatch, capsys
):
    code, session = _run_command_until_up(
        monkeypatch, ["sandbox", "up", "--json", "--state-dir", str(tmp_path)]
    )
    out, err = capsys.readouterr()
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0])["stripe"]["api_base"] == session.stripe.api_base
    assert not session.stripe.running and fake_salesforce[0].stopped
    assert session.stripe.webhook_secret not in err


@pytest.mark.slow
def test_readable_output_names_places_not_secrets(
    tmp_path: Path, fake_salesforce, monkeypatch, capsys
):
    code, session = _run_command_until_up(
        monkeypatch, ["sandbox", "up", "--state-dir", str(tmp_path)]
    )
    out, _ = capsys.readouterr()
    assert code == 0
    assert session.stripe.api_base in out and fake_salesforce[0].instance_url in out
    for secret in (session.stripe.webhook_secret, session.stripe.api_key,
                   fake_salesforce[0].access_token, fake_salesforce[0].password):
        assert secret not in out
    assert "stopped" in out


# --- the real command, as a subprocess ------------------------------------------------------


def _children(pid: int) -> set[int]:
    """Every descendant process of ``pid`` (Linux /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, ppid in parents.items() if ppid in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _read_line(proc: subprocess.Popen, timeout: float = 60.0) -> str:
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not out or not out[0]:
        proc.kill()
        raise AssertionError(f"sandbox up printed nothing; stderr: {proc.stderr.read()}")
    return out[0]


def _start_command(tmp_path: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "runner.cli", "sandbox", "up", "--json",
         "--state-dir", str(tmp_path / "state"), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )


def _refused(url: str) -> bool:
    """Nothing accepts TCP connections at ``url``'s host and port any more."""
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=2):
            return False
    except OSError:
        return True


@pytest.mark.slow
@needs_emulator
@pytest.mark.skipif(not Path("/proc").exists(), reason="reads /proc to find child processes")
def test_sandbox_up_json_serves_both_sides_and_sigint_stops_everything(tmp_path: Path):
    import simple_salesforce

    proc = _start_command(tmp_path, "--seed", "demo", "--reset")
    try:
        line = _read_line(proc)
        config = json.loads(line)
        assert set(config["stripe"]) >= STRIPE_KEYS
        assert set(config["salesforce"]) >= SALESFORCE_KEYS
        children = _children(proc.pid)
        assert children, "localstripe should run as a child process"

        from runner.sandbox.stripe_sandbox import StripeSandbox

        stripe_cfg = config["stripe"]
        stripe = StripeSandbox(stripe_cfg["api_base"], stripe_cfg["api_key"],
                               stripe_cfg["webhook_secret"], process=None)
        customers = stripe.client().v1.customers.list(params={"limit": 100}).data
        assert len(customers) == len(config["seed"]["stripe_customers"]) == 6

        sf_cfg = config["salesforce"]
        session = requests.Session()
        session.verify = sf_cfg["ca_file"]
        session.trust_env = False  # else REQUESTS_CA_BUNDLE overrides session.verify
        sf = simple_salesforce.Salesforce(
            instance_url=sf_cfg["instance_url"], session_id=sf_cfg["access_token"],
            session=session,
        )
        accounts = sf.query_all("SELECT Id, Name FROM Account")["records"]
        assert {a["Name"] for a in accounts} >= set(config["seed"]["salesforce_accounts"])

        # Nothing else on stdout: exactly one line.
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=30)
        assert rest == ""
        assert proc.returncode == 0, err
        assert stripe_cfg["webhook_secret"] not in err
        assert sf_cfg["access_token"] not in err
        assert not [pid for pid in children if _alive(pid)]
        assert _refused(stripe_cfg["api_base"] + "/v1/balance")
        assert _refused(sf_cfg["instance_url"])
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.slow
@needs_emulator
@pytest.mark.skipif(not Path("/proc").exists(), reason="reads /proc to find child processes")
def test_sigkilled_command_leaves_no_localstripe_behind(tmp_path: Path):
    proc = _start_command(tmp_path)
    try:
        config = json.loads(_read_line(proc))
        children = _children(proc.pid)
        assert children
    finally:
        proc.kill()
        proc.wait()
    # The launcher watches its parent; give it a moment to notice, without asserting on time.
    deadline = time.monotonic() + 15
    while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in children if _alive(pid)]
    assert _refused(config["stripe"]["api_base"] + "/v1/balance")


# --- one sandbox per state directory --------------------------------------------------------


@pytest.mark.slow
def test_a_second_sandbox_on_the_same_state_dir_is_refused(tmp_path: Path, fake_salesforce):
    with sandbox_up(tmp_path) as first:
        secret_file = tmp_path / "stripe" / "webhook_secret"
        before = secret_file.read_bytes()
        with pytest.raises(up_module.SandboxError) as info:
            sandbox_up(tmp_path, reset=True)
        message = str(info.value)
        assert str(tmp_path.resolve()) in message and f"pid {os.getpid()}" in message
        assert "\n" not in message
        assert len(fake_salesforce) == 1  # the second one started nothing
        # ...and touched nothing: the first one's state and service are as they were.
        assert secret_file.read_bytes() == before
        assert first.stripe.client().v1.customers.list().data == []
    # Stopping frees the directory for the next one.
    with sandbox_up(tmp_path) as again:
        assert again.stripe.webhook_secret == first.stripe.webhook_secret


def test_the_lock_names_no_pid_before_its_holder_wrote_one(tmp_path: Path):
    from runner.sandbox.state_lock import StateDirLock

    held = StateDirLock(tmp_path)
    try:
        (tmp_path / "sandbox.lock").write_text("")  # as if caught between flock and write
        with pytest.raises(up_module.SandboxError, match="in use by another running sandbox;"):
            StateDirLock(tmp_path)
    finally:
        held.release()
    StateDirLock(tmp_path).release()  # free again once released


@pytest.mark.slow
@needs_emulator
def test_sandbox_up_command_refuses_a_busy_state_dir_and_leaves_the_first_working(
    tmp_path: Path,
):
    first = _start_command(tmp_path, "--reset")
    try:
        config = json.loads(_read_line(first))
        ca_file = Path(config["salesforce"]["ca_file"])
        ca_before = ca_file.read_bytes()
        second = _start_command(tmp_path, "--reset")
        out, err = second.communicate(timeout=60)
        assert second.returncode == 1 and out == ""
        assert err.count("\n") == 1 and "Traceback" not in err
        assert str((tmp_path / "state").resolve()) in err and f"pid {first.pid}" in err
        assert ca_file.read_bytes() == ca_before
        # The first one's clients still verify its certificate and are served.
        resp = requests.get(config["salesforce"]["instance_url"] + "/services/data",
                            verify=str(ca_file), timeout=10)
        assert resp.status_code == 200
    finally:
        first.send_signal(signal.SIGINT)
        try:
            first.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            first.kill()
            first.wait()


# --- file permissions -----------------------------------------------------------------------

# What holds a credential or customer data; the certificates beside them are public.
PRIVATE_FILES = (
    "sandbox.lock", "stripe/webhook_secret", "stripe/localstripe.pickle",
    "stripe/localstripe.pickle.idempotency", "salesforce/org.sqlite", "salesforce/server.key",
)


def _group_or_world(path: Path) -> int:
    return path.stat().st_mode & 0o077


@pytest.mark.slow
@needs_emulator
@pytest.mark.parametrize("reset", [False, True])
def test_sandbox_state_is_private_to_the_user(tmp_path: Path, reset: bool):
    old_umask = os.umask(0o022)  # the usual default, under which files come out 0644
    try:
        root = tmp_path / "state"
        if reset:  # an earlier session's state, then a reset that recreates it
            sandbox_up(root).stop()
        with sandbox_up(root, reset=reset) as session:
            client = session.stripe.client()
            client.v1.customers.create(params={"email": "p@x.example"},
                                       options={"idempotency_key": "perm-test"})
            files = [root / name for name in PRIVATE_FILES]
            files += [p for p in (root / "salesforce").glob("org.sqlite-*")]
            assert {str(p.relative_to(root)): oct(_group_or_world(p)) for p in files
                    if _group_or_world(p)} == {}
            folders = [root, root / "stripe", root / "salesforce"]
            assert {str(p): oct(p.stat().st_mode & 0o777) for p in folders
                    if p.stat().st_mode & 0o777 != 0o700} == {}
    finally:
        os.umask(old_umask)
