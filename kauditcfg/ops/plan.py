"""What a mutating command intends to do to the node, computed before anything is touched.

Like kubeadm's control-plane phases: compute the desired files first, then write them. A `Plan`
is pure data; `ops.apply` is the only place that writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kauditcfg.manifest.pod import ApiServerPod

# What a planned file is, so no step has to guess from its path.
MANIFEST = "manifest"
POLICY = "policy"
WEBHOOK_KUBECONFIG = "webhook-kubeconfig"
KUBEADM_PATCH = "kubeadm-patch"
RESTORED = "restored"  # a file rollback puts back from a backup


@dataclass(frozen=True)
class FileChange:
    """One file the command wants in a given state (`after` None means: remove it).

    `owned`: kauditcfg wrote this file and answers for it (recorded in state.json, removed by
    `disable --purge`). `mode`/`uid`/`gid` are what the file gets; None keeps the owner.
    """

    path: str  # host path
    before: bytes | None
    after: bytes | None
    role: str = POLICY
    owned: bool = False
    mode: int = 0o600
    uid: int | None = None
    gid: int | None = None
    before_stat: tuple[int, int, int] | None = None  # (mode, uid, gid) of the file on disk

    @property
    def action(self) -> str:
        if self.before is None and self.after is None:
            return "unchanged"
        if self.before is None:
            return "created"
        if self.after is None:
            return "removed"
        if self.before != self.after or self.owner_changes:
            return "modified"
        return "unchanged"

    @property
    def owner_changes(self) -> bool:
        """Same bytes, but the mode or owner on disk is not the one wanted."""
        if self.before_stat is None or self.after is None:
            return False
        mode, uid, gid = self.before_stat
        return (
            mode != self.mode
            or (self.uid is not None and uid != self.uid)
            or (self.gid is not None and gid != self.gid)
        )

    @property
    def changed(self) -> bool:
        return self.action != "unchanged"


@dataclass(frozen=True)
class HostAction:
    """A change to a directory the plan needs besides file contents (made during apply)."""

    kind: str  # "mkdir" | "chown" | "chmod"
    path: str  # host path
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None

    def describe(self) -> str:
        parts = [self.kind, self.path]
        if self.uid is not None or self.gid is not None:
            parts.append(f"owner {self.uid}:{self.gid}")
        if self.mode is not None:
            parts.append(f"mode {self.mode:04o}")
        return " ".join(parts)


@dataclass
class Plan:
    command: str
    files: list[FileChange] = field(default_factory=list)
    actions: list[HostAction] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    restart_required: bool = False
    backup: bool = True  # False for rollback: backing its copies up again would shadow the backup
    restored_from: str | None = None  # rollback: the backup it restores
    pod: ApiServerPod | None = None  # the manifest as it will be, for preflight

    @property
    def changed(self) -> bool:
        return any(f.changed for f in self.files) or bool(self.actions)

    @property
    def manifest(self) -> FileChange | None:
        return next((f for f in self.files if f.role == MANIFEST), None)
