"""Judgement: the worst-case rotation footprint against the free space of the log filesystem."""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kauditcfg.config.findings import Finding
from kauditcfg.hostfs import Host
from kauditcfg.manifest.pod import ApiServerPod
from kauditcfg.node.paths import int_flag, log_path_of

MIB = 1024 * 1024  # lumberjack's "megabyte"
LUMBERJACK_DEFAULT_MAXSIZE = 100
DISK_WARN_FRACTION = 0.25
DISK_REFUSE_FRACTION = 0.75

Statvfs = Callable[[str], Any]  # os.statvfs or a stand-in with f_bavail and f_frsize


def default_statvfs(path: str) -> Any:
    """The free-space source when none is given; tests replace it to simulate a small disk."""
    return os.statvfs(path)


def nearest_existing(host: Host, host_path: str) -> str:
    current = posixpath.normpath(host_path)
    while current != "/" and not host.path(current).exists():
        current = posixpath.dirname(current)
    return current


def free_bytes(host: Host, host_dir: str, statvfs: Statvfs | None = None) -> tuple[str, int]:
    """(nearest existing ancestor, bytes an unprivileged writer may still use on its filesystem)."""
    existing = nearest_existing(host, host_dir)
    st = (statvfs or default_statvfs)(str(host.path(existing)))
    return existing, int(st.f_bavail) * int(st.f_frsize)


def existing_log_bytes(host: Host, log_host_path: str) -> int:
    """Bytes the current log and its rotated copies already take (lumberjack: name-<time>.ext[.gz])."""
    real = host.path(log_host_path)
    stem, ext = posixpath.splitext(real.name)
    total = 0
    try:
        entries = list(real.parent.iterdir())
    except OSError:
        return 0
    for entry in entries:
        name = entry.name
        rotated = name.startswith(stem + "-") and (name.endswith(ext) or name.endswith(ext + ".gz"))
        if name == real.name or rotated:
            try:
                if entry.is_file():
                    total += entry.stat().st_size
            except OSError:
                continue
    return total


@dataclass
class DiskBudget:
    budget: int  # bytes
    free: int  # bytes free now plus what the current audit files already occupy
    log_dir: str  # host path
    maxsize: int
    maxbackup: int

    @property
    def fraction(self) -> float:
        return self.budget / self.free if self.free > 0 else float("inf")

    def describe(self) -> str:
        return (
            f"--audit-log-maxsize={self.maxsize} × (--audit-log-maxbackup={self.maxbackup} + 1) = "
            f"{self.budget // MIB} MB of audit logs is {self.fraction * 100:.0f}% of the "
            f"{self.free // MIB} MB available on the filesystem holding {self.log_dir}"
        )


def disk_budget(
    host: Host, pod: ApiServerPod, log_dir_host: str, statvfs: Statvfs | None = None
) -> DiskBudget | None:
    """The worst-case footprint of rotation against free space; None when unbounded or unknown."""
    maxsize = int_flag(pod, "audit-log-maxsize")
    maxbackup = int_flag(pod, "audit-log-maxbackup")
    if maxbackup is None or maxbackup <= 0:
        return None
    size = maxsize if maxsize is not None and maxsize > 0 else LUMBERJACK_DEFAULT_MAXSIZE
    log = log_path_of(pod)
    _, free = free_bytes(host, log_dir_host, statvfs)
    if log is not None:
        free += existing_log_bytes(host, posixpath.join(log_dir_host, posixpath.basename(log)))
    return DiskBudget(size * MIB * (maxbackup + 1), free, log_dir_host, size, maxbackup)


def disk_findings(budget: DiskBudget | None) -> list[Finding]:
    """Rotation's worst case above a quarter of the free space (medium): worth a look, not fatal."""
    if budget is None or budget.fraction <= DISK_WARN_FRACTION:
        return []
    message = (
        f"{budget.describe()}, above {DISK_WARN_FRACTION:.0%}; lower --audit-log-maxbackup or "
        "--audit-log-maxsize (enable: --log-maxbackup, --log-maxsize), turn on log compression, or give "
        "the logs their own filesystem"
    )
    return [Finding("disk-budget", "medium", message, budget.log_dir)]
