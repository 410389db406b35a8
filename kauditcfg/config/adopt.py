"""Adoption: an audit setup already in the manifest is kept, not moved.

A log shipper (Fluent Bit, Filebeat, a Logstash `path =>`) tails the log path the manifest names,
and kubespray keeps its own paths in its kubeadm config: moving them breaks both. So an existing
`--audit-log-path`/`--audit-policy-file` is kept unless `--log-path`/`--policy-path` says
otherwise, and rotation values that already meet the profile's minimum stay ("at least" values:
1000 MB is not lowered to 100). Pure: the pod and the options in, the resolved choices out.
"""

from __future__ import annotations

import dataclasses
import posixpath
from dataclasses import dataclass, field

from kauditcfg.config.defaults import HASH_ANNOTATION, LOG_PATH, POLICY_PATH
from kauditcfg.config.options import EnableOptions
from kauditcfg.manifest.pod import ApiServerPod

ROTATION = ("maxage", "maxbackup", "maxsize")  # lumberjack's limits: more is never less compliant

STDOUT_NOTE = (
    "--audit-log-path=- writes audit events to kube-apiserver's stdout: the container runtime collects "
    "them and the kubelet's container log rotation applies; kube-apiserver's --audit-log-maxage/"
    "-maxbackup/-maxsize do not apply to stdout"
)


@dataclass(frozen=True)
class Adoption:
    """The options with every path and rotation value decided, and what was adopted, in words."""

    options: EnableOptions
    rotation: dict[str, str] = field(default_factory=dict)  # "maxsize" -> value to write
    notes: list[str] = field(default_factory=list)


def _existing(pod: ApiServerPod | None, name: str) -> str | None:
    value = pod.flag(name) if pod is not None else None
    if value == "-" and name == "audit-log-path":
        return value
    return value if value and value.startswith("/") else None


def _as_int(value: str | None) -> int | None:
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def adopt(opts: EnableOptions, pod: ApiServerPod | None, profile_flags: dict[str, str]) -> Adoption:
    """Decide the paths and rotation values `enable` writes, keeping what the manifest has (no
    manifest, None: the options, else the defaults)."""
    ours = pod is None or HASH_ANNOTATION in pod.annotations  # a setup kauditcfg made: nothing to announce
    notes: list[str] = []
    policy_path, log_path = opts.policy_path, opts.log_path
    if policy_path is None:
        policy_path = _existing(pod, "audit-policy-file")
        if policy_path is not None and not ours:
            notes.append(
                f"adopted existing policy path {policy_path}: the policy is written there "
                "(a file already there is backed up first)"
            )
        policy_path = policy_path or POLICY_PATH
    if log_path is None:
        log_path = _existing(pod, "audit-log-path")
        if log_path == "-":
            notes.append(f"kept {STDOUT_NOTE}")
        elif log_path is not None and not ours:
            notes.append(f"adopted existing log path {log_path}")
        log_path = log_path or LOG_PATH
    elif log_path == "-":
        notes.append(STDOUT_NOTE)

    rotation: dict[str, str] = {}
    if log_path != "-":
        given = {"maxage": opts.log_maxage, "maxbackup": opts.log_maxbackup, "maxsize": opts.log_maxsize}
        for name in ROTATION:
            explicit = given[name]
            if explicit is not None:
                rotation[name] = str(explicit)  # an explicit option sets exactly what it says
                continue
            minimum = profile_flags[f"audit-log-{name}"]
            raw = pod.flag(f"audit-log-{name}") if pod is not None else None
            current = _as_int(raw)
            if raw is not None and current is not None and current >= int(minimum):
                rotation[name] = str(raw).strip()
                if current > int(minimum) and not ours:
                    notes.append(f"kept --audit-log-{name}={current} (at least the profile's {minimum})")
                continue
            rotation[name] = minimum
            if raw is not None and not ours:
                notes.append(
                    f"fixed --audit-log-{name}: {raw} is under the profile's minimum; set to {minimum}"
                )
    resolved = dataclasses.replace(opts, policy_path=policy_path, log_path=log_path)
    return Adoption(resolved, rotation, notes)


def policy_in_log_dir(policy: str | None, log: str | None) -> bool:
    """kube-apiserver may write the log directory, and log clean-up may delete what is in it."""
    if not policy or not log or log == "-":
        return False
    log_dir = posixpath.dirname(posixpath.normpath(log))
    policy = posixpath.normpath(policy)
    return policy.startswith(log_dir.rstrip("/") + "/")
