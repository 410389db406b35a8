"""Judgements: log rotation bounded (the disk cannot fill) and at the CIS minimums."""

from __future__ import annotations

from kauditcfg.config.defaults import CIS_ROTATION
from kauditcfg.config.findings import Finding
from kauditcfg.manifest.pod import ApiServerPod
from kauditcfg.node.paths import int_flag, log_path_of


def unbounded_findings(pod: ApiServerPod) -> list[Finding]:
    """maxbackup/maxsize unset or 0: lumberjack keeps every file or sizes them by its own default."""
    out: list[Finding] = []
    maxbackup = int_flag(pod, "audit-log-maxbackup")
    maxsize = int_flag(pod, "audit-log-maxsize")
    if maxbackup is None or maxbackup == 0:
        written = "unset" if maxbackup is None else "0"
        message = (
            f"--audit-log-maxbackup is {written}: kube-apiserver keeps every rotated audit file and can fill "
            "the disk; set --log-maxbackup (CIS: 10) or pass --allow-unbounded"
        )
        out.append(Finding("rotation-unbounded", "medium", message))
    if maxsize is None or maxsize == 0:
        written = "unset" if maxsize is None else "0"
        message = (
            f"--audit-log-maxsize is {written}: the per-file size is left to a library default, so the "
            "rotation budget is not stated; set --log-maxsize (CIS: 100) or pass --allow-unbounded"
        )
        out.append(Finding("rotation-unbounded", "medium", message))
    return out


def cis_rotation_findings(pod: ApiServerPod, manifest: str) -> list[Finding]:
    """--audit-log-max{age,backup,size} under the CIS Kubernetes Benchmark minimums (1.2.17-1.2.19)."""
    if log_path_of(pod) is None:
        return []
    out: list[Finding] = []
    for rule in CIS_ROTATION:
        name, minimum = rule.flag, rule.minimum
        raw = pod.flag(name)
        value = int_flag(pod, name)
        if raw is not None and value is None:
            continue  # reported as an invalid value
        if value is None:
            problem = "is not set (0: keep forever / library default)"
        elif value == 0:
            problem = "is 0 (no limit)"
        elif value < minimum:
            problem = f"is {value}, under the CIS minimum {minimum}"
        else:
            continue
        short = name.removeprefix("audit-log-")
        message = (
            f"--{name} {problem}; set --{name}={minimum} or more (kauditcfg enable --log-{short} {minimum})"
        )
        out.append(Finding(f"rotation-{short}", "medium", message, manifest))
    return out
