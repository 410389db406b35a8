"""`check`, the doctor: the node's judgements on the manifest and host as they are, ranked, plus CIS.

high = kube-apiserver does not start or audit events are lost; medium = retention, cost and leak
risks; low = things worth a look. The `cis` block mirrors what kube-bench and kubescape would say.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kauditcfg.config.defaults import DEFAULT_MANIFEST
from kauditcfg.config.findings import CHECK_KEYS, SEVERITIES, Finding, by_severity
from kauditcfg.hostfs import Host
from kauditcfg.manifest.files import read_manifest
from kauditcfg.node import disk as disk_mod
from kauditcfg.node.access import (
    Judgement,
    log_dir_judgements,
    missing_log_dir_judgements,
    readable_judgements,
    shell_fix,
)
from kauditcfg.node.backends import backend_findings, webhook_findings
from kauditcfg.node.cis import cis_checks
from kauditcfg.node.flags import flag_findings
from kauditcfg.node.host import etcd_findings, selinux_findings, stray_findings
from kauditcfg.node.layout import layout_findings, version_findings
from kauditcfg.node.mounts import hostpath_type_findings, mount_findings
from kauditcfg.node.paths import audit_paths, identity_of, read_or_none, safe_yaml, webhook_text
from kauditcfg.node.policy import lint_findings, policy_findings
from kauditcfg.node.rotation import cis_rotation_findings
from kauditcfg.node.webhook import webhook_tls_findings
from kauditcfg.versions import NEWEST, Version


@dataclass
class CheckReport:
    findings: list[Finding] = field(default_factory=list)
    cis: dict[str, dict[str, str]] = field(default_factory=dict)
    manifest: str = DEFAULT_MANIFEST
    version: Version = NEWEST

    def add(self, *findings: Finding) -> None:
        for finding in findings:
            if finding not in self.findings:
                self.findings.append(finding)

    def judged(self, judgements: list[Judgement]) -> None:
        """Findings with the way to fix them: enable --fix-ownership, or the same by hand."""
        for j in judgements:
            f = j.finding
            if j.fixes:
                remedy = f"run kauditcfg enable --fix-ownership, or {shell_fix(j.fixes)}"
                f = Finding(f.id, f.severity, f"{f.message}; {remedy}", f.path)
            self.add(f)

    def failing(self, threshold: str) -> list[Finding]:
        """Findings at or above `threshold` (high, medium or low)."""
        return [f for f in self.findings if f.at_or_above(threshold)]

    def counts(self) -> dict[str, int]:
        return {s: sum(1 for f in self.findings if f.severity == s) for s in SEVERITIES}

    def to_json(self) -> dict[str, Any]:
        return {"findings": [f.to_json(CHECK_KEYS) for f in by_severity(self.findings)], "cis": self.cis}


def run_check(
    host: Host, manifest_path: str, version: Version | None, *, statvfs: disk_mod.Statvfs | None = None
) -> CheckReport:
    """Inspect the manifest at `manifest_path` (a host path) and the host it points at."""
    pod = read_manifest(host, manifest_path)[0]
    version = version or pod.kubernetes_version() or NEWEST
    report = CheckReport(manifest=manifest_path, version=version)
    who = identity_of(pod)

    report.add(*version_findings(version, manifest_path, pod.container.get("image")))
    report.add(*layout_findings(pod, manifest_path))
    report.add(*(Finding(f.id, f.severity, f.message, manifest_path) for f in flag_findings(pod, version)))
    report.add(*backend_findings(pod, manifest_path))

    webhook = webhook_text(host, pod)
    paths = audit_paths(pod, webhook)
    report.add(*mount_findings(pod, paths))
    report.add(*hostpath_type_findings(host, paths, lambda _path: None))

    policy_data: Any = None
    policy_ok = False
    for p in paths:
        if p.host_path is None:
            continue
        if p.kind == "log-dir":
            report.judged(log_dir_judgements(host, pod, p, who))
            if not host.path(p.host_path).exists():
                report.judged(missing_log_dir_judgements(host, p, who, version))
            budget = disk_mod.disk_budget(host, pod, p.host_path, statvfs)
            report.add(*disk_mod.disk_findings(budget))
            report.add(*selinux_findings(host, p.host_path))
            report.add(*etcd_findings(host, p.host_path))
            continue
        judgements = readable_judgements(host, p, who, planned=False)
        report.judged(judgements)
        if p.kind == "policy" and not judgements:
            policy_data, policy_ok = _policy(report, host, p.host_path, version)

    report.add(*cis_rotation_findings(pod, manifest_path))
    report.add(*webhook_findings(pod, webhook, manifest_path))
    report.add(*webhook_tls_findings(host, pod, webhook))
    report.add(*stray_findings(host, manifest_path))
    report.cis = cis_checks(pod, policy_data, policy_ok)
    return report


def _policy(report: CheckReport, host: Host, path: str, version: Version) -> tuple[Any, bool]:
    data = read_or_none(host, path)
    if data is None:
        return None, False
    errors, _warnings, text = policy_findings(data, path, version)
    report.add(
        *(
            Finding(f.id, f.severity, f"{f.message}; kube-apiserver refuses to start", f.path)
            for f in errors
            if text is not None
        )
    )
    if text is None:
        report.add(*errors)
        return None, False
    policy_data = safe_yaml(text)
    if errors:
        return policy_data, False
    report.add(*lint_findings(text, path, version))
    return policy_data, True
