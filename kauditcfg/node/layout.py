"""Judgements on where a (hand-made) audit setup puts things, and on what the manifest hides.

The log inside the static pod directory, the policy inside the writable log directory, audit
flags commented out, and a Kubernetes release older than the audit API kauditcfg writes.
"""

from __future__ import annotations

import posixpath
import re

from kauditcfg.config.adopt import policy_in_log_dir
from kauditcfg.config.findings import Finding
from kauditcfg.manifest.pod import ApiServerPod, path_within
from kauditcfg.node.paths import flag_value, log_path_of
from kauditcfg.versions import NEWEST, OLDEST, Version, format_version

_COMMENTED_FLAG = re.compile(r"^\s*#+\s*-?\s*['\"]?--audit-[a-z-]+")


def layout_findings(pod: ApiServerPod, manifest: str) -> list[Finding]:
    out: list[Finding] = []
    static_dir = posixpath.dirname(manifest)
    log = log_path_of(pod)
    if log is not None and path_within(log, static_dir):
        out.append(
            Finding(
                "log-in-manifest-dir",
                "high",
                f"--audit-log-path={log} is inside the static pod directory {static_dir}: the kubelet "
                "tries to run every file there as a pod (the log and its rotated copies included); "
                "move the log with kauditcfg enable --log-path",
                log,
            )
        )
    out.extend(policy_in_log_dir_findings(pod))
    lines = [str(n) for n, line in enumerate(pod.doc.text.splitlines(), 1) if _COMMENTED_FLAG.match(line)]
    if lines:
        out.append(
            Finding(
                "audit-flags-commented-out",
                "low",
                f"{manifest}: audit flags are commented out at line{'s' if len(lines) > 1 else ''} "
                f"{', '.join(lines)}; kube-apiserver does not see them",
                manifest,
            )
        )
    return out


def policy_in_log_dir_findings(pod: ApiServerPod) -> list[Finding]:
    policy = flag_value(pod, "audit-policy-file")
    log = log_path_of(pod)
    if not policy_in_log_dir(policy, log):
        return []
    assert log is not None
    return [
        Finding(
            "policy-in-log-dir",
            "medium",
            f"--audit-policy-file={policy} is inside the writable audit log directory "
            f"{posixpath.dirname(log)}: kube-apiserver can write there and log clean-up can delete it; "
            "move it with kauditcfg enable --policy-path",
            policy,
        )
    ]


def version_findings(version: Version, manifest: str, image: object) -> list[Finding]:
    """audit.k8s.io/v1 exists from 1.12; kauditcfg models (and writes policies for) 1.19 and newer."""
    if version >= OLDEST:
        return []
    return [
        Finding(
            "unsupported-version",
            "high",
            f"{manifest}: image {image} is Kubernetes {format_version(version)}, below the range kauditcfg "
            f"supports ({format_version(OLDEST)} to {format_version(NEWEST)}); its audit settings cannot "
            "be judged and kauditcfg enable refuses it; upgrade the cluster",
            manifest,
        )
    ]
