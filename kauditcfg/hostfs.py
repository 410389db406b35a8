"""The node's filesystem under `--root`: path resolution, reading, and the run lock.

Host paths (those written into the manifest) are always absolute POSIX paths; `Host.path()` maps
them under the root so tests, image builds and CI can work on a sandbox.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import posixpath
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from kauditcfg.errors import InvalidInput, IOFailure, PreflightRefused, UsageError


def normalize(host_path: str, option: str = "") -> str:
    """`host_path` normalised; a relative path or a `..` that climbs above / is a usage error (exit 2).

    Every host path is joined under --root; a `..` escape would read or write outside it.
    """
    what = f"{option} {host_path!r}" if option else repr(host_path)
    if not host_path.startswith("/"):
        raise UsageError(f"{what}: expected an absolute host path")
    depth = 0
    for part in host_path.split("/"):
        if part == "..":
            depth -= 1
            if depth < 0:
                raise UsageError(f"{what}: '..' climbs above / and would leave --root; give a normal path")
        elif part not in ("", "."):
            depth += 1
    return posixpath.normpath(host_path) if host_path != "/" else "/"


@dataclass(frozen=True)
class Host:
    root: Path = Path("/")

    def path(self, host_path: str) -> Path:
        rel = normalize(host_path).lstrip("/")
        return self.root / rel if rel else self.root

    def read_bytes(self, host_path: str) -> bytes | None:
        try:
            return self.path(host_path).read_bytes()
        except FileNotFoundError:
            return None
        except IsADirectoryError:
            raise InvalidInput(f"{host_path}: is a directory, expected a file") from None
        except OSError as exc:
            raise IOFailure("read", host_path, exc.errno or 0, undone=False) from None

    def stat(self, host_path: str) -> tuple[int, int, int] | None:
        """(mode, uid, gid) of the file, None when it does not exist."""
        try:
            st = self.path(host_path).stat()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise IOFailure("stat", host_path, exc.errno or 0, undone=False) from None
        return st.st_mode & 0o7777, st.st_uid, st.st_gid

    @contextlib.contextmanager
    def lock(self, manifest: str, timeout: float = 30.0) -> Iterator[None]:
        """One kauditcfg at a time per node: two interleaved runs could lose each other's edits.

        The lock is an flock on the static pod directory itself, so taking it creates no file:
        a refused run leaves the disk exactly as it was.
        """
        directory = self.path(posixpath.dirname(manifest))
        try:
            fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            yield  # no directory: planning fails with a clear message, nothing to protect
            return
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES) or time.monotonic() > deadline:
                        raise PreflightRefused(
                            f"{posixpath.dirname(manifest)}: another kauditcfg run holds the lock; "
                            "wait for it to finish and run again"
                        ) from None
                    time.sleep(0.1)
            yield
        finally:
            os.close(fd)
