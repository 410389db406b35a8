"""Can the kube-apiserver process read, write or search a host path? Judged like the kernel does.

The judgement uses only `st_uid`, `st_gid` and the mode bits (POSIX ACLs, SELinux and read-only
filesystems are out of scope; `check` reports SELinux separately). The kernel picks exactly one
class: the owner bits when the uid owns the file (even if the group or other bits would allow
more), else the group bits when the file's group is the primary or a supplementary group, else
the other bits. A process with CAP_DAC_OVERRIDE (root in a default container) bypasses read and
write checks and directory search; executing a regular file still needs one x bit.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

READ = "r"
WRITE = "w"
SEARCH = "x"  # execute for files, search (traverse) for directories


@dataclass(frozen=True)
class Identity:
    """Who the kube-apiserver process is inside its container."""

    uid: int = 0
    gid: int = 0
    groups: frozenset[int] = field(default_factory=frozenset)  # supplementary, fsGroup included
    dac_override: bool = True  # False when the container drops CAP_DAC_OVERRIDE

    @property
    def is_root(self) -> bool:
        return self.uid == 0

    @property
    def bypasses_dac(self) -> bool:
        return self.uid == 0 and self.dac_override

    def all_groups(self) -> frozenset[int]:
        return self.groups | {self.gid}

    def describe(self) -> str:
        text = f"uid {self.uid} gid {self.gid}"
        extra = sorted(self.groups - {self.gid})
        if extra:
            text += " (supplementary groups " + ",".join(str(g) for g in extra) + ")"
        return text


def identity_from_security(
    run_as_user: int,
    run_as_group: int | None,
    supplemental_groups: list[int],
    fs_group: int | None,
    capabilities: Any = None,
) -> Identity:
    """The process identity a container runtime gives kube-apiserver.

    An unset runAsGroup leaves the primary group to the image's /etc/passwd; the distroless
    kube-apiserver image has no entry for a system uid such as kubeadm-kas, so the runtime uses
    gid 0. fsGroup is added to the supplementary groups (the kubelet never chowns hostPath
    volumes for it, but the process does carry the group).
    """
    groups = set(supplemental_groups)
    if fs_group is not None:
        groups.add(fs_group)
    return Identity(
        uid=run_as_user,
        gid=run_as_group if run_as_group is not None else 0,
        groups=frozenset(groups),
        dac_override=not _drops_dac_override(capabilities),
    )


def _drops_dac_override(capabilities: Any) -> bool:
    if not isinstance(capabilities, dict):
        return False

    def names(key: str) -> set[str]:
        items = capabilities.get(key) or []
        return {str(c).upper().removeprefix("CAP_") for c in items} if isinstance(items, list) else set()

    dropped = names("drop")
    return bool(dropped & {"ALL", "DAC_OVERRIDE"}) and "DAC_OVERRIDE" not in names("add")


def permission_bits(st_uid: int, st_gid: int, st_mode: int, who: Identity) -> int:
    """The rwx triplet (0..7) the kernel applies to `who` for this file."""
    if who.uid == st_uid:
        return (st_mode >> 6) & 0o7
    if st_gid in who.all_groups():
        return (st_mode >> 3) & 0o7
    return st_mode & 0o7


def allowed(st_uid: int, st_gid: int, st_mode: int, who: Identity, want: str) -> bool:
    """True when `who` may do every access in `want` (a string of r, w, x)."""
    if who.bypasses_dac:
        if SEARCH in want and not stat.S_ISDIR(st_mode):
            return bool(st_mode & 0o111)
        return True
    bits = permission_bits(st_uid, st_gid, st_mode, who)
    needed = (4 if READ in want else 0) | (2 if WRITE in want else 0) | (1 if SEARCH in want else 0)
    return bits & needed == needed


def can(path: Path, who: Identity, want: str) -> bool:
    """`allowed` for an existing path (symlinks followed); False when it does not exist."""
    try:
        st = path.stat()
    except OSError:
        return False
    return allowed(st.st_uid, st.st_gid, st.st_mode, who, want)


def can_stat(st: os.stat_result, who: Identity, want: str) -> bool:
    return allowed(st.st_uid, st.st_gid, st.st_mode, who, want)


def describe_stat(st: os.stat_result) -> str:
    """`owner 0:0 mode 0755`, the form every ownership message uses."""
    return f"owner {st.st_uid}:{st.st_gid} mode {stat.S_IMODE(st.st_mode):04o}"


def missing_bits(st_uid: int, st_gid: int, st_mode: int, who: Identity, want: str) -> int:
    """The smallest chmod addition that grants `want` to `who` in the class the kernel will use."""
    needed = (4 if READ in want else 0) | (2 if WRITE in want else 0) | (1 if SEARCH in want else 0)
    if who.uid == st_uid:
        shift = 6
    elif st_gid in who.all_groups():
        shift = 3
    else:
        shift = 0
    have = (st_mode >> shift) & 0o7
    return ((needed & ~have) & 0o7) << shift
