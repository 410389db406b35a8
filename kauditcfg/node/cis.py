"""The CIS Kubernetes Benchmark / kubescape controls of `check`, as kube-bench and kubescape judge them.

Each control has a result (pass, fail, or warn for the benchmark's manual 3.2.2), a severity
used when it fails, and a remediation in kube-bench's words. A failing control is a finding
(`cis_findings`), so the `--fail-on` gate counts it like any other problem.
Titles: CIS Kubernetes Benchmark v1.9 / kube-bench cfg/cis-1.9/master.yaml and policies.yaml;
kubescape control C-0161 (armosec regolibrary, "Audit policy for sensitive resources").
"""

from __future__ import annotations

import re
from typing import Any

from kauditcfg.config.defaults import CIS_ROTATION
from kauditcfg.config.findings import SEVERITIES, Finding, Severity
from kauditcfg.manifest.pod import ApiServerPod

KUBESCAPE_C0161 = "C-0161"

# Findings of the doctor that already say what a control says (same flag, same minimum).
COVERED_BY: dict[str, str] = {f"rotation-{r.flag.removeprefix('audit-log-')}": r.cis for r in CIS_ROTATION}


def _cis_flag(pod: ApiServerPod, name: str) -> tuple[str | None, bool]:
    """(value, written as --flag=value); kube-bench and kubescape only read the `=` form."""
    last = None
    for flag in pod.flags:
        if flag.name == name:
            last = flag
    if last is None or last.value in (None, ""):
        return None, False
    return last.value, last.value_index is None


def _edit(manifest: str, setting: str) -> str:
    return f"Edit {manifest} on the control plane node and set {setting}"


def cis_checks(
    pod: ApiServerPod, policy_data: Any, policy_ok: bool, manifest: str = "the kube-apiserver manifest"
) -> dict[str, dict[str, str]]:
    cis: dict[str, dict[str, str]] = {}

    def put(key: str, title: str, result: str, detail: str, severity: Severity, remediation: str) -> None:
        cis[key] = {
            "title": title,
            "result": result,
            "detail": detail,
            "severity": severity,
            "remediation": remediation,
        }

    def verdict(passed: bool) -> str:
        return "pass" if passed else "fail"

    webhook = pod.flag("audit-webhook-config-file")
    value, equals = _cis_flag(pod, "audit-log-path")
    put(
        "1.2.16",
        "Ensure that the --audit-log-path argument is set",
        verdict(value is not None and equals),
        "not set"
        if value is None
        else f"--audit-log-path={value}"
        if equals
        else f"written as '--audit-log-path {value}'; kube-bench only reads --audit-log-path={value}",
        # No log and no webhook: no audit event is kept anywhere.
        "high" if value is None and not webhook else "medium",
        _edit(manifest, "--audit-log-path=/var/log/kubernetes/audit/audit.log (its directory mounted)"),
    )
    for rule in CIS_ROTATION:
        name, minimum, key = rule.flag, rule.minimum, rule.cis
        value, equals = _cis_flag(pod, name)
        number = int(value) if value is not None and re.fullmatch(r"\d+", value.strip()) else None
        passed = number is not None and number >= minimum and equals
        if value is None:
            detail = "not set"
        elif not equals:
            detail = f"written as '--{name} {value}'; kube-bench only reads --{name}={value}"
        else:
            detail = f"--{name}={value} (needs {minimum} or more)"
        put(
            key,
            f"Ensure that the --{name} argument is set to {minimum} or as appropriate",
            verdict(passed),
            detail,
            "medium",
            _edit(manifest, f"--{name}={minimum} (or more)"),
        )
    value, equals = _cis_flag(pod, "audit-policy-file")
    if value is None:
        detail = "--audit-policy-file is not set"
    elif not equals:
        detail = (
            f"written as '--audit-policy-file {value}'; kube-bench only reads --audit-policy-file={value}"
        )
    elif not policy_ok:
        detail = f"--audit-policy-file={value}, but the policy is missing or invalid on the host"
    else:
        detail = f"--audit-policy-file={value}"
    put(
        "3.2.1",
        "Ensure that a minimal audit policy is created",
        verdict(value is not None and equals and policy_ok),
        detail,
        "medium" if value is not None and policy_ok else "high",
        "Create an audit policy file for your cluster and pass it with "
        "--audit-policy-file=/etc/kubernetes/audit/policy.yaml",
    )
    put(
        "3.2.2",
        "Ensure that the audit policy covers key security concerns",
        "warn" if policy_ok else "fail",
        "manual check: review what the policy logs (kauditcfg policy lint, kauditcfg policy explain)"
        if policy_ok
        else "no valid policy on the host",
        "medium",
        "Review the audit policy: Secrets, ConfigMaps and TokenReviews at Metadata only; "
        "pods/exec, pods/portforward, pods/proxy, services/proxy logged",
    )
    from kauditcfg.policy.compliance import c0161_failures

    failures = c0161_failures(policy_data) if isinstance(policy_data, dict) and policy_ok else None
    put(
        KUBESCAPE_C0161,
        "Audit policy for sensitive resources (kubescape)",
        verdict(failures == []),
        "no valid policy on the host"
        if failures is None
        else "; ".join(failures)
        if failures
        else "secrets, configmaps, tokenreviews at Metadata; pods, deployments, exec, portforward, "
        "proxy logged",
        # kubescape reads rule names literally: a policy whose catch-all logs pods at Metadata
        # fails it without losing an event. Real leaks are lint's high findings.
        "low",
        "Name secrets, configmaps and tokenreviews in a rule at level Metadata, and pods, deployments, "
        "pods/exec, pods/portforward, pods/proxy, services/proxy in rules that log them "
        "(the cis profile does both)",
    )
    return cis


def cis_findings(cis: dict[str, dict[str, str]], existing: list[Finding], manifest: str) -> list[Finding]:
    """A finding for every failing control no finding of the doctor already states."""
    covered = {COVERED_BY[f.id] for f in existing if f.id in COVERED_BY}
    out: list[Finding] = []
    for key, control in cis.items():
        if control["result"] != "fail" or key in covered:
            continue
        id_ = f"kubescape-{key}" if key == KUBESCAPE_C0161 else f"cis-{key}"
        severity: Severity = next(s for s in SEVERITIES if s == control["severity"])
        out.append(Finding(id_, severity, f"{key} {control['title']}: {control['detail']}", manifest))
    return out


def covering_finding(key: str, findings: list[Finding]) -> Finding | None:
    """The finding that states a failing control (its own, or a doctor's finding on the same flag)."""
    for f in findings:
        if f.id in (f"cis-{key}", f"kubescape-{key}") or COVERED_BY.get(f.id) == key:
            return f
    return None
