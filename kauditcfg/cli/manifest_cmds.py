"""enable / disable / diff / rollback: parse options, call the core, print the result."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from kauditcfg.cli.output import emit_json, empty_result, paint, run, say, use_colour
from kauditcfg.hostfs import DEFAULT_MANIFEST, Host
from kauditcfg.settings import LOG_PATH, POLICY_PATH

# The core (ruamel.yaml, jinja2, the policy engine) is imported inside each command, so that
# `kauditcfg --help` and the commands that do not need it start fast.
if TYPE_CHECKING:
    from kauditcfg.enable import EnableOptions
    from kauditcfg.plan import Plan
from kauditcfg.cli.cluster_opts import Kubeconfig, Node, Timeout, Wait, WaitOptions

Root = Annotated[
    Path,
    typer.Option(
        "--root",
        help="Resolve every host path under DIR (paths written into the manifest stay real host paths).",
        metavar="DIR",
    ),
]
Manifest = Annotated[
    str, typer.Option("--manifest", help="The kube-apiserver static pod manifest (a host path).")
]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout and nothing else there.")]


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


def _print_diffs(plan: Plan) -> None:
    from kauditcfg.report import unified_diff

    for change in plan.files:
        if change.changed:
            sys.stdout.write(_colour_diff(unified_diff(change)))
    for action in plan.actions:
        say(f"would {action.describe()}")
    for warning in plan.warnings:
        say(paint("warning: ", "yellow") + warning)
    sys.stdout.flush()


def _summary(plan: Plan, backup: str | None) -> None:
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
    if backup:
        say(f"backup of the replaced files: {backup} (undo with: kauditcfg rollback)")
    if plan.restored_from:
        say(f"restored from {plan.restored_from}")
    if plan.restart_required:
        say(
            "the kubelet will restart kube-apiserver now; check it with: "
            "kubectl -n kube-system get pod -l component=kube-apiserver"
        )


def _mutate(
    host: Host,
    manifest: str,
    make_plan: Callable[[], Plan],
    dry_run: bool,
    as_json: bool,
    backup: bool = True,
    wait: WaitOptions | None = None,
) -> None:
    """The common run of enable/disable/rollback: plan (and apply under the lock), then report."""

    def body() -> dict[str, Any]:
        from kauditcfg.apply import apply_plan
        from kauditcfg.report import result

        if dry_run:
            plan = make_plan()
            if not as_json:
                _print_diffs(plan)
            return result(plan, None, applied=False)
        gate = wait.gate(host) if wait is not None else None  # before writing: refuse early
        with host.lock(manifest):
            plan = make_plan()
            taken = apply_plan(host, plan, manifest, backup=backup)
            seen = wait.after(gate, plan, manifest) if wait is not None and gate is not None else None
        if not as_json:
            _summary(plan, taken)
            if seen is not None:
                say(f"kube-apiserver is ready: {seen.describe()}")
        out = result(plan, taken, applied=True)
        if seen is not None:
            out["ready"] = True
        return out

    out = run(body, as_json, empty_result())
    if as_json:
        emit_json(out)


def _enable_options(given: dict[str, Any]) -> EnableOptions:
    """EnableOptions from a command's parameters (named as its fields), so enable and diff share it."""
    from kauditcfg.enable import EnableOptions
    from kauditcfg.versions import parse_version

    names = {f.name for f in dataclasses.fields(EnableOptions)}
    values = {k: v for k, v in given.items() if k in names}
    values["set_values"] = list(values.get("set_values") or [])
    version = values.get("kubernetes_version")
    values["kubernetes_version"] = parse_version(version) if version else None
    return EnableOptions(**values)


# Options shared by enable and diff, declared once.
Profile = Annotated[str, typer.Option("--profile", help="Policy profile: cks, cis, production, minimal.")]
PolicyFile = Annotated[
    Path | None,
    typer.Option(
        "--policy-file",
        help="Bring your own policy (a local file) instead of the profile's; it is copied to --policy-path.",
        dir_okay=False,
    ),
]
SetValues = Annotated[
    list[str] | None, typer.Option("--set", help="Profile parameter key=value (repeatable).")
]
ValuesFile = Annotated[
    Path | None, typer.Option("--values", help="YAML file of profile parameters.", dir_okay=False)
]
PolicyPath = Annotated[str, typer.Option("--policy-path", help="Where the policy is written on the node.")]
LogPath = Annotated[str, typer.Option("--log-path", help="Audit log file on the node ('-' for stdout).")]
MaxAge = Annotated[
    int | None, typer.Option("--log-maxage", help="Days to keep old log files (profile default 30).")
]
MaxBackup = Annotated[
    int | None, typer.Option("--log-maxbackup", help="Old log files to keep (profile default 10).")
]
MaxSize = Annotated[
    int | None, typer.Option("--log-maxsize", help="MB before a log file is rotated (profile default 100).")
]
LogFormat = Annotated[str | None, typer.Option("--log-format", help="json or legacy.")]
LogCompress = Annotated[
    bool | None,
    typer.Option("--log-compress/--no-log-compress", help="gzip rotated log files.", show_default=False),
]
K8sVersion = Annotated[
    str | None, typer.Option("--kubernetes-version", help="X.Y (default: from the manifest's image tag).")
]
FixOwnership = Annotated[
    bool, typer.Option("--fix-ownership", help="chown/chmod the log directory for the pod's runAsUser.")
]
AllowUnbounded = Annotated[
    bool,
    typer.Option(
        "--allow-unbounded", help="Accept --log-maxbackup 0 or --log-maxsize 0 (no retention limit)."
    ),
]


def register(app: typer.Typer) -> None:
    @app.command()
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
        dry_run: Annotated[
            bool, typer.Option("--dry-run", help="Print the diff, write nothing, exit 0.")
        ] = False,
        wait: Wait = False,
        timeout: Timeout = 300,
        kubeconfig: Kubeconfig = None,
        node: Node = None,
        as_json: Json = False,
    ) -> None:
        """Turn audit logging on: write the policy, patch the manifest (comments and untouched lines kept)."""
        given = dict(locals())
        host = Host(root)

        def make_plan() -> Plan:
            from kauditcfg.enable import plan_enable

            return plan_enable(host, _enable_options(given), manifest)

        _mutate(
            host, manifest, make_plan, dry_run, as_json, wait=WaitOptions.of(wait, timeout, kubeconfig, node)
        )

    @app.command()
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
        given = dict(locals())
        host = Host(root)

        def body() -> Plan:
            from kauditcfg.enable import plan_enable

            opts = _enable_options(given)
            return plan_enable(host, opts, manifest)

        plan = run(body, as_json, empty_result())
        if as_json:
            from kauditcfg.report import result

            emit_json(result(plan, None, applied=False))
        else:
            _print_diffs(plan)
        raise typer.Exit(1 if plan.changed else 0)

    @app.command()
    def disable(
        root: Root = Path("/"),
        manifest: Manifest = DEFAULT_MANIFEST,
        purge: Annotated[
            bool, typer.Option("--purge", help="Also remove the files kauditcfg wrote (policy).")
        ] = False,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the diff, write nothing.")] = False,
        wait: Wait = False,
        timeout: Timeout = 300,
        kubeconfig: Kubeconfig = None,
        node: Node = None,
        as_json: Json = False,
    ) -> None:
        """Remove every audit flag, audit volume and mount, and the kauditcfg annotation."""
        host = Host(root)

        def make_plan() -> Plan:
            from kauditcfg.disable import plan_disable

            return plan_disable(host, manifest, purge)

        _mutate(
            host, manifest, make_plan, dry_run, as_json, wait=WaitOptions.of(wait, timeout, kubeconfig, node)
        )

    @app.command()
    def rollback(
        root: Root = Path("/"),
        manifest: Manifest = DEFAULT_MANIFEST,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the diff, write nothing.")] = False,
        wait: Wait = False,
        timeout: Timeout = 300,
        kubeconfig: Kubeconfig = None,
        node: Node = None,
        as_json: Json = False,
    ) -> None:
        """Restore the files replaced by the most recent enable/disable from its backup."""
        host = Host(root)

        def make_plan() -> Plan:
            from kauditcfg.rollback import plan_rollback

            return plan_rollback(host)

        # rollback writes the backup's copies back: backing them up again would only shadow it
        waiting = WaitOptions.of(wait, timeout, kubeconfig, node)
        _mutate(host, manifest, make_plan, dry_run, as_json, backup=False, wait=waiting)
