"""The backups on a node, as a person manages them: list them, pick one by its time, prune old ones.

A backup is a directory under /var/lib/kauditcfg/backups named by the UTC time of the run that
took it (`20261125T162930.123456Z`, see `backup.new_stamp`) and holding a readable index.json.
Anything else there is not a backup kauditcfg took, and is never listed as one nor deleted: a
dot-named directory (a backup being written, or being pruned), a directory without index.json,
or a copy a person made under another name (`before-upgrade/`).
"""

from __future__ import annotations

import errno
import json
import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kauditcfg.config.defaults import BACKUP_DIR
from kauditcfg.errors import IOFailure, UsageError
from kauditcfg.hostfs import Host
from kauditcfg.ops.backup import BackupEntry, read_backup
from kauditcfg.ops.fs import FS

STAMP = re.compile(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})\.(\d{6})Z")
# What a person may type for a time: the name, the time as listed, or a leading part of either.
_TIME_INPUT = re.compile(r"[0-9Tt:. -]*[0-9][0-9Tt:. -]*(Z|UTC| UTC)?")
_PRUNING = ".pruning"


@dataclass(frozen=True)
class Backup:
    name: str  # the directory name: the UTC time of the run that took it
    command: str  # the run that took it (enable, disable, rollback --to NAME)
    files: list[BackupEntry]

    @property
    def path(self) -> str:
        return f"{BACKUP_DIR}/{self.name}"

    @property
    def time(self) -> str:
        """The run's time for people, to the second: `2026-11-25 16:29:30 UTC`."""
        y, mo, d, h, mi, s, _ = _stamp(self.name)
        return f"{y}-{mo}-{d} {h}:{mi}:{s} UTC"

    def to_json(self) -> dict[str, Any]:
        y, mo, d, h, mi, s, us = _stamp(self.name)
        return {
            "name": self.name,
            "path": self.path,
            "time": f"{y}-{mo}-{d}T{h}:{mi}:{s}.{us}Z",
            "command": self.command,
            "files": [
                {"path": e.path, "existed": e.existed, "rollback": rollback_action(e)} for e in self.files
            ],
        }


def rollback_action(entry: BackupEntry) -> str:
    """What restoring this backup does to the file: put the copy back, or remove what the run created."""
    return "restore" if entry.existed else "remove"


@dataclass
class Catalog:
    backups: list[Backup] = field(default_factory=list)  # newest first
    notes: list[str] = field(default_factory=list)  # what lies there that is not a backup

    @property
    def newest(self) -> Backup | None:
        return self.backups[0] if self.backups else None


def _stamp(name: str) -> tuple[str, ...]:
    match = STAMP.fullmatch(name)
    assert match is not None, name  # only stamp-named directories become a Backup
    return match.groups()


def _command(host: Host, directory: str) -> str:
    try:
        value = json.loads(host.path(f"{directory}/index.json").read_bytes()).get("command")
    except (OSError, ValueError, AttributeError):
        return "?"
    return value if isinstance(value, str) else "?"


def list_backups(host: Host) -> Catalog:
    """Every complete backup kauditcfg took on this node, newest first (names sort as times)."""
    catalog = Catalog()
    base = host.path(BACKUP_DIR)
    if not base.exists():
        return catalog
    if not base.is_dir():
        catalog.notes.append(f"{BACKUP_DIR}: not a directory, so no backup can be kept; move it away")
        return catalog
    for entry in sorted(base.iterdir(), key=lambda p: p.name, reverse=True):
        name = entry.name
        if name.startswith("."):
            continue  # a backup being written (renamed into place when complete) or being pruned
        directory = f"{BACKUP_DIR}/{name}"
        files = read_backup(host, directory) if STAMP.fullmatch(name) and entry.is_dir() else None
        if files is None:
            catalog.notes.append(
                f"{directory}: not a complete kauditcfg backup (no readable index.json); left alone"
            )
            continue
        catalog.backups.append(Backup(name, _command(host, directory), files))
    return catalog


def root_option(host: Host) -> str:
    """` --root DIR` for a hint, so the command it suggests works on the same node (or sandbox)."""
    return "" if host.root == Path("/") else f" --root {shlex.quote(str(host.root))}"


def _time_key(text: str) -> str:
    """The digits of a time: `2026-11-25 16:29:30`, `20261125T162930.1` and the full name compare alike."""
    return "".join(ch for ch in text if ch.isdigit())


def find_backup(host: Host, wanted: str) -> Backup:
    """The backup `wanted` names: its directory name, its time as listed, or a unique leading part."""
    catalog = list_backups(host)
    hint = "list them with: kauditcfg rollback --list" + root_option(host)
    exact = [b for b in catalog.backups if b.name == wanted.strip()]
    if exact:
        return exact[0]
    key = _time_key(wanted) if _TIME_INPUT.fullmatch(wanted.strip()) else ""
    matches = [b for b in catalog.backups if key and _time_key(b.name).startswith(key)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        names = ", ".join(b.name for b in matches[:5]) + (", ..." if len(matches) > 5 else "")
        raise UsageError(f"--to {wanted!r}: matches {len(matches)} backups ({names}); give more of the time")
    if not catalog.backups:
        raise UsageError(
            f"--to {wanted!r}: there is no backup in {BACKUP_DIR} yet; run enable or disable first"
        )
    raise UsageError(f"--to {wanted!r}: no backup of that name or time in {BACKUP_DIR}; {hint}")


@dataclass
class Pruned:
    removed: list[str] = field(default_factory=list)  # host paths of the backups deleted
    warnings: list[str] = field(default_factory=list)


def prune(host: Host, fs: FS, keep: int, protect: str | None = None) -> Pruned:
    """Delete the complete backups older than the newest `keep` (0: keep them all).

    `protect` (the backup the current run just took) is never deleted, whatever its name. Each
    backup is first renamed to a dot name, which listing and `rollback` skip, then removed: a
    crash in between leaves no half backup that `rollback` could read. Never raises: the change
    this follows is already applied, and an old backup that stays is only a warning.
    """
    out = Pruned()
    if keep <= 0:
        return out
    try:
        catalog = list_backups(host)
        base = host.path(BACKUP_DIR)
        names = [p.name for p in base.iterdir()] if base.is_dir() else []
        leftovers = [n for n in names if n.startswith(".") and n.endswith(_PRUNING)]
    except OSError as exc:
        out.warnings.append(f"{BACKUP_DIR}: old backups not pruned ({os.strerror(exc.errno or 0)})")
        return out
    for leftover in leftovers:  # a prune that was interrupted
        fs.discard(base / leftover)
    for backup in catalog.backups[keep:]:
        if backup.path == protect:
            continue
        trash = host.path(f"{BACKUP_DIR}/.{backup.name}{_PRUNING}")
        try:
            fs.rename(host.path(backup.path), trash)
        except IOFailure as exc:
            if exc.errno == errno.ENOENT:
                continue  # removed meanwhile (a run on another manifest, or a person)
            reason = os.strerror(exc.errno) if exc.errno else "unknown error"
            out.warnings.append(f"{backup.path}: old backup not removed ({reason}); remove it by hand")
            continue
        fs.discard(trash)
        out.removed.append(backup.path)
    return out
