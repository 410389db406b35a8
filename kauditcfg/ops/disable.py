"""`disable`: every audit flag, volume, mount and the hash annotation out; `--purge` the files too."""

from __future__ import annotations

from dataclasses import dataclass

from kauditcfg.config.defaults import DEFAULT_MANIFEST
from kauditcfg.hostfs import Host, normalize
from kauditcfg.manifest.files import read_manifest
from kauditcfg.manifest.patch import patch_manifest
from kauditcfg.ops.plan import MANIFEST, POLICY, FileChange, Plan
from kauditcfg.ops.state import load_state


@dataclass
class DisablePlanner:
    manifest: str = DEFAULT_MANIFEST
    purge: bool = False
    force: bool = False  # --purge also removes files edited by hand since kauditcfg wrote them

    def __post_init__(self) -> None:
        self.manifest = normalize(self.manifest, "--manifest")

    def plan(self, host: Host) -> Plan:
        pod, before, stat = read_manifest(host, self.manifest)
        after = patch_manifest(pod, None).encode("utf-8")
        plan = Plan(command="disable", restart_required=before != after)
        if self.purge:
            state = load_state(host)
            for path in state.written:
                current = host.read_bytes(path)
                if current is not None and state.edited(path, current) and not self.force:
                    plan.warnings.append(
                        f"{path}: edited by hand since kauditcfg wrote it; kept "
                        "(pass --force to remove it too)"
                    )
                    continue
                if current is not None:
                    change = FileChange(path, current, None, POLICY, True, before_stat=host.stat(path))
                    plan.files.insert(0, change)  # listed in the order kauditcfg wrote them, newest first
        mode, uid, gid = stat
        plan.files.append(FileChange(self.manifest, before, after, MANIFEST, False, mode, uid, gid, stat))
        return plan

    def preflight(self, host: Host, plan: Plan) -> Plan:
        return plan
