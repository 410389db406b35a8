"""The CLI's only ways to speak: JSON on stdout, human text on stderr."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from kauditcfg.errors import KauditError


def use_colour(stream: Any = None) -> bool:
    stream = stream if stream is not None else sys.stderr
    if os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def paint(text: str, colour: str, stream: Any = None) -> str:
    codes = {"red": "31", "green": "32", "yellow": "33", "cyan": "36", "bold": "1"}
    if not use_colour(stream):
        return text
    return f"\x1b[{codes[colour]}m{text}\x1b[0m"


def say(message: str) -> None:
    """Human output: always stderr, so stdout stays machine-readable."""
    print(message, file=sys.stderr)


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
            say(paint("kauditcfg: error: ", "red") + problem)


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
