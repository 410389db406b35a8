"""The desired audit configuration, grouped by backend; flags, mounts and the config hash derive from it."""

from __future__ import annotations

import hashlib
import posixpath
from dataclasses import dataclass, field

from kauditcfg.config.defaults import LOG_VOLUME, POLICY_VOLUME, WEBHOOK_VOLUME

# kube-apiserver's --audit-log-* options (k8s.io/apiserver/pkg/server/options/audit.go), in the
# order kauditcfg writes them (mode, batch and truncate options follow, as given).
LOG_FLAGS = ("maxage", "maxbackup", "maxsize", "format", "compress")


@dataclass(frozen=True)
class MountSpec:
    """A hostPath directory kube-apiserver needs, mounted at the same path inside the pod."""

    name: str
    path: str
    read_only: bool
    type: str = "DirectoryOrCreate"


@dataclass(frozen=True)
class LogBackend:
    """--audit-log-*: `path` "-" writes to stdout; unset options keep kube-apiserver's defaults."""

    path: str
    options: tuple[tuple[str, str], ...] = ()  # (name after "audit-log-", value), LOG_FLAGS first

    def flags(self) -> dict[str, str]:
        out = {"audit-log-path": self.path}
        out.update((f"audit-log-{name}", value) for name, value in self.options)
        return out


@dataclass(frozen=True)
class WebhookBackend:
    """--audit-webhook-*: the kubeconfig kube-apiserver posts events to, its mode and batch flags."""

    config_path: str
    kubeconfig: bytes
    mode: str | None = None
    options: tuple[tuple[str, str], ...] = ()  # (name after "audit-webhook-", value)
    files: tuple[str, ...] = ()  # host files the kubeconfig names (CA, client cert/key, token)

    def flags(self) -> dict[str, str]:
        out = {"audit-webhook-config-file": self.config_path}
        if self.mode is not None:
            out["audit-webhook-mode"] = self.mode
        out.update((f"audit-webhook-{name}", value) for name, value in self.options)
        return out


@dataclass(frozen=True)
class AuditConfig:
    """Everything kube-apiserver must be told about auditing, built once per run.

    `flags`, `mounts` and `config_hash` are derived, never stored, so they cannot disagree.
    """

    policy_path: str
    policy: bytes
    log: LogBackend | None
    webhook: WebhookBackend | None = None
    extra: dict[str, str] = field(default_factory=dict)  # other --audit-* flags, passed through

    @property
    def flags(self) -> dict[str, str]:
        """Flag name without "--" -> value, in the order kauditcfg writes them."""
        out = {"audit-policy-file": self.policy_path} if self.policy_path else {}
        if self.log is not None:
            out.update(self.log.flags())
        if self.webhook is not None:
            out.update(self.webhook.flags())
        out.update(self.extra)
        return out

    @property
    def mounts(self) -> tuple[MountSpec, ...]:
        return mounts_for(self.flags, self.webhook.files if self.webhook else ())

    @property
    def config_hash(self) -> str:
        return config_hash(self.flags, self.policy, self.webhook.kubeconfig if self.webhook else None)


def flags_and_mounts(config: AuditConfig) -> tuple[dict[str, str], tuple[MountSpec, ...]]:
    """What a kube-apiserver needs for `config`, for generators other than the manifest patcher.

    Returns (flags, mounts): flags map the name without "--" to its value (kubeadm's
    `apiServer.extraArgs`), and each MountSpec is a hostPath directory mounted at the same path
    (`apiServer.extraVolumes`: name, hostPath=mountPath=path, readOnly, pathType=type). The
    config hash is `config.config_hash`.
    """
    return config.flags, config.mounts


def _within_any(directory: str, dirs: list[str]) -> bool:
    return any(directory == d or directory.startswith(d.rstrip("/") + "/") for d in dirs)


def mounts_for(flags: dict[str, str], webhook_files: tuple[str, ...] = ()) -> tuple[MountSpec, ...]:
    """Directories, never files: log rotation renames the file, which a file bind mount forbids.

    `webhook_files` are the host files the webhook kubeconfig names; their directories are mounted
    read-only unless a directory mounted here already holds them (the patcher also reuses a mount
    the manifest has, such as kubeadm's read-only /etc/kubernetes/pki).
    """
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
    tls_dirs: list[str] = []
    for path in webhook_files:
        directory = posixpath.dirname(posixpath.normpath(path))
        if not _within_any(directory, [s.path for s in specs] + tls_dirs):
            tls_dirs.append(directory)
    for i, directory in enumerate(tls_dirs):
        name = WEBHOOK_VOLUME if i == 0 else f"{WEBHOOK_VOLUME}-{i}"
        specs.append(MountSpec(name, directory, read_only=True))
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
    """An AuditConfig from flag values (as a manifest or kubeadm config would hold them)."""
    rest = dict(flags)
    policy_path = rest.pop("audit-policy-file", "")
    log = None
    if "audit-log-path" in rest:
        path = rest.pop("audit-log-path")
        options = tuple((n, rest.pop(f"audit-log-{n}")) for n in LOG_FLAGS if f"audit-log-{n}" in rest)
        log = LogBackend(path, options)
    hook = None
    if "audit-webhook-config-file" in rest:
        config_path = rest.pop("audit-webhook-config-file")
        mode = rest.pop("audit-webhook-mode", None)
        names = [k for k in rest if k.startswith("audit-webhook-")]
        options = tuple((k.removeprefix("audit-webhook-"), rest.pop(k)) for k in names)
        hook = WebhookBackend(config_path, webhook or b"", mode, options)
    return AuditConfig(policy_path, policy, log, hook, rest)
