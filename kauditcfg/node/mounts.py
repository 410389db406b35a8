"""Judgements: every audit path under a hostPath mount, the log directory writable, hostPath types."""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from typing import Any

from kauditcfg.config.findings import Finding
from kauditcfg.hostfs import Host
from kauditcfg.manifest.pod import ApiServerPod
from kauditcfg.node.paths import AuditPath, log_path_of


def log_file_mount(pod: ApiServerPod) -> dict[str, Any] | None:
    """The volumeMount that binds the log *file* itself, if any."""
    log = log_path_of(pod)
    if log is None:
        return None
    for mount in pod.mounts:
        if posixpath.normpath(str(mount.get("mountPath", ""))) == log:
            return mount
    return None


def mount_findings(pod: ApiServerPod, paths: list[AuditPath]) -> list[Finding]:
    issues: list[Finding] = []
    file_mount = log_file_mount(pod)
    log = log_path_of(pod)
    if file_mount is not None and log is not None:
        issues.append(
            Finding(
                "log-file-mounted",
                "high",
                f"--audit-log-path={log}: volumeMount {file_mount.get('name')!r} mounts the log file "
                "itself; rotation renames the file, which fails on a single-file mount (EBUSY) and the log "
                f"then grows without bound; mount the directory {posixpath.dirname(log)} (hostPath type "
                "DirectoryOrCreate) instead",
                log,
            )
        )
    for p in paths:
        if p.mount is None and p.kind == "log-dir" and file_mount is not None:
            continue  # mounted, as a file: said above
        if p.mount is None and p.kind == "log-dir":
            # kube-apiserver does not exit over a missing directory (ensureLogFile in
            # k8s.io/apiserver/pkg/server/options/audit.go creates it): the log goes to the
            # container's own filesystem.
            issues.append(
                Finding(
                    "path-not-mounted",
                    "high",
                    f"{p.label}: its directory {p.container_path} is under no volumeMount of container "
                    f"{pod.container.get('name')!r}, so the audit log is written inside the container's "
                    "filesystem: lost on every restart and invisible on the host; add a hostPath volume "
                    f"mounted at {p.container_path} (read-write)",
                    p.container_path,
                )
            )
            continue
        if p.mount is None:
            target = p.container_path if p.kind == "log-dir" else posixpath.dirname(p.container_path)
            what = f"its directory {p.container_path}" if p.kind == "log-dir" else p.container_path
            access = "read-write" if p.kind == "log-dir" else "readOnly: true"
            container = pod.container.get("name")
            issues.append(
                Finding(
                    "path-not-mounted",
                    "high",
                    f"{p.label}: {what} is under no volumeMount of container {container!r}, so "
                    f"kube-apiserver cannot open it and exits at start; add a hostPath volume mounted at "
                    f"{target} ({access})",
                    p.container_path,
                )
            )
            continue
        if p.host_path is None:
            name = p.mount.get("name")
            why = "is not defined in spec.volumes" if p.volume is None else "is not a hostPath volume"
            issues.append(
                Finding(
                    "path-not-mounted",
                    "high",
                    f"{p.label}: volumeMount at {p.mount.get('mountPath')} uses volume {name!r}, which "
                    f"{why}; the file is not the host's; use a hostPath volume",
                    p.container_path,
                )
            )
            continue
        if p.kind == "log-dir" and p.mount.get("readOnly") is True:
            issues.append(
                Finding(
                    "log-mount-read-only",
                    "high",
                    f"{p.label}: volumeMount {p.mount.get('name')!r} at {p.mount.get('mountPath')} is "
                    "readOnly: true, so kube-apiserver cannot write the log; set readOnly: false on that "
                    "mount",
                    p.host_path,
                )
            )
    return issues


def hostpath_type_findings(
    host: Host, paths: list[AuditPath], will_exist: Callable[[str], str | None]
) -> list[Finding]:
    """hostPath `type` checks the kubelet makes before it starts the pod.

    `will_exist(host_path)` says "file"/"dir" when the path will exist after apply, else None.
    """
    issues: list[Finding] = []
    seen: set[str] = set()
    for p in paths:
        root = p.mount_root
        if root is None or root in seen:
            continue
        seen.add(root)
        hp = (p.volume or {}).get("hostPath") or {}
        kind = str(hp.get("type") or "")
        real = host.path(root)
        present = "dir" if real.is_dir() else "file" if real.exists() else will_exist(root)
        name = (p.volume or {}).get("name")
        if kind in ("Directory", "File") and present is None:
            issues.append(
                Finding(
                    "hostpath-missing",
                    "high",
                    f"volume {name!r}: hostPath {root} (type {kind}) does not exist, so the kubelet will not "
                    f"start kube-apiserver; create it or use type {kind}OrCreate",
                    root,
                )
            )
        elif kind in ("Directory", "DirectoryOrCreate") and present == "file":
            issues.append(
                Finding(
                    "hostpath-type",
                    "high",
                    f"volume {name!r}: hostPath {root} is a file but the volume has type {kind}; "
                    "the kubelet will not start kube-apiserver; fix the type or the path",
                    root,
                )
            )
        elif kind in ("File", "FileOrCreate") and present == "dir":
            issues.append(
                Finding(
                    "hostpath-type",
                    "high",
                    f"volume {name!r}: hostPath {root} is a directory but the volume has type {kind}; "
                    "the kubelet will not start kube-apiserver; fix the type or the path",
                    root,
                )
            )
    return issues
