"""Fault injection through the transaction's filesystem layer, and the node's consistency check."""

from __future__ import annotations

import errno
import os
import signal
from collections.abc import Callable
from pathlib import Path

from kauditcfg.config.audit import config_hash
from kauditcfg.config.defaults import HASH_ANNOTATION, STATE_DIR
from kauditcfg.hostfs import Host
from kauditcfg.manifest.files import read_manifest
from kauditcfg.ops.fs import FS
from tests.helpers import MANIFEST

Fault = Callable[[str, Path], None]


class Faulty(FS):
    """Counts every step; at step number `at` runs `fault` (raise, signal, rival write)."""

    def __init__(self, root: Path, at: int = -1, fault: Fault | None = None) -> None:
        super().__init__(root, durable=False)
        self.at = at
        self.fault = fault
        self.trace: list[tuple[str, str]] = []

    def step(self, op: str, path: Path) -> None:
        index = len(self.trace)
        self.trace.append((op, self.host_path(path)))
        if index == self.at and self.fault is not None:
            self.fault(op, path)


def oserror(code: int) -> Fault:
    def fault(op: str, path: Path) -> None:
        raise OSError(code, os.strerror(code), str(path))

    return fault


def send(signum: int) -> Fault:
    def fault(op: str, path: Path) -> None:
        os.kill(os.getpid(), signum)

    return fault


def rival(host: Host, edit: bytes = b"# edited by someone else\n") -> Fault:
    def fault(op: str, path: Path) -> None:
        with host.path(MANIFEST).open("ab") as handle:
            handle.write(edit)

    return fault


FAULTS: dict[str, tuple[Fault, int]] = {
    "ENOSPC": (oserror(errno.ENOSPC), 6),
    "EROFS": (oserror(errno.EROFS), 6),
    "SIGTERM": (send(signal.SIGTERM), 143),
    "SIGINT": (send(signal.SIGINT), 130),
    "SIGHUP": (send(signal.SIGHUP), 129),
}


def snapshot(root: Path) -> dict[str, tuple[bytes | None, int]]:
    """Files (bytes, mode) everywhere, directories outside kauditcfg's own state directory."""
    state_dir = root / STATE_DIR.lstrip("/")
    snap: dict[str, tuple[bytes | None, int]] = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        if path.is_dir():
            if path == state_dir or state_dir in path.parents:
                continue
            snap[str(path.relative_to(root))] = (None, st.st_mode)
        else:
            snap[str(path.relative_to(root))] = (path.read_bytes(), st.st_mode)
    return snap


def leftovers(root: Path) -> list[str]:
    """Temp files, partial backups, a journal or undo copies: none may outlive a run."""
    found = []
    for path in root.rglob("*"):
        temp = path.name.endswith((".kauditcfg.tmp", ".partial")) or path.name == "journal.json"
        undo_copy = path.parent.name == "undo" and path.parent.parent.name == "kauditcfg"
        if temp or undo_copy:
            found.append(str(path.relative_to(root)))
    return found


def assert_consistent(host: Host) -> None:
    """The manifest's config-hash matches the files on disk, and every file it references exists."""
    pod = read_manifest(host, MANIFEST)[0]
    flags = {f.name: str(f.value) for f in pod.flags if f.name.startswith("audit-")}
    policy_path = flags.get("audit-policy-file")
    annotation = pod.annotations.get(HASH_ANNOTATION)
    if policy_path is None:
        assert annotation is None, "a config-hash without a policy"
        return
    policy = host.read_bytes(policy_path)
    assert policy is not None, f"the manifest points at {policy_path}, which is gone"
    assert annotation == config_hash(flags, policy, None), "the config-hash disagrees with the policy on disk"
