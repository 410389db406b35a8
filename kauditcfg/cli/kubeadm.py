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
from kauditcfg.cli.manifest_cmds import (
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
    _enable_options,
    _print_diffs,
    _summary,
)
from kauditcfg.cli.output import emit_json, empty_result, paint, run, say
from kauditcfg.hostfs import DEFAULT_MANIFEST, Host

if TYPE_CHECKING:
    from kauditcfg.enable import EnableOptions
    from kauditcfg.plan import Plan

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
    return _enable_options(values), explicit


def _notes(notes: list[str]) -> None:
    for note in notes:
        say(paint("note: ", "cyan") + note)


def _host_path(path: str) -> str:
    """--in FILE is a host path like every other: relative to the working directory when relative."""
    return path if path.startswith("/") else os.path.abspath(path)


def _apply(host: Host, plan: Plan, lock_path: str) -> str | None:
    from kauditcfg.apply import apply_plan

    with host.lock(lock_path):
        return apply_plan(host, plan, plan.files[-1].path)


@kubeadm_app.command("config")
def config_cmd(
    root: Root = Path("/"),
    manifest: Manifest = DEFAULT_MANIFEST,
    in_file: Annotated[
        str | None,
        typer.Option(
            "--in", help="Merge into this kubeadm config file (a node path, under --root; comments kept)."
        ),
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
    given = dict(locals())
    host = Host(root)

    def body() -> dict[str, Any]:
        from kauditcfg.errors import UsageError
        from kauditcfg.kubeadm.plans import (
            fresh_config,
            merged_config,
            plan_config_in_place,
            read_config_file,
        )
        from kauditcfg.report import result

        opts, explicit = _options(given)
        if in_file is None:
            if in_place:
                raise UsageError("--in-place needs --in FILE")
            emitted = fresh_config(opts, explicit, api_version)
            return {"text": emitted.text, "notes": emitted.notes}
        path = _host_path(in_file)
        if not in_place:
            config, _ = read_config_file(host, path)
            emitted, _ = merged_config(config, opts, explicit, api_version)
            return {"text": emitted.text, "notes": emitted.notes}
        plan, notes = plan_config_in_place(host, path, opts, explicit, api_version)
        backup = _apply(host, plan, manifest)
        if not as_json:
            _summary(plan, backup)
        return {"result": result(plan, backup, applied=True), "notes": notes}

    out = run(body, as_json, empty_result())
    if "result" in out:
        if as_json:
            emit_json(out["result"])
        return
    if as_json:
        emit_json({"config": out["text"], "warnings": out["notes"], "errors": []})
        return
    _notes(out["notes"])
    sys.stdout.write(out["text"])


@kubeadm_app.command("patches")
def patches_cmd(
    root: Root = Path("/"),
    manifest: Manifest = DEFAULT_MANIFEST,
    directory: Annotated[
        str, typer.Option("--dir", help="The patches directory you pass to kubeadm with --patches.")
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
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the diff, write nothing.")] = False,
    as_json: Json = False,
) -> None:
    """Write the kube-apiserver patch file kubeadm applies at init, join and upgrade (--patches DIR)."""
    given = dict(locals())
    host = Host(root)

    def body() -> dict[str, Any]:
        from kauditcfg.kubeadm.plans import plan_patches
        from kauditcfg.report import result

        opts, explicit = _options(given)
        plan = plan_patches(host, directory, fmt, opts, explicit, manifest)
        if dry_run:
            if not as_json:
                _print_diffs(plan)
            return result(plan, None, applied=False)
        backup = _apply(host, plan, manifest) if plan.changed else None
        if not as_json:
            _summary(plan, backup)
            if plan.changed:
                say(f"pass it to kubeadm: kubeadm upgrade apply|node --patches {directory}")
        return result(plan, backup, applied=True)

    out = run(body, as_json, empty_result())
    if as_json:
        emit_json(out)


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
    given = dict(locals())
    host = Host(root)

    def body() -> dict[str, Any]:
        from kauditcfg.cli.cluster_opts import connect_for
        from kauditcfg.cluster.sync import SOURCE, sync_kubeadm_config
        from kauditcfg.plan import FileChange
        from kauditcfg.report import unified_diff

        opts, explicit = _options(given)
        cluster = connect_for(host, kubeconfig)
        synced = sync_kubeadm_config(cluster, opts, explicit, dry_run)
        change = FileChange(SOURCE, synced.before.encode(), synced.after.encode())
        diff_text = unified_diff(change)
        if not as_json:
            _notes(synced.notes)
            sys.stdout.write(diff_text)
            sys.stdout.flush()
            if not synced.changed:
                say("nothing to change")
            elif synced.written:
                retried = f" after {synced.conflicts} conflict(s)" if synced.conflicts else ""
                say(f"updated {SOURCE}{retried} (resourceVersion {synced.resource_version})")
            else:
                say("dry run: nothing written")
        return {
            **empty_result(),
            "changed": synced.changed and synced.written,
            "diff": [
                {
                    "before_header": SOURCE,
                    "after_header": SOURCE,
                    "before": synced.before,
                    "after": synced.after,
                }
            ]
            if synced.changed
            else [],
            "applied": synced.written,
            "api_version": synced.api,
            "resource_version": synced.resource_version,
            "conflicts": synced.conflicts,
            "warnings": synced.notes,
        }

    out = run(body, as_json, empty_result())
    if as_json:
        emit_json(out)


def register(app: typer.Typer) -> None:
    app.add_typer(kubeadm_app, name="kubeadm")
