"""The audit configuration `enable` wants on the node: flags, mounts and the config hash."""

from __future__ import annotations

import hashlib
import posixpath
from dataclasses import dataclass

POLICY_PATH = "/etc/kubernetes/audit/policy.yaml"
LOG_PATH = "/var/log/kubernetes/audit/audit.log"
WEBHOOK_CONFIG_PATH = "/etc/kubernetes/audit/webhook-kubeconfig.yaml"
HASH_ANNOTATION = "kauditcfg.io/config-hash"

POLICY_VOLUME = "audit-policy"
LOG_VOLUME = "audit-log"


@dataclass(frozen=True)
class MountSpec:
    """A hostPath directory kube-apiserver needs, mounted at the same path inside the pod."""

    name: str
    path: str
    read_only: bool
    type: str = "DirectoryOrCreate"


@dataclass(frozen=True)
class AuditConfig:
    flags: dict[str, str]  # flag name without "--" -> value
    mounts: tuple[MountSpec, ...]
    config_hash: str


def mounts_for(flags: dict[str, str]) -> tuple[MountSpec, ...]:
    """Directories, never files: log rotation renames the file, which a file bind mount forbids."""
    specs: list[MountSpec] = []
    log_path = flags.get("audit-log-path")
    log_dir = posixpath.dirname(posixpath.normpath(log_path)) if log_path and log_path != "-" else None
    if log_dir:
        specs.append(MountSpec(LOG_VOLUME, log_dir, read_only=False))
    read_paths = [flags[f] for f in ("audit-policy-file", "audit-webhook-config-file") if flags.get(f)]
    read_dirs: list[str] = []
    for path in read_paths:
        directory = posixpath.dirname(posixpath.normpath(path))
        if log_dir and (directory == log_dir or directory.startswith(log_dir + "/")):
            continue  # already inside the writable log mount
        if directory not in read_dirs:
            read_dirs.append(directory)
    for i, directory in enumerate(read_dirs):
        name = POLICY_VOLUME if i == 0 else f"{POLICY_VOLUME}-{i}"
        specs.insert(i, MountSpec(name, directory, read_only=True))
    return tuple(specs)


def config_hash(flags: dict[str, str], policy: bytes, webhook: bytes | None) -> str:
    """Changes whenever anything kube-apiserver reads only at start changes, so the kubelet restarts it."""
    digest = hashlib.sha256()
    for name in sorted(flags):
        digest.update(f"--{name}={flags[name]}\n".encode())
    digest.update(b"\0policy\0" + policy)
    digest.update(b"\0webhook\0" + (webhook or b""))
    return "sha256:" + digest.hexdigest()[:32]


def build_config(flags: dict[str, str], policy: bytes, webhook: bytes | None = None) -> AuditConfig:
    return AuditConfig(
        flags=dict(flags), mounts=mounts_for(flags), config_hash=config_hash(flags, policy, webhook)
    )
