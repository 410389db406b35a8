"""Backups: a copy of every file a run replaces, under /var/lib/kauditcfg/backups/<timestamp>/.

A backup directory is complete (with index.json) or absent: it is written under a dot name and
renamed into place, so `rollback` never reads half a backup.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from kauditcfg.errors import KauditError
from kauditcfg.hostfs import Host
from kauditcfg.ops.fs import FS
from kauditcfg.ops.plan import RESTORED, FileChange
from kauditcfg.ops.writer import atomic_write


@dataclass(frozen=True)
class BackupEntry:
    path: str  # host path
    existed: bool
    role: str = RESTORED
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None


def new_stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")


def staging_dir(host_dir: str) -> str:
    parent, _, name = host_dir.rpartition("/")
    return f"{parent}/.{name}.partial"


def make_dirs(fs: FS, host: Host, host_dir: str) -> list[str]:
    """Create `host_dir` and its missing parents (0700: backups hold the policy and manifest)."""
    missing = []
    current = host_dir
    while current != "/" and not host.path(current).exists():
        missing.append(current)
        current = current.rsplit("/", 1)[0] or "/"
    created: list[str] = []
    try:
        for directory in reversed(missing):
            fs.mkdir(host.path(directory), 0o700)
            created.append(directory)
    except BaseException:
        for directory in reversed(created):
            fs.discard(host.path(directory))
        raise
    return created


def write_backup(fs: FS, host: Host, host_dir: str, changes: list[FileChange], command: str) -> None:
    """Copy every file about to be replaced (and note the ones about to be created) into `host_dir`."""
    staging = staging_dir(host_dir)
    make_dirs(fs, host, staging)
    entries: list[dict[str, object]] = []
    for change in changes:
        stat = host.stat(change.path)
        data = host.read_bytes(change.path)
        if stat is None or data is None:
            entries.append({"path": change.path, "existed": False, "role": change.role})
            continue
        copy = f"{staging}/files{change.path}"
        make_dirs(fs, host, copy.rsplit("/", 1)[0])
        atomic_write(host.path(copy), data, 0o600, fs=fs)
        mode, uid, gid = stat
        entries.append(
            {"path": change.path, "existed": True, "role": change.role, "mode": mode, "uid": uid, "gid": gid}
        )
    index = {"command": command, "created": datetime.now(UTC).isoformat(), "files": entries}
    atomic_write(host.path(f"{staging}/index.json"), json.dumps(index, indent=2).encode(), 0o600, fs=fs)
    fs.rename(host.path(staging), host.path(host_dir))


def read_backup(host: Host, host_dir: str) -> list[BackupEntry] | None:
    """The entries of a complete backup; None when it is absent or unreadable."""
    try:
        index = json.loads(host.path(f"{host_dir}/index.json").read_text())
        return [
            BackupEntry(
                path=str(e["path"]),
                existed=bool(e["existed"]),
                role=str(e.get("role", RESTORED)),
                mode=e.get("mode"),
                uid=e.get("uid"),
                gid=e.get("gid"),
            )
            for e in index["files"]
        ]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def backup_copy(host: Host, backup_dir: str, host_path: str) -> bytes:
    try:
        return host.path(f"{backup_dir}/files{host_path}").read_bytes()
    except OSError as exc:
        raise KauditError(
            f"{backup_dir}: the copy of {host_path} is unreadable ({exc.strerror}); nothing restored"
        ) from None


def remove_backup(fs: FS, host: Host, host_dir: str) -> None:
    fs.discard(host.path(staging_dir(host_dir)))
    fs.discard(host.path(host_dir))
