"""Judgements: can kube-apiserver reach, read and write the audit paths on the host?

Each returns `Judgement`s: the finding, and what `--fix-ownership` would change about it.
Preflight turns them into refusals or fixes, check into severities; the remedy each one prints
is derived from `fixes`, so the two cannot drift apart.
"""

from __future__ import annotations

import os
import posixpath
import stat
from dataclasses import dataclass

from kauditcfg.access import Identity, allowed, can_stat, describe_stat, missing_bits
from kauditcfg.config.findings import Finding
from kauditcfg.hostfs import Host
from kauditcfg.manifest.pod import ApiServerPod, path_within
from kauditcfg.node.paths import AuditPath, log_path_of, reader_ownership, search_chain
from kauditcfg.ops.plan import HostAction
from kauditcfg.versions import Version, format_version

LOG_DIR_MODE = (
    0o700  # what kube-apiserver's own ensureLogFile creates (k8s.io/apiserver plugin/pkg/audit/log)
)
KUBELET_DIR_MODE = stat.S_IFDIR | 0o755  # what hostPath DirectoryOrCreate makes: root-owned 0755
_WHAT = {"policy": "audit policy", "webhook": "webhook kubeconfig"}


@dataclass(frozen=True)
class Judgement:
    finding: Finding
    fixes: tuple[HostAction, ...] = ()  # what --fix-ownership changes; () when it cannot help


def shell_fix(fixes: tuple[HostAction, ...]) -> str:
    """The same fixes as shell commands, for a user who prefers to run them by hand."""
    commands = []
    for action in fixes:
        if action.kind == "chown":
            commands.append(f"chown {action.uid}:{action.gid} {action.path}")
        elif action.kind == "chmod" and action.mode is not None:
            commands.append(f"chmod {action.mode:04o} {action.path}")
    return " && ".join(commands)


def _prefix(p: AuditPath) -> str:
    return "log-dir-not-writable" if p.kind == "log-dir" else ("policy" if p.kind == "policy" else "webhook")


def _id(p: AuditPath, suffix: str) -> str:
    return "log-dir-not-writable" if p.kind == "log-dir" else f"{_prefix(p)}-{suffix}"


def _lost(p: AuditPath) -> str:
    return "audit events are lost" if p.kind == "log-dir" else "kube-apiserver exits at start"


def search_chain_judgements(host: Host, p: AuditPath, target: str, who: Identity) -> list[Judgement]:
    """Every existing directory between the mount and `target` must be searchable (x).

    Directories that do not exist yet will be created root-owned 0755 (kubelet or apply), which any
    user can traverse.
    """
    out: list[Judgement] = []
    for directory in search_chain(p, target):
        try:
            st = host.path(directory).stat()
        except OSError:
            continue
        if not stat.S_ISDIR(st.st_mode) or can_stat(st, who, "x"):
            continue
        new_mode = stat.S_IMODE(st.st_mode) | missing_bits(st.st_uid, st.st_gid, st.st_mode, who, "x")
        message = (
            f"{p.label}: kube-apiserver runs as {who.describe()} and cannot enter {directory} "
            f"({describe_stat(st)}) on the way to {target}; {_lost(p)}"
        )
        out.append(Judgement(Finding(_id(p, "unreadable"), "high", message, target), (
            HostAction("chmod", directory, mode=new_mode),
        )))  # fmt: skip
    return out


def readable_judgements(host: Host, p: AuditPath, who: Identity, planned: bool) -> list[Judgement]:
    """A file kube-apiserver reads (policy, webhook kubeconfig, a file it references).

    `planned`: kauditcfg is about to write it with `reader_ownership`, so only the way to it counts.
    """
    assert p.host_path is not None
    path = posixpath.normpath(p.host_path)
    out = search_chain_judgements(host, p, path, who)
    if planned:
        return out
    what = _WHAT.get(p.kind, "file")
    try:
        st = host.path(path).stat()
    except FileNotFoundError:
        message = (
            f"{p.label}: the {what} {path} does not exist on the host; kube-apiserver exits at start; "
            "create it or fix the path"
        )
        return [*out, Judgement(Finding(_id(p, "missing"), "high", message, path))]
    if stat.S_ISDIR(st.st_mode):
        message = f"{p.label}: {path} is a directory, not the {what}; point the flag at a file"
        return [*out, Judgement(Finding(_id(p, "missing"), "high", message, path))]
    if not can_stat(st, who, "r"):
        uid, gid, mode = reader_ownership(who)
        message = (
            f"{p.label}: kube-apiserver runs as {who.describe()} and cannot read {path} "
            f"({describe_stat(st)}); it exits at start"
        )
        fixes = (HostAction("chown", path, uid=uid, gid=gid), HostAction("chmod", path, mode=mode))
        out.append(Judgement(Finding(_id(p, "unreadable"), "high", message, path), fixes))
    return out


def log_dir_judgements(host: Host, pod: ApiServerPod, p: AuditPath, who: Identity) -> list[Judgement]:
    """The log directory (and an existing log file in it) writable by kube-apiserver.

    A directory that does not exist yet is judged by the caller: preflight creates it, check
    asks what the kubelet and kube-apiserver would create.
    """
    assert p.host_path is not None
    log_dir = p.host_path
    out = search_chain_judgements(host, p, log_dir, who)
    try:
        st = host.path(log_dir).stat()
    except FileNotFoundError:
        return out
    if not stat.S_ISDIR(st.st_mode):
        message = (
            f"{p.label}: {log_dir} exists and is not a directory; move it away or choose another --log-path"
        )
        return [*out, Judgement(Finding("log-dir-not-writable", "high", message, log_dir))]
    if not can_stat(st, who, "wx"):
        message = (
            f"{p.label}: kube-apiserver runs as {who.describe()} and cannot write the log directory "
            f"{log_dir} ({describe_stat(st)}); audit events are lost"
        )
        fixes = (
            HostAction("chown", log_dir, uid=who.uid, gid=who.gid),
            HostAction("chmod", log_dir, mode=LOG_DIR_MODE),
        )
        out.append(Judgement(Finding("log-dir-not-writable", "high", message, log_dir), fixes))
    log = log_path_of(pod)
    if log is None:
        return out
    log_file = posixpath.join(log_dir, posixpath.basename(log))
    try:
        fst = os.stat(host.path(log_file))
    except OSError:
        return out
    if stat.S_ISREG(fst.st_mode) and not can_stat(fst, who, "w"):
        message = (
            f"{p.label}: kube-apiserver runs as {who.describe()} and cannot append to the existing log "
            f"{log_file} ({describe_stat(fst)}); audit events are lost"
        )
        fix = (HostAction("chown", log_file, uid=who.uid, gid=who.gid),)
        out.append(Judgement(Finding("log-dir-not-writable", "high", message, log_file), fix))
    return out


def missing_log_dir_judgements(host: Host, p: AuditPath, who: Identity, version: Version) -> list[Judgement]:
    """A log directory that does not exist yet: can what the kubelet or kube-apiserver creates be written?"""
    assert p.host_path is not None
    log_dir = p.host_path
    hp = (p.volume or {}).get("hostPath") or {}
    fixes = (
        HostAction("chown", log_dir, uid=who.uid, gid=who.gid),
        HostAction("chmod", log_dir, mode=LOG_DIR_MODE),
    )
    if p.mount_root == log_dir:
        if str(hp.get("type") or "") == "DirectoryOrCreate" and not allowed(
            0, 0, KUBELET_DIR_MODE, who, "wx"
        ):
            message = (
                f"{p.label}: {log_dir} does not exist; the kubelet will create it root-owned 0755, which "
                f"kube-apiserver running as {who.describe()} cannot write"
            )
            return [Judgement(Finding("log-dir-not-writable", "high", message, log_dir), fixes)]
        return []
    # kube-apiserver creates missing parents of its log only since 1.23.10/1.24.4/1.25
    # (kubernetes/kubernetes#110813); before that it exits with "ensureLogFile: no such file".
    if version < (1, 25):
        message = (
            f"{p.label}: {log_dir} does not exist and kube-apiserver {format_version(version)} may not "
            "create it (it exits with 'no such file or directory'); create it or run kauditcfg enable"
        )
        return [Judgement(Finding("log-dir-not-writable", "high", message, log_dir))]
    parent = posixpath.dirname(log_dir)
    while parent != "/" and not host.path(parent).exists():
        parent = posixpath.dirname(parent)
    if path_within(parent, p.mount_root or "/"):
        st = host.path(parent).stat()
        if not can_stat(st, who, "wx"):
            message = (
                f"{p.label}: {log_dir} does not exist and kube-apiserver running as {who.describe()} "
                f"cannot create it in {parent} ({describe_stat(st)})"
            )
            return [Judgement(Finding("log-dir-not-writable", "high", message, log_dir), fixes)]
    return []
