"""The node's filesystem under `--root`: path resolution, atomic writes, the run lock, backups.

Host paths (those written into the manifest) are always absolute POSIX paths; `Host.path()` maps
them under the root so tests, image builds and CI can work on a sandbox.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import posixpath
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from kauditcfg.errors import InvalidInput, KauditError, PreflightRefused

STATE_DIR = "/var/lib/kauditcfg"
BACKUP_DIR = STATE_DIR + "/backups"
DEFAULT_MANIFEST = "/etc/kubernetes/manifests/kube-apiserver.yaml"


@dataclass(frozen=True)
class Host:
    root: Path = Path("/")

    def path(self, host_path: str) -> Path:
        if not host_path.startswith("/"):
            raise InvalidInput(f"{host_path}: expected an absolute host path")
        rel = posixpath.normpath(host_path).lstrip("/")
        return self.root / rel if rel else self.root

    def read_bytes(self, host_path: str) -> bytes | None:
        try:
            return self.path(host_path).read_bytes()
        except FileNotFoundError:
            return None
        except IsADirectoryError:
            raise InvalidInput(f"{host_path}: is a directory, expected a file") from None
        except PermissionError:
            raise InvalidInput(f"{host_path}: permission denied; run kauditcfg as root") from None

    @contextlib.contextmanager
    def lock(self, manifest: str, timeout: float = 30.0) -> Iterator[None]:
        """One kauditcfg at a time per node: two interleaved runs could lose each other's edits.

        The lock is an flock on the static pod directory itself, so taking it creates no file:
        a refused run leaves the disk exactly as it was.
        """
        directory = self.path(posixpath.dirname(manifest))
        try:
            fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            yield  # no directory: planning fails with a clear message, nothing to protect
            return
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES) or time.monotonic() > deadline:
                        raise PreflightRefused(
                            f"{posixpath.dirname(manifest)}: another kauditcfg run holds the lock; "
                            "wait for it to finish and run again"
                        ) from None
                    time.sleep(0.1)
            yield
        finally:
            os.close(fd)


def atomic_write(path: Path, data: bytes, mode: int, uid: int | None = None, gid: int | None = None) -> None:
    """Write through a dot-prefixed temp file in the same directory, fsync, rename.

    The kubelet ignores dot files in the manifests directory, and a rename within one filesystem
    is atomic, so it never sees a half-written pod.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.kauditcfg.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            if uid is not None or gid is not None:
                os.fchown(handle.fileno(), -1 if uid is None else uid, -1 if gid is None else gid)
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


@dataclass(frozen=True)
class BackupEntry:
    path: str  # host path
    existed: bool
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None


def new_backup_dir(host: Host) -> tuple[str, Path]:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    host_dir = f"{BACKUP_DIR}/{stamp}"
    return host_dir, host.path(host_dir)


def write_backup(host: Host, paths: list[str], command: str) -> str:
    """Copy every file about to be replaced (and note the ones about to be created)."""
    host_dir, real_dir = new_backup_dir(host)
    real_dir.mkdir(parents=True, mode=0o700)
    entries: list[dict[str, object]] = []
    for host_path in paths:
        real = host.path(host_path)
        try:
            st = real.stat()
        except FileNotFoundError:
            entries.append({"path": host_path, "existed": False})
            continue
        copy = real_dir / "files" / host_path.lstrip("/")
        atomic_write(copy, real.read_bytes(), 0o600)
        entries.append(
            {
                "path": host_path,
                "existed": True,
                "mode": st.st_mode & 0o7777,
                "uid": st.st_uid,
                "gid": st.st_gid,
            }
        )
    index = {"command": command, "created": datetime.now(UTC).isoformat(), "files": entries}
    atomic_write(real_dir / "index.json", json.dumps(index, indent=2).encode(), 0o600)
    return host_dir


def latest_backup(host: Host) -> tuple[str, list[BackupEntry]] | None:
    base = host.path(BACKUP_DIR)
    if not base.is_dir():
        return None
    for candidate in sorted((p for p in base.iterdir() if (p / "index.json").is_file()), reverse=True):
        try:
            index = json.loads((candidate / "index.json").read_text())
            entries = [
                BackupEntry(
                    path=str(e["path"]),
                    existed=bool(e["existed"]),
                    mode=e.get("mode"),
                    uid=e.get("uid"),
                    gid=e.get("gid"),
                )
                for e in index["files"]
            ]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        return f"{BACKUP_DIR}/{candidate.name}", entries
    return None


def backup_copy(host: Host, backup_dir: str, host_path: str) -> bytes:
    try:
        return host.path(f"{backup_dir}/files/{host_path.lstrip('/')}").read_bytes()
    except OSError as exc:
        raise KauditError(
            f"{backup_dir}: the copy of {host_path} is unreadable ({exc}); nothing restored"
        ) from None
