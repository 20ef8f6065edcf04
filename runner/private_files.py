"""Files private to the user: folders 0700, files 0600, and the check that refuses others.

The runner's state database (event payloads with customer e-mails), its secrets file and the
sandboxes' state (the org's passwords and tokens, the webhook secrets, the TLS key) must not
be readable by the group or others at any moment: files are opened with their final mode
rather than chmod-ed after being written, and :func:`check_private` is the one rule by which
the runner refuses a file that is.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from runner.errors import ConfigError

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """``path`` and any missing parents, created 0700 (existing folders are left as they are,
    since a user-chosen ``--state-dir`` may be a shared folder that is not ours to change)."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue  # created meanwhile by someone else: not ours
        # mkdir's mode passes through the umask; say it once more, exactly.
        folder.chmod(DIR_MODE)
    return path


def own_private_dir(path: Path) -> Path:
    """A folder that belongs to the sandbox alone: created 0700, or tightened to 0700."""
    private_dir(path)
    if path.stat().st_mode & 0o077:
        path.chmod(DIR_MODE)
    return path


def create_private_file(path: Path) -> Path:
    """``path`` exists and is 0600; an existing file keeps its content but loses any group or
    world access (state written by older versions was 0644)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE)
    try:
        if os.fstat(fd).st_mode & 0o077:
            os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return path


def write_private(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically (write a 0600 temporary, then rename), so a
    kill mid-write never leaves a truncated file and the content is never readable by others."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)  # a leftover temporary from an older version may be 0644
        with os.fdopen(fd, "wb") as out:
            fd = -1
            out.write(data)
    finally:
        if fd != -1:
            os.close(fd)
    os.replace(tmp, path)


def check_private(path: Path, what: str) -> None:
    """Refuse ``path`` (``what``: "secrets file") when the group or others may access it; a
    ConfigError that says how to fix it. Does nothing where modes mean nothing (Windows)."""
    try:
        info = path.stat()
    except OSError as exc:
        raise ConfigError(f"{what} {path} cannot be read: {exc.strerror}") from exc
    if os.name == "posix" and info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"{what} {path} is accessible by group or others (mode "
            f"{stat.S_IMODE(info.st_mode):04o}); refusing to use it. Run: chmod 600 {path}")
