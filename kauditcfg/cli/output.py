"""The CLI's only ways to speak.

A command's result (a report, a summary, a listing, a diff) goes to stdout, where `| less` and
`| grep` find it; progress, notes, warnings and errors go to stderr; `--json` is one object on
stdout and nothing else. Colour follows `--color` (auto: only on a terminal, and never when
NO_COLOR is set, https://no-color.org).
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from kauditcfg.errors import KauditError, UsageError

COLOUR_CHOICES = ("auto", "always", "never")
_colour_mode = {"value": "auto"}


def set_colour(mode: str) -> None:
    """--color: auto, always or never (any case)."""
    value = mode.lower()
    if value not in COLOUR_CHOICES:
        raise UsageError(f"--color {mode!r}: choose auto, always or never")
    _colour_mode["value"] = value


def use_colour(stream: Any = None) -> bool:
    mode = _colour_mode["value"]
    if mode != "auto":
        return mode == "always"
    if os.environ.get("NO_COLOR"):
        return False
    stream = stream if stream is not None else sys.stdout
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def paint(text: str, colour: str, stream: Any = None) -> str:
    codes = {"red": "31", "green": "32", "yellow": "33", "cyan": "36", "bold": "1"}
    if not use_colour(stream):
        return text
    return f"\x1b[{codes[colour]}m{text}\x1b[0m"


def echo(message: str, colour: str | None = None) -> None:
    """A line of the command's result: stdout."""
    print(paint(message, colour, sys.stdout) if colour else message, file=sys.stdout)


def say(message: str) -> None:
    """A note, progress or an error: stderr, so stdout holds only the result."""
    print(message, file=sys.stderr)


def warn(message: str) -> None:
    say(paint("warning: ", "yellow", sys.stderr) + message)


def emit_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, sort_keys=False) + "\n")
    sys.stdout.flush()


def report_error(exc: KauditError, as_json: bool, json_shape: dict[str, Any] | None = None) -> None:
    """One line per problem on stderr (and the JSON result on stdout with --json)."""
    problems = getattr(exc, "problems", None) or [exc.message]
    if as_json and not exc.reported:
        shape = dict(json_shape or {})
        shape["errors"] = list(problems)
        emit_json(shape)
    if not exc.reported:
        for problem in problems:
            say(paint("kauditcfg: error: ", "red", sys.stderr) + problem)


def empty_result() -> dict[str, Any]:
    """The result shape of the mutating commands (Ansible-style), with nothing in it."""
    return {
        "changed": False,
        "restart_required": False,
        "files": [],
        "diff": [],
        "backup": None,
        "pruned_backups": [],
        "warnings": [],
        "errors": [],
    }
