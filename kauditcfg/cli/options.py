"""Option declarations shared by the commands, declared once (enable and diff take the same set).

Each option says what its value is (PATH, FILE, DAYS, MB, X.Y) and sits in a help panel, so
`--help` reads at 80 columns. Defaults that are long host paths are written into the help text
(where they wrap) rather than in typer's default column (where they are cut).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from kauditcfg.cli import output
from kauditcfg.errors import UsageError

if TYPE_CHECKING:
    from kauditcfg.config.options import EnableOptions

POLICY_PANEL = "Policy"
LOG_PANEL = "Log backend"
PATHS_PANEL = "Paths"
SAFETY_PANEL = "Safety"
OUTPUT_PANEL = "Output"


def _root_exists(value: Path) -> Path:
    if not value.is_dir():
        what = "no such directory" if not value.exists() else "not a directory"
        raise UsageError(f"--root {value}: {what}; give the directory that holds the node's files")
    return value


def _colour(value: str) -> str:
    output.set_colour(value)
    return value


Root = Annotated[
    Path,
    typer.Option(
        "--root",
        metavar="DIR",
        rich_help_panel=PATHS_PANEL,
        callback=_root_exists,
        show_default=False,
        help="Resolve every host path under DIR; the paths written into the manifest stay real host "
        "paths. \\[default: /]",
    ),
]
Manifest = Annotated[
    str,
    typer.Option(
        "--manifest",
        metavar="PATH",
        rich_help_panel=PATHS_PANEL,
        show_default=False,
        help="The kube-apiserver static pod manifest: a host path, or a relative path taken from the "
        "current directory (it must then lie under --root). "
        "\\[default: /etc/kubernetes/manifests/kube-apiserver.yaml]",
    ),
]
Json = Annotated[
    bool,
    typer.Option(
        "--json", rich_help_panel=OUTPUT_PANEL, help="Print one JSON object on stdout and nothing else there."
    ),
]
Colour = Annotated[
    str,
    typer.Option(
        "--color",
        metavar="WHEN",
        rich_help_panel=OUTPUT_PANEL,
        callback=_colour,
        show_default=False,
        help="auto (on a terminal, unless NO_COLOR is set), always or never. \\[default: auto]",
    ),
]
DryRun = Annotated[
    bool,
    typer.Option("--dry-run", rich_help_panel=SAFETY_PANEL, help="Print the diff on stdout, write nothing."),
]
Profile = Annotated[
    str,
    typer.Option(
        "--profile",
        metavar="NAME",
        rich_help_panel=POLICY_PANEL,
        help="Policy profile: cks, cis, production or minimal (kauditcfg profiles list).",
    ),
]
PolicyFile = Annotated[
    Path | None,
    typer.Option(
        "--policy-file",
        metavar="FILE",
        rich_help_panel=POLICY_PANEL,
        help="Bring your own policy (a local file) instead of the profile's; it is copied to --policy-path.",
        dir_okay=False,
    ),
]
SetValues = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        metavar="KEY=VALUE",
        rich_help_panel=POLICY_PANEL,
        help="A profile parameter (repeatable; kauditcfg profiles show NAME lists them).",
    ),
]
ValuesFile = Annotated[
    Path | None,
    typer.Option(
        "--values",
        metavar="FILE",
        rich_help_panel=POLICY_PANEL,
        help="A YAML file of profile parameters.",
        dir_okay=False,
    ),
]
PolicyPath = Annotated[
    str | None,
    typer.Option(
        "--policy-path",
        metavar="PATH",
        rich_help_panel=PATHS_PANEL,
        show_default=False,
        help="Where the policy is written on the node. "
        "\\[default: the manifest's, else /etc/kubernetes/audit/policy.yaml]",
    ),
]
LogPath = Annotated[
    str | None,
    typer.Option(
        "--log-path",
        metavar="PATH",
        rich_help_panel=PATHS_PANEL,
        show_default=False,
        help="The audit log file on the node ('-' for stdout). "
        "\\[default: the manifest's, else /var/log/kubernetes/audit/audit.log]",
    ),
]
MaxAge = Annotated[
    int | None,
    typer.Option(
        "--log-maxage",
        metavar="DAYS",
        rich_help_panel=LOG_PANEL,
        help="Days to keep rotated log files. \\[default: 30]",
    ),
]
MaxBackup = Annotated[
    int | None,
    typer.Option(
        "--log-maxbackup",
        metavar="N",
        rich_help_panel=LOG_PANEL,
        help="Rotated log files to keep. \\[default: 10]",
    ),
]
MaxSize = Annotated[
    int | None,
    typer.Option(
        "--log-maxsize",
        metavar="MB",
        rich_help_panel=LOG_PANEL,
        help="Size at which a log file is rotated. \\[default: 100]",
    ),
]
LogFormat = Annotated[
    str | None,
    typer.Option("--log-format", metavar="FORMAT", rich_help_panel=LOG_PANEL, help="json or legacy."),
]
LogCompress = Annotated[
    bool | None,
    typer.Option(
        "--log-compress/--no-log-compress",
        rich_help_panel=LOG_PANEL,
        help="gzip rotated log files.",
        show_default=False,
    ),
]
K8sVersion = Annotated[
    str | None,
    typer.Option(
        "--kubernetes-version",
        metavar="X.Y",
        rich_help_panel=POLICY_PANEL,
        help="The version to write for (default: the manifest's image tag).",
    ),
]
FixOwnership = Annotated[
    bool,
    typer.Option(
        "--fix-ownership",
        rich_help_panel=SAFETY_PANEL,
        help="chown/chmod the log directory for the pod's runAsUser.",
    ),
]
AllowUnbounded = Annotated[
    bool,
    typer.Option(
        "--allow-unbounded",
        rich_help_panel=SAFETY_PANEL,
        help="Accept --log-maxbackup 0 or --log-maxsize 0 (no retention limit).",
    ),
]

KeepBackups = Annotated[
    int,
    typer.Option(
        "--keep-backups",
        help="After a change, keep only the newest N backups (0: keep them all).",
        metavar="N",
        min=0,
    ),
]


def fail_on_value(value: str) -> str:
    """--fail-on in any case, the same for check and policy lint (exit 2 otherwise)."""
    from kauditcfg.config.findings import parse_severity

    try:
        return parse_severity(value)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


FailOn = Annotated[
    str,
    typer.Option(
        "--fail-on",
        metavar="SEVERITY",
        rich_help_panel=OUTPUT_PANEL,
        help="Exit 1 on findings at or above it: high, medium or low (any case). \\[default: medium]",
        show_default=False,
    ),
]


def examples(*lines: str) -> str:
    """A command's epilog: real invocations, one per line, as kubectl's help ends."""
    body = "\n\n".join(f"  $ {line}" for line in lines)
    return f"Examples:\n\n{body}"


def host_manifest(root: Path, manifest: str) -> str:
    """--manifest as a host path, the same way in every command.

    An absolute path is a host path (resolved under --root). A relative one is taken from the
    current directory, like any path on a command line, and must lie under --root: with
    `--root .`, `--manifest etc/kubernetes/manifests/kube-apiserver.yaml` is that host path.
    """
    if manifest.startswith("/"):
        return manifest
    local = Path(os.path.abspath(manifest))
    base = Path(os.path.abspath(root))
    try:
        inside = local.relative_to(base)
    except ValueError:
        raise UsageError(
            f"--manifest {manifest}: a relative path is taken from the current directory and must lie "
            f"under --root {root}; give the host path instead (e.g. /{Path(manifest).as_posix()})"
        ) from None
    return "/" + inside.as_posix()


def enable_options(given: dict[str, Any]) -> EnableOptions:
    """EnableOptions from a command's parameters (named as its fields), so enable and diff share it."""
    from kauditcfg.config.options import EnableOptions
    from kauditcfg.versions import parse_version
    from kauditcfg.webhook.backend import options_from_params

    names = {f.name for f in dataclasses.fields(EnableOptions)}
    values = {k: v for k, v in given.items() if k in names}
    # --webhook-* and --log-mode/--log-batch-*/--log-truncate-* (cli/backend_options.py)
    values["webhook"], values["log_tuning"] = options_from_params(given.get("backend") or {})
    values["set_values"] = list(values.get("set_values") or [])
    version = values.get("kubernetes_version")
    values["kubernetes_version"] = parse_version(version) if version else None
    return EnableOptions(**values)
