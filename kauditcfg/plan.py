"""What a mutating command intends to do to the node, computed before anything is touched.

Like kubeadm's control-plane phases: compute the desired files first, then write them. A `Plan`
is pure data; `apply.py` is the only place that writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FileChange:
    """One file the command wants in a given state (`after` None means: remove it)."""

    path: str  # host path
    before: bytes | None
    after: bytes | None
    mode: int = 0o600
    uid: int | None = None  # None: keep the current owner (root for a new file)
    gid: int | None = None
    keep_mode: bool = False  # True: an existing file keeps its mode and owner (the manifest)
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
        if self.keep_mode or self.before_stat is None or self.after is None:
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
    restored_from: str | None = None  # rollback: the backup it restores

    @property
    def changed(self) -> bool:
        return any(f.changed for f in self.files) or bool(self.actions)
