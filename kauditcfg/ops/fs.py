"""The filesystem layer of the transaction: every change on the node is one call here.

The one writer, the backup and the journal take their I/O from an `FS`, so a test can put a
fault (ENOSPC, EROFS), a signal or a rival writer at any single step. Each method names its
step (`op`, host path) to `step()` first; an `OSError` becomes an `IOFailure` naming the path,
the operation and the errno in words.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from kauditcfg.errors import IOFailure


class FS:
    def __init__(self, root: Path = Path("/"), privileged: bool | None = None, durable: bool = True) -> None:
        self.root = root
        self.durable = durable  # False only in tests: the steps stay, the fsyncs (slow, not judged) go
        # chown needs CAP_CHOWN; as an ordinary user (a --root sandbox) ownership stays a plan field.
        self.privileged = os.geteuid() == 0 if privileged is None else privileged

    def host_path(self, path: Path) -> str:
        try:
            rel = path.relative_to(self.root)
        except ValueError:
            return str(path)
        return "/" + str(rel) if str(rel) != "." else "/"

    def step(self, op: str, path: Path) -> None:
        """Called before every operation; the base layer does nothing (tests inject faults here)."""

    @contextlib.contextmanager
    def _io(self, op: str, path: Path) -> Iterator[None]:
        try:
            self.step(op, path)
            yield
        except OSError as exc:
            raise IOFailure(op, self.host_path(path), exc.errno or 0) from None

    def write_new(self, path: Path, data: bytes, mode: int) -> None:
        """Create (or truncate) `path` with `data`, mode `mode`, and fsync it."""
        with self._io("write", path):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fchmod(fd, mode)
                if self.durable:
                    os.fsync(fd)
            finally:
                os.close(fd)

    def read(self, path: Path) -> bytes | None:
        with self._io("read", path):
            try:
                return path.read_bytes()
            except FileNotFoundError:
                return None

    def chown(self, path: Path, uid: int | None, gid: int | None) -> None:
        if not self.privileged or (uid is None and gid is None):
            return
        with self._io("chown", path):
            os.chown(path, -1 if uid is None else uid, -1 if gid is None else gid, follow_symlinks=False)

    def chmod(self, path: Path, mode: int) -> None:
        with self._io("chmod", path):
            os.chmod(path, mode)

    def rename(self, src: Path, dst: Path) -> None:
        with self._io("rename", dst):
            os.rename(src, dst)

    def unlink(self, path: Path) -> None:
        with self._io("remove", path), contextlib.suppress(FileNotFoundError):
            os.unlink(path)

    def mkdir(self, path: Path, mode: int = 0o755) -> None:
        with self._io("create directory", path):
            os.mkdir(path, mode)

    def rmdir(self, path: Path) -> None:
        with self._io("remove directory", path), contextlib.suppress(FileNotFoundError):
            os.rmdir(path)

    def fsync_dir(self, path: Path) -> None:
        with self._io("sync directory", path):
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
            try:
                if self.durable:
                    os.fsync(fd)
            finally:
                os.close(fd)

    # Cleanup is not a step: it runs on the way out of a failure and must not fail the undo.

    def discard(self, path: Path) -> None:
        with contextlib.suppress(OSError):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                os.unlink(path)
