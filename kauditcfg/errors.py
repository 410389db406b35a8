"""Errors that end a command, each carrying its exit code (the table in README.md).

Every message is one line a user can act on: the file, the field, the problem and the fix.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_CHANGES = 1
EXIT_USAGE = 2
EXIT_INVALID = 3
EXIT_PREFLIGHT = 4
EXIT_NOT_READY = 5


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
