"""Backups: a copy of every file a run replaces, under /var/lib/kauditcfg/backups/<timestamp>/."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from kauditcfg.config.defaults import BACKUP_DIR
from kauditcfg.errors import KauditError
from kauditcfg.hostfs import Host
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


def new_backup_dir(host: Host) -> tuple[str, Path]:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    host_dir = f"{BACKUP_DIR}/{stamp}"
    return host_dir, host.path(host_dir)


def write_backup(host: Host, changes: list[FileChange], command: str) -> str:
    """Copy every file about to be replaced (and note the ones about to be created)."""
    host_dir, real_dir = new_backup_dir(host)
    real_dir.mkdir(parents=True, mode=0o700)
    entries: list[dict[str, object]] = []
    for change in changes:
        host_path = change.path
        real = host.path(host_path)
        try:
            st = real.stat()
        except FileNotFoundError:
            entries.append({"path": host_path, "existed": False, "role": change.role})
            continue
        copy = real_dir / "files" / host_path.lstrip("/")
        atomic_write(copy, real.read_bytes(), 0o600)
        entries.append(
            {
                "path": host_path,
                "existed": True,
                "role": change.role,
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
                    role=str(e.get("role", RESTORED)),
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
