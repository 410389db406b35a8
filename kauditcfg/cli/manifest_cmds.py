"""enable / disable / diff / rollback: parse options, run the transaction, print its result."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kauditcfg.cli.options import (
    AllowUnbounded,
    DryRun,
    FixOwnership,
    Json,
    K8sVersion,
    KeepBackups,
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
from kauditcfg.config.defaults import DEFAULT_MANIFEST, KEEP_BACKUPS, LOG_PATH, POLICY_PATH
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
    for pruned in result.pruned:
        say(f"removed old backup {pruned}")
    if plan.restart_required:
        say(
            "the kubelet will restart kube-apiserver now; check it with: "
            "kubectl -n kube-system get pod -l component=kube-apiserver"
        )


def mutate(
    root: Path, planner: Planner, dry_run: bool, as_json: bool, keep_backups: int = KEEP_BACKUPS
) -> None:
    """The common run of enable/disable/rollback: the transaction, then its report."""
    from kauditcfg.ops import transaction

    result = transaction.run(Host(root), planner, dry_run=dry_run, keep_backups=keep_backups)
    if as_json:
        emit_json(result.to_json())
    elif dry_run:
        for note in result.warnings:
            say(paint("warning: ", "yellow") + note)
        print_diffs(result.plan)
    else:
        print_summary(result)


def enable(
    root: Root = Path("/"),
    manifest: Manifest = DEFAULT_MANIFEST,
    profile: Profile = "cks",
    policy_file: PolicyFile = None,
    set_values: SetValues = None,
    values_file: ValuesFile = None,
    policy_path: PolicyPath = POLICY_PATH,
    log_path: LogPath = LOG_PATH,
    log_maxage: MaxAge = None,
    log_maxbackup: MaxBackup = None,
    log_maxsize: MaxSize = None,
    log_format: LogFormat = None,
    log_compress: LogCompress = None,
    kubernetes_version: K8sVersion = None,
    fix_ownership: FixOwnership = False,
    allow_unbounded: AllowUnbounded = False,
    keep_backups: KeepBackups = KEEP_BACKUPS,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the diff, write nothing, exit 0.")
    ] = False,
    as_json: Json = False,
) -> None:
    """Turn audit logging on: write the policy, patch the manifest (comments and untouched lines kept)."""
    from kauditcfg.ops.enable import EnablePlanner

    if fix_ownership and not dry_run and os.geteuid() != 0:
        raise UsageError("--fix-ownership changes owners (chown), which needs root: run kauditcfg as root")

    mutate(root, EnablePlanner(enable_options(locals()), manifest), dry_run, as_json, keep_backups)


def diff(
    root: Root = Path("/"),
    manifest: Manifest = DEFAULT_MANIFEST,
    profile: Profile = "cks",
    policy_file: PolicyFile = None,
    set_values: SetValues = None,
    values_file: ValuesFile = None,
    policy_path: PolicyPath = POLICY_PATH,
    log_path: LogPath = LOG_PATH,
    log_maxage: MaxAge = None,
    log_maxbackup: MaxBackup = None,
    log_maxsize: MaxSize = None,
    log_format: LogFormat = None,
    log_compress: LogCompress = None,
    kubernetes_version: K8sVersion = None,
    fix_ownership: FixOwnership = False,
    allow_unbounded: AllowUnbounded = False,
    as_json: Json = False,
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
        bool, typer.Option("--purge", help="Also remove the files kauditcfg wrote (policy).")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="With --purge: remove them even when edited by hand since.")
    ] = False,
    keep_backups: KeepBackups = KEEP_BACKUPS,
    dry_run: DryRun = False,
    as_json: Json = False,
) -> None:
    """Remove every audit flag, audit volume and mount, and the kauditcfg annotation."""
    from kauditcfg.ops.disable import DisablePlanner

    mutate(root, DisablePlanner(manifest, purge, force), dry_run, as_json, keep_backups)


def rollback(
    root: Root = Path("/"),
    manifest: Manifest = DEFAULT_MANIFEST,
    list_backups: Annotated[
        bool,
        typer.Option("--list", help="List the backups, newest first (time, command, files); change nothing."),
    ] = False,
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            metavar="TIME",
            help="Put the files back as they were before that run: a backup's name or time as --list "
            "shows it, or a unique leading part (default: undo the last change).",
        ),
    ] = None,
    keep_backups: KeepBackups = KEEP_BACKUPS,
    dry_run: DryRun = False,
    as_json: Json = False,
) -> None:
    """Undo the last change (enable, disable, rollback --to) from its backup, or restore a chosen one."""
    if list_backups:
        if to is not None:
            raise UsageError("--list only lists the backups; restore one with rollback --to TIME alone")
        from kauditcfg.cli.backups import list_command

        list_command(root, as_json)
        return
    from kauditcfg.ops.rollback import RollbackPlanner

    mutate(root, RollbackPlanner(manifest, to), dry_run, as_json, keep_backups)


def register(app: typer.Typer) -> None:
    for command in (enable, diff, disable, rollback):
        app.command()(command)
