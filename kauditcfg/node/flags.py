"""Judgement: the `--audit-*` flags kube-apiserver of a version would refuse to start with."""

from __future__ import annotations

from kauditcfg.audit_flags import unknown_audit_flags, unknown_reason, value_problem
from kauditcfg.config.findings import Finding
from kauditcfg.manifest.pod import ApiServerPod
from kauditcfg.versions import Version, format_version


def flag_findings(pod: ApiServerPod, version: Version) -> list[Finding]:
    """Unknown `--audit-*` flags and values that would not parse: kube-apiserver prints usage and exits."""
    issues: list[Finding] = []
    ver = format_version(version)
    flags = [f for f in pod.flags if f.name.startswith("audit-")]
    seen: set[str] = set()
    for name, suggestion in unknown_audit_flags([f.name for f in flags], version):
        if name in seen:
            continue
        seen.add(name)
        hint = f"did you mean --{suggestion}?" if suggestion else "remove it"
        issues.append(
            Finding(
                "unknown-flag",
                "high",
                f"--{name}: {unknown_reason(name, version)} (Kubernetes {ver}); kube-apiserver would print "
                f"its usage and exit; {hint}",
            )
        )
    for flag in flags:
        if flag.name in seen:
            continue
        problem = value_problem(flag.name, flag.value, version)
        if problem:
            written = f"--{flag.name}" + (f"={flag.value}" if flag.value is not None else "")
            issues.append(
                Finding(
                    "invalid-flag-value",
                    "high",
                    f"{written}: {problem}; kube-apiserver would refuse to start; fix the value",
                )
            )
    return issues
