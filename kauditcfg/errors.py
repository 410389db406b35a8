"""Errors that end a command, each carrying its exit code (the table in README.md).

Every message is one line a user can act on: the file, the field, the problem and the fix.
"""

from __future__ import annotations

import errno
import os
import signal

EXIT_OK = 0
EXIT_CHANGES = 1
EXIT_USAGE = 2
EXIT_INVALID = 3
EXIT_PREFLIGHT = 4
EXIT_NOT_READY = 5
EXIT_IO = 6


class KauditError(Exception):
    """Base class: the command stops, nothing on disk has changed."""

    exit_code = EXIT_INVALID
    reported = False  # True: the command already printed its problems (e.g. `policy validate`)

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.problems = problems if problems is not None else [message]

    def __str__(self) -> str:
        return self.message


class InvalidInput(KauditError):
    """A manifest, policy or value that cannot be parsed or is invalid (exit 3)."""

    exit_code = EXIT_INVALID


class Reported(InvalidInput):
    """Invalid input the command has already described in its own output (exit 3)."""

    reported = True


class UsageError(KauditError):
    """Options that do not fit together (exit 2, as click does)."""

    exit_code = EXIT_USAGE


class PreflightRefused(KauditError):
    """The change would stop kube-apiserver from starting (exit 4)."""

    exit_code = EXIT_PREFLIGHT


class NotReady(KauditError):
    """Applied, kube-apiserver did not become ready, previous files restored (exit 5)."""

    exit_code = EXIT_NOT_READY


class ManifestChanged(InvalidInput):
    """Compare-and-swap: the manifest was edited between planning and the rename (exit 3)."""

    def __init__(self, manifest: str) -> None:
        super().__init__(f"{manifest}: the manifest changed while kauditcfg was running; run it again")


_HINTS = {
    errno.ENOSPC: "free disk space and run again",
    errno.EDQUOT: "free disk space (quota) and run again",
    errno.EROFS: "the filesystem is mounted read-only: remount it read-write and run again",
    errno.EACCES: "run kauditcfg as root, or fix the permissions",
    errno.EPERM: "run kauditcfg as root, or remove the immutable attribute (chattr -i)",
    errno.ENOTDIR: "a component of the path is not a directory: check --root and the paths",
    errno.EISDIR: "a directory is where a file should be: move it away",
}


class IOFailure(KauditError):
    """The node's filesystem refused an operation; every step already done was undone (exit 6)."""

    exit_code = EXIT_IO

    def __init__(self, op: str, path: str, err: int, undone: bool = True, extra: str = "") -> None:
        words = os.strerror(err) if err else "unknown error"
        name = errno.errorcode.get(err, str(err))
        outcome = "every step already done was undone, nothing changed" if undone else "nothing was changed"
        hint = _HINTS.get(err, "fix the cause and run again")
        super().__init__(f"{path}: cannot {op}: {words} ({name}); {outcome}{extra}; {hint}")
        self.op, self.path, self.errno = op, path, err


class Interrupted(KauditError):
    """SIGTERM, SIGINT or SIGHUP during a run: undone, then exit 128 + the signal number."""

    def __init__(self, signum: int, undone: bool = True) -> None:
        name = signal.Signals(signum).name
        outcome = "every step already done was undone, nothing changed" if undone else "nothing was changed"
        super().__init__(f"interrupted by {name}: {outcome}")
        self.signum = signum
        self.exit_code = 128 + signum
