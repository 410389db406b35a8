"""The one writer: every file kauditcfg puts on a node goes through `atomic_write`."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def temp_name(path: Path) -> Path:
    """Dot-prefixed, in the same directory: the kubelet ignores dot files in staticPodPath
    (pkg/kubelet/config/file.go skips names starting with '.'), and a rename within one
    filesystem is atomic."""
    return path.parent / f".{path.name}.kauditcfg.tmp"


def atomic_write(path: Path, data: bytes, mode: int, uid: int | None = None, gid: int | None = None) -> None:
    """Write through a temp file, fsync, rename, fsync the directory: never a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            if uid is not None or gid is not None:
                os.fchown(handle.fileno(), -1 if uid is None else uid, -1 if gid is None else gid)
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
