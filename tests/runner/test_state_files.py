"""The SQLite state file: private to the user, refused when others may read it, and one
runner per file (issue 11, findings 5 and 6: state.sqlite was created 0644 and holds customer
e-mails; a second runner on the same file started without a word)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.bootstrap import lock_sqlite_runner
from runner.config import load_config
from runner.errors import ConfigError
from runner.state import database
from runner.state.store import StateStore
from tests.runner.e2e.helpers import ROOT, build_template_bundle


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """The umask most desktops have (022): files would be 0644 unless created private."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _touch_wal(store: StateStore) -> None:
    store.run_started()  # a write: SQLite creates -wal and -shm


def test_the_default_state_database_and_its_folder_are_private(tmp_path, monkeypatch,
                                                                usual_umask) -> None:
    folder = tmp_path / "data" / "fieldbridge"
    monkeypatch.setattr(database.platformdirs, "user_data_dir", lambda _app: str(folder))
    with StateStore.open() as store:
        _touch_wal(store)
        files = [folder / n for n in ("state.sqlite", "state.sqlite-wal", "state.sqlite-shm")]
        assert all(f.exists() for f in files)
        assert {f.name: _mode(f) for f in files} == {f.name: 0o600 for f in files}
    assert _mode(folder) == 0o700


def test_an_explicit_state_file_is_created_private(tmp_path, usual_umask) -> None:
    path = tmp_path / "new" / "state.sqlite"
    with StateStore.open(f"sqlite:///{path}") as store:
        _touch_wal(store)
        assert _mode(path) == 0o600 and _mode(path.with_name("state.sqlite-wal")) == 0o600
    assert _mode(path.parent) == 0o700


@pytest.mark.parametrize("suffix", ["", "-wal"])
def test_a_state_file_others_may_read_is_refused(tmp_path, suffix: str) -> None:
    path = tmp_path / "state.sqlite"
    with StateStore.open(f"sqlite:///{path}") as store:
        _touch_wal(store)
    loose = path.with_name(path.name + suffix)
    loose.touch()
    loose.chmod(0o644)
    with pytest.raises(ConfigError) as info:
        StateStore.open(f"sqlite:///{path}")
    # The secrets file's rule and wording, from the one place that has it.
    assert str(info.value) == (f"state database file {loose} is accessible by group or others "
                               f"(mode 0644); refusing to use it. Run: chmod 600 {loose}")


def _config(url: str):
    return load_config(None, env={}, overrides={"runner.state_url": url}, use_keyring=False)


def test_one_runner_per_sqlite_file(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    first = lock_sqlite_runner(_config(url))
    assert first is not None
    try:
        with pytest.raises(ConfigError) as info:
            lock_sqlite_runner(_config(url))
        message = str(info.value)
        assert f"in use by another runner (pid {os.getpid()})" in message
        assert "SQLite state database is for one runner" in message and "PostgreSQL" in message
        # Another file is another runner's.
        other = lock_sqlite_runner(_config(f"sqlite:///{tmp_path / 'other.sqlite'}"))
        assert other is not None
        other.release()
    finally:
        first.release()
    again = lock_sqlite_runner(_config(url))  # free once the first stopped
    assert again is not None
    again.release()
    assert _mode(tmp_path / "state.sqlite.lock") == 0o600


def test_no_lock_for_postgresql_or_memory() -> None:
    assert lock_sqlite_runner(_config("sqlite://")) is None
    assert lock_sqlite_runner(_config("postgresql://fb@db/fieldbridge")) is None


HOLDER = textwrap.dedent("""
    import sys
    from runner.bootstrap import lock_sqlite_runner
    from runner.config import load_config
    config = load_config(None, env={}, overrides={"runner.state_url": sys.argv[1]},
                         use_keyring=False)
    lock = lock_sqlite_runner(config)  # what `run` takes
    print("locked", flush=True)
    sys.stdin.read()  # until the test closes stdin
""")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "runner.cli", *args], capture_output=True,
                          text=True, timeout=120, cwd=ROOT)


@pytest.mark.slow
def test_a_second_run_is_refused_while_read_only_commands_still_work(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    StateStore.open(url).close()
    bundle = build_template_bundle(tmp_path / "b.fbz", ("charges-payments",))
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, url], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        refused = _cli("run", str(bundle), "--state", url, "--listen", "127.0.0.1:0")
        assert refused.returncode == 1 and "Traceback" not in refused.stderr
        assert refused.stderr.count("\n") == 1
        assert f"in use by another runner (pid {holder.pid})" in refused.stderr
        assert "PostgreSQL" in refused.stderr
        # Reading the state while the runner runs is fine: no lock for status or dlq list.
        assert _cli("status", "--state", url).returncode == 0
        assert _cli("dlq", "list", "--state", url).returncode == 0
    finally:
        holder.communicate(input="", timeout=30)
