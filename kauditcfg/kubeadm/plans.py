"""`kubeadm config --in-place` and `kubeadm patches` as plans for the one writer.

Pure planning: read what is there, compute the wanted bytes, return a Plan (nothing is written here).
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field

from kauditcfg.enable import EnableOptions
from kauditcfg.errors import InvalidInput, UsageError
from kauditcfg.hostfs import Host
from kauditcfg.kubeadm.clusterconfig import api_version_for, check_api, render_cluster_configuration
from kauditcfg.kubeadm.merge import KubeadmConfig, load_kubeadm_config, merge_audit, other_api
from kauditcfg.kubeadm.patches import own_files, patch_path, patch_text, review_directory
from kauditcfg.kubeadm.settings import KubeadmAudit, kubeadm_audit
from kauditcfg.manifest.files import file_stat
from kauditcfg.manifest.pod import load_apiserver_pod
from kauditcfg.plan import FileChange, Plan
from kauditcfg.versions import Version


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
    if api is not None and config.api is not None and api != check_api(api):
        raise UsageError(f"--api-version {api!r}: choose v1beta3 or v1beta4")
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


def plan_config_in_place(
    host: Host, path: str, opts: EnableOptions, explicit: set[str], api: str | None
) -> tuple[Plan, list[str]]:
    config, before = read_config_file(host, path)
    emitted, _ = merged_config(config, opts, explicit, api)
    stat = file_stat(host, path)
    plan = Plan(command="kubeadm-config")
    plan.files.append(
        FileChange(
            path,
            before,
            emitted.text.encode("utf-8"),
            mode=stat[0] if stat else 0o600,
            keep_mode=True,
            before_stat=stat,
        )
    )
    plan.warnings.extend(emitted.notes)
    return plan, emitted.notes


def _node_manifest(host: Host, manifest: str) -> tuple[dict[str, str], Version | None]:
    """The audit flags and Kubernetes version of the manifest on this node, when there is one."""
    data = host.read_bytes(manifest)
    if data is None:
        return {}, None
    pod = load_apiserver_pod(_decode(data, manifest), manifest)
    flags = {k: v for k, v in pod.audit_flags().items() if v is not None}
    return flags, pod.kubernetes_version()


def plan_patches(
    host: Host, directory: str, fmt: str, opts: EnableOptions, explicit: set[str], manifest: str
) -> Plan:
    if fmt not in ("strategic", "json"):
        raise UsageError(
            f"--format {fmt!r}: choose strategic or json (kubeadm's +merge would drop containers)"
        )
    if not directory.startswith("/"):
        raise UsageError(f"--dir {directory!r}: must be an absolute path on the node")
    existing, version = _node_manifest(host, manifest)
    audit = kubeadm_audit(opts, explicit, existing, version)
    target = patch_path(directory, fmt)
    real_dir = host.path(directory)
    names = sorted(p.name for p in real_dir.iterdir()) if real_dir.is_dir() else []
    plan = Plan(command="kubeadm-patches")
    for name in own_files(names):
        path = posixpath.join(directory, name)
        if path != target:
            plan.files.append(
                FileChange(path, host.read_bytes(path), None, before_stat=file_stat(host, path))
            )
    plan.files.append(
        FileChange(
            target,
            host.read_bytes(target),
            patch_text(audit.config, fmt).encode(),
            mode=0o600,
            before_stat=file_stat(host, target),
        )
    )
    plan.warnings.extend(audit.notes)
    plan.warnings.extend(
        f"{directory}/{i.name}: {i.problem}" for i in review_directory(names, posixpath.basename(target))
    )
    return plan
