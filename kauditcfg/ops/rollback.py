"""`rollback`: put back the files the most recent change replaced, from its backup (or a chosen one)."""

from __future__ import annotations

from dataclasses import dataclass

from kauditcfg.config.defaults import BACKUP_DIR, DEFAULT_MANIFEST
from kauditcfg.errors import InvalidInput
from kauditcfg.hostfs import Host, normalize
from kauditcfg.ops.backup import BackupEntry, backup_copy
from kauditcfg.ops.backup_catalog import find_backup, list_backups
from kauditcfg.ops.plan import FileChange, Plan


def restore_plan(host: Host, backup_dir: str, entries: list[BackupEntry]) -> Plan:
    """The files of `backup_dir` as they were before the run that took it."""
    plan = Plan(command="rollback", restored_from=backup_dir, backup=False)
    for entry in entries:
        current = host.read_bytes(entry.path)
        stat = host.stat(entry.path)
        if entry.existed:
            after = backup_copy(host, backup_dir, entry.path)
            mode = entry.mode if entry.mode is not None else 0o600
            plan.files.append(
                FileChange(entry.path, current, after, entry.role, False, mode, entry.uid, entry.gid, stat)
            )
        elif current is not None:
            plan.files.append(FileChange(entry.path, current, None, entry.role, False, before_stat=stat))
    plan.restart_required = any(f.changed for f in plan.files)
    return plan


@dataclass
class RollbackPlanner:
    """Without `to`: undo the last change that was applied (the newest backup).

    With `to` (a backup's name or time as `rollback --list` shows it, or a unique leading part):
    put the files back as they were before that run. That is a change like `enable`, so it takes
    its own backup: it is listed, and a plain `rollback` undoes it.
    """

    manifest: str = DEFAULT_MANIFEST
    to: str | None = None

    def __post_init__(self) -> None:
        self.manifest = normalize(self.manifest, "--manifest")

    def plan(self, host: Host) -> Plan:
        if self.to is not None:
            chosen = find_backup(host, self.to)
            plan = restore_plan(host, chosen.path, chosen.files)
            plan.command, plan.backup = f"rollback --to {chosen.name}", True
            return plan
        newest = list_backups(host).newest
        if newest is None:
            raise InvalidInput(f"{BACKUP_DIR}: no backup to roll back to; run enable or disable first")
        return restore_plan(host, newest.path, newest.files)

    def preflight(self, host: Host, plan: Plan) -> Plan:
        return plan
