"""`rollback`: put back the files the most recent enable/disable replaced, from its backup."""

from __future__ import annotations

from kauditcfg.errors import InvalidInput
from kauditcfg.hostfs import Host, backup_copy, latest_backup
from kauditcfg.manifest.files import file_stat
from kauditcfg.plan import FileChange, Plan


def plan_rollback(host: Host) -> Plan:
    found = latest_backup(host)
    if found is None:
        raise InvalidInput(
            "/var/lib/kauditcfg/backups: no backup to roll back to; run enable or disable first"
        )
    backup_dir, entries = found
    plan = Plan(command="rollback", restored_from=backup_dir)
    for entry in entries:
        current = host.read_bytes(entry.path)
        stat = file_stat(host, entry.path)
        if entry.existed:
            plan.files.append(
                FileChange(
                    entry.path,
                    current,
                    backup_copy(host, backup_dir, entry.path),
                    mode=entry.mode if entry.mode is not None else 0o600,
                    uid=entry.uid,
                    gid=entry.gid,
                    before_stat=stat,
                )
            )
        elif current is not None:
            plan.files.append(FileChange(entry.path, current, None, before_stat=stat))
    plan.restart_required = any(f.changed for f in plan.files)
    return plan
