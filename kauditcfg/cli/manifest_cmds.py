"""enable / disable / diff / rollback: parse options, run the transaction, print its result."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from kauditcfg.cli.backend_options import backend_options
from kauditcfg.cli.cluster_opts import Kubeconfig, Node, Timeout, Wait, WaitOptions, after_write
from kauditcfg.cli.options import (
    AllowUnbounded,
    DryRun,
    FixOwnership,
    Json,
    K8sVersion,
    LogCompress,
    LogFormat,
    LogPath,
    Manifest,
    MaxAge,
    MaxBackup,
    MaxSize,
    PolicyFile,
    PolicyPath,
    Profile,
    Root,
    SetValues,
    ValuesFile,
    enable_options,
)
from kauditcfg.cli.output import emit_json, paint, say, use_colour
from kauditcfg.config.defaults import DEFAULT_MANIFEST
from kauditcfg.errors import UsageError
from kauditcfg.hostfs import Host

# The core (ruamel.yaml, jinja2, the policy engine) is imported inside each command, so that
# `kauditcfg --help` and the commands that do not need it start fast.
if TYPE_CHECKING:
    from kauditcfg.ops.plan import Plan
    from kauditcfg.ops.transaction import Planner, Result


def _colour_diff(text: str) -> str:
    if not use_colour(sys.stdout):
        return text
    out = []
    for line in text.splitlines(keepends=True):
        if line.startswith(("+++", "---")):
            out.append(paint(line, "bold", sys.stdout))
        elif line.startswith("+"):
            out.append(paint(line, "green", sys.stdout))
        elif line.startswith("-"):
            out.append(paint(line, "red", sys.stdout))
        elif line.startswith("@@"):
            out.append(paint(line, "cyan", sys.stdout))
        else:
            out.append(line)
    return "".join(out)


def print_diffs(plan: Plan) -> None:
    from kauditcfg.ops.report import unified_diff

    for change in plan.files:
        if change.changed:
            sys.stdout.write(_colour_diff(unified_diff(change)))
    for action in plan.actions:
        say(f"would {action.describe()}")
    for warning in plan.warnings:
        say(paint("warning: ", "yellow") + warning)
    sys.stdout.flush()


def print_summary(result: Result) -> None:
    plan = result.plan
    for note in result.warnings:
        say(paint("warning: ", "yellow") + note)
    for change in plan.files:
        if change.changed:
            say(f"{change.action:>9}  {change.path}")
    for action in plan.actions:
        say(f"     done  {action.describe()}")
    for warning in plan.warnings:
        say(paint("warning: ", "yellow") + warning)
    if not plan.changed:
        say("nothing to change")
        return
    if result.backup:
        say(f"backup of the replaced files: {result.backup} (undo with: kauditcfg rollback)")
    if plan.restored_from:
        say(f"restored from {plan.restored_from}")
    if plan.restart_required:
        say(
            "the kubelet will restart kube-apiserver now; check it with: "
            "kubectl -n kube-system get pod -l component=kube-apiserver"
        )


def mutate(
    root: Path, planner: Planner, dry_run: bool, as_json: bool, wait: WaitOptions | None = None
) -> None:
    """The common run of enable/disable/rollback: the transaction, then its report."""
    from kauditcfg.ops import transaction

    host = Host(root)
    # --wait finds this node's kube-apiserver before anything is written: an unreachable cluster
    # refuses the run instead of rolling back a good change later
    gate = wait.gate(host) if wait is not None and not dry_run else None
    hook = after_write(gate) if gate is not None else None
    result = transaction.run(host, planner, dry_run=dry_run, after_write=hook)
    ready = gate.seen if gate is not None else None
    if as_json:
        emit_json({**result.to_json(), **({"ready": True} if ready is not None else {})})
    elif dry_run:
        for note in result.warnings:
            say(paint("warning: ", "yellow") + note)
        print_diffs(result.plan)
    else:
        print_summary(result)
        if ready is not None:
            say(f"kube-apiserver is ready: {ready.describe()}")


@backend_options
def enable(
    root: Root = Path("/"),
    manifest: Manifest = DEFAULT_MANIFEST,
    profile: Profile = "cks",
    policy_file: PolicyFile = None,
    set_values: SetValues = None,
    values_file: ValuesFile = None,
    policy_path: PolicyPath = None,
    log_path: LogPath = None,
    log_maxage: MaxAge = None,
    log_maxbackup: MaxBackup = None,
    log_maxsize: MaxSize = None,
    log_format: LogFormat = None,
    log_compress: LogCompress = None,
    kubernetes_version: K8sVersion = None,
    fix_ownership: FixOwnership = False,
    allow_unbounded: AllowUnbounded = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the diff, write nothing, exit 0.")
    ] = False,
    wait: Wait = False,
    timeout: Timeout = 300,
    kubeconfig: Kubeconfig = None,
    node: Node = None,
    as_json: Json = False,
    backend: dict[str, Any] | None = None,  # the --webhook-* and --log-mode/-batch/-truncate options
) -> None:
    """Turn audit logging on: write the policy, patch the manifest (comments and untouched lines kept)."""
    from kauditcfg.ops.enable import EnablePlanner

    if fix_ownership and not dry_run and os.geteuid() != 0:
        raise UsageError("--fix-ownership changes owners (chown), which needs root: run kauditcfg as root")

    planner = EnablePlanner(enable_options(locals()), manifest)
    mutate(root, planner, dry_run, as_json, WaitOptions.of(wait, timeout, kubeconfig, node))


@backend_options
def diff(
    root: Root = Path("/"),
    manifest: Manifest = DEFAULT_MANIFEST,
    profile: Profile = "cks",
    policy_file: PolicyFile = None,
    set_values: SetValues = None,
    values_file: ValuesFile = None,
    policy_path: PolicyPath = None,
    log_path: LogPath = None,
    log_maxage: MaxAge = None,
    log_maxbackup: MaxBackup = None,
    log_maxsize: MaxSize = None,
    log_format: LogFormat = None,
    log_compress: LogCompress = None,
    kubernetes_version: K8sVersion = None,
    fix_ownership: FixOwnership = False,
    allow_unbounded: AllowUnbounded = False,
    as_json: Json = False,
    backend: dict[str, Any] | None = None,
) -> None:
    """Show what enable would change, as a unified diff; exit 0 nothing to do, 1 changes pending."""
    from kauditcfg.ops import transaction
    from kauditcfg.ops.enable import EnablePlanner

    planner = EnablePlanner(enable_options(locals()), manifest)
    result = transaction.run(Host(root), planner, dry_run=True)
    if as_json:
        emit_json(result.to_json())
    else:
        for note in result.warnings:
            say(paint("warning: ", "yellow") + note)
        print_diffs(result.plan)
    raise typer.Exit(1 if result.plan.changed else 0)


def disable(
    root: Root = Path("/"),
    manifest: Manifest = DEFAULT_MANIFEST,
    purge: Annotated[
        bool,
        typer.Option("--purge", help="Also remove the files kauditcfg wrote (policy, webhook kubeconfig)."),
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="With --purge: remove them even when edited by hand since.")
    ] = False,
    dry_run: DryRun = False,
    wait: Wait = False,
    timeout: Timeout = 300,
    kubeconfig: Kubeconfig = None,
    node: Node = None,
    as_json: Json = False,
) -> None:
    """Remove every audit flag, audit volume and mount, and the kauditcfg annotation."""
    from kauditcfg.ops.disable import DisablePlanner

    waiting = WaitOptions.of(wait, timeout, kubeconfig, node)
    mutate(root, DisablePlanner(manifest, purge, force), dry_run, as_json, waiting)


def rollback(
    root: Root = Path("/"),
    manifest: Manifest = DEFAULT_MANIFEST,
    dry_run: DryRun = False,
    wait: Wait = False,
    timeout: Timeout = 300,
    kubeconfig: Kubeconfig = None,
    node: Node = None,
    as_json: Json = False,
) -> None:
    """Restore the files replaced by the most recent enable/disable from its backup."""
    from kauditcfg.ops.rollback import RollbackPlanner

    waiting = WaitOptions.of(wait, timeout, kubeconfig, node)
    mutate(root, RollbackPlanner(manifest), dry_run, as_json, waiting)


def register(app: typer.Typer) -> None:
    for command in (enable, diff, disable, rollback):
        app.command()(command)
