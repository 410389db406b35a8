"""The one writer: every file kauditcfg puts on a node goes through `atomic_write`."""

from __future__ import annotations

import os
from pathlib import Path

from kauditcfg.errors import ManifestChanged
from kauditcfg.ops.fs import FS


def link_target(path: Path, root: Path = Path("/")) -> Path:
    """The file a symlinked manifest points at (configuration management often keeps the manifest as
    a link into a checkout): written in place of the link, a rename would replace the link with a
    regular file and leave the real file unpatched. Absolute targets resolve under `root`."""
    for _ in range(40):  # the kernel's own limit on nested links (MAXSYMLINKS)
        if not path.is_symlink():
            return path
        target = os.readlink(path)
        if os.path.isabs(target):
            inside = str(root) != "/" and not target.startswith(str(root).rstrip("/") + "/")
            path = root / target.lstrip("/") if inside else Path(target)
        else:
            path = Path(os.path.normpath(path.parent / target))
    raise OSError(f"{path}: too many levels of symbolic links")


def temp_name(path: Path) -> Path:
    """Dot-prefixed, in the same directory: the kubelet ignores dot files in staticPodPath
    (pkg/kubelet/config/file.go skips names starting with '.'), and a rename within one
    filesystem is atomic."""
    return path.parent / f".{path.name}.kauditcfg.tmp"


def atomic_write(
    path: Path,
    data: bytes,
    mode: int,
    uid: int | None = None,
    gid: int | None = None,
    *,
    fs: FS | None = None,
    expect: bytes | None = None,
    expect_label: str = "",
) -> None:
    """Write through a temp file, fsync, rename, fsync the directory: never a half-written file.

    `expect`: compare-and-swap; the file must still hold these bytes just before the rename
    (ManifestChanged otherwise, and nothing is replaced).
    """
    fs = fs or FS()
    tmp = temp_name(path)
    try:
        fs.write_new(tmp, data, mode)
        fs.chown(tmp, uid, gid)
        if expect is not None and fs.read(path) != expect:
            raise ManifestChanged(expect_label or str(path))
        fs.rename(tmp, path)
    except BaseException:
        fs.discard(tmp)
        raise
    fs.fsync_dir(path.parent)
