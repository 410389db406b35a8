"""Judgements about the node around the pod: SELinux, etcd's filesystem, stray static-pod files."""

from __future__ import annotations

import os
import posixpath
import re

from kauditcfg.config.defaults import DEFAULT_MANIFEST, KUBELET_CONFIG, LOG_PATH
from kauditcfg.config.findings import Finding
from kauditcfg.errors import KauditError
from kauditcfg.hostfs import Host
from kauditcfg.node.paths import safe_yaml

DEFAULT_LOG_DIR = posixpath.dirname(LOG_PATH)
SELINUX_ENFORCE = "/sys/fs/selinux/enforce"
ETCD_DATA_DIR = "/var/lib/etcd"
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


def selinux_findings(host: Host, log_dir: str) -> list[Finding]:
    out: list[Finding] = []
    try:
        enforcing = host.path(SELINUX_ENFORCE).read_text().strip() == "1"
    except OSError:
        return []
    if not enforcing or log_dir == DEFAULT_LOG_DIR:
        return []
    label = ""
    real = host.path(log_dir)
    try:
        label = os.getxattr(real, "security.selinux").rstrip(b"\0").decode()
    except (OSError, AttributeError, UnicodeDecodeError):
        label = ""
    out.append(
        Finding(
            "selinux-log-dir",
            "low",
            f"SELinux is enforcing and the audit log directory {log_dir} is a custom location"
            + (f" (label {label})" if label else "")
            + "; if kube-apiserver gets 'permission denied', label it for containers: "
            f"semanage fcontext -a -t container_file_t '{log_dir}(/.*)?' && restorecon -R {log_dir}",
            log_dir,
        ),
    )
    return out


def etcd_findings(host: Host, log_dir: str) -> list[Finding]:
    out: list[Finding] = []
    etcd = host.path(ETCD_DATA_DIR)
    if not etcd.is_dir():
        return []
    existing = log_dir
    while existing != "/" and not host.path(existing).exists():
        existing = posixpath.dirname(existing)
    if host.path(existing).stat().st_dev == etcd.stat().st_dev:
        out.append(
            Finding(
                "log-on-etcd-filesystem",
                "low",
                f"the audit log directory {log_dir} is on the same filesystem as {ETCD_DATA_DIR}: a log "
                "burst can fill etcd's disk and stop the cluster; give the audit logs their own filesystem "
                "or keep the rotation budget small",
                log_dir,
            ),
        )
    return out


def static_pod_dirs(host: Host) -> set[str]:
    """kubeadm's default and, when the kubelet config says otherwise, its staticPodPath."""
    dirs = {posixpath.dirname(DEFAULT_MANIFEST)}
    try:
        text = host.read_bytes(KUBELET_CONFIG)
    except KauditError:
        text = None
    if text:
        match = re.search(rb"^staticPodPath:\s*['\"]?([^'\"\s#]+)", text, re.MULTILINE)
        if match:
            dirs.add(posixpath.normpath(match.group(1).decode("utf-8", errors="replace")))
    return dirs


def stray_findings(host: Host, manifest: str) -> list[Finding]:
    """The kubelet runs every non-dot file in its static pod directory, whatever the extension.

    Only a directory the kubelet actually watches is judged: a manifest checked out in a Git
    repository sits beside unrelated YAML.
    """
    out: list[Finding] = []
    directory = posixpath.dirname(manifest)
    if directory not in static_pod_dirs(host):
        return []
    try:
        entries = sorted(host.path(directory).iterdir())
    except OSError:
        return []
    reasons: dict[str, list[str]] = {}
    pods: dict[tuple[str, str], list[str]] = {}
    for entry in entries:
        if entry.name.startswith(".") or not entry.is_file():
            continue
        path = posixpath.join(directory, entry.name)
        why: list[str] = []
        if not entry.name.endswith(MANIFEST_SUFFIXES):
            why.append("looks like a backup or editor file")
        kind, key = _static_pod_identity(entry.read_bytes())
        if kind is None:
            why.append("does not parse as a Kubernetes object")
        elif kind != "Pod":
            why.append(f"is a {kind}, not a Pod")
        elif key is not None:
            pods.setdefault(key, []).append(path)
        reasons[path] = why
    for (namespace, name), files in pods.items():
        if len(files) < 2:
            continue
        keep = manifest if manifest in files else files[0]
        for f in files:
            if f != keep:
                reasons[f].append(
                    f"defines pod {namespace}/{name}, as {posixpath.basename(keep)} does: the kubelet "
                    f"runs only one of them, so edits to {posixpath.basename(keep)} may never apply"
                )
    for path, why in reasons.items():
        if not why:
            continue
        dup = any(w.startswith("defines pod") for w in why)
        out.append(
            Finding(
                "duplicate-static-pod" if dup and len(why) == 1 else "stray-manifest-file",
                "high",
                f"{path}: {'; '.join(why)}; the kubelet reads every non-dot file in {directory}; move "
                "it out of that directory (kauditcfg keeps its backups in /var/lib/kauditcfg/backups)",
                path,
            ),
        )
    return out


def _static_pod_identity(data: bytes) -> tuple[str | None, tuple[str, str] | None]:
    """(kind, (namespace, name)) of a file the kubelet would read; kind None when it does not parse."""
    doc = safe_yaml(data.decode("utf-8", errors="replace"))
    if not isinstance(doc, dict) or "kind" not in doc:
        return None, None
    kind = str(doc.get("kind"))
    meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
    name = meta.get("name") if isinstance(meta, dict) else None
    namespace = (meta.get("namespace") if isinstance(meta, dict) else None) or "default"
    return kind, ((str(namespace), str(name)) if name else None)
