"""The CLI's only ways to speak: JSON on stdout, human text on stderr, and one error handler."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import typer

from kauditcfg.errors import KauditError

T = TypeVar("T")


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


def fail(exc: KauditError, as_json: bool, json_shape: dict[str, Any] | None = None) -> NoReturn:
    """One line on stderr (and the JSON result on stdout with --json), then the exit code."""
    problems = getattr(exc, "problems", None) or [exc.message]
    if as_json:
        shape = dict(json_shape or {})
        shape["errors"] = list(problems)
        emit_json(shape)
    for problem in problems:
        say(paint("kauditcfg: error: ", "red") + problem)
    raise typer.Exit(exc.exit_code)


def run(action: Callable[[], T], as_json: bool, json_shape: dict[str, Any] | None = None) -> T:
    """Run a command body; a KauditError becomes a clean message and its exit code, never a traceback."""
    try:
        return action()
    except KauditError as exc:
        fail(exc, as_json, json_shape)


def empty_result() -> dict[str, Any]:
    """The DESIGN.md §2 result shape of the mutating commands, with nothing in it."""
    return {
        "changed": False,
        "restart_required": False,
        "files": [],
        "diff": [],
        "backup": None,
        "warnings": [],
        "errors": [],
    }
