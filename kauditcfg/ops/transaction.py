"""The transaction every mutating command runs, callable from Python without the CLI.

    lock → plan → preflight → backup → directory actions → atomic writes (manifest last) → state

A planner (`EnablePlanner`, `DisablePlanner`, `RollbackPlanner`, or any object with `manifest`,
`plan(host)` and `preflight(host, plan)`) decides what the node should hold; this module is the
only sequence that makes it so, whatever the command.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from kauditcfg.hostfs import Host
from kauditcfg.ops.apply import apply_plan
from kauditcfg.ops.backup import latest_backup
from kauditcfg.ops.plan import Plan
from kauditcfg.ops.report import result
from kauditcfg.ops.rollback import restore_plan


class Planner(Protocol):
    manifest: str  # host path of the manifest: the lock is taken on its directory

    def plan(self, host: Host) -> Plan: ...

    def preflight(self, host: Host, plan: Plan) -> Plan: ...


@dataclass
class Result:
    plan: Plan
    backup: str | None  # host path of the backup this run took
    applied: bool

    def to_json(self) -> dict[str, Any]:
        """The result object of the mutating commands (`--json`)."""
        return result(self.plan, self.backup, self.applied)


@dataclass
class Applied:
    """What `after_write` gets: the run that just wrote, and the way back.

    The hook runs under the transaction's lock. To undo the run from inside it (kube-apiserver
    did not become ready), call `restore()`: it writes back every file from this run's backup,
    through the same writer, and returns the plan it carried out; then raise `NotReady`
    (exit 5) so the caller learns the previous files were restored.
    """

    host: Host
    plan: Plan
    backup: str | None

    def restore(self) -> Plan:
        if self.backup is None:
            return Plan(command="rollback")
        found = latest_backup(self.host)
        if found is None or found[0] != self.backup:
            raise RuntimeError(f"{self.backup}: this run's backup is no longer the latest")
        plan = restore_plan(self.host, *found)
        apply_plan(self.host, plan)
        return plan


AfterWrite = Callable[[Applied], None]


def run(host: Host, planner: Planner, *, dry_run: bool, after_write: AfterWrite | None = None) -> Result:
    """Plan and (unless `dry_run`) apply under the node lock; `after_write` runs after a change."""
    if dry_run:
        return Result(planner.preflight(host, planner.plan(host)), None, applied=False)
    with host.lock(planner.manifest):
        plan = planner.preflight(host, planner.plan(host))
        backup = apply_plan(host, plan)
        if after_write is not None and plan.changed:
            after_write(Applied(host, plan, backup))
    return Result(plan, backup, applied=True)
