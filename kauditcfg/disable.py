"""`disable`: every audit flag, volume, mount and the hash annotation out; `--purge` the files too."""

from __future__ import annotations

from kauditcfg.hostfs import DEFAULT_MANIFEST, Host
from kauditcfg.manifest.files import file_stat, read_manifest
from kauditcfg.manifest.patch import patch_manifest
from kauditcfg.plan import FileChange, Plan
from kauditcfg.state import load_state


def plan_disable(host: Host, manifest: str = DEFAULT_MANIFEST, purge: bool = False) -> Plan:
    pod, before, stat = read_manifest(host, manifest)
    after = patch_manifest(pod, None).encode("utf-8")
    plan = Plan(command="disable")
    plan.files.append(FileChange(manifest, before, after, mode=stat[0], keep_mode=True, before_stat=stat))
    if purge:
        for path in load_state(host).written:
            current = host.read_bytes(path)
            if current is not None:
                plan.files.insert(0, FileChange(path, current, None, before_stat=file_stat(host, path)))
    plan.restart_required = before != after
    return plan
