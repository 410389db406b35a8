"""enable / disable / diff / rollback: parse options, run the transaction, print its result."""

from __future__ import annotations

import dataclasses
import os
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from kauditcfg.cli.backend_options import TUNING_NOTE, backend_options
from kauditcfg.cli.check import context_args
from kauditcfg.cli.cluster_opts import Kubeconfig, Node, Timeout, Wait, WaitOptions, after_write
from kauditcfg.cli.options import (
    OUTPUT_PANEL,
    SAFETY_PANEL,
    AllowUnbounded,
    Colour,
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
    examples,
    host_manifest,
)
from kauditcfg.cli.output import echo, emit_json, paint, say, use_colour, warn
from kauditcfg.config.defaults import DEFAULT_MANIFEST, KEEP_BACKUPS
from kauditcfg.errors import UsageError
from kauditcfg.hostfs import Host

# The core (ruamel.yaml, jinja2, the policy engine) is imported inside each command, so that
# `kauditcfg --help` and the commands that do not need it start fast.
if TYPE_CHECKING:
    from kauditcfg.manifest.pod import ApiServerPod
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
    sys.stdout.flush()
    for action in plan.actions:
        say(f"would {action.describe()}")
    for warning in plan.warnings:
        warn(warning)


def in_force(pod: ApiServerPod | None, source: str) -> str | None:
    """One line: the audit settings the manifest now holds (read back from it, adopted ones too)."""
    if pod is None:
        return None
    flags = pod.audit_flags()
    policy, log = flags.get("audit-policy-file"), flags.get("audit-log-path")
    if not policy:
        return None
    parts = [f"in force: {source}", f"policy {policy}"]
    if log == "-":
        parts.append("log to stdout")
    elif log:
        retention = [
            f"{flags[name]} {unit}"
            for name, unit in (("audit-log-maxage", "days"), ("audit-log-maxbackup", "files"),
                               ("audit-log-maxsize", "MB"))
            if flags.get(name)
        ]  # fmt: skip
        parts.append(f"log {log}" + (f" ({', '.join(retention)})" if retention else ""))
    webhook = flags.get("audit-webhook-config-file")
    if webhook:
        parts.append(f"webhook {webhook} ({flags.get('audit-webhook-mode') or 'batch'})")
    return "; ".join(parts)


def print_summary(result: Result, root: Path, manifest: str, source: str | None = None) -> None:
    """What changed, on stdout (as `kubectl apply` prints `configured`); notes and hints on stderr."""
    plan = result.plan
    for note in result.warnings:
        warn(note)
    for pruned in result.pruned:
        say(f"removed old backup {pruned}")
    for change in plan.files:
        if change.changed:
            echo(f"{change.action:>9}  {change.path}")
    for action in plan.actions:
        echo(f"     done  {action.describe()}")
    if not plan.changed:
        echo("nothing to change")
    if source is not None:
        line = in_force(plan.pod, source)
        if line:
            echo(line)
    for warning in plan.warnings:
        warn(warning)
    if not plan.changed:
        return
    if result.backup:
        local = Host(root).path(result.backup)
        again = shlex.join(["kauditcfg", "rollback", *context_args(root, manifest)])
        say(f"backup of the replaced files: {local} (undo with: {again})")
    if plan.restored_from:
        say(f"restored from {Host(root).path(plan.restored_from)}")
    if plan.restart_required and Path(root).resolve() == Path("/"):
        say(
            "the kubelet will restart kube-apiserver now; check it with: "
            "kubectl -n kube-system get pod -l component=kube-apiserver"
        )
    elif plan.restart_required:
        say(f"the manifest under {root} changed; on a node, the kubelet restarts kube-apiserver when it does")


def mutate(
    root: Path,
    manifest: str,
    planner: Planner,
    dry_run: bool,
    as_json: bool,
    source: str | None = None,
    wait: WaitOptions | None = None,
    keep_backups: int = KEEP_BACKUPS,
) -> None:
    """The common run of enable/disable/rollback: the transaction, then its report."""
    from kauditcfg.ops import transaction

    host = Host(root)
    # --wait finds this node's kube-apiserver before anything is written: an unreachable cluster
    # refuses the run instead of rolling back a good change later
    gate = wait.gate(host) if wait is not None and not dry_run else None
    hook = after_write(gate) if gate is not None else None
    result = transaction.run(host, planner, dry_run=dry_run, after_write=hook, keep_backups=keep_backups)
    ready = gate.seen if gate is not None else None
    if as_json:
        emit_json({**result.to_json(), **({"ready": True} if ready is not None else {})})
    elif dry_run:
        for note in result.warnings:
            warn(note)
        print_diffs(result.plan)
    else:
        print_summary(result, root, manifest, source)
        if ready is not None:
            say(f"kube-apiserver is ready: {ready.describe()}")


def _source(policy_file: Path | None, profile: str) -> str:
    return f"your policy {policy_file}" if policy_file is not None else f"profile {profile}"


@backend_options
def enable(
    root: Root = Path("/"),
    manifest: Manifest = DEFAULT_MANIFEST,
    profile: Profile = "cks",
    policy_file: PolicyFile = None,
    set_values: SetValues = None,
    values_file: ValuesFile = None,
    kubernetes_version: K8sVersion = None,
    policy_path: PolicyPath = None,
    log_path: LogPath = None,
    log_maxage: MaxAge = None,
    log_maxbackup: MaxBackup = None,
    log_maxsize: MaxSize = None,
    log_format: LogFormat = None,
    log_compress: LogCompress = None,
    fix_ownership: FixOwnership = False,
    allow_unbounded: AllowUnbounded = False,
    dry_run: DryRun = False,
    wait: Wait = False,
    timeout: Timeout = 300,
    kubeconfig: Kubeconfig = None,
    node: Node = None,
    keep_backups: KeepBackups = KEEP_BACKUPS,
    as_json: Json = False,
    color: Colour = "auto",
    backend: dict[str, Any] | None = None,  # the --webhook-* and --log-mode/-batch/-truncate options
) -> None:
    """Turn audit logging on: write the policy, patch the manifest (comments and untouched lines kept).

    Prints what changed and the settings now in force; the backup and the way back go to stderr.

    Exit 3: invalid manifest or policy; 4: refused by preflight. Nothing is written then.
    """
    from kauditcfg.ops.enable import EnablePlanner

    if fix_ownership and not dry_run and os.geteuid() != 0:
        raise UsageError("--fix-ownership changes owners (chown), which needs root: run kauditcfg as root")
    path = host_manifest(root, manifest)
    planner = EnablePlanner(enable_options(locals()), path)
    waiting = WaitOptions.of(wait, timeout, kubeconfig, node)
    mutate(root, path, planner, dry_run, as_json, _source(policy_file, profile), waiting, keep_backups)


@backend_options
def diff(
    root: Root = Path("/"),
    manifest: Manifest = DEFAULT_MANIFEST,
    profile: Profile = "cks",
    policy_file: PolicyFile = None,
    set_values: SetValues = None,
    values_file: ValuesFile = None,
    kubernetes_version: K8sVersion = None,
    policy_path: PolicyPath = None,
    log_path: LogPath = None,
    log_maxage: MaxAge = None,
    log_maxbackup: MaxBackup = None,
    log_maxsize: MaxSize = None,
    log_format: LogFormat = None,
    log_compress: LogCompress = None,
    fix_ownership: FixOwnership = False,
    allow_unbounded: AllowUnbounded = False,
    content_only: Annotated[
        bool,
        typer.Option(
            "--content-only",
            rich_help_panel=OUTPUT_PANEL,
            help="Compare file contents only (modes, owners, directories ignored): for a tree kept in Git.",
        ),
    ] = False,
    as_json: Json = False,
    color: Colour = "auto",
    backend: dict[str, Any] | None = None,
) -> None:
    """Show what enable would change, as a unified diff of every file; write nothing.

    Exit 0: nothing to change; 1: changes pending (as kubectl diff), so CI can gate on drift.
    """
    from kauditcfg.ops import transaction
    from kauditcfg.ops.enable import EnablePlanner

    planner = EnablePlanner(enable_options(locals()), host_manifest(root, manifest))
    result = transaction.run(Host(root), planner, dry_run=True)
    plan = result.plan
    if content_only:
        # Git keeps neither owners, modes beyond +x, nor empty directories: judge the bytes only.
        plan = dataclasses.replace(
            plan, files=[f for f in plan.files if f.before != f.after], actions=[]
        )
    if as_json:
        emit_json(result.to_json() if not content_only else dataclasses.replace(result, plan=plan).to_json())
    else:
        for note in result.warnings:
            warn(note)
        print_diffs(plan)
    raise typer.Exit(1 if plan.changed else 0)


def disable(
    root: Root = Path("/"),
    manifest: Manifest = DEFAULT_MANIFEST,
    purge: Annotated[
        bool,
        typer.Option(
            "--purge",
            rich_help_panel=SAFETY_PANEL,
            help="Also remove the files kauditcfg wrote (policy, webhook kubeconfig).",
        ),
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            rich_help_panel=SAFETY_PANEL,
            help="With --purge: remove them even when edited by hand since.",
        ),
    ] = False,
    dry_run: DryRun = False,
    wait: Wait = False,
    timeout: Timeout = 300,
    kubeconfig: Kubeconfig = None,
    node: Node = None,
    keep_backups: KeepBackups = KEEP_BACKUPS,
    as_json: Json = False,
    color: Colour = "auto",
) -> None:
    """Remove every audit flag, audit volume and mount, and the kauditcfg annotation."""
    from kauditcfg.ops.disable import DisablePlanner

    path = host_manifest(root, manifest)
    waiting = WaitOptions.of(wait, timeout, kubeconfig, node)
    planner = DisablePlanner(path, purge, force)
    mutate(root, path, planner, dry_run, as_json, wait=waiting, keep_backups=keep_backups)


def rollback(
    root: Root = Path("/"),
    manifest: Manifest = DEFAULT_MANIFEST,
    list_backups: Annotated[
        bool,
        typer.Option(
            "--list",
            rich_help_panel=OUTPUT_PANEL,
            help="List the backups, newest first (time, command, files); change nothing.",
        ),
    ] = False,
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            metavar="TIME",
            rich_help_panel=SAFETY_PANEL,
            help="Put the files back as they were before that run: a backup's name or time as --list "
            "shows it, or a unique leading part (default: undo the last change).",
        ),
    ] = None,
    keep_backups: KeepBackups = KEEP_BACKUPS,
    dry_run: DryRun = False,
    wait: Wait = False,
    timeout: Timeout = 300,
    kubeconfig: Kubeconfig = None,
    node: Node = None,
    as_json: Json = False,
    color: Colour = "auto",
) -> None:
    """Undo the last change (enable, disable, rollback --to) from its backup, or restore a chosen one."""
    if list_backups:
        if to is not None:
            raise UsageError("--list only lists the backups; restore one with rollback --to TIME alone")
        from kauditcfg.cli.backups import list_command

        list_command(root, as_json)
        return
    from kauditcfg.ops.rollback import RollbackPlanner

    path = host_manifest(root, manifest)
    waiting = WaitOptions.of(wait, timeout, kubeconfig, node)
    planner = RollbackPlanner(path, to)
    mutate(root, path, planner, dry_run, as_json, wait=waiting, keep_backups=keep_backups)


EXAMPLES: dict[Callable[..., None], tuple[str, ...]] = {
    enable: (
        "kauditcfg enable --profile cks",
        "kauditcfg enable --profile cks --set silence_namespaces=monitoring",
        "kauditcfg enable --policy-file my-policy.yaml --dry-run",
    ),
    diff: (
        "kauditcfg diff --profile cks",
        "kauditcfg diff --root ./repo --profile cis",
        "kauditcfg diff --profile cis --json | jq .changed",
    ),
    disable: ("kauditcfg disable --dry-run", "kauditcfg disable --purge"),
    rollback: (
        "kauditcfg rollback --dry-run",
        "kauditcfg rollback --list",
        "kauditcfg rollback --to 20261124T1015",
    ),
}


def register(app: typer.Typer) -> None:
    for command, lines in EXAMPLES.items():
        note = f"{TUNING_NOTE}\n\n" if command in (enable, diff) else ""
        app.command(epilog=note + examples(*lines))(command)
