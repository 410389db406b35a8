"""`kauditcfg kubeadm config / patches / sync`: the enable settings, kept where kubeadm keeps them.

The same profile and flag options as `enable`, so the settings are identical. Only `sync` talks to
the cluster, and only it imports the kubernetes client.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from kauditcfg.cli.cluster_opts import Kubeconfig
from kauditcfg.cli.options import (
    DryRun,
    Json,
    K8sVersion,
    LogCompress,
    LogFormat,
    Manifest,
    MaxAge,
    MaxBackup,
    MaxSize,
    PolicyFile,
    Profile,
    Root,
    SetValues,
    ValuesFile,
    enable_options,
)
from kauditcfg.cli.output import emit_json, empty_result, paint, say
from kauditcfg.config.defaults import DEFAULT_MANIFEST
from kauditcfg.hostfs import Host

if TYPE_CHECKING:
    from kauditcfg.config.options import EnableOptions
    from kauditcfg.ops.transaction import Planner

kubeadm_app = typer.Typer(
    help="Keep the audit settings where kubeadm keeps them, so `kubeadm upgrade` does not drop them.",
    no_args_is_help=True,
)

# None = adopt the path the existing setup uses (else kauditcfg's default), as enable does.
PolicyPathOpt = Annotated[
    str | None,
    typer.Option("--policy-path", help="Policy file on the node (default: the existing one, else enable's)."),
]
LogPathOpt = Annotated[
    str | None,
    typer.Option("--log-path", help="Audit log file on the node (default: the existing one, else enable's)."),
]
ApiVersion = Annotated[
    str | None,
    typer.Option(
        "--api-version",
        help="kubeadm.k8s.io version: v1beta3 (kubeadm 1.22-1.35) or v1beta4 (1.31+). Default: the file's, "
        "else from --kubernetes-version, else v1beta4.",
    ),
]


def _options(given: dict[str, Any]) -> tuple[EnableOptions, set[str]]:
    """EnableOptions from the parameters, and which paths the user set explicitly (never adopted)."""
    explicit = {name for name in ("policy_path", "log_path") if given.get(name) is not None}
    values = {k: v for k, v in given.items() if not (k in ("policy_path", "log_path") and v is None)}
    return enable_options(values), explicit


def _notes(notes: list[str]) -> None:
    for note in notes:
        say(paint("note: ", "cyan") + note)


def _host_path(path: str) -> str:
    """--in and --dir are host paths like every other: relative to the working directory when relative."""
    return path if path.startswith("/") else os.path.abspath(path)


def _transact(root: Path, planner: Planner, dry_run: bool, as_json: bool) -> None:
    from kauditcfg.cli.manifest_cmds import print_diffs, print_summary
    from kauditcfg.ops import transaction

    result = transaction.run(Host(root), planner, dry_run=dry_run)
    if as_json:
        emit_json(result.to_json())
    elif dry_run:
        print_diffs(result.plan)
    else:
        print_summary(result)


@kubeadm_app.command("config")
def config_cmd(
    root: Root = Path("/"),
    manifest: Manifest = DEFAULT_MANIFEST,
    in_file: Annotated[
        str | None,
        typer.Option("--in", help="Merge into this kubeadm config file (a node path, under --root)."),
    ] = None,
    in_place: Annotated[
        bool, typer.Option("--in-place", help="With --in: write the file (atomically, with a backup).")
    ] = False,
    api_version: ApiVersion = None,
    profile: Profile = "cks",
    policy_file: PolicyFile = None,
    set_values: SetValues = None,
    values_file: ValuesFile = None,
    policy_path: PolicyPathOpt = None,
    log_path: LogPathOpt = None,
    log_maxage: MaxAge = None,
    log_maxbackup: MaxBackup = None,
    log_maxsize: MaxSize = None,
    log_format: LogFormat = None,
    log_compress: LogCompress = None,
    kubernetes_version: K8sVersion = None,
    as_json: Json = False,
) -> None:
    """Print a ClusterConfiguration with the audit flags and volumes (or merge them into --in FILE)."""
    from kauditcfg.errors import UsageError
    from kauditcfg.kubeadm.plans import KubeadmConfigPlanner, fresh_config, merged_config, read_config_file

    opts, explicit = _options(dict(locals()))
    host = Host(root)
    if in_file is None:
        if in_place:
            raise UsageError("--in-place needs --in FILE")
        emitted = fresh_config(opts, explicit, api_version)
    elif in_place:
        planner = KubeadmConfigPlanner(_host_path(in_file), opts, explicit, api_version, manifest)
        _transact(root, planner, False, as_json)
        return
    else:
        config, _ = read_config_file(host, _host_path(in_file))
        emitted, _ = merged_config(config, opts, explicit, api_version)
    if as_json:
        emit_json({"config": emitted.text, "warnings": emitted.notes, "errors": []})
        return
    _notes(emitted.notes)
    sys.stdout.write(emitted.text)


@kubeadm_app.command("patches")
def patches_cmd(
    root: Root = Path("/"),
    manifest: Manifest = DEFAULT_MANIFEST,
    directory: Annotated[
        str,
        typer.Option(
            "--dir", help="The patches directory you pass to kubeadm with --patches (under --root)."
        ),
    ] = "/etc/kubernetes/patches",
    fmt: Annotated[
        str, typer.Option("--format", help="strategic (flags in args) or json (flags appended to command).")
    ] = "strategic",
    profile: Profile = "cks",
    policy_file: PolicyFile = None,
    set_values: SetValues = None,
    values_file: ValuesFile = None,
    policy_path: PolicyPathOpt = None,
    log_path: LogPathOpt = None,
    log_maxage: MaxAge = None,
    log_maxbackup: MaxBackup = None,
    log_maxsize: MaxSize = None,
    log_format: LogFormat = None,
    log_compress: LogCompress = None,
    kubernetes_version: K8sVersion = None,
    dry_run: DryRun = False,
    as_json: Json = False,
) -> None:
    """Write the kube-apiserver patch file kubeadm applies at init, join and upgrade (--patches DIR)."""
    from kauditcfg.kubeadm.plans import KubeadmPatchesPlanner

    opts, explicit = _options(dict(locals()))
    planner = KubeadmPatchesPlanner(_host_path(directory), fmt, opts, explicit, manifest)
    _transact(root, planner, dry_run, as_json)
    if not as_json and not dry_run:
        say(f"kubeadm applies it with: kubeadm upgrade apply|node --patches {directory}")


@kubeadm_app.command("sync")
def sync_cmd(
    root: Root = Path("/"),
    kubeconfig: Kubeconfig = None,
    profile: Profile = "cks",
    policy_file: PolicyFile = None,
    set_values: SetValues = None,
    values_file: ValuesFile = None,
    policy_path: PolicyPathOpt = None,
    log_path: LogPathOpt = None,
    log_maxage: MaxAge = None,
    log_maxbackup: MaxBackup = None,
    log_maxsize: MaxSize = None,
    log_format: LogFormat = None,
    log_compress: LogCompress = None,
    kubernetes_version: K8sVersion = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the diff, write nothing.")] = False,
    as_json: Json = False,
) -> None:
    """Update ClusterConfiguration in the kube-system/kubeadm-config ConfigMap (read by kubeadm upgrade)."""
    from kauditcfg.cli.cluster_opts import connect_for
    from kauditcfg.cluster.sync import SOURCE, sync_kubeadm_config
    from kauditcfg.ops.plan import FileChange
    from kauditcfg.ops.report import unified_diff

    opts, explicit = _options(dict(locals()))
    synced = sync_kubeadm_config(connect_for(Host(root), kubeconfig), opts, explicit, dry_run)
    if as_json:
        diff = [
            {"before_header": SOURCE, "after_header": SOURCE, "before": synced.before, "after": synced.after}
        ]
        emit_json(
            {
                **empty_result(),
                "changed": synced.changed and synced.written,
                "diff": diff if synced.changed else [],
                "applied": synced.written,
                "api_version": synced.api,
                "resource_version": synced.resource_version,
                "conflicts": synced.conflicts,
                "warnings": synced.notes,
            }
        )
        return
    _notes(synced.notes)
    sys.stdout.write(unified_diff(FileChange(SOURCE, synced.before.encode(), synced.after.encode())))
    sys.stdout.flush()
    if not synced.changed:
        say("nothing to change")
    elif synced.written:
        retried = f" after {synced.conflicts} conflict(s)" if synced.conflicts else ""
        say(f"updated {SOURCE}{retried} (resourceVersion {synced.resource_version})")
    else:
        say("dry run: nothing written")


def register(app: typer.Typer) -> None:
    app.add_typer(kubeadm_app, name="kubeadm")
