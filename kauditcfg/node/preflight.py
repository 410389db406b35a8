"""Preflight: refuse (exit 4) any change that would stop kube-apiserver, before a byte is written.

The node's judgements on the patched pod and the planned files, plus what to do about each:
refuse, or fix under `--fix-ownership` (the fixes come back as `HostAction`s for apply). It reads
the host and never changes a plan: the ownership it wants for each planned file is in the report
(`owned(change)`), and the planner takes it.

Ownership of the files kube-apiserver only reads (policy, webhook kubeconfig): they stay owned by
root so the service user cannot rewrite its own policy (see `reader_ownership`). The log directory
belongs to the container's uid:gid, mode 0700.
"""

from __future__ import annotations

import dataclasses
import posixpath
from dataclasses import dataclass, field

from kauditcfg.hostfs import Host
from kauditcfg.manifest.pod import ApiServerPod, path_within
from kauditcfg.node import disk as disk_mod
from kauditcfg.node.access import LOG_DIR_MODE, Judgement, log_dir_judgements, readable_judgements, shell_fix
from kauditcfg.node.backends import backend_findings, webhook_findings
from kauditcfg.node.flags import flag_findings
from kauditcfg.node.layout import policy_in_log_dir_findings
from kauditcfg.node.mounts import hostpath_type_findings, mount_findings
from kauditcfg.node.paths import (
    AuditPath,
    audit_paths,
    identity_of,
    read_or_none,
    reader_ownership,
    webhook_text,
)
from kauditcfg.node.policy import policy_findings
from kauditcfg.node.rotation import unbounded_findings
from kauditcfg.node.webhook import webhook_tls_findings
from kauditcfg.ops.plan import FileChange, HostAction
from kauditcfg.versions import Version


@dataclass
class PreflightOptions:
    version: Version
    fix_ownership: bool = False
    allow_unbounded: bool = False


@dataclass
class PreflightReport:
    problems: list[str] = field(default_factory=list)  # refusals (exit 4)
    warnings: list[str] = field(default_factory=list)
    actions: list[HostAction] = field(default_factory=list)
    ownership: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # path -> (uid, gid, mode)

    def refuse(self, message: str) -> None:
        if message not in self.problems:
            self.problems.append(message)

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def act(self, action: HostAction) -> None:
        if action not in self.actions:
            self.actions.append(action)

    def owned(self, change: FileChange) -> FileChange:
        """`change` with the owner and mode preflight wants for it (unchanged when it wants none)."""
        wanted = self.ownership.get(posixpath.normpath(change.path))
        if wanted is None:
            return change
        uid, gid, mode = wanted
        return dataclasses.replace(change, uid=uid, gid=gid, mode=mode)


def _judge(report: PreflightReport, judgements: list[Judgement], fix: bool) -> None:
    for j in judgements:
        if j.fixes and fix:
            for action in j.fixes:
                report.act(action)
        elif j.fixes:
            report.refuse(
                f"{j.finding.message}; pass --fix-ownership to fix it (or run {shell_fix(j.fixes)})"
            )
        else:
            report.refuse(j.finding.message)


def run_preflight(
    host: Host,
    pod: ApiServerPod,
    files: list[FileChange],
    options: PreflightOptions,
    *,
    statvfs: disk_mod.Statvfs | None = None,
) -> PreflightReport:
    """Judge the patched pod against the host, with `files` (policy, webhook kubeconfig) as planned.

    A judgement whose input does not exist yet uses the planned contents and the ownership
    chosen here.
    """
    report = PreflightReport()
    who = identity_of(pod)
    planned = {posixpath.normpath(f.path): f.after for f in files if f.after is not None}
    fix = options.fix_ownership

    for finding in flag_findings(pod, options.version):
        report.refuse(finding.message)
    webhook = webhook_text(host, pod, planned)
    paths = audit_paths(pod, webhook)
    for finding in mount_findings(pod, paths):
        report.refuse(finding.message)
    for finding in policy_in_log_dir_findings(pod):
        report.warn(finding.message)

    reader = reader_ownership(who)
    created_dirs: set[str] = set()
    for p in paths:
        if p.host_path is None:
            continue
        if p.kind == "log-dir":
            _judge(report, log_dir_judgements(host, pod, p, who), fix)
            if not host.path(p.host_path).exists():
                # ensureLogFile would create it (0700) only from 1.25 on, and the kubelet's
                # DirectoryOrCreate makes it root-owned 0755: a non-root kube-apiserver could not
                # write either way.
                report.act(HostAction("mkdir", p.host_path, mode=LOG_DIR_MODE, uid=who.uid, gid=who.gid))
                created_dirs.add(p.host_path)
            continue
        path = posixpath.normpath(p.host_path)
        if path in planned:
            report.ownership[path] = reader
        _judge(report, readable_judgements(host, p, who, planned=path in planned), fix)

    def will_exist(path: str) -> str | None:
        if path in planned:
            return "file"
        if any(path_within(d, path) for d in created_dirs):
            return "dir"
        if any(path_within(f, path) and f != path for f in planned):
            return "dir"  # atomic_write creates the parents of the files it writes
        return None

    for finding in hostpath_type_findings(host, paths, will_exist):
        report.refuse(finding.message)
    _disk(report, host, pod, paths, options, statvfs)
    _policy(report, host, pod, paths, planned, options.version)
    for finding in backend_findings(pod, "the manifest"):
        if finding.id == "policy-without-backend":
            report.warn(finding.message)
    for finding in webhook_findings(pod, webhook, "the manifest") + webhook_tls_findings(host, pod, webhook):
        (report.refuse if finding.severity == "high" else report.warn)(finding.message)
    return report


def _disk(
    report: PreflightReport,
    host: Host,
    pod: ApiServerPod,
    paths: list[AuditPath],
    options: PreflightOptions,
    statvfs: disk_mod.Statvfs | None,
) -> None:
    log_dir = next((p for p in paths if p.kind == "log-dir"), None)
    if log_dir is None:
        return
    for finding in unbounded_findings(pod):
        (report.warn if options.allow_unbounded else report.refuse)(finding.message)
    if log_dir.host_path is None:
        return
    budget = disk_mod.disk_budget(host, pod, log_dir.host_path, statvfs)
    if budget is not None and budget.fraction > disk_mod.DISK_REFUSE_FRACTION:
        fits = int(budget.free * disk_mod.DISK_REFUSE_FRACTION) // disk_mod.MIB
        report.refuse(
            f"{budget.describe()}, above the {disk_mod.DISK_REFUSE_FRACTION:.0%} limit; lower "
            f"--log-maxbackup or --log-maxsize (at most {fits} MB in total) or free disk space"
        )
        return
    for finding in disk_mod.disk_findings(budget):
        report.warn(finding.message)


def _policy(
    report: PreflightReport,
    host: Host,
    pod: ApiServerPod,
    paths: list[AuditPath],
    planned: dict[str, bytes],
    version: Version,
) -> None:
    policy = next((p for p in paths if p.kind == "policy"), None)
    if policy is None:
        for finding in backend_findings(pod, "the manifest"):
            if finding.id == "log-without-policy":
                report.warn(finding.message)
        return
    if policy.host_path is None:
        return
    host_path = posixpath.normpath(policy.host_path)
    data = planned.get(host_path)
    if data is None:
        data = read_or_none(host, host_path)
    if data is None:
        return  # reported as missing by readable_judgements
    errors, warnings, _text = policy_findings(data, host_path, version)
    for finding in errors:
        report.refuse(finding.message)
    for message in warnings:
        report.warn(message)
