"""The CIS Kubernetes Benchmark / kubescape block of `check`: what kube-bench and kubescape would say."""

from __future__ import annotations

import re
from typing import Any

from kauditcfg.config.defaults import CIS_ROTATION
from kauditcfg.manifest.pod import ApiServerPod


def _cis_flag(pod: ApiServerPod, name: str) -> tuple[str | None, bool]:
    """(value, written as --flag=value); kube-bench and kubescape only read the `=` form."""
    last = None
    for flag in pod.flags:
        if flag.name == name:
            last = flag
    if last is None or last.value in (None, ""):
        return None, False
    return last.value, last.value_index is None


def cis_checks(pod: ApiServerPod, policy_data: Any, policy_ok: bool) -> dict[str, dict[str, str]]:
    cis: dict[str, dict[str, str]] = {}

    def put(key: str, title: str, passed: bool, detail: str) -> None:
        cis[key] = {"title": title, "result": "pass" if passed else "fail", "detail": detail}

    value, equals = _cis_flag(pod, "audit-log-path")
    put(
        "1.2.16",
        "Ensure that the --audit-log-path argument is set",
        value is not None and equals,
        "not set"
        if value is None
        else f"--audit-log-path={value}"
        if equals
        else f"written as '--audit-log-path {value}'; kube-bench only reads --audit-log-path={value}",
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
        put(key, f"Ensure that the --{name} argument is set to {minimum} or as appropriate", passed, detail)
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
        value is not None and equals and policy_ok,
        detail,
    )
    from kauditcfg.policy.compliance import c0161_failures

    if isinstance(policy_data, dict) and policy_ok:
        failures = c0161_failures(policy_data)
        put(
            "C-0161",
            "Audit policy for sensitive resources (kubescape)",
            not failures,
            "; ".join(failures)
            if failures
            else "secrets, configmaps, tokenreviews at Metadata; "
            "pods, deployments, exec, portforward, proxy logged",
        )
    else:
        put(
            "C-0161", "Audit policy for sensitive resources (kubescape)", False, "no valid policy on the host"
        )
    return cis
