"""`kubeadm config --in-place` and `kubeadm patches` as planners for the one transaction.

Pure planning: read what is there, compute the wanted bytes, return a Plan; `ops.transaction`
takes the lock, backs up and writes.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field

from kauditcfg.config.defaults import DEFAULT_MANIFEST
from kauditcfg.config.options import EnableOptions
from kauditcfg.errors import InvalidInput, UsageError
from kauditcfg.hostfs import Host
from kauditcfg.kubeadm.clusterconfig import api_version_for, check_api, render_cluster_configuration
from kauditcfg.kubeadm.merge import KubeadmConfig, load_kubeadm_config, merge_audit, other_api
from kauditcfg.kubeadm.patches import FORMATS, own_files, patch_path, patch_text, review_directory
from kauditcfg.kubeadm.settings import KubeadmAudit, kubeadm_audit
from kauditcfg.manifest.pod import load_apiserver_pod
from kauditcfg.ops.plan import KUBEADM_PATCH, FileChange, Plan
from kauditcfg.versions import Version

KUBEADM_CONFIG = "kubeadm-config"  # the user's kubeadm config file (not kauditcfg's to purge)


@dataclass
class Emitted:
    """A kubeadm config as text, and what was adopted or noticed on the way."""

    text: str
    notes: list[str] = field(default_factory=list)


def _decode(data: bytes, path: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{path}: not UTF-8 text (byte {exc.start}); expected a kubeadm config") from None


def read_config_file(host: Host, path: str) -> tuple[KubeadmConfig, bytes]:
    data = host.read_bytes(path)
    if data is None:
        raise InvalidInput(f"{path}: no such file; pass --in with your kubeadm config file")
    return load_kubeadm_config(_decode(data, path), path), data


def merged_config(
    config: KubeadmConfig, opts: EnableOptions, explicit: set[str], api: str | None
) -> tuple[Emitted, KubeadmAudit]:
    """`config` with the audit settings merged in (its own API version wins over --api-version)."""
    if api is not None:
        check_api(api)
    if api is not None and config.api is not None and api != config.api:
        raise UsageError(
            f"{config.source}: its ClusterConfiguration is {config.api}, not {api}; convert the file with "
            "`kubeadm config migrate` first, or leave out --api-version"
        )
    audit = kubeadm_audit(opts, explicit, config.audit_flags, config.kubernetes_version)
    new_api = api or config.api or other_api(config) or api_version_for(opts.kubernetes_version)
    result = merge_audit(config, audit.config, check_api(new_api))
    return Emitted(result.text, audit.notes + result.notes), audit


def fresh_config(opts: EnableOptions, explicit: set[str], api: str | None) -> Emitted:
    audit = kubeadm_audit(opts, explicit, {}, opts.kubernetes_version)
    chosen = check_api(api or api_version_for(opts.kubernetes_version))
    return Emitted(render_cluster_configuration(audit.config, chosen), audit.notes)


@dataclass
class KubeadmConfigPlanner:
    """`kubeadm config --in FILE --in-place`: the file rewritten with the audit settings merged."""

    path: str
    options: EnableOptions
    explicit: set[str]
    api: str | None = None
    manifest: str = DEFAULT_MANIFEST  # the node lock is taken on its directory

    def plan(self, host: Host) -> Plan:
        config, before = read_config_file(host, self.path)
        emitted, _ = merged_config(config, self.options, self.explicit, self.api)
        stat = host.stat(self.path)
        mode, uid, gid = stat if stat is not None else (0o600, None, None)
        plan = Plan(command="kubeadm-config", warnings=list(emitted.notes))
        plan.files.append(
            FileChange(
                self.path, before, emitted.text.encode("utf-8"), KUBEADM_CONFIG, False, mode, uid, gid, stat
            )
        )
        return plan

    def preflight(self, host: Host, plan: Plan) -> Plan:
        return plan  # nothing here can stop kube-apiserver: kubeadm reads the file at init/upgrade


def _node_manifest(host: Host, manifest: str) -> tuple[dict[str, str], Version | None]:
    """The audit flags and Kubernetes version of the manifest on this node, when there is one."""
    data = host.read_bytes(manifest)
    if data is None:
        return {}, None
    pod = load_apiserver_pod(_decode(data, manifest), manifest)
    flags = {k: v for k, v in pod.audit_flags().items() if v is not None}
    return flags, pod.kubernetes_version()


@dataclass
class KubeadmPatchesPlanner:
    """`kubeadm patches --dir DIR`: kauditcfg's one kube-apiserver patch file in the directory."""

    directory: str
    fmt: str
    options: EnableOptions
    explicit: set[str]
    manifest: str = DEFAULT_MANIFEST

    def plan(self, host: Host) -> Plan:
        if self.fmt not in FORMATS:
            raise UsageError(
                f"--format {self.fmt!r}: choose strategic or json "
                "(a +merge patch would replace the containers list)"
            )
        if not self.directory.startswith("/"):
            raise UsageError(f"--dir {self.directory!r}: must be an absolute path on the node")
        existing, version = _node_manifest(host, self.manifest)
        audit = kubeadm_audit(self.options, self.explicit, existing, version)
        target = patch_path(self.directory, self.fmt)
        real_dir = host.path(self.directory)
        names = sorted(p.name for p in real_dir.iterdir()) if real_dir.is_dir() else []
        plan = Plan(command="kubeadm-patches", warnings=list(audit.notes))
        for name in own_files(names):
            path = posixpath.join(self.directory, name)
            if path != target:
                stat = host.stat(path)
                plan.files.append(
                    FileChange(path, host.read_bytes(path), None, KUBEADM_PATCH, True, before_stat=stat)
                )
        text = patch_text(audit.config, self.fmt).encode()
        # owned: `disable --purge` removes it, or the next `kubeadm upgrade` would point
        # kube-apiserver at a purged policy file
        plan.files.append(
            FileChange(
                target, host.read_bytes(target), text, KUBEADM_PATCH, True, 0o600, 0, 0, host.stat(target)
            )
        )
        issues = review_directory(names, posixpath.basename(target))
        plan.warnings.extend(f"{self.directory}/{i.name}: {i.problem}" for i in issues)
        return plan

    def preflight(self, host: Host, plan: Plan) -> Plan:
        return plan  # the patch takes effect only at the next kubeadm init/join/upgrade
