"""The transaction every mutating command runs, callable from Python without the CLI.

    lock → recover → plan → preflight → journal → backup → directories → files → manifest (CAS)
    → deletions → state → after_write → done → prune old backups

A planner (`EnablePlanner`, `DisablePlanner`, `RollbackPlanner`, or any object with `manifest`,
`plan(host)` and `preflight(host, plan)`) decides what the node should hold; this module is the
only sequence that makes it so, whatever the command. A failure, a signal (SIGTERM, SIGINT,
SIGHUP) or an exception from `after_write` undoes every step already done and removes the run's
backup; the node then holds exactly what it held before.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from kauditcfg.config.defaults import KEEP_BACKUPS
from kauditcfg.errors import IOFailure, KauditError, NotReady
from kauditcfg.hostfs import Host
from kauditcfg.ops import apply
from kauditcfg.ops.backup_catalog import prune
from kauditcfg.ops.fs import FS
from kauditcfg.ops.journal import JOURNAL_FILE, Journal
from kauditcfg.ops.plan import Plan
from kauditcfg.ops.recovery import recover
from kauditcfg.ops.report import result
from kauditcfg.ops.signals import guarded


class Planner(Protocol):
    manifest: str  # host path of the manifest: the lock is taken on its directory

    def plan(self, host: Host) -> Plan: ...

    def preflight(self, host: Host, plan: Plan) -> Plan: ...


@dataclass
class Result:
    plan: Plan
    backup: str | None  # host path of the backup this run took (kept for `rollback`)
    applied: bool
    warnings: list[str] = field(default_factory=list)  # recovery notes, cleanup trouble
    pruned: list[str] = field(default_factory=list)  # old backups removed after the change (keep_backups)

    def to_json(self) -> dict[str, Any]:
        """The result object of the mutating commands (`--json`)."""
        out = result(self.plan, self.backup, self.applied)
        out["warnings"] = self.warnings + out["warnings"]
        out["pruned_backups"] = list(self.pruned)
        return out


@dataclass
class Applied:
    """What `after_write` gets: the run that just wrote (still under the lock), and the way back.

    To give up (kube-apiserver did not become ready), raise `NotReady` (exit 5): the
    transaction then restores every file from this run's backup, as for any failure. To restore
    first and keep working inside the hook (e.g. wait for the old kube-apiserver), call
    `restore()`; the transaction's own undo afterwards finds nothing left to do.
    """

    host: Host
    plan: Plan
    backup: str | None
    journal: Journal
    fs: FS
    restored: bool = False

    def restore(self) -> None:
        apply.undo(self.host, self.journal, self.fs)
        self.restored = True


AfterWrite = Callable[[Applied], None]


def run(
    host: Host,
    planner: Planner,
    *,
    dry_run: bool,
    after_write: AfterWrite | None = None,
    fs: FS | None = None,
    keep_backups: int = KEEP_BACKUPS,
) -> Result:
    """Plan and (unless `dry_run`) apply under the node lock; `after_write` runs after a change.

    Once a change is applied, backups beyond the newest `keep_backups` are removed (0: none).
    """
    if dry_run:
        plan = planner.preflight(host, planner.plan(host))
        notes = [f"{JOURNAL_FILE}: an interrupted run needs recovery; run without --dry-run"]
        return Result(plan, None, applied=False, warnings=notes if host.path(JOURNAL_FILE).exists() else [])
    fs = fs or FS(host.root)
    with guarded() as guard, host.lock(planner.manifest):
        notes = recover(host, fs)
        plan = planner.preflight(host, planner.plan(host))
        notes += ownership_notes(plan, fs)
        if not plan.changed:
            return Result(plan, None, applied=True, warnings=notes)
        journal = apply.prepare(host, plan, fs)
        try:
            apply.execute(host, plan, journal, fs)
            if after_write is not None:
                applied = Applied(host, plan, journal.backup if journal.keep_backup else None, journal, fs)
                after_write(applied)
                if applied.restored:
                    raise NotReady(
                        "the change was undone by the after-write hook; the previous files are back"
                    )
        except BaseException as exc:
            with guard.deferred():
                failure = _undo(host, journal, fs, exc)
            raise failure from None
        backup = journal.backup if journal.keep_backup else None
        with guard.deferred():
            apply.close(host, journal, fs)
            pruned = prune(host, fs, keep_backups, protect=backup)
    return Result(plan, backup, applied=True, warnings=notes + pruned.warnings, pruned=pruned.removed)


def _undo(host: Host, journal: Journal, fs: FS, exc: BaseException) -> BaseException:
    """Undo after `exc`; the error to report (the undo's own failure says how to finish by hand)."""
    try:
        apply.undo(host, journal, fs)
    except (KauditError, OSError) as second:
        detail = str(second)
        if isinstance(exc, IOFailure):
            return IOFailure(
                exc.op, exc.path, exc.errno, undone=False, extra=f"; the undo failed too ({detail})"
            )
        return KauditError(f"{exc}; the undo failed too ({detail}); restore by hand from {journal.backup}")
    return exc


def ownership_notes(plan: Plan, fs: FS) -> list[str]:
    """Without root nothing is chowned: say what a real node (as root) would get."""
    if fs.privileged:
        return []
    me = (os.geteuid(), os.getegid())
    owners = [
        f"{f.path} {f.uid}:{f.gid}"
        for f in plan.files
        if f.changed and f.after is not None and f.uid is not None and (f.uid, f.gid) != me
    ]
    owners += [a.describe() for a in plan.actions if a.uid is not None and (a.uid, a.gid) != me]
    if not owners:
        return []
    return [
        f"not running as root: ownership left as is; on a real node kauditcfg runs as root and sets "
        f"{', '.join(owners)}"
    ]
