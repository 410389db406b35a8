"""`rollback`: put back the files the most recent enable/disable replaced, from its backup."""

from __future__ import annotations

from dataclasses import dataclass

from kauditcfg.config.defaults import BACKUP_DIR, DEFAULT_MANIFEST
from kauditcfg.errors import InvalidInput
from kauditcfg.hostfs import Host, normalize
from kauditcfg.ops.backup import BackupEntry, backup_copy, latest_backup
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
    manifest: str = DEFAULT_MANIFEST

    def __post_init__(self) -> None:
        self.manifest = normalize(self.manifest, "--manifest")

    def plan(self, host: Host) -> Plan:
        found = latest_backup(host)
        if found is None:
            raise InvalidInput(f"{BACKUP_DIR}: no backup to roll back to; run enable or disable first")
        return restore_plan(host, *found)

    def preflight(self, host: Host, plan: Plan) -> Plan:
        return plan
