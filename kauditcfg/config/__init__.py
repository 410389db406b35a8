"""The desired audit configuration, built once and purely, and the constants it is built from.

`desired_config(options, pod, inputs)` gives an `AuditConfig` grouped by backend (`log`, and
`webhook`, None until the webhook options fill it). Its `flags`, `mounts` and `config_hash` are
derived; `flags_and_mounts(config)` hands them to other generators (kubeadm ClusterConfiguration).
"""

from __future__ import annotations

from kauditcfg.config.audit import (
    AuditConfig,
    LogBackend,
    MountSpec,
    WebhookBackend,
    build_config,
    config_hash,
    flags_and_mounts,
    mounts_for,
)
from kauditcfg.config.findings import SEVERITY_RANK, Finding, Severity
from kauditcfg.config.options import EnableOptions

__all__ = [
    "SEVERITY_RANK",
    "AuditConfig",
    "EnableOptions",
    "Finding",
    "LogBackend",
    "MountSpec",
    "Severity",
    "WebhookBackend",
    "build_config",
    "config_hash",
    "flags_and_mounts",
    "mounts_for",
]
