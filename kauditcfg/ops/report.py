"""A plan as the JSON result of the mutating commands and as unified diffs for people."""

from __future__ import annotations

import difflib
from typing import Any

from kauditcfg.ops.plan import FileChange, Plan


def _text(data: bytes | None) -> str:
    return "" if data is None else data.decode("utf-8", errors="replace")


def _mode(change: FileChange) -> str | None:
    if change.after is None:
        return None
    return f"{change.mode:04o}"


def _owner(change: FileChange) -> str | None:
    """uid:gid the file gets (as root); None when it keeps its owner or is removed."""
    if change.after is None or (change.uid is None and change.gid is None):
        return None
    return f"{'-' if change.uid is None else change.uid}:{'-' if change.gid is None else change.gid}"


def unified_diff(change: FileChange) -> str:
    """`diff -u` of one file; a missing final newline is said the way diff says it."""
    before = _text(change.before).splitlines(keepends=True)
    after = _text(change.after).splitlines(keepends=True)
    for lines in (before, after):
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n\\ No newline at end of file\n"
    header_a = change.path if change.before is not None else "/dev/null"
    header_b = change.path if change.after is not None else "/dev/null"
    text = "".join(difflib.unified_diff(before, after, header_a, header_b))
    if not text and change.owner_changes and change.before_stat is not None:
        mode, uid, gid = change.before_stat
        text = (
            f"--- {change.path} (mode {mode:04o}, owner {uid}:{gid})\n"
            f"+++ {change.path} (mode {change.mode:04o}, owner {change.uid}:{change.gid})\n"
        )
    return text


def result(plan: Plan, backup: str | None, applied: bool) -> dict[str, Any]:
    changed = plan.changed
    extra = {} if plan.restored_from is None else {"restored_from": plan.restored_from}
    return {
        "changed": changed,
        "restart_required": plan.restart_required and changed,
        "files": [
            {"path": f.path, "action": f.action, "mode": _mode(f), "owner": _owner(f)} for f in plan.files
        ],
        "diff": [
            {
                "before_header": f.path if f.before is not None else "/dev/null",
                "after_header": f.path if f.after is not None else "/dev/null",
                "before": _text(f.before),
                "after": _text(f.after),
            }
            for f in plan.files
            if f.changed
        ],
        "backup": backup,
        "actions": [a.describe() for a in plan.actions],
        "applied": applied,
        "warnings": list(plan.warnings),
        "errors": [],
        **extra,
    }
