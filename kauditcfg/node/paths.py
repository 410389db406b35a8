"""Who kube-apiserver runs as, and every host path it opens for auditing, resolved through its mounts."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Any

from kauditcfg.access import Identity, identity_from_security
from kauditcfg.errors import KauditError
from kauditcfg.hostfs import Host
from kauditcfg.manifest.pod import ApiServerPod, path_within


def identity_of(pod: ApiServerPod) -> Identity:
    user, group, supplemental, fs_group = pod.security()
    ctr_sc = pod.container.get("securityContext") or {}
    caps = ctr_sc.get("capabilities") if isinstance(ctr_sc, dict) else None
    return identity_from_security(user, group, supplemental, fs_group, caps)


def reader_ownership(who: Identity) -> tuple[int, int, int]:
    """(uid, gid, mode) for a file kube-apiserver must read and nobody else needs to."""
    if who.is_root:
        return 0, 0, 0o600
    if who.gid != 0:
        return 0, who.gid, 0o640
    return who.uid, 0, 0o600


@dataclass
class AuditPath:
    """A path kube-apiserver opens, as written (container view) and as found on the host."""

    label: str  # how to name it in a message: "--audit-policy-file=/etc/..."
    kind: str  # "policy" | "log-dir" | "webhook" | "webhook-ref"
    container_path: str
    host_path: str | None = None  # None: no hostPath mount covers it
    mount: dict[str, Any] | None = None
    volume: dict[str, Any] | None = None

    @property
    def mount_root(self) -> str | None:
        """The host directory (or file) the covering hostPath volume binds."""
        host = (self.volume or {}).get("hostPath")
        return str(host["path"]) if isinstance(host, dict) and "path" in host else None


def _abs(path: str) -> str:
    # kube-apiserver resolves relative paths against its working directory, "/" in every image.
    return posixpath.normpath(posixpath.join("/", path))


def flag_value(pod: ApiServerPod, name: str) -> str | None:
    """The value kube-apiserver uses, None when unset or empty (an empty path disables a backend)."""
    value = pod.flag(name)
    return value if value not in (None, "") else None


def log_path_of(pod: ApiServerPod) -> str | None:
    """`--audit-log-path` as an absolute path, None when unset or `-` (stdout)."""
    value = flag_value(pod, "audit-log-path")
    return None if value in (None, "-") else _abs(str(value))


def resolve(pod: ApiServerPod, label: str, kind: str, container_path: str) -> AuditPath:
    host, mount = pod.host_path_of(container_path)
    volume = pod.volume(str(mount.get("name"))) if mount is not None else None
    return AuditPath(label, kind, container_path, host, mount, volume)


def audit_paths(pod: ApiServerPod, webhook_text: str | None = None) -> list[AuditPath]:
    """Every path kube-apiserver will open for auditing, resolved through the pod's mounts."""
    paths: list[AuditPath] = []
    policy = flag_value(pod, "audit-policy-file")
    if policy is not None:
        paths.append(resolve(pod, f"--audit-policy-file={policy}", "policy", _abs(policy)))
    log = log_path_of(pod)
    if log is not None:
        paths.append(resolve(pod, f"--audit-log-path={log}", "log-dir", posixpath.dirname(log)))
    webhook = flag_value(pod, "audit-webhook-config-file")
    if webhook is not None:
        paths.append(resolve(pod, f"--audit-webhook-config-file={webhook}", "webhook", _abs(webhook)))
        if webhook_text is not None:
            for field_name, ref in webhook_references(webhook_text, _abs(webhook)):
                paths.append(resolve(pod, f"{field_name} {ref} (in {webhook})", "webhook-ref", ref))
    return paths


_KUBECONFIG_FILES = (
    ("clusters", "cluster", ("certificate-authority",)),
    ("users", "user", ("client-certificate", "client-key", "tokenFile")),
)


def webhook_references(text: str, container_path: str) -> list[tuple[str, str]]:
    """(field, absolute container path) of every file the webhook kubeconfig points at.

    client-go resolves relative paths against the kubeconfig's own directory.
    """
    data = safe_yaml(text)
    if not isinstance(data, dict):
        return []
    base = posixpath.dirname(container_path)
    refs: list[tuple[str, str]] = []
    for section, inner, keys in _KUBECONFIG_FILES:
        for entry in data.get(section) or []:
            body = entry.get(inner) if isinstance(entry, dict) else None
            if not isinstance(body, dict):
                continue
            for key in keys:
                value = body.get(key)
                if isinstance(value, str) and value:
                    ref = posixpath.normpath(posixpath.join(base, value))
                    refs.append((f"{section}[].{inner}.{key}", ref))
    return refs


def safe_yaml(text: str) -> Any:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        return YAML(typ="safe", pure=True).load(text)
    except (YAMLError, ValueError):
        return None


def int_flag(pod: ApiServerPod, name: str) -> int | None:
    value = pod.flag(name)
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


def search_chain(p: AuditPath, host_target: str) -> list[str]:
    """Host directories kube-apiserver traverses inside the mount to reach `host_target`."""
    root = p.mount_root
    if root is None or not path_within(host_target, root) or host_target == root:
        return []
    chain = [root]
    rel = posixpath.relpath(posixpath.dirname(host_target), root)
    if rel != ".":
        current = root
        for part in rel.split("/"):
            current = posixpath.join(current, part)
            chain.append(current)
    return chain


def webhook_text(host: Host, pod: ApiServerPod, planned: dict[str, bytes] | None = None) -> str | None:
    """The webhook kubeconfig kube-apiserver will read: the planned bytes, else the host's file."""
    webhook = flag_value(pod, "audit-webhook-config-file")
    if webhook is None:
        return None
    host_path, _ = pod.host_path_of(_abs(webhook))
    if host_path is None:
        return None
    host_path = posixpath.normpath(host_path)
    data = (planned or {}).get(host_path)
    if data is None:
        data = read_or_none(host, host_path)
    return data.decode("utf-8", errors="replace") if data is not None else None


def read_or_none(host: Host, host_path: str) -> bytes | None:
    """The file's bytes; None when missing or unreadable (the access judgements report why)."""
    try:
        return host.read_bytes(host_path)
    except KauditError:
        return None
