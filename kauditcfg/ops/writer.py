"""The one writer: every file kauditcfg puts on a node goes through `atomic_write`."""

from __future__ import annotations

from pathlib import Path

from kauditcfg.errors import ManifestChanged
from kauditcfg.ops.fs import FS


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
