"""The audit settings for kubeadm: exactly `enable`'s, with an existing setup adopted.

`kubeadm upgrade` rebuilds kube-apiserver.yaml from ClusterConfiguration (and a patches directory),
so whatever is written there must be what `enable` writes into the manifest: the same flags, the
same directories mounted, the same policy (and so the same config hash).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from kauditcfg.config.audit import AuditConfig, build_config
from kauditcfg.config.build import config_for_version
from kauditcfg.config.inputs import read_inputs
from kauditcfg.config.options import EnableOptions
from kauditcfg.versions import NEWEST, Version

ROTATION_FLAGS = ("audit-log-maxage", "audit-log-maxbackup", "audit-log-maxsize")
_OPTION_OF = {
    "audit-log-maxage": "log_maxage",
    "audit-log-maxbackup": "log_maxbackup",
    "audit-log-maxsize": "log_maxsize",
}


@dataclass(frozen=True)
class KubeadmAudit:
    """What to write (the audit configuration, its policy included) and what was adopted."""

    config: AuditConfig
    notes: list[str] = field(default_factory=list)


def _as_int(value: str | None) -> int | None:
    try:
        return int(str(value).strip()) if value is not None else None
    except ValueError:
        return None


def adopt(
    opts: EnableOptions, explicit: set[str], existing: dict[str, str], version: Version
) -> tuple[AuditConfig, list[str]]:
    """The configuration `enable` would build, with the existing audit setup kept where the user did
    not ask otherwise.

    Paths already set stay (a log shipper tails that file; kubespray keeps its own policy path);
    rotation values already at or above the profile's are kept (they are minimums, not targets).
    An option given on the command line (`explicit`, by EnableOptions field name) always wins.
    """
    notes: list[str] = []
    changes: dict[str, str] = {}
    for flag, option in (("audit-policy-file", "policy_path"), ("audit-log-path", "log_path")):
        old = existing.get(flag)
        if option not in explicit and old and old != getattr(opts, option):
            changes[option] = old
            notes.append(f"adopted existing {flag.removeprefix('audit-').replace('-', ' ')} {old}")
    opts = dataclasses.replace(opts, **changes)  # type: ignore[arg-type]
    config = config_for_version(opts, version, read_inputs(opts))
    flags = dict(config.flags)
    for flag in ROTATION_FLAGS:
        if flag not in flags or getattr(opts, _OPTION_OF[flag]) is not None:
            continue
        old_value, floor = _as_int(existing.get(flag)), _as_int(flags[flag])
        if old_value is not None and floor is not None and old_value > floor:
            flags[flag] = str(old_value)
            notes.append(f"kept --{flag}={old_value} (at least the profile's {floor})")
    return build_config(flags, config.policy), notes


def kubeadm_audit(
    opts: EnableOptions, explicit: set[str], existing: dict[str, str], version: Version | None
) -> KubeadmAudit:
    """The audit configuration for a kubeadm config or patch, as `enable` would build it."""
    config, notes = adopt(opts, explicit, existing, opts.kubernetes_version or version or NEWEST)
    return KubeadmAudit(config, notes)
